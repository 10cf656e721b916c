// The adapter's own API on the real Deno runtime: onClose codes, and serve() (onError, a taken
// port, close()). The fixture (test/fixtures/adapter-server.ts) runs with --allow-net only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs } from '../../../test/helpers/clients.js'
import { spawnServer, type SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { DENO, ROOT } from './_deno.js'

describe('Deno adapter', () => {
  let server: SpawnedServer
  let base: string
  const closesOf = async (user: string) => ((await (await fetch(`${base}/closes`)).json()) as Array<{ user: string }>).filter((close) => close.user === user)

  beforeAll(async () => {
    server = await spawnServer(DENO, ['run', '--allow-net', 'packages/adapter-deno/test/fixtures/adapter-server.ts'], { cwd: ROOT })
    base = server.url
  })
  afterAll(async () => {
    await server?.close()
  })

  it('reports a missed heartbeat to onClose as 1006 "heartbeat timeout"', async () => {
    const silent = await openWs(`${base}/ws?user=silent`, { autoPong: false })
    await silent.closed
    await eventually(async () => (await closesOf('silent')).length > 0)
    expect(await closesOf('silent')).toEqual([{ user: 'silent', code: 1006, reason: 'heartbeat timeout' }])
  })

  it('passes the close code and reason of either side to onClose', async () => {
    const leaving = await openWs(`${base}/ws?user=leaving`)
    leaving.socket.close(1000, 'bye')
    const closed = await openWs(`${base}/ws?user=closed`)
    closed.send('close me')
    expect(await closed.closed).toEqual({ code: 4100, reason: 'as you wish' })
    await eventually(async () => (await closesOf('leaving')).length > 0 && (await closesOf('closed')).length > 0)
    expect(await closesOf('leaving')).toEqual([{ user: 'leaving', code: 1000, reason: 'bye' }])
    expect(await closesOf('closed')).toEqual([{ user: 'closed', code: 4100, reason: 'as you wish' }])
  })

  it('keeps socket.request readable after the upgrade (Deno closes the original request)', async () => {
    const ws = await openWs(`${base}/ws?user=reader`, { headers: { 'X-Team': 'blue' } })
    ws.send('team?')
    expect((await ws.inbox.next((message) => message.raw.startsWith('team='))).raw).toBe('team=blue url=/ws')
    ws.socket.close()
  })

  it('delivers a server-side close code to a peer that keeps sending', async () => {
    // Deno drops a socket that receives a message during its closing handshake (the peer would
    // see a reset, 1006); the adapter sends the close frame once the peer pauses.
    const flooding = await openWs(`${base}/ws?user=flooding`)
    flooding.send('close me')
    for (let index = 0; index < 200; index++) flooding.send(`after ${index}`)
    expect(await flooding.closed).toEqual({ code: 4100, reason: 'as you wish' })
    await eventually(async () => (await closesOf('flooding')).length > 0)
    expect(await closesOf('flooding')).toEqual([{ user: 'flooding', code: 4100, reason: 'as you wish' }])
  })

  it("drops a message over Deno's own 64 MiB frame limit with REALTIME_MESSAGE_TOO_BIG", async () => {
    // Below 64 MiB Deno buffers the whole message and the core closes with 1009 (conformance);
    // above it Deno fails the frame itself and drops the connection without a close frame.
    const ws = await openWs(`${base}/unhurried/ws`)
    ws.send('x'.repeat(65 * 1024 * 1024))
    expect((await ws.closed).code).toBe(1006)
    await eventually(async () => (await (await fetch(`${base}/unhurried/errors`)).json()).length > 0)
    expect(await (await fetch(`${base}/unhurried/errors`)).json()).toEqual(['REALTIME_MESSAGE_TOO_BIG'])
  })

  it('serve(): a throwing handler answers 500 and reaches onError', async () => {
    const response = await fetch(`${base}/throw`)
    expect(response.status).toBe(500)
    expect(await (await fetch(`${base}/errors`)).json()).toEqual(['Error: handler failed'])
  })

  it('serve(): rejects when the port is taken', async () => {
    expect(await (await fetch(`${base}/port-taken`)).json()).toEqual({ rejected: true, name: 'AddrInUse' })
  })

  it('serve(): close() stops listening and drops open connections', async () => {
    const ws = await openWs(`${base}/ws?user=last`)
    await fetch(`${base}/close-server`)
    await ws.closed
    await eventually(() => server.output().includes('server closed'), 5000, 'close() to resolve')
    await expect(fetch(`${base}/closes`)).rejects.toThrow()
  })
})

describe('Deno adapter under `deno serve`', () => {
  it('serves SSE and WebSocket from a default export', async () => {
    const server = await spawnServer(
      DENO,
      ['serve', '--host', '127.0.0.1', '--port', '0', '--allow-net=127.0.0.1', 'packages/adapter-deno/test/fixtures/default-export.ts'],
      { cwd: ROOT },
    )
    try {
      const ws = await openWs(server.url)
      ws.send({ event: 'realtime:ping', data: 'deno serve' })
      expect((await ws.inbox.next((message) => message.event === 'realtime:pong')).data).toBe('deno serve')
      const sse = await openSse(server.url)
      expect(sse.response.headers.get('content-type')).toBe('text/event-stream')
      await eventually(() => sse.retries.length > 0)
      ws.close()
      sse.close()
    } finally {
      await server.close()
    }
  })
})
