import { describe, expect, it } from 'vitest'
import { CursorMap, formatCursorMap, type ConnectionOwner } from '../src/index.js'
import { TestConnection } from './_test-connection.js'

const closed: string[] = []
const owner: ConnectionOwner = {
  maxMessageBytes: 1024,
  maxBufferedBytes: 1024,
  join: async () => true,
  leave: () => false,
  receive: () => {},
  closed: (connection) => void closed.push(connection.id),
  reportError: () => {},
}

function open(request = new Request('https://example.test/live?room=7', { headers: { Cookie: 'a=1', 'X-Team': 'blue' } })) {
  return { request, connection: new TestConnection('websocket', request, owner, {}, undefined) }
}

describe('CursorMap', () => {
  it('reads and writes like a Map, keeps insertion order, and formats as the SSE id', () => {
    const cursors = new CursorMap()
    expect(cursors.size).toBe(0)
    expect(cursors.get('b')).toBeUndefined()
    expect(cursors.format()).toBe('')
    cursors.set('b', { epoch: 'e1', offset: 3 }).set('u', { epoch: 'e2', offset: 0 }).set('c.orders', { epoch: 'e3', offset: 9 })
    const broadcast = cursors.get('b')!
    broadcast.offset = 4 // writers update the cursor in place
    expect(cursors.get('b')!.offset).toBe(4)
    cursors.set('u', { epoch: 'e2', offset: 1 }) // replaced, keeps its place
    expect([...cursors.keys()]).toEqual(['b', 'u', 'c.orders'])
    expect(formatCursorMap(cursors)).toBe('b=e1:4,u=e2:1,c.orders=e3:9')
    expect(formatCursorMap(cursors)).toBe(formatCursorMap(new Map(cursors)))
    expect(cursors.delete('u')).toBe(true)
    expect(cursors.delete('u')).toBe(false)
    expect(cursors.has('u')).toBe(false)
    expect([...cursors.values()].map((cursor) => cursor.epoch)).toEqual(['e1', 'e3'])
    const seen: string[] = []
    cursors.forEach((cursor, key) => seen.push(`${key}:${cursor.offset}`))
    expect(seen).toEqual(['b:4', 'c.orders:9'])
    cursors.clear()
    expect(cursors.size).toBe(0)
    expect([...cursors]).toEqual([])
  })

  it('deleting the first entry moves the next one up: order and lookups stay right', () => {
    const cursors = new CursorMap()
    cursors.set('b', { epoch: 'e1', offset: 1 }).set('u', { epoch: 'e2', offset: 2 }).set('c.x', { epoch: 'e3', offset: 3 })
    expect(cursors.delete('b')).toBe(true)
    expect(cursors.get('b')).toBeUndefined()
    expect([...cursors.keys()]).toEqual(['u', 'c.x'])
    expect(cursors.format()).toBe('u=e2:2,c.x=e3:3')
    cursors.set('b', { epoch: 'e1', offset: 5 }) // a key set again goes last, as in a Map
    expect([...cursors.keys()]).toEqual(['u', 'c.x', 'b'])
    expect(cursors.delete('u') && cursors.delete('c.x')).toBe(true)
    expect(cursors.size).toBe(1)
    expect(cursors.format()).toBe('b=e1:5')
    expect(cursors.delete('b')).toBe(true)
    expect(cursors.size).toBe(0)
    expect(cursors.delete('b')).toBe(false)
  })

  it('iterates a snapshot: deleting while iterating visits every entry once', () => {
    const cursors = new CursorMap()
    for (const key of ['b', 'u', 'c.a', 'c.b']) cursors.set(key, { epoch: 'e', offset: 1 })
    const visited: string[] = []
    for (const [key] of cursors) {
      visited.push(key)
      cursors.delete(key)
    }
    expect(visited).toEqual(['b', 'u', 'c.a', 'c.b'])
    expect(cursors.size).toBe(0)
  })
})

describe('Connection state', () => {
  it('has a flat 36-character UUID id', () => {
    const { connection } = open()
    expect(connection.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(open().connection.id).not.toBe(connection.id)
  })

  it('keeps flags and rarely used state apart, each with its default', () => {
    const { connection } = open()
    expect([connection.alive, connection.isClosed, connection.nativeFanOut]).toEqual([true, false, false])
    connection.nativeFanOut = true
    connection.alive = false
    expect([connection.alive, connection.isClosed, connection.nativeFanOut]).toEqual([false, false, true])
    connection.alive = true
    expect([connection.alive, connection.isClosed, connection.nativeFanOut]).toEqual([true, false, true])
    expect([connection.rateWindow, connection.rateCount, connection.replaying, connection.closeIntent]).toEqual([0, 0, undefined, undefined])
    connection.rateWindow = 1000
    connection.rateCount += 2
    ;(connection.replaying ??= new Map()).set('b', [])
    expect([connection.rateWindow, connection.rateCount, [...connection.replaying!.keys()]]).toEqual([1000, 2, ['b']])
    connection.close(4000, 'bye')
    expect(connection.closeIntent).toEqual({ code: 4000, reason: 'bye' })
    expect([connection.isClosed, connection.open]).toEqual([true, false])
  })

  it('keeps `data` once assigned or touched, and `channels` read-only', () => {
    const { connection } = open()
    connection.data.count = 1
    expect(connection.data).toEqual({ count: 1 })
    connection.data = { replaced: true }
    expect(connection.data).toEqual({ replaced: true })
    expect(connection.channels.size).toBe(0)
    expect(() => (connection.channels as Set<string>).add('x')).toThrow(TypeError)
    expect(open().connection.channels.has('x'), 'the shared empty set stays empty').toBe(false)
  })

  it('compactRequest: `request` becomes an equal Request, rebuilt once, whose signal aborts on close', () => {
    const { connection, request } = open()
    expect(connection.request).toBe(request)
    connection.compactRequest()
    const rebuilt = connection.request
    expect(rebuilt).not.toBe(request)
    expect(rebuilt).toBeInstanceOf(Request)
    expect(rebuilt.url).toBe(request.url)
    expect(rebuilt.method).toBe('GET')
    expect([...rebuilt.headers]).toEqual([...request.headers])
    expect(connection.request, 'built once').toBe(rebuilt)
    expect(rebuilt.signal.aborted).toBe(false)
    connection.close()
    expect(rebuilt.signal.aborted).toBe(true)
    expect(closed).toContain(connection.id)
  })

  it('compactRequest from raw header lines, joined or kept; pseudo-headers skipped; repeated names joined', () => {
    const lines = ['Host', 'example.test', ':authority', 'example.test', 'Accept', 'a', 'Accept', 'b']
    for (const keepList of [false, true]) {
      const { connection } = open(new Request('https://example.test/x', { method: 'GET' }))
      connection.compactRequest(lines, keepList)
      expect(connection.request.headers.get('accept')).toBe('a, b')
      expect(connection.request.headers.get('host')).toBe('example.test')
      expect([...connection.request.headers.keys()]).not.toContain(':authority')
    }
  })

  it('compactRequest leaves out the headers of the WebSocket handshake, in any case, and keeps the others', () => {
    const handshake = {
      Connection: 'Upgrade',
      upgrade: 'websocket',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'Sec-WebSocket-Extensions': 'permessage-deflate',
    }
    const kept = { Cookie: 'a=1', 'Sec-WebSocket-Protocol': 'chat', 'User-Agent': 'test' }
    const lines = Object.entries({ ...handshake, ...kept }).flat()
    for (const from of ['request', 'lines'] as const) {
      const { connection } = open(new Request('https://example.test/x', { headers: { ...handshake, ...kept } }))
      connection.compactRequest(from === 'lines' ? lines : undefined)
      expect(Object.fromEntries(connection.request.headers), from).toEqual({ cookie: 'a=1', 'sec-websocket-protocol': 'chat', 'user-agent': 'test' })
    }
  })

  it('a request rebuilt after the connection closed starts aborted', () => {
    const { connection } = open()
    connection.compactRequest()
    connection.close()
    expect(connection.request.signal.aborted).toBe(true)
  })
})
