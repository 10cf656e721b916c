// The Response of an SSE stream that serve() writes itself is built only when something reads it
// (src/_lazy-response.ts): unread, serve() writes the status and SSE headers from a constant. These
// tests pin down that the client cannot tell the difference, and that a handler reading or
// changing the Response gets what a real one gives.
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createRealtime, serve } from '@loewen-digital/realtime-node'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function start(handler: (request: Request, realtime: ReturnType<typeof createRealtime>) => Response | Promise<Response>) {
  const realtime = createRealtime({ heartbeat: 0 })
  const server = await serve({ port: 0, fetch: (request) => handler(request, realtime) })
  cleanups.push(
    () => server.close(),
    () => realtime.close({ drainTimeout: 100 }),
  )
  return server
}

/** Opens an SSE stream over a raw socket; resolves with what arrived up to `realtime:connected` (Date line removed). */
function rawStream(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    cleanups.push(() => socket.destroy())
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1')
      if (answer.includes('\n\n', answer.indexOf('realtime:connected'))) {
        socket.destroy()
        resolve(answer.replace(/^Date: .*\r\n/im, '').replace(/"id":"[^"]*"/, '"id":"-"'))
      }
    })
    socket.on('error', reject)
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
  })
}

describe('the SSE Response on serve()', () => {
  it('is not built when nobody reads it, and the client gets the same bytes as from a built one', async () => {
    const responses: Response[] = []
    const server = await start((request, realtime) => {
      const { response } = realtime.sse(request)
      if (request.url.endsWith('?read')) expect(response.status).toBe(200)
      responses.push(response)
      return response
    })
    const unread = await rawStream(server.port, '/')
    const read = await rawStream(server.port, '/?read')
    expect((responses[0] as unknown as { unbuilt: boolean }).unbuilt).toBe(true)
    expect((responses[1] as unknown as { unbuilt: boolean }).unbuilt).toBe(false)
    expect(unread).toBe(read)
    expect(unread).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(unread).toContain('\r\ncache-control: no-cache, no-transform\r\ncontent-type: text/event-stream\r\nx-accel-buffering: no\r\n')
    expect(unread).toContain('Transfer-Encoding: chunked')
    expect(unread).toMatch(/retry: \d+\n\n/)
  })

  it('behaves as a Response when read, and what a handler changes on it reaches the client', async () => {
    const seen: Record<string, unknown> = {}
    const server = await start(async (request, realtime) => {
      const { response } = realtime.sse(request)
      seen.instance = response instanceof Response
      seen.tag = Object.prototype.toString.call(response)
      seen.ok = response.ok
      seen.statusText = response.statusText
      seen.type = response.type
      seen.bodyUsed = response.bodyUsed
      seen.contentType = response.headers.get('content-type')
      seen.cloneStatus = response.clone().status
      response.headers.set('x-later', 'yes')
      response.headers.append('set-cookie', 'a=1')
      response.headers.append('set-cookie', 'b=2')
      return response
    })
    const answer = await rawStream(server.port, '/')
    expect(seen).toEqual({
      instance: true,
      tag: '[object Response]',
      ok: true,
      statusText: '',
      type: 'default',
      bodyUsed: false,
      contentType: 'text/event-stream',
      cloneStatus: 200,
    })
    expect(answer).toContain('\r\nx-later: yes\r\n')
    expect(answer).toContain('\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n')
    expect(answer).toMatch(/realtime:connected/)
  })

  it('gives its web stream to a handler that wraps the body in another Response', async () => {
    const server = await start((request, realtime) => {
      const { response } = realtime.sse(request)
      return new Response(response.body, { status: response.status, headers: response.headers })
    })
    const answer = await rawStream(server.port, '/')
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(answer).toContain('content-type: text/event-stream')
    expect(answer).toMatch(/retry: \d+\n\n/)
  })
})
