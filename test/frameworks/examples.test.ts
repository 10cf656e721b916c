// Each example app (examples/<framework>), a real app of its framework, run as a user runs it: the
// framework's dev server (`vite dev` with the realtime() plugin) and the production build behind
// its production server (and `vite preview` where the framework previews through Vite). The same contract in every cell: SSE unbuffered, a broadcast reaching SSE
// and WebSocket clients, the spec's echo, the dev server's HMR socket untouched, cross-site upgrades refused,
// departed clients noticed within a heartbeat, Last-Event-ID resume and the page in a browser.
// Nuxt (Nitro 2) takes WebSockets through crosswsHooks and SSE through nodeListener; Next through
// its custom server (server.js). Next's own `next dev` and `next start` are checked to be SSE only.
//
// `npm test` runs every example in both modes; `npm run test:frameworks` runs only these;
// REALTIME_EXAMPLES=sveltekit,astro picks some.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { browserUnavailable, launchChromium } from '../helpers/chromium.js'
import { eventually, openEventSource, openSse, openWs, sleep } from '../helpers/clients.js'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { selectedExamples, type Mode } from './examples.js'

/** The examples' instances use `heartbeat: 5000`. */
const HEARTBEAT = 5000
/** What a browser sends: a server that compresses would buffer the stream. */
const BROWSER_ACCEPT_ENCODING = 'gzip, deflate, br, zstd'

/** The environment of the framework processes: no test runner's variables, no telemetry, no colors. */
function environment(mode: Mode, port: number): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: mode === 'dev' ? 'development' : 'production',
    VITEST: '',
    VITEST_MODE: '',
    VITEST_POOL_ID: '',
    VITEST_WORKER_ID: '',
    TEST: '',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    ASTRO_TELEMETRY_DISABLED: '1',
    ASTRO_DISABLE_UPDATE_CHECK: 'true',
    ASTRO_NODE_AUTOSTART: '',
    NUXT_TELEMETRY_DISABLED: '1',
    NEXT_TELEMETRY_DISABLED: '1',
  }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(command: string[], cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command.join(' ')} exited with ${code}:\n${output}`))))
  })
}

/** An SSE request sent as a browser sends it (its Accept-Encoding), read with node:http: nothing decompresses or hides buffering. */
function browserLikeSse(url: string): Promise<{ response: IncomingMessage; first: Promise<string>; close(): void }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: { Accept: 'text/event-stream', 'Accept-Encoding': BROWSER_ACCEPT_ENCODING } }, (response) => {
      const first = new Promise<string>((done) => {
        let text = ''
        response.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1')
          if (text.includes('\n\n') && text.includes('event: notification')) done(text)
        })
      })
      resolve({ response, first, close: () => request.destroy() })
    })
    request.on('error', reject)
    request.end()
  })
}

async function stats(base: string): Promise<{ connections: number; sse: number; websocket: number }> {
  return (await fetch(`${base}/realtime/stats`)).json()
}

async function broadcast(base: string, n: number): Promise<void> {
  // JSON, as an app's own fetch sends it (Astro refuses form-like cross-site POSTs, rightly).
  const response = await fetch(`${base}/realtime/broadcast?n=${n}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
  expect(response.status).toBe(200)
}

for (const example of selectedExamples()) {
  const modes: Mode[] = example.preview ? ['dev', 'production', 'preview'] : ['dev', 'production']
  for (const mode of modes) {
    describe(`${example.name} (${mode})`, () => {
      let server: SpawnedServer
      let base = ''
      const closers: Array<() => unknown> = []

      beforeAll(async () => {
        const port = await freePort()
        const env = environment(mode, port)
        if (mode !== 'dev') await run(example.build, example.dir, env)
        const command = mode === 'dev' ? example.dev : mode === 'preview' ? example.preview! : example.start
        server = await spawnServer(command[0]!, command.slice(1), { cwd: example.dir, env, timeout: 60_000 })
        base = `http://127.0.0.1:${port}`
        // The first request in dev compiles the routes: not part of any test's timing.
        await eventually(async () => (await fetch(`${base}/realtime/stats`).catch(() => undefined))?.status === 200, 30_000, 'the stats route')
      }, 240_000)

      afterAll(async () => {
        while (closers.length) await closers.pop()!()
        await server?.close()
      })

      it("streams the first SSE event at once to a client sending a browser's Accept-Encoding", async () => {
        const sse = await browserLikeSse(`${base}/realtime/sse`)
        closers.push(() => sse.close())
        expect(sse.response.statusCode).toBe(200)
        expect(sse.response.headers['content-type']).toMatch(/^text\/event-stream/)
        expect(sse.response.headers['content-encoding']).toBeUndefined()
        expect(sse.response.headers['cache-control']).toContain('no-transform')
        const first = await Promise.race([sse.first, sleep(3000).then(() => 'nothing within 3 s')])
        expect(first).toContain('event: notification')
        expect(first).toContain('"message":"You have a new message"')
        sse.close()
        if (mode === 'production' && example.compressesInProduction) {
          // The server does compress (the page): the stream got through it uncompressed.
          const page = await new Promise<IncomingMessage>((resolve, reject) =>
            httpRequest(`${base}/`, { headers: { 'Accept-Encoding': BROWSER_ACCEPT_ENCODING } }, resolve)
              .on('error', reject)
              .end(),
          )
          page.resume()
          expect(page.headers['content-encoding']).toMatch(/gzip|br|deflate/)
        }
      })

      it('delivers a broadcast to SSE and WebSocket clients of the same instance', async () => {
        const sse = await openSse(`${base}/realtime/sse`)
        const ws = await openWs(`${base}/realtime/ws`)
        closers.push(
          () => sse.close(),
          () => ws.close(),
        )
        await sse.inbox.next((event) => event.event === 'realtime:connected')
        await eventually(async () => (await stats(base)).websocket >= 1, 2000, 'the WebSocket connection in the stats')
        await broadcast(base, 7)
        expect(JSON.parse((await sse.inbox.next((event) => event.event === 'update')).data)).toEqual({ n: 7 })
        expect((await ws.inbox.next((message) => message.event === 'update')).data).toEqual({ n: 7 })
        sse.close()
        ws.close()
      })

      it("echoes WebSocket messages through the spec's route", async () => {
        const ws = await openWs(`${base}/realtime/ws`)
        closers.push(() => ws.close())
        ws.send({ text: 'hello' })
        expect(JSON.parse((await ws.inbox.next((message) => message.raw.includes('echo'))).raw)).toEqual({ echo: { text: 'hello' } })
        ws.close()
      })

      if (mode === 'dev')
        it("leaves the dev server's own HMR socket working", async () => {
          const protocol = example.hmrProtocol === undefined ? 'vite-hmr' : example.hmrProtocol
          const hmr = new WebSocket(`${base.replace(/^http/, 'ws')}${example.hmrPath}`, protocol ?? [])
          closers.push(() => hmr.terminate())
          const expected = example.hmrConnected ?? { type: 'connected' }
          const connected = await new Promise<unknown>((resolve, reject) => {
            // The first message that says "connected" (Next sends others first).
            hmr.on('message', (data) => {
              const message = JSON.parse(data.toString())
              if (Object.entries(expected).every(([key, value]) => message[key] === value)) resolve(message)
            })
            hmr.once('unexpected-response', (_request, response) => reject(new Error(`HMR upgrade refused: ${response.statusCode}`)))
            hmr.once('error', reject)
          })
          if (protocol) expect(hmr.protocol).toBe(protocol)
          expect(connected).toMatchObject(expected)
          hmr.close()
        })

      if (mode === 'production' && example.bundledCopyIn)
        it('runs with a second copy of the package bundled into the routes (the registry on globalThis holds)', () => {
          // The copy server.js imports is in node_modules; the routes' copy is inlined in the build.
          const files = readdirSync(join(example.dir, example.bundledCopyIn!), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'))
          const bundled = files.filter((file) =>
            readFileSync(join(example.dir, example.bundledCopyIn!, file), 'utf8').includes('@loewen-digital/realtime-node/upgrade-registry@1'),
          )
          expect(bundled.length).toBeGreaterThan(0)
        })

      it('refuses a cross-site upgrade with 403', async () => {
        await expect(openWs(`${base}/realtime/ws`, { headers: { Origin: 'https://evil.example' } })).rejects.toMatchObject({ status: 403 })
        // A same-origin one is accepted.
        const ws = await openWs(`${base}/realtime/ws`, { headers: { Origin: base } })
        ws.close()
      })

      it('keeps the other sockets when a client resets its connection mid-close', async () => {
        const keeper = await openWs(`${base}/realtime/ws`)
        closers.push(() => keeper.close())
        const vanishing = await openWs(`${base}/realtime/ws`)
        vanishing.send({ text: 'bye' })
        vanishing.socket.close()
        // A tab closed mid-handshake: the server's close frame meets a reset connection.
        ;(vanishing.socket as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy()
        await sleep(1500)
        keeper.send({ text: 'still here' })
        expect(JSON.parse((await keeper.inbox.next((message) => message.raw.includes('still here'))).raw)).toEqual({ echo: { text: 'still here' } })
        keeper.close()
      })

      it('notices clients that leave within one heartbeat', async () => {
        // Earlier tests closed theirs: wait until they are gone, so the count is this test's own.
        await eventually(async () => (await stats(base)).connections === 0, HEARTBEAT, "the earlier tests' connections to leave")
        const before = await stats(base)
        const sse = await openSse(`${base}/realtime/sse`)
        const ws = await openWs(`${base}/realtime/ws`)
        closers.push(
          () => sse.close(),
          () => ws.close(),
        )
        await sse.inbox.next((event) => event.event === 'realtime:connected')
        await eventually(async () => (await stats(base)).connections === before.connections + 2, 2000, 'both connections in the stats')
        const logged = server.output().split('Client disconnected').length
        sse.close()
        ws.socket.terminate() // no closing handshake: the heartbeat's job
        const left = Date.now()
        await eventually(async () => (await stats(base)).connections === before.connections, HEARTBEAT, 'both connections to leave the stats')
        expect(Date.now() - left).toBeLessThanOrEqual(HEARTBEAT)
        // The spec's onClose ran (it logs) for the WebSocket.
        await eventually(() => server.output().split('Client disconnected').length > logged, 1000, 'onClose to log')
      }, 20_000)

      it('resumes an EventSource that reconnects with Last-Event-ID: it gets what it missed', async () => {
        const proxy = await startTcpProxy(base)
        closers.push(() => proxy.close())
        const source = openEventSource(`${proxy.url}/realtime/sse`, ['update', 'realtime:connected', 'realtime:gap'])
        closers.push(() => source.close())
        await source.inbox.next((event) => event.event === 'realtime:connected')
        await broadcast(base, 1)
        await source.inbox.next((event) => event.event === 'update' && JSON.parse(event.data).n === 1)
        proxy.cut() // the network drops; the EventSource waits `retry:` before reconnecting
        await broadcast(base, 2)
        await broadcast(base, 3)
        await eventually(() => source.inbox.items.filter((event) => event.event === 'realtime:connected').length >= 2, 10_000, 'the reconnect')
        await eventually(() => source.inbox.items.some((event) => event.event === 'update' && JSON.parse(event.data).n === 3), 5000, 'the missed updates')
        const updates = source.inbox.items.filter((event) => event.event === 'update').map((event) => JSON.parse(event.data).n)
        expect(updates).toEqual([1, 2, 3])
        expect(source.inbox.items.some((event) => event.event === 'realtime:gap')).toBe(false)
        source.close()
      }, 20_000)

      const noBrowser = browserUnavailable()
      it.skipIf(noBrowser !== undefined)(
        `serves a page at / that works in headless Chromium${noBrowser ? ` (skipped: ${noBrowser})` : ''}`,
        async () => {
          const browser = await launchChromium()
          closers.push(() => browser.close())
          const page = await browser.newPage()
          const errors: string[] = []
          page.on('pageerror', (error) => errors.push(error.message))
          await page.goto(`${base}/`)
          await page.locator('#sse-state', { hasText: 'open' }).waitFor({ timeout: 20_000 })
          await page.locator('#ws-state', { hasText: 'open' }).waitFor({ timeout: 20_000 })
          await page.locator('#notifications li', { hasText: 'You have a new message' }).first().waitFor()
          await broadcast(base, 42)
          await page.locator('#notifications li', { hasText: 'update 42' }).waitFor()
          await page.locator('#chat li', { hasText: 'update 42' }).waitFor()
          await page.fill('#message', 'hello from chromium')
          await page.click('#send')
          await page.locator('#chat li', { hasText: 'echo: hello from chromium' }).waitFor()
          expect(errors).toEqual([])
          await browser.close()
        },
        60_000,
      )
    })
  }
}

// Where a framework's own server has no way to hand an upgrade to a route (`next dev`, `next start`
// without the custom server), SSE still works as everywhere else and WebSocket upgrades are not
// served: what the guides call "SSE only".
for (const example of selectedExamples()) {
  for (const server of example.sseOnly ?? []) {
    describe(`${example.name} (${server.label}: SSE only)`, () => {
      let spawned: SpawnedServer
      let base = ''
      const closers: Array<() => unknown> = []

      beforeAll(async () => {
        const port = await freePort()
        const env = environment(server.mode, port)
        if (server.mode !== 'dev') await run(example.build, example.dir, env)
        spawned = await spawnServer(server.command[0]!, server.command.slice(1), { cwd: example.dir, env, timeout: 60_000 })
        base = `http://127.0.0.1:${port}`
        await eventually(async () => (await fetch(`${base}/realtime/stats`).catch(() => undefined))?.status === 200, 30_000, 'the stats route')
      }, 240_000)

      afterAll(async () => {
        while (closers.length) await closers.pop()!()
        await spawned?.close()
      })

      it("streams the first SSE event at once to a client sending a browser's Accept-Encoding", async () => {
        const sse = await browserLikeSse(`${base}/realtime/sse`)
        closers.push(() => sse.close())
        expect(sse.response.statusCode).toBe(200)
        expect(sse.response.headers['content-encoding']).toBeUndefined()
        const first = await Promise.race([sse.first, sleep(3000).then(() => 'nothing within 3 s')])
        expect(first).toContain('event: notification')
        sse.close()
      })

      it('delivers a broadcast to SSE clients and notices one that leaves within a heartbeat', async () => {
        const sse = await openSse(`${base}/realtime/sse`)
        closers.push(() => sse.close())
        await sse.inbox.next((event) => event.event === 'realtime:connected')
        await broadcast(base, 5)
        expect(JSON.parse((await sse.inbox.next((event) => event.event === 'update')).data)).toEqual({ n: 5 })
        await eventually(async () => (await stats(base)).sse === 1, 2000, 'only this stream in the stats')
        sse.close()
        const left = Date.now()
        await eventually(async () => (await stats(base)).sse === 0, HEARTBEAT, 'the stream to leave the stats')
        expect(Date.now() - left).toBeLessThanOrEqual(HEARTBEAT)
      }, 20_000)

      it('serves no WebSocket upgrade (the custom server is what adds them)', async () => {
        await expect(openWs(`${base}/realtime/ws`)).rejects.toBeDefined()
        expect((await stats(base)).websocket).toBe(0)
      })
    })
  }
}
