// The browser build: src/index.ts bundled into one minified ES module, as a page loads it with
// <script type="module"> or a bundler would emit it. `node scripts/bundle.mjs` writes
// dist/realtime-client.min.js (run by `build` after tsup); scripts/size.mjs measures the same text.
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = new URL('..', import.meta.url)

/** Bundles and minifies the client for browsers; resolves to the code. */
export async function bundleBrowser() {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('src/index.ts', root))],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // The client's internal state and transport members are named `_…` (src/state.ts): shortened here.
    mangleProps: /^_/,
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0].text
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const code = await bundleBrowser()
  mkdirSync(new URL('dist/', root), { recursive: true })
  writeFileSync(new URL('dist/realtime-client.min.js', root), code)
  console.log(`dist/realtime-client.min.js: ${code.length} bytes minified`)
}
