// The example apps (examples/<framework>) and how to run each in dev and in production. Every
// example has the same contract (routes under /realtime, a page at /, scripts honouring PORT), so
// one test file (examples.test.ts) drives them all.
import { fileURLToPath } from 'node:url'

export type Mode = 'dev' | 'production' | 'preview'

export interface Example {
  name: string
  dir: string
  /** The dev server (the framework's own), with PORT set. */
  dev: string[]
  /** Builds for production. */
  build: string[]
  /** The production server, with PORT set. */
  start: string[]
  /** `vite preview` of the build, where the framework serves it through Vite's preview server. */
  preview?: string[]
  /** Where the dev server's HMR socket listens (Vite's, or Next's). */
  hmrPath: string
  /** The subprotocol the HMR client announces (default `vite-hmr`; none for Next). */
  hmrProtocol?: string | null
  /** A message the HMR socket sends once connected (default Vite's `{ type: 'connected' }`). */
  hmrConnected?: Record<string, unknown>
  /** The production server compresses responses (so the SSE test proves the stream bypasses it). */
  compressesInProduction?: boolean
  /**
   * Where the production build keeps the server bundles, when the framework bundles its own copy of
   * the package apart from the one its server imports (the test checks that copy is there).
   */
  bundledCopyIn?: string
  /** The framework's own servers without the WebSocket bridge: SSE must work there, upgrades don't. */
  sseOnly?: Array<{ mode: Mode; label: string; command: string[] }>
}

const root = fileURLToPath(new URL('../../', import.meta.url))
const vite = (dir: string) => `${root}examples/${dir}/node_modules/vite/bin/vite.js`

export const EXAMPLES: Record<string, Example> = {
  sveltekit: {
    name: 'sveltekit',
    dir: `${root}examples/sveltekit`,
    dev: ['node', vite('sveltekit'), 'dev'],
    build: ['node', vite('sveltekit'), 'build'],
    start: ['node', 'server.js'],
    preview: ['node', vite('sveltekit'), 'preview'],
    hmrPath: '/',
  },
  'react-router': {
    name: 'react-router',
    dir: `${root}examples/react-router`,
    dev: ['node', `${root}examples/react-router/node_modules/@react-router/dev/bin.js`, 'dev'],
    build: ['node', `${root}examples/react-router/node_modules/@react-router/dev/bin.js`, 'build'],
    start: ['node', 'server.js'],
    hmrPath: '/',
    compressesInProduction: true,
  },
  astro: {
    name: 'astro',
    dir: `${root}examples/astro`,
    dev: ['node', `${root}examples/astro/node_modules/astro/astro.js`, 'dev'],
    build: ['node', `${root}examples/astro/node_modules/astro/astro.js`, 'build'],
    start: ['node', 'server.js'],
    hmrPath: '/',
  },
  nuxt: {
    name: 'nuxt',
    dir: `${root}examples/nuxt`,
    // `nuxt dev` reads PORT and HOST; Vite's HMR socket is under the build assets path.
    dev: ['node', `${root}examples/nuxt/node_modules/nuxt/bin/nuxt.mjs`, 'dev'],
    build: ['node', `${root}examples/nuxt/node_modules/nuxt/bin/nuxt.mjs`, 'build'],
    // Nitro's own node-server output: it reads PORT and HOST and routes upgrades to crossws.
    start: ['node', '.output/server/index.mjs'],
    hmrPath: '/_nuxt/',
  },
  next: {
    name: 'next',
    dir: `${root}examples/next`,
    // The custom server (server.js) in both modes: `next({ dev })` and WebSocket upgrades routed to the app.
    dev: ['node', 'server.js', '--dev'],
    build: ['node', `${root}examples/next/node_modules/next/dist/bin/next`, 'build'],
    start: ['node', 'server.js'],
    hmrPath: '/_next/hmr?id=realtime-test',
    hmrProtocol: null,
    hmrConnected: { type: 'turbopack-connected' },
    compressesInProduction: true,
    bundledCopyIn: '.next/server',
    // `next dev` and `next start` themselves (they read PORT): SSE only.
    sseOnly: [
      { mode: 'dev', label: 'next dev', command: ['node', `${root}examples/next/node_modules/next/dist/bin/next`, 'dev', '-H', '127.0.0.1'] },
      { mode: 'production', label: 'next start', command: ['node', `${root}examples/next/node_modules/next/dist/bin/next`, 'start', '-H', '127.0.0.1'] },
    ],
  },
}

/**
 * The examples to run: `REALTIME_EXAMPLES` (comma-separated names, or `all`, the default: the
 * whole matrix takes about a minute, so `npm test` runs all of it).
 */
export function selectedExamples(): Example[] {
  const wanted = process.env.REALTIME_EXAMPLES ?? 'all'
  if (wanted === 'all') return Object.values(EXAMPLES)
  return wanted
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => {
      const example = EXAMPLES[name]
      if (!example) throw new Error(`REALTIME_EXAMPLES names an unknown example '${name}' (known: ${Object.keys(EXAMPLES).join(', ')})`)
      return example
    })
}
