// Upgrades inside a framework: the route sees a Request the framework rebuilt (not the one a
// dispatcher built), maybe from another copy of this package. routeUpgrades() hands the socket over
// by a single-use token header that a client can neither forge nor replay.
import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as published from '@loewen-digital/realtime-node'
import { realtime as vitePlugin } from '@loewen-digital/realtime-node/vite'
import { eventually, openWs } from '../../../test/helpers/clients.js'

const TOKEN_HEADER = 'x-realtime-upgrade-token'
/** The registry every copy of the package shares (on globalThis). */
const registry = () => (globalThis as any)[Symbol.for('@loewen-digital/realtime-node/upgrade-registry@1')] as { byToken: Map<string, unknown> }
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

// A second copy of the built package, as a dev server's SSR loader makes one: its own module
// instances, resolving the same dependencies.
const packageRoot = fileURLToPath(new URL('..', import.meta.url))
const copyDir = `${packageRoot}.tmp/copy-${process.pid}`
mkdirSync(copyDir, { recursive: true })
cpSync(`${packageRoot}dist`, `${copyDir}/dist`, { recursive: true })
const copy: typeof published = await import(`${copyDir}/dist/index.js`)
afterAll(() => rmSync(copyDir, { recursive: true, force: true }))

/** A "framework": rebuilds the Request from the Node request's parsed headers, as SvelteKit's getRequest does. */
function frameworkListener(route: (request: Request) => Promise<Response>, seen?: (request: Request, incoming: IncomingMessage) => void) {
  return (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const headers = new Headers()
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
    }
    const request = new Request(`http://${incoming.headers.host}${incoming.url}`, { method: incoming.method, headers })
    seen?.(request, incoming)
    void route(request).then(async (response) => {
      // A framework writes the response its own way: writeHead with a record, then the body.
      outgoing.writeHead(response.status, Object.fromEntries(response.headers))
      outgoing.end(Buffer.from(await response.arrayBuffer()))
    })
  }
}

async function listen(server: Server): Promise<string> {
  // Upgraded (or never answered) sockets leave Node's bookkeeping: destroyed here at the end.
  const sockets = new Set<import('node:net').Socket>()
  server.on('connection', (socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () => new Promise((resolve) => server.close(resolve)),
    () => {
      for (const socket of sockets) socket.destroy()
    },
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Sends raw bytes and returns everything the server answers until it closes. */
function rawExchange(base: string, text: string, timeout = 3000): Promise<string> {
  const { port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text))
    let answer = ''
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')))
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
    setTimeout(() => (socket.destroy(), resolve(answer)), timeout)
  })
}

/** A plain request (no `Connection: Upgrade`: Node's request listener gets it) that says `Upgrade: websocket` and carries a token. */
const plainRequest = (base: string, path: string, token: string) =>
  rawExchange(base, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nUpgrade: websocket\r\n${TOKEN_HEADER}: ${token}\r\n\r\n`)

const upgradeHead = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`

describe('routeUpgrades() with a framework that rebuilds the request', () => {
  it('completes the upgrade in the route, with the instance from another copy of the package', async () => {
    const realtime = copy.createRealtime()
    cleanups.push(() => realtime.close())
    const listener = frameworkListener((request) => realtime.upgrade(request, { onMessage: (socket, message) => void socket.send(`echo:${message}`) }))
    const server = createServer(listener)
    published.routeUpgrades(server, listener)
    const base = await listen(server)
    const ws = await openWs(`${base}/ws`)
    cleanups.push(() => ws.close())
    ws.send('hi')
    expect((await ws.inbox.next((message) => message.raw.startsWith('echo:'))).raw).toBe('echo:hi')
    expect(realtime.stats().connections).toBe(1)
  })

  it('writes what the route answers instead (403 for a cross-site origin) as an HTTP response', async () => {
    const realtime = published.createRealtime()
    cleanups.push(() => realtime.close())
    const listener = frameworkListener((request) => realtime.upgrade(request))
    const server = createServer(listener)
    published.routeUpgrades(server, listener)
    const base = await listen(server)
    await expect(openWs(`${base}/ws`, { headers: { Origin: 'https://evil.example' } })).rejects.toMatchObject({ status: 403 })
    const answer = await rawExchange(base, upgradeHead('/ws', 'Origin: https://evil.example\r\n'))
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/)
    expect(answer).toContain('Origin not allowed')
    expect(copy.createRealtime).toBeTypeOf('function')
  })

  it('forgets the token of an upgrade whose route never answers once its socket closes', async () => {
    const server = createServer()
    published.routeUpgrades(server, () => undefined) // never ends the response
    const base = await listen(server)
    expect(await rawExchange(base, upgradeHead('/hang'), 300)).toBe('')
    await eventually(() => registry().byToken.size === 0, 2000, 'the token to be revoked')
  })

  it('answers 404 when the listener passes the upgrade on (next())', async () => {
    const server = createServer()
    published.routeUpgrades(server, (_incoming, _outgoing, next) => next?.())
    const base = await listen(server)
    expect(await rawExchange(base, upgradeHead('/nowhere'))).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/)
  })

  it('strips a token header the client sent: the route sees only the one the dispatcher set', async () => {
    const seen: Array<{ header: string | null; raw: string[]; parsed: unknown; distinct: unknown }> = []
    const listener = frameworkListener(
      async () => new Response('seen', { status: 400 }),
      (request, incoming) =>
        seen.push({
          header: request.headers.get(TOKEN_HEADER),
          raw: incoming.rawHeaders.filter((_, index) => incoming.rawHeaders[index - 1]?.toLowerCase() === TOKEN_HEADER),
          parsed: incoming.headers[TOKEN_HEADER],
          distinct: incoming.headersDistinct[TOKEN_HEADER],
        }),
    )
    const server = createServer(listener)
    // A listener that reads the headers before ours (Vite's HMR listener does): Node caches them.
    server.on('upgrade', (incoming: IncomingMessage) => void [incoming.headers[TOKEN_HEADER], incoming.headersDistinct[TOKEN_HEADER]])
    published.routeUpgrades(server, listener)
    const base = await listen(server)
    const answer = await rawExchange(base, upgradeHead('/ws', `${TOKEN_HEADER}: forged\r\nX-Realtime-Upgrade-Token: forged-again\r\n`))
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(seen).toHaveLength(1)
    const token = seen[0]!.header!
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(seen[0]).toEqual({ header: token, raw: [token], parsed: token, distinct: [token] })
  })

  it('a token is single-use and dies with its dispatch: a copied or replayed token reaches no socket', async () => {
    const errors: unknown[] = []
    const realtime = published.createRealtime({ onError: (error) => errors.push(error) })
    cleanups.push(() => realtime.close())
    let token = ''
    const listener = frameworkListener(async (request) => {
      token = request.headers.get(TOKEN_HEADER)!
      const copyOfRequest = new Request(request.url, { headers: request.headers })
      const first = await realtime.upgrade(request)
      // The same token again (a second copy of the request) finds nothing.
      const second = await realtime.upgrade(copyOfRequest)
      expect(second.status).toBe(500)
      return first
    })
    const server = createServer(listener)
    published.routeUpgrades(server, listener)
    const base = await listen(server)
    const ws = await openWs(`${base}/ws`)
    cleanups.push(() => ws.close())
    expect(token).not.toBe('')
    expect(errors).toEqual([expect.objectContaining({ code: 'REALTIME_UPGRADE_UNAVAILABLE' })])

    // Replayed by a client, on a plain request (no `Connection: Upgrade`, so it never reaches an
    // upgrade dispatcher) or on an upgrade (stripped first): no socket either way.
    expect(await plainRequest(base, '/ws', token)).toMatch(/^HTTP\/1\.1 500 /)
    expect(errors).toHaveLength(3) // the route tried twice
    const replay = await openWs(`${base}/ws`, { headers: { [TOKEN_HEADER]: token } })
    cleanups.push(() => replay.close())
    await eventually(() => realtime.stats().connections === 2, 2000, 'the replayed upgrade to get its own socket')
    // Every token died with its dispatch: nothing accumulates in the shared registry.
    await eventually(() => registry().byToken.size === 0, 2000, 'the registry to be empty')
  })

  it('a plain request with a guessed token header never reaches a pending upgrade', async () => {
    const errors: unknown[] = []
    const realtime = published.createRealtime({ onError: (error) => errors.push(error) })
    cleanups.push(() => realtime.close())
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let pendingToken = ''
    const listener = frameworkListener(async (request) => {
      if (request.headers.get('x-hold')) {
        pendingToken = request.headers.get(TOKEN_HEADER)!
        await held // the upgrade waits in its route, its token live
      }
      return realtime.upgrade(request)
    })
    const server = createServer(listener)
    published.routeUpgrades(server, listener)
    const base = await listen(server)
    const pending = openWs(`${base}/ws`, { headers: { 'x-hold': '1' } })
    await eventually(() => pendingToken !== '', 2000, 'the held upgrade to reach its route')
    for (const guess of ['', 'x', pendingToken.slice(0, -1), pendingToken.toUpperCase()]) {
      expect(await plainRequest(base, '/ws', guess)).toMatch(/^HTTP\/1\.1 500 /)
    }
    release()
    const ws = await pending
    cleanups.push(() => ws.close())
    await eventually(() => realtime.stats().connections === 1, 2000, 'the held upgrade to complete')
    await eventually(() => registry().byToken.size === 0, 2000, 'the registry to be empty')
  })
})

describe('the realtime() Vite plugin', () => {
  it('leaves Vite HMR upgrades and ws proxy paths alone and dispatches the others to the middleware stack', async () => {
    const realtime = published.createRealtime()
    cleanups.push(() => realtime.close())
    const app = frameworkListener((request) => realtime.upgrade(request))
    const middlewares = (incoming: IncomingMessage, outgoing: ServerResponse, next?: (error?: unknown) => void) =>
      incoming.url?.startsWith('/realtime') ? app(incoming, outgoing) : next?.()
    const server = createServer()
    const hmr: string[] = []
    server.on('upgrade', (incoming: IncomingMessage, socket) => {
      // Stands in for Vite's own listener: answers only its subprotocols.
      if (/vite-hmr|vite-ping/.test(incoming.headers['sec-websocket-protocol'] ?? '')) {
        hmr.push(incoming.url!)
        socket.end('HTTP/1.1 418 Vite\r\ncontent-length: 0\r\n\r\n')
      }
    })
    vitePlugin().configureServer({ httpServer: server, middlewares, config: { server: { proxy: { '/proxied': { ws: true, target: 'http://127.0.0.1:1' } } } } })
    const base = await listen(server)
    const ws = await openWs(`${base}/realtime/ws`)
    cleanups.push(() => ws.close())
    expect(realtime.stats().connections).toBe(1)
    expect(await rawExchange(base, upgradeHead('/', 'Sec-WebSocket-Protocol: vite-hmr\r\n'))).toMatch(/^HTTP\/1\.1 418 Vite/)
    expect(await rawExchange(base, upgradeHead('/', 'Sec-WebSocket-Protocol: vite-ping\r\n'))).toMatch(/^HTTP\/1\.1 418 Vite/)
    expect(hmr).toEqual(['/', '/'])
    expect(await rawExchange(base, upgradeHead('/elsewhere'))).toMatch(/^HTTP\/1\.1 404 Not Found/)
    // The proxy's path is not answered by the plugin (nothing else here answers it either).
    expect(await rawExchange(base, upgradeHead('/proxied/socket'), 300)).toBe('')
  })
})
