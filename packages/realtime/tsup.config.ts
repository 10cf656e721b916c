import { defineConfig, type Options } from 'tsup'

const entries = ['default', 'node', 'bun', 'deno', 'workers', 'vite', 'otel']
const shared: Options = { format: ['esm'], target: 'es2022' }

// Each runtime condition gets its own `.d.ts` (package.json pairs `types` with `default` inside
// every condition). Declarations are built one entry at a time: bundled together, rollup adds
// side-effect imports of the other adapters to one entry (`bun.d.ts` importing the Node adapter's
// types, and with them `ws` and `node:http`).
export default defineConfig([
  { ...shared, entry: entries.map((name) => `src/${name}.ts`), sourcemap: true, clean: true, dts: false },
  ...entries.map((name): Options => ({ ...shared, entry: [`src/${name}.ts`], dts: { only: true } })),
])
