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
})
