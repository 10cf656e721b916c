// Every public package as a user gets it from npm: packed with `pnpm pack`, installed with npm into
// a fresh project outside the workspace (under the OS temp folder, so nothing resolves through the
// workspace's node_modules), then
// - each tarball's contents and metadata (LICENSE, README, repository, no `workspace:` ranges),
// - the README's quick start, run as written on Node, Bun and Deno, reached over SSE and WebSocket,
// - the Node fast path against the newest and the lowest `ws` the range admits,
// - the Workers example of the adapter's README, bundled by wrangler (`deploy --dry-run`),
// - the first example of every package's README and the runtime-specific root imports,
//   type-checked by TypeScript in `node16` and `bundler` resolution (and `deno check`).
// Needs the packages built (`npm test` builds first) and the npm registry (for ws, ioredis and
// @types/*; the tarballs themselves come from this workspace).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name: string) => join(root, 'node_modules', '.bin', name)
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

interface Manifest {
  name: string
  version: string
  private?: boolean
  [field: string]: unknown
}

/** The packages users install: every non-private package under packages/. */
const publicPackages = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as Manifest }))
  .filter(({ manifest }) => manifest.private !== true)

let work = ''
let app = ''
const tarballs = new Map<string, string>() // package name -> tarball path

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }) {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: options.timeout ?? 120_000,
  })
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` }
}

function ok(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): string {
  const result = run(command, args, options)
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.output}`)
  return result.output
}

/** The pinned pnpm: the one on PATH when it is that version, else through npx. */
function pnpmCommand(): string[] {
  const pinned = String(rootManifest.packageManager).split('@')[1]
  const onPath = spawnSync('pnpm', ['--version'], { encoding: 'utf8' })
  return onPath.status === 0 && onPath.stdout.trim() === pinned ? ['pnpm'] : ['npx', '--yes', `pnpm@${pinned}`]
}

/** The fenced code block that follows `marker` (or the first ```ts block when no marker is given). */
function codeBlock(markdown: string, language: string, marker?: string): string {
  const from = marker === undefined ? 0 : markdown.indexOf(marker)
  if (from < 0) throw new Error(`no ${marker} in the README`)
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(markdown.slice(from))
  if (!match) throw new Error(`no \`\`\`${language} block in the README`)
  return match[1]
}

/** The README of a package as it is in its tarball. */
function tarballReadme(name: string): string {
  return ok('tar', ['-xzOf', tarballs.get(name)!, 'package/README.md'], { cwd: work })
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'realtime-packaging-'))
  const packed = join(work, 'tarballs')
  mkdirSync(packed)
  const pnpm = pnpmCommand()
  const filters = publicPackages.flatMap(({ manifest }) => ['--filter', manifest.name])
  ok(pnpm[0], [...pnpm.slice(1), '-r', ...filters, 'pack', '--pack-destination', packed], { cwd: root })
  for (const { manifest } of publicPackages) {
    const file = join(packed, `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`)
    if (!existsSync(file)) throw new Error(`pnpm pack wrote no ${file}`)
    tarballs.set(manifest.name, file)
  }

  app = join(work, 'app')
  mkdirSync(app)
  const dependencies: Record<string, string> = { '@types/node': rootManifest.devDependencies['@types/node'] }
  for (const [name, file] of tarballs) dependencies[name] = `file:${file}`
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'realtime-user', private: true, type: 'module', dependencies }, null, 2))
  ok('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: app, timeout: 180_000 })
}, 240_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('tarballs', () => {
  it('every public package carries LICENSE, README and the metadata npm shows', () => {
    const license = readFileSync(join(root, 'LICENSE'), 'utf8')
    expect(tarballs.size).toBe(publicPackages.length)
    for (const [name, file] of tarballs) {
      const files = ok('tar', ['-tzf', file], { cwd: work }).split('\n').filter(Boolean)
      expect(files, name).toContain('package/LICENSE')
      expect(files, name).toContain('package/README.md')
      expect(
        files.filter((path) => /\.test\.ts$|\/test\//.test(path)),
        name,
      ).toEqual([])
      expect(ok('tar', ['-xzOf', file, 'package/LICENSE'], { cwd: work }), name).toBe(license)
      const manifest = JSON.parse(ok('tar', ['-xzOf', file, 'package/package.json'], { cwd: work })) as Manifest
      expect(manifest.license, name).toBe('MIT')
      for (const field of ['description', 'repository', 'homepage', 'bugs', 'keywords', 'engines']) expect(manifest[field], `${name} ${field}`).toBeTruthy()
      const ranges = { ...(manifest.dependencies as object), ...(manifest.peerDependencies as object) } as Record<string, string>
      for (const [dependency, range] of Object.entries(ranges)) {
        // Ranges that admit patch and minor releases: a user can take a fix without waiting for us.
        expect(range, `${name} -> ${dependency}`).toMatch(/^\^\d/)
      }
      expect(tarballReadme(name), name).toContain(`npm`)
    }
  })

  it('installs with npm outside the workspace, one copy of the core', () => {
    const installed = (name: string) => JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')) as Manifest
    for (const name of tarballs.keys()) expect(installed(name).name).toBe(name)
    const copies = ok('npm', ['ls', '@loewen-digital/realtime-core', '--all', '--parseable'], { cwd: app }).split('\n').filter(Boolean)
    expect(copies.map((path) => path.slice(app.length))).toEqual(['/node_modules/@loewen-digital/realtime-core'])
  })
})

// ---- the README's quick start on every server runtime ----

/** Starts `command` in the app folder and resolves with the URL the quick start prints. */
function start(command: string, args: string[]): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  // In a process group of its own: `node_modules/.bin/deno` is a shell shim that starts the real
  // binary as its child, which a signal to the shim alone would leave running.
  const child = spawn(command, args, {
    cwd: app,
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} printed no URL in 20 s:\n${output}`)), 20_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /realtime on (http:\/\/\S+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ url: match[1].replace(/\/$/, ''), child, output: () => output })
      }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited (${code}) before listening:\n${output}`))
    })
  })
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    killGroup(child, 'SIGTERM')
    setTimeout(() => killGroup(child, 'SIGKILL'), 3000).unref()
  })
}

/** Signals the child's whole process group (the shim and the runtime it started). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    child.kill(signal)
  }
}

/** Opens an SSE stream and resolves with its first `realtime:connected` event's text. */
async function sseConnected(url: string): Promise<string> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), 10_000)
  try {
    const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const reader = response.body!.getReader()
    let text = ''
    while (!text.includes('realtime:connected')) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    return text
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
}

/**
 * Opens a WebSocket (with `?resume`, so the server announces `realtime:connected`), sends `send`
 * once connected, and resolves with the first message matching `until`.
 */
function wsMessage(url: string, until: (text: string) => boolean, send?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/?resume`)
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error('no WebSocket message in 10 s'))
    }, 10_000)
    ws.on('message', (data) => {
      const text = data.toString()
      if (text.includes('realtime:connected') && send !== undefined) ws.send(send)
      if (until(text)) {
        clearTimeout(timer)
        ws.close()
        resolve(text)
      }
    })
    ws.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

const runtimes: Array<[string, string, string[]]> = [
  ['Node', process.execPath, ['quick-start.mjs']],
  ['Bun', bin('bun'), ['quick-start.mjs']],
  ['Deno', bin('deno'), ['run', '--allow-net', 'quick-start.mjs']],
]

describe("the README's quick start", () => {
  beforeAll(() => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const quickStart = codeBlock(readme, 'ts', '<!-- quick-start')
    // The facade's own README (its npm page) shows the same program.
    expect(codeBlock(tarballReadme('@loewen-digital/realtime'), 'ts')).toBe(quickStart)
    expect(quickStart).toContain('port: 3000')
    writeFileSync(join(app, 'quick-start.mjs'), quickStart.replace('port: 3000', 'port: 0'))
  })

  for (const [runtime, command, args] of runtimes) {
    it(`runs as written on ${runtime}, answering SSE and WebSocket`, async () => {
      const server = await start(command, args)
      try {
        expect(await sseConnected(server.url)).toMatch(/event: realtime:connected/)
        expect(await wsMessage(server.url, (text) => text.includes('realtime:connected'))).toContain('realtime:connected')
      } finally {
        await stop(server.child)
      }
    }, 40_000)
  }
})

// ---- ws: the Node fast path reads ws internals, so both ends of the range are run ----

describe('the Node adapter on the ws versions its range admits', () => {
  const echo = `import { createRealtime, serve } from '@loewen-digital/realtime'
const realtime = createRealtime()
// A broadcast takes the fast path: framed once, written to the socket under ws.
const fetch = (request) => realtime.upgrade(request, { onMessage: (socket, message) => realtime.broadcast({ event: 'echo', data: message }) })
const server = await serve({ fetch, port: 0 })
console.log(\`realtime on \${server.url}\`)
`
  const adapterRange = () => {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/@loewen-digital/realtime-node/package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    return manifest.dependencies.ws
  }
  const wsVersion = () => (JSON.parse(readFileSync(join(app, 'node_modules/ws/package.json'), 'utf8')) as Manifest).version

  async function roundTrip() {
    writeFileSync(join(app, 'ws-echo.mjs'), echo)
    expect(existsSync(join(app, 'node_modules/@loewen-digital/realtime-node/node_modules/ws'))).toBe(false)
    const server = await start(process.execPath, ['ws-echo.mjs'])
    try {
      const text = await wsMessage(server.url, (message) => message.includes('"echo"'), 'ping over the fast path')
      expect(JSON.parse(text)).toMatchObject({ event: 'echo', data: 'ping over the fast path' })
    } finally {
      await stop(server.child)
    }
  }

  it('the newest ws (what npm installed)', async () => {
    const newest = ok('npm', ['view', `ws@${adapterRange()}`, 'version', '--json'], { cwd: app })
    const versions = [JSON.parse(newest)].flat() as string[]
    expect(wsVersion()).toBe(versions.at(-1))
    await roundTrip()
  }, 60_000)

  it('the lowest ws of the range', async () => {
    const lowest = /^\^(\d+\.\d+\.\d+)$/.exec(adapterRange())?.[1]
    expect(lowest, `ws range ${adapterRange()}`).toBeTruthy()
    ok('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', '--no-save', `ws@${lowest}`], { cwd: app, timeout: 120_000 })
    try {
      expect(wsVersion()).toBe(lowest)
      await roundTrip()
    } finally {
      ok('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: app, timeout: 120_000 })
    }
  }, 120_000)
})

// ---- Workers: the adapter README's example, bundled by wrangler ----

describe("the Workers adapter's README example", () => {
  it('bundles with wrangler, which picks the workerd build', () => {
    const readme = tarballReadme('@loewen-digital/realtime-workers')
    const worker = codeBlock(readme, 'ts')
    const config = codeBlock(readme, 'jsonc')
    mkdirSync(join(app, 'src'), { recursive: true })
    writeFileSync(join(app, 'src/worker.ts'), worker)
    // The facade resolves to the same adapter under wrangler: one more entry proves the condition.
    writeFileSync(join(app, 'src/facade.ts'), "export { createRealtime } from '@loewen-digital/realtime'\n")
    writeFileSync(join(app, 'wrangler.jsonc'), config)
    const out = join(work, 'worker-bundle')
    ok(bin('wrangler'), ['deploy', '--dry-run', '--outdir', out], {
      cwd: app,
      env: { WRANGLER_SEND_METRICS: 'false', CI: '1', NO_UPDATE_NOTIFIER: '1', WRANGLER_LOG: 'error' },
      timeout: 90_000,
    })
    const bundle = readFileSync(join(out, 'worker.js'), 'utf8')
    expect(bundle).toContain('RealtimeDurableObject')
    expect(bundle).not.toMatch(/from\s+["'](node:http|ws)["']/)
  }, 90_000)
})

// ---- types: documented imports from the installed tarballs ----

describe('types from the tarballs', () => {
  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  const base = { target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, lib: ['ES2022', 'DOM', 'DOM.Iterable'] }
  const node16 = { ...base, module: 'Node16', moduleResolution: 'Node16', types: ['node'] }
  const bundler = (conditions: string[], types: string[] = []) => ({
    ...base,
    module: 'ESNext',
    moduleResolution: 'Bundler',
    customConditions: conditions,
    types,
  })

  function typecheck(label: string, compilerOptions: object, files: Record<string, string>) {
    const folder = join(app, 'types', label)
    mkdirSync(folder, { recursive: true })
    // Library files are checked too (skipLibCheck off), so a published .d.ts that imports an
    // untyped module fails here. ioredis 6's own .d.ts imports the untyped 'redis-errors': not ours.
    writeFileSync(join(folder, 'ioredis-shim.d.ts'), "declare module 'redis-errors'\n")
    for (const [file, text] of Object.entries(files)) writeFileSync(join(folder, file), text)
    writeFileSync(join(app, `tsconfig.${label}.json`), JSON.stringify({ compilerOptions, include: [`types/${label}/*.ts`] }))
    const result = run(process.execPath, [tsc, '-p', `tsconfig.${label}.json`], { cwd: app })
    expect(result.output, `tsc ${label}`).toBe('')
    expect(result.status).toBe(0)
  }

  const readmeExample = (name: string) => codeBlock(tarballReadme(name), 'ts')

  const nodeImports = `import { createServer } from 'node:http'
import { attach, createRealtime, serve } from '@loewen-digital/realtime'
import { attach as attachFromSpecPath } from '@loewen-digital/fullstack/realtime'
import { redisBroker } from '@loewen-digital/realtime-redis'

const realtime = createRealtime({ broker: redisBroker({ url: 'redis://127.0.0.1:6379' }) })
export const detach: () => void = attach(createServer(), (request) => realtime.handle(request))
export const served: Promise<{ url: string; close(): Promise<void> }> = serve({ fetch: (request) => realtime.handle(request), port: 0 })
export const connections: number = realtime.stats().connections
export const sameAttach: typeof attach = attachFromSpecPath
`

  it('node16: the root import has the Node adapter (serve, attach); every Node README example checks', () => {
    typecheck('node16', node16, {
      'imports.ts': nodeImports,
      'quick-start.ts': readmeExample('@loewen-digital/realtime'),
      'adapter-node.ts': readmeExample('@loewen-digital/realtime-node'),
      'fullstack.ts': readmeExample('@loewen-digital/fullstack'),
      'redis.ts': readmeExample('@loewen-digital/realtime-redis'),
      'core.ts': readmeExample('@loewen-digital/realtime-core'),
    })
  }, 60_000)

  it('bundler with the node condition: the same', () => {
    typecheck('bundler-node', bundler(['node'], ['node']), { 'imports.ts': nodeImports, 'quick-start.ts': readmeExample('@loewen-digital/realtime') })
  }, 60_000)

  it('bundler with no runtime condition: the web-standard types, and each runtime by its subpath', () => {
    typecheck('bundler-web', bundler([]), {
      'web.ts': `import { createRealtime, serve } from '@loewen-digital/realtime'
// @ts-expect-error attach is the Node adapter's: not in the web-standard types
import { attach } from '@loewen-digital/realtime'
import { connect } from '@loewen-digital/realtime-client'

const realtime = createRealtime()
export const GET = (request: Request) => realtime.handle(request)
export const start = () => serve({ fetch: GET })
export const unused = attach
export const client = connect('/events', { channels: ['orders'] })
`,
      'client.ts': readmeExample('@loewen-digital/realtime-client'),
      'subpaths.ts': `import { withServer } from '@loewen-digital/realtime/bun'
import { serve as denoServe } from '@loewen-digital/realtime/deno'
import { attach } from '@loewen-digital/realtime/node'
import { withRealtime, RealtimeDurableObject } from '@loewen-digital/realtime/workers'
export { withServer, denoServe, attach, withRealtime, RealtimeDurableObject }
`,
    })
  }, 60_000)

  it('bundler with the bun condition: withServer and websocket from the root import, no Node types needed', () => {
    typecheck('bundler-bun', bundler(['bun']), {
      'bun.ts': `import { createRealtime, serve, websocket, withServer } from '@loewen-digital/realtime'
const realtime = createRealtime()
export default { port: 3000, fetch: withServer((request: Request) => realtime.handle(request)), websocket }
export const start = () => serve({ fetch: (request) => realtime.handle(request), port: 0 })
`,
      'adapter-bun.ts': readmeExample('@loewen-digital/realtime-bun'),
    })
  }, 60_000)

  it("bundler with the workerd condition: the Workers adapter's async stats(), no Node types needed", () => {
    typecheck('bundler-workerd', bundler(['workerd']), {
      'workers.ts': `import { createRealtime, withRealtime } from '@loewen-digital/realtime'
import { createRealtime as fromSpecPath } from '@loewen-digital/fullstack/realtime'
const realtime = createRealtime()
export const stats: Promise<{ connections: number }> = realtime.stats()
export const viaSpecPath: Promise<{ connections: number }> = fromSpecPath().stats()
export default withRealtime({ fetch: (request: Request) => realtime.handle(request) })
`,
      'worker.ts': readmeExample('@loewen-digital/realtime-workers'),
    })
  }, 60_000)

  it('deno check: the root import has the Deno adapter', () => {
    mkdirSync(join(app, 'types/deno'), { recursive: true })
    writeFileSync(
      join(app, 'types/deno/deno.ts'),
      `import { createRealtime, serve } from '@loewen-digital/realtime'
import { createRealtime as fromAdapter } from '@loewen-digital/realtime-deno'
const realtime: ReturnType<typeof fromAdapter> = createRealtime()
export const start = () => serve({ fetch: (request) => realtime.handle(request), port: 0 })
`,
    )
    writeFileSync(join(app, 'types/deno/adapter-deno.ts'), readmeExample('@loewen-digital/realtime-deno'))
    const result = run(bin('deno'), ['check', 'types/deno/deno.ts', 'types/deno/adapter-deno.ts'], {
      cwd: app,
      env: { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    })
    expect(result.status, result.output).toBe(0)
  }, 60_000)
})
