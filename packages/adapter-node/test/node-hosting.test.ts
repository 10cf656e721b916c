// Hosting on Node: serve(), attach() on a server a framework owns (Hono on @hono/node-server),
// and what happens when an upgrade cannot be completed.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve as honoServe } from '@hono/node-server'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { attach, createRealtime, serve } from '@loewen-digital/realtime-node'
import { eventually, openSse, openWs } from '../../../test/helpers/clients.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

describe('Hono on @hono/node-server with attach()', () => {
  it('serves SSE through Hono routes and WebSocket upgrades through attach()', async () => {
    const realtime = createRealtime({ identify: (request) => request.headers.get('x-user') })
    const app = new Hono()
    app.get('/events', (c) => realtime.sse(c.req.raw).response)
    app.get('/ws', (c) => realtime.upgrade(c.req.raw, { onMessage: (socket, message) => void socket.send(`hono:${message}`) }))
    app.post('/notify', async (c) => {
      await realtime.sendTo('carol', { event: 'notice', data: await c.req.json() })
      return c.json({ ok: true })
    })
    const server = await new Promise<Server>((resolve) => {
      const started = honoServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started as Server))
    })
    const detach = attach(server, app.fetch)
    cleanups.push(
      () => new Promise((resolve) => server.close(resolve)),
      () => server.closeAllConnections(),
      detach,
      () => realtime.close(),
    )
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

    const sse = await openSse(`${base}/events`, { headers: { 'x-user': 'carol' } })
    const ws = await openWs(`${base}/ws`, { headers: { 'x-user': 'carol' } })
    cleanups.push(
      () => sse.close(),
      () => ws.close(),
    )
    ws.send('ping')
    expect((await ws.inbox.next((message) => message.raw.startsWith('hono:'))).raw).toBe('hono:ping')
    await fetch(`${base}/notify`, { method: 'POST', body: JSON.stringify({ text: 'hi' }), headers: { 'content-type': 'application/json' } })
    expect(JSON.parse((await sse.inbox.next((event) => event.event === 'notice')).data)).toEqual({ text: 'hi' })
    expect((await ws.inbox.next((message) => message.event === 'notice')).data).toEqual({ text: 'hi' })

    sse.close()
    ws.close()
    await eventually(() => realtime.stats().connections === 0, 5000, 'both connections to be released')
  })
})

describe('serve()', () => {
  it('binds port 0 to a free port, answers plain requests and closes', async () => {
    const server = await serve({ fetch: () => new Response('hello'), port: 0 })
    expect(server.port).toBeGreaterThan(0)
    expect(await (await fetch(server.url)).text()).toBe('hello')
    await server.close()
    await expect(fetch(server.url)).rejects.toThrow()
  })

  it('answers 500 and reports to onError when the handler throws, and keeps serving', async () => {
    const errors: unknown[] = []
    let calls = 0
    const server = await serve({
      fetch: () => {
        if (calls++ === 0) throw new Error('boom')
        return new Response('fine')
      },
      port: 0,
      onError: (error) => errors.push(error),
    })
    cleanups.push(() => server.close())
    expect((await fetch(server.url)).status).toBe(500)
    expect(errors).toHaveLength(1)
    expect(await (await fetch(server.url)).text()).toBe('fine')
  })

  it('writes a refused upgrade as an HTTP response on the raw socket', async () => {
    const server = await serve({ fetch: () => new Response('nope', { status: 403 }), port: 0 })
    cleanups.push(() => server.close())
    const refused = await openWs(server.url).catch((error) => error)
    expect(refused.status).toBe(403)
  })

  it('upgrades a copy of the request (a router that rebuilds it), never with a token the client sent', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    const seenTokens: Array<string | null> = []
    const server = await serve({
      port: 0,
      fetch: (request) => {
        const mode = new URL(request.url).searchParams.get('mode')
        // Two ways a router or framework copies a request: the Request constructor, or url + headers.
        const copy = mode === 'clone' ? new Request(request) : new Request(request.url, { headers: request.headers })
        seenTokens.push(copy.headers.get('x-realtime-upgrade-token'))
        return realtime.upgrade(copy)
      },
    })
    cleanups.push(
      () => server.close(),
      () => realtime.close({ drainTimeout: 100 }),
    )
    const forged = { 'x-realtime-upgrade-token': 'forged-by-the-client' }
    const clients = await Promise.all(['clone', 'headers'].map((mode) => openWs(`${server.url}/?mode=${mode}`, { headers: forged })))
    cleanups.push(() => {
      for (const client of clients) client.close()
    })
    await eventually(() => realtime.stats().connections === 2)
    expect(seenTokens).toHaveLength(2)
    for (const token of seenTokens) expect(token).toMatch(/^[0-9a-f]{32}$/)
    expect(new Set(seenTokens).size).toBe(2)
  })
})

describe('serve() and attach() after realtime took the socket', () => {
  it('write nothing on it, whatever the handler returns (a copied response, another one) or throws', async () => {
    const errors: unknown[] = []
    const realtime = createRealtime({ heartbeat: 0 })
    const server = await serve({
      port: 0,
      onError: (error) => errors.push(error),
      fetch: async (request) => {
        const response = await realtime.upgrade(request)
        const mode = new URL(request.url).searchParams.get('mode')
        if (mode === 'throw') throw new Error('after the upgrade')
        // What a framework's middleware does when it adds a header: a new Response.
        if (mode === 'copy') return new Response(response.body, { status: response.status, headers: { 'x-added': '1' } })
        return new Response('something else entirely', { status: 404 })
      },
    })
    cleanups.push(
      () => server.close(),
      () => realtime.close({ drainTimeout: 100 }),
    )
    const clients = await Promise.all(['copy', 'other', 'throw'].map((mode) => openWs(`${server.url}/?mode=${mode}`)))
    await eventually(() => realtime.stats().connections === 3)
    await realtime.broadcast({ event: 'hello', data: 1 })
    for (const client of clients) {
      const message = await client.inbox.next((message) => message.event === 'hello')
      expect(message.data).toBe(1)
      // Nothing but WebSocket frames reached the client: an HTTP response written on the socket
      // would have failed the frame parser and closed the socket.
      expect(client.socket.readyState).toBe(1)
    }
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe('after the upgrade')
  })
})

describe('toRequest()', () => {
  async function urlOf(target: string, host: string): Promise<string | number> {
    let seen = ''
    const server = await serve({ port: 0, fetch: (request) => ((seen = request.url), new Response('ok')) })
    cleanups.push(() => server.close())
    const { request: send } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      const outgoing = send({ host: '127.0.0.1', port: server.port, path: target, headers: { host }, setHost: false }, (response) => {
        response.resume()
        resolve(response.statusCode ?? 0)
      })
      outgoing.on('error', reject)
      outgoing.end()
    })
    return status === 200 ? seen : status
  }

  it('takes the path from the request line, whatever the Host header says', async () => {
    expect(await urlOf('/live?room=7', 'example.test:8080')).toBe('http://example.test:8080/live?room=7')
    // A Host value that would move the path if the URL were written after it.
    expect(await urlOf('/public', 'example.test/admin#')).toBe('http://example.test/public')
    // Credentials in the URL: the fetch standard refuses such a Request.
    expect(await urlOf('/public', 'user@example.test')).toBe(400)
    // Absolute form and a path starting with `//` are resolved as before.
    expect(await urlOf('http://other.test/x', 'example.test')).toBe('http://other.test/x')
  })

  it('combines repeated headers as Headers.append does: Cookie with "; ", others with ", "', async () => {
    const server = await serve({
      port: 0,
      fetch: (request) => Response.json({ cookie: request.headers.get('cookie'), accept: request.headers.get('accept'), host: request.headers.get('host') }),
    })
    cleanups.push(() => server.close())
    const { connect } = await import('node:net')
    const socket = connect(server.port, '127.0.0.1')
    socket.write('GET /x HTTP/1.1\r\nHost: example.test\r\nCookie: a=1\r\nAccept: text/plain\r\nCookie: b=2\r\nAccept: text/html\r\nConnection: close\r\n\r\n')
    let text = ''
    for await (const chunk of socket) text += chunk
    // The body, whether chunked or not: the one JSON object in it.
    expect(JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1))).toEqual({
      cookie: 'a=1; b=2',
      accept: 'text/plain, text/html',
      host: 'example.test',
    })
  })

  it('answers 400 for a Host the Request refuses when the URL is written as a string', async () => {
    // No character that sends it to `new URL`: the Request's own parse refuses it.
    expect(await urlOf('/x', '[not-an-address')).toBe(400)
  })

  it('answers 400 for a Host the URL parser refuses', async () => {
    expect(await urlOf('/x', 'exa mple.test')).toBe(400)
  })
})

describe('upgrade() without a Node socket', () => {
  it('answers 500 and reports REALTIME_UPGRADE_UNAVAILABLE when the request did not come through serve/attach', async () => {
    const errors: Array<{ code: string }> = []
    const realtime = createRealtime({ onError: (error) => errors.push(error) })
    cleanups.push(() => realtime.close())
    const response = await realtime.upgrade(new Request('http://localhost/ws', { headers: { upgrade: 'websocket' } }))
    expect(response.status).toBe(500)
    expect(errors.map((error) => error.code)).toEqual(['REALTIME_UPGRADE_UNAVAILABLE'])
  })

  it('a plain node:http server without attach() never reaches the handler for upgrades', async () => {
    const server = createServer((_request, response) => response.end('plain'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const result = await openWs(url).then(
      () => 'opened',
      () => 'refused',
    )
    expect(result).toBe('refused')
  })
})

describe('realtime.close()', () => {
  it('closes every WebSocket with 1012 and ends SSE streams with a reconnect event, then refuses new ones', async () => {
    const realtime = createRealtime()
    const server = await serve({ fetch: (request) => realtime.handle(request), port: 0 })
    cleanups.push(() => server.close())
    const ws = await openWs(server.url)
    const sse = await openSse(server.url)
    await eventually(() => realtime.stats().connections === 2)
    await realtime.close()
    expect((await ws.closed).code).toBe(1012)
    await sse.done
    expect(sse.inbox.items.map((event) => event.event)).toContain('realtime:reconnect')
    expect(sse.retries.length).toBe(2)
    expect(realtime.stats().connections).toBe(0)
    expect((await fetch(server.url, { headers: { accept: 'text/event-stream' } })).status).toBe(503)
  })
})

describe('bad handshakes', () => {
  it('a malformed Sec-WebSocket-Key is refused by ws and frees the pending slot', async () => {
    const realtime = createRealtime({ maxConnections: 1 })
    const server = await serve({ fetch: (request) => realtime.upgrade(request), port: 0 })
    cleanups.push(
      () => server.close(),
      () => realtime.close(),
    )
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      const call = request(server.url, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'bad' } })
      call.on('response', (response) => resolve(response.statusCode!))
      call.on('upgrade', () => resolve(101))
      call.on('error', reject)
      call.end()
    })
    expect(status).toBe(400)
    const ws = await openWs(server.url)
    ws.close()
  })
})

describe('connection ids', () => {
  it('are made on first read: connection(id) finds every id that was read, except skips only its owner', async () => {
    const opened: Array<import('@loewen-digital/realtime-node').Connection> = []
    const realtime = createRealtime()
    const server = await serve({ fetch: (request) => realtime.upgrade(request, { onOpen: (socket) => void opened.push(socket) }), port: 0 })
    cleanups.push(
      () => server.close(),
      () => realtime.close(),
    )
    const [quiet, sender, other] = [await openWs(server.url), await openWs(server.url), await openWs(server.url)]
    cleanups.push(
      () => quiet.close(),
      () => sender.close(),
      () => other.close(),
    )
    await eventually(() => opened.length === 3)
    expect(
      opened.map((socket) => socket.madeId),
      'no id is made until read',
    ).toEqual([undefined, undefined, undefined])
    const senderId = opened[1]!.id
    expect(senderId).toMatch(/^[0-9a-f-]{36}$/)
    expect(opened[1]!.madeId).toBe(senderId)
    expect(realtime.connection(senderId)).toBe(opened[1])
    expect(realtime.connection('not-an-id')).toBeUndefined()
    await realtime.broadcast({ event: 'note', data: 1 }, { except: senderId })
    expect((await quiet.inbox.next((message) => message.event === 'note')).data).toBe(1)
    expect((await other.inbox.next((message) => message.event === 'note')).data).toBe(1)
    expect(opened[0]!.madeId, "except by id reads no other connection's id").toBeUndefined()
    await realtime.broadcast({ event: 'note', data: 2 })
    expect((await sender.inbox.next((message) => message.event === 'note')).data, 'the sender got only the second').toBe(2)
    const quietId = opened[0]!.id
    expect(realtime.connection(quietId), 'an id read later is found too').toBe(opened[0])
    quiet.close()
    await eventually(() => realtime.connection(quietId) === undefined)
    expect(new Set(opened.map((socket) => socket.id)).size).toBe(3)
  })
})
