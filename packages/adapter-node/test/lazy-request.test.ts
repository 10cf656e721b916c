// The Request that serve() hands to the fetch handler is built on demand (src/lazy-request.ts):
// what a handshake reads (method, url, headers.get/has) comes from Node's raw header lines, and
// the real undici Request is built when anything else is read. These tests run real servers and
// pin down both halves: nothing built for a handshake, and a full Request for everything else.
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { isUnbuilt } from '../src/lazy-request.js'
import { serve } from '../src/serve.js'
import { eventually, sleep } from '../../../test/helpers/clients.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function start(fetch: (request: Request) => Response | Promise<Response>) {
  const server = await serve({ port: 0, fetch, onError: () => {} })
  cleanups.push(() => server.close())
  return server
}

/** Sends raw HTTP/1.1 and resolves with the whole answer (the server closes the connection). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')))
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
    socket.write(text)
  })
}

describe('the Request serve() hands to the handler', () => {
  it('answers method, url and headers from the raw lines without building a Request', async () => {
    let seen: Record<string, unknown> = {}
    const server = await start((request) => {
      seen = {
        method: request.method,
        url: request.url,
        host: request.headers.get('Host'),
        cookie: request.headers.get('cookie'),
        accept: request.headers.get('ACCEPT'),
        hasAccept: request.headers.has('accept'),
        missing: request.headers.get('x-missing'),
        unbuilt: isUnbuilt(request),
      }
      return new Response('ok')
    })
    await rawRequest(
      server.port,
      'GET /live/../room?x=1&y=%zz HTTP/1.1\r\nHost: Example.TEST:80\r\nCookie: a=1\r\nAccept: text/plain\r\nCookie: b=2\r\nAccept: text/html\r\nConnection: close\r\n\r\n',
    )
    expect(seen).toEqual({
      method: 'GET',
      // Normalized as `new Request(url).url` would be: host lower-cased, default port and dot segments dropped.
      url: 'http://example.test/room?x=1&y=%zz',
      host: 'Example.TEST:80',
      cookie: 'a=1; b=2',
      accept: 'text/plain, text/html',
      hasAccept: true,
      missing: null,
      unbuilt: true,
    })
  })

  it('is a Request for everything else: instanceof, body methods, clone, copies, the rest of its members', async () => {
    let seen: Record<string, unknown> = {}
    const server = await start(async (request) => {
      const reference = new Request(request.url, { method: request.method, headers: [...request.headers] })
      const copy = new Request(request.clone())
      seen = {
        isRequest: request instanceof Request,
        headersAreHeaders: request.headers instanceof Headers,
        tag: Object.prototype.toString.call(request),
        cache: request.cache,
        mode: request.mode,
        aborted: request.signal.aborted,
        built: !isUnbuilt(request),
        entries: [...request.headers],
        sameAsReference: [...reference.headers].length === [...request.headers].length,
        copyUrl: copy.url,
        copyHeader: copy.headers.get('x-a'),
        copyBody: await copy.json(),
        body: await request.json(),
        bodyUsed: request.bodyUsed,
      }
      return new Response('ok')
    })
    const response = await fetch(`${server.url}/post?q=1`, {
      method: 'POST',
      headers: { 'x-a': '1', 'content-type': 'application/json' },
      body: JSON.stringify({ n: 2 }),
    })
    expect(await response.text()).toBe('ok')
    expect(seen).toMatchObject({
      isRequest: true,
      headersAreHeaders: true,
      tag: '[object Request]',
      cache: 'default',
      mode: 'cors',
      aborted: false,
      built: true,
      sameAsReference: true,
      copyUrl: `${server.url}/post?q=1`,
      copyHeader: '1',
      copyBody: { n: 2 },
      body: { n: 2 },
      bodyUsed: true,
    })
    expect(seen.entries).toContainEqual(['x-a', '1'])
    expect(seen.entries).toContainEqual(['content-type', 'application/json'])
  })

  it('keeps header writes made before the Request is built, and one Headers object before and after', async () => {
    let seen: Record<string, unknown> = {}
    const server = await start((request) => {
      const headers = request.headers
      headers.set('x-a', 'changed')
      headers.append('x-b', 'added')
      headers.delete('x-c')
      const unbuiltAfterWrites = isUnbuilt(request)
      const copy = new Request(request) // builds it
      seen = {
        unbuiltAfterWrites,
        same: request.headers === headers,
        own: [headers.get('x-a'), headers.get('x-b'), headers.get('x-c')],
        copied: [copy.headers.get('x-a'), copy.headers.get('x-b'), copy.headers.get('x-c')],
      }
      headers.set('x-d', 'later')
      seen.later = request.clone().headers.get('x-d')
      return new Response('ok')
    })
    await fetch(server.url, { headers: { 'x-a': '1', 'x-c': '3' } }).then((response) => response.text())
    expect(seen).toEqual({ unbuiltAfterWrites: true, same: true, own: ['changed', 'added', null], copied: ['changed', 'added', null], later: 'later' })
  })

  it('aborts its signal when the client goes away, whether the signal was read before or after', async () => {
    const early: AbortSignal[] = []
    const late: AbortSignal[] = []
    const server = await start(async (request) => {
      if (request.url.endsWith('/early')) early.push(request.signal)
      else {
        await sleep(300) // the client is gone by then; nothing has built the Request yet
        expect(isUnbuilt(request)).toBe(true)
        late.push(request.signal)
      }
      await sleep(400)
      return new Response('late')
    })
    for (const path of ['/early', '/late']) {
      const socket = connect(server.port, '127.0.0.1')
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
      await sleep(50)
      socket.destroy()
    }
    await eventually(() => early.length === 1 && early[0]!.aborted, 3000, 'early signal aborted')
    await eventually(() => late.length === 1, 3000, 'late signal read')
    expect(late[0]!.aborted).toBe(true)
    expect((late[0]!.reason as DOMException).name).toBe('AbortError')
    expect((early[0]!.reason as DOMException).name).toBe('AbortError')
  })

  it('refuses what the fetch standard refuses, as the eager Request did: credentials, an invalid URL', async () => {
    let called = 0
    const server = await start(() => (called++, new Response('ok')))
    expect(await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: user:pw@example.test\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect(await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: exa mple.test\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect(called).toBe(0)
  })

  it('gives the same normalized url and the same refusals for a target seen before (remembered), past the memory bound and for long targets', async () => {
    const server = await start((request) => new Response(`url=${request.url}`))
    const get = async (target: string, host = 'Example.TEST:80') => {
      const answer = await rawRequest(server.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      return answer.startsWith('HTTP/1.1 400') ? 400 : answer.slice(answer.indexOf('url=') + 4).split('\r\n')[0]
    }
    const long = `/${'a'.repeat(300)}/../b`
    for (let round = 0; round < 2; round++) {
      expect(await get('/a/../b?x=1')).toBe('http://example.test/b?x=1')
      expect(await get('/%7e?q=a%20b')).toBe('http://example.test/%7e?q=a%20b')
      expect(await get('/', 'user:pw@example.test')).toBe(400)
      expect(await get('/', 'Other.test')).toBe('http://other.test/')
      expect(await get(long)).toBe('http://example.test/b')
    }
    for (let index = 0; index < 70; index++) expect(await get(`/n${index}`)).toBe(`http://example.test/n${index}`)
    expect(await get('/a/../b?x=1')).toBe('http://example.test/b?x=1')
    expect(await get('/', 'user:pw@example.test')).toBe(400)
  })
})
