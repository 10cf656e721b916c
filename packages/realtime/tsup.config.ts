import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/default.ts', 'src/node.ts', 'src/bun.ts', 'src/deno.ts', 'src/workers.ts', 'src/vite.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
})
