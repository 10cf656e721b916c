import { defineConfig } from 'tsup'

// The minified single-file browser build (dist/realtime-client.min.js) is written by
// scripts/bundle.mjs after this build; scripts/size.mjs measures the same bundle.
export default defineConfig({
  entry: ['src/index.ts', 'src/fetch.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'browser',
  // The client's internal state and transport members are named `_…` (src/state.ts): shortened in
  // dist too, so an application's bundler (which keeps property names) ships them short.
  esbuildOptions(options) {
    options.mangleProps = /^_/
  },
})
