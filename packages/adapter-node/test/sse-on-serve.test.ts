// SSE streams opened on a request that serve() is handling: the connection knows its Node response
// from the start, builds no web stream (its Response has an empty body slot until someone reads
// `body`), keeps what is written until the response is attached, and learns from the Node
// response when the client goes away. These tests pin that path down functionally; a handler that
// wraps the response (directly or through Hono's middleware) gets the web stream after all.
import { connect } from 'node:net'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { createRealtime, serve, type Connection, type SseConnection } from '@loewen-digital/realtime-node'
import { eventually, openSse, sleep } from '../../../test/helpers/clients.js'
import { sendInEveryPhase } from './_send-in-every-phase.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

/** The Response's own body slot (what `body` returns on a plain Response), without building anything. */
const bodySlot = Object.getOwnPropertyDescriptor(Response.prototype, 'body')!.get!

async function start(
  handler: (request: Request, realtime: ReturnType<typeof createRealtime>) => Response | Promise<Response>,
  options: Parameters<typeof createRealtime>[0] = {},
) {
  const realtime = createRealtime({ heartbeat: 0, ...options })
  const server = await serve({ port: 0, fetch: (request) => handler(request, realtime) })
  cleanups.push(
    () => server.close(),
    () => realtime.close({ drainTimeout: 100 }),
  )
  return { realtime, server }
}

describe('SSE on serve(): no web stream', () => {
  it('returns a real SSE Response with no body built, and delivers events sent before, while and after attaching, in order', async () => {
    const sent: string[] = []
    const seen: Array<{ response: Response; stream: SseConnection; queued: number; bodyBuilt: boolean }> = []
    const { realtime, server } = await start((request, realtime) => {
      const { response, stream } = realtime.sse(request, { headers: { 'x-extra': 'yes' } })
      seen.push({ response, stream, queued: stream.bufferedAmount, bodyBuilt: bodySlot.call(response) !== null })
      sendInEveryPhase(stream, sent)
      return response
    })
    const client = await openSse(server.url)
    cleanups.push(() => client.close())
    await client.inbox.next((event) => event.event === 'step' && event.data === '"timeout"')
    await realtime.broadcast({ event: 'after', data: 1 })
    await client.inbox.next((event) => event.event === 'after')

    const { response, stream, queued, bodyBuilt } = seen[0]!
    expect(response).toBeInstanceOf(Response)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    expect(response.headers.get('x-extra')).toBe('yes')
    expect(bodyBuilt, 'no web stream behind the Response').toBe(false)
    expect(queued, 'the retry: line waits for the response').toBe(new TextEncoder().encode(client.raw.slice(0, client.raw.indexOf('\n\n') + 2)).byteLength)
    expect(client.response.headers.get('x-extra')).toBe('yes')
    expect(client.response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(client.raw).toMatch(/^retry: \d+\n\n/)
    expect(client.inbox.items.filter((event) => event.event === 'step').map((event) => JSON.parse(event.data))).toEqual(sent)
    expect(sent).toHaveLength(5)
    expect(stream.open).toBe(true)
    expect(stream.response.body, 'attached: the Response is let go').toBeNull()
  })

  it('notices a client that goes away while the handler is still running, and one that goes away later', async () => {
    const closes: Array<{ connection: Connection; code: number }> = []
    let release: (() => void) | undefined
    const { realtime, server } = await start((request, realtime) => {
      const { response } = realtime.sse(request, { onClose: (connection, code) => void closes.push({ connection, code }) })
      if (new URL(request.url).searchParams.has('slow')) return new Promise<Response>((resolve) => (release = () => resolve(response)))
      return response
    })
    // 1. Gone before the handler returned: nothing was written to the socket yet.
    const socket = connect(server.port, '127.0.0.1')
    cleanups.push(() => socket.destroy())
    socket.on('error', () => {})
    socket.write('GET /?slow HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n')
    await eventually(() => realtime.stats().connections === 1 && release !== undefined)
    socket.destroy()
    await eventually(() => closes.length === 1, 5000, 'onClose for the client that left early')
    expect(closes[0]!.code).toBe(1001)
    expect(realtime.stats().connections).toBe(0)
    release!() // the handler returns now: writing to a response that is gone must not throw
    await sleep(20)

    // 2. Gone while idle, after attaching.
    const client = await openSse(server.url)
    await eventually(() => realtime.stats().connections === 1)
    client.close()
    await eventually(() => closes.length === 2, 5000, 'onClose for the idle client')
    expect(closes[1]!.code).toBe(1001)
    await eventually(() => realtime.stats().connections === 0)
  })

  it('aborts the request signal when the client goes away, for clones and copies too', async () => {
    const seen: Request[] = []
    const { realtime, server } = await start((request, realtime) => {
      seen.push(request, request.clone(), new Request(request))
      return realtime.sse(request).response
    })
    const client = await openSse(server.url)
    await eventually(() => realtime.stats().connections === 1)
    expect(seen.map((request) => request.signal.aborted)).toEqual([false, false, false])
    client.close()
    await eventually(() => seen.every((request) => request.signal.aborted), 5000, 'every signal to abort')
    expect(seen[0]!.signal.reason).toBeInstanceOf(DOMException)
    expect((seen[0]!.signal.reason as DOMException).name).toBe('AbortError')
  })

  it('resumes from Last-Event-ID: the missed events, nothing twice, in order', async () => {
    const { realtime, server } = await start((request, realtime) => realtime.sse(request).response)
    const first = await openSse(server.url)
    await eventually(() => realtime.stats().connections === 1)
    for (let index = 0; index < 3; index++) await realtime.broadcast({ event: 'm', data: index })
    const last = await first.inbox.next((event) => event.event === 'm' && event.data === '2')
    first.close()
    await eventually(() => realtime.stats().connections === 0)
    for (let index = 3; index < 6; index++) await realtime.broadcast({ event: 'm', data: index })
    const second = await openSse(server.url, { headers: { 'Last-Event-ID': last.id! } })
    cleanups.push(() => second.close())
    await second.inbox.next((event) => event.event === 'm' && event.data === '5')
    expect(second.inbox.items.filter((event) => event.event === 'm').map((event) => Number(event.data))).toEqual([3, 4, 5])
  })

  it('a stream closed by the server before the handler returns still gets what was sent, then ends', async () => {
    const { realtime, server } = await start((request, realtime) => {
      const { response, stream } = realtime.sse(request)
      stream.send({ event: 'bye', data: 'now' })
      stream.close()
      return response
    })
    const client = await openSse(server.url)
    await client.done
    expect(client.inbox.items.map((event) => event.event).filter((name) => !name.startsWith('realtime:'))).toEqual(['bye'])
    expect(client.raw).toMatch(/^retry: \d+\n\n/)
    expect(realtime.stats().connections).toBe(0)
  })
})

describe('SSE on serve(): a handler that wraps the response', () => {
  it('gets the web stream when it reads body, and the stream works as on any host', async () => {
    const closes: number[] = []
    const { realtime, server } = await start((request, realtime) => {
      const { response, stream } = realtime.sse(request, { onClose: (_connection, code) => void closes.push(code) })
      stream.send({ event: 'early', data: 1 })
      const headers = new Headers(response.headers)
      headers.set('x-wrapped', '1')
      return new Response(response.body, { status: response.status, headers })
    })
    const client = await openSse(server.url)
    expect(client.response.headers.get('x-wrapped')).toBe('1')
    expect(client.response.headers.get('content-type')).toBe('text/event-stream')
    await realtime.broadcast({ event: 'later', data: 2 })
    await client.inbox.next((event) => event.event === 'later')
    expect(client.inbox.items.map((event) => event.event).filter((name) => !name.startsWith('realtime:'))).toEqual(['early', 'later'])
    expect(client.raw).toMatch(/^retry: \d+\n\n/)
    client.close()
    await eventually(() => realtime.stats().connections === 0, 5000, 'the wrapped stream to close')
    expect(closes).toEqual([1001])
  })

  it('works through Hono on serve() with a middleware that sets a header after the handler (Hono rebuilds the response)', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    const app = new Hono()
    app.use(async (c, next) => {
      await next()
      c.header('x-middleware', 'after')
    })
    app.get('/events', (c) => realtime.sse(c.req.raw).response)
    const server = await serve({ port: 0, fetch: app.fetch })
    cleanups.push(
      () => server.close(),
      () => realtime.close({ drainTimeout: 100 }),
    )
    const client = await openSse(`${server.url}/events`)
    expect(client.response.headers.get('x-middleware')).toBe('after')
    await eventually(() => realtime.stats().connections === 1)
    await realtime.broadcast({ event: 'm', data: 'through hono' })
    expect((await client.inbox.next((event) => event.event === 'm')).data).toBe('"through hono"')
    client.close()
    await eventually(() => realtime.stats().connections === 0, 5000, 'the stream to close')
  })

  it('a second stream opened on the same request is also closed when the client goes away', async () => {
    const closes: string[] = []
    const { realtime, server } = await start((request, realtime) => {
      realtime.sse(request, { onClose: () => void closes.push('unused') })
      return realtime.sse(request, { onClose: () => void closes.push('returned') }).response
    })
    const client = await openSse(server.url)
    await eventually(() => realtime.stats().connections === 2)
    await realtime.broadcast({ event: 'm', data: 1 })
    await client.inbox.next((event) => event.event === 'm')
    client.close()
    await eventually(() => realtime.stats().connections === 0, 5000, 'both streams to close')
    expect(closes.sort()).toEqual(['returned', 'unused'])
  })
})
