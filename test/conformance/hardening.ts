// Bad input and abuse: each gets its documented answer and disturbs nothing else. Part of the
// conformance suite, so it runs against every runtime's fixture.
import fc from 'fast-check'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post } from '../helpers/clients.js'
import { FIXTURE_SETTINGS } from './settings.js'

export function hardeningTests(getBase: () => string, stats: () => Promise<any>): void {
  describe('bad input and limits', () => {
    const closers: Array<() => unknown> = []
    afterEach(async () => {
      while (closers.length) await closers.pop()!()
    })
    const witness = async () => {
      const ws = await openWs(`${getBase()}/ws`)
      closers.push(() => ws.close())
      return ws
    }
    const stillEchoes = async (ws: Awaited<ReturnType<typeof openWs>>, tag: string) => {
      ws.send({ tag })
      await ws.inbox.next((message) => message.raw === JSON.stringify({ echo: { tag } }), 5000, `echo ${tag}`)
    }

    it('closes a connection that sends a binary frame with 1003 and reports REALTIME_UNSUPPORTED_DATA', async () => {
      const other = await witness()
      const ws = await openWs(`${getBase()}/ws`)
      ws.socket.send(Buffer.from([1, 2, 3]), { binary: true })
      expect((await ws.closed).code).toBe(1003)
      await eventually(
        async () => (await stats()).errors.some((error: { code: string }) => error.code === 'REALTIME_UNSUPPORTED_DATA'),
        3000,
        'the error report',
      )
      await stillEchoes(other, 'after-binary')
    })

    it('closes a connection over the inbound rate limit with 1008, others unaffected', async () => {
      const other = await witness()
      const ws = await openWs(`${getBase()}/ws`)
      for (let index = 0; index < FIXTURE_SETTINGS.rateLimit.messages * 3; index++) ws.send({ flood: index })
      expect((await ws.closed).code).toBe(1008)
      await eventually(async () => (await stats()).errors.some((error: { code: string }) => error.code === 'REALTIME_RATE_LIMITED'), 3000, 'the error report')
      await stillEchoes(other, 'after-flood')
    })

    it('refuses a cross-site WebSocket upgrade with 403 and accepts same-origin and origin-less ones', async () => {
      const refused = await openWs(`${getBase()}/ws`, { headers: { Origin: 'https://evil.example' } }).catch((error) => error)
      expect(refused.status).toBe(403)
      const sameOrigin = await openWs(`${getBase()}/ws`, { headers: { Origin: new URL(getBase()).origin } })
      closers.push(() => sameOrigin.close())
      await stillEchoes(sameOrigin, 'same-origin')
    })

    it('refuses a user over maxConnectionsPerUser with 429 and Retry-After, SSE and WebSocket', async () => {
      const cap = FIXTURE_SETTINGS.maxConnectionsPerUser
      for (let index = 0; index < cap; index++) {
        const client = index % 2 ? await openWs(`${getBase()}/ws?user=greedy`) : await openSse(`${getBase()}/events?user=greedy`)
        closers.push(() => client.close())
      }
      await eventually(async () => (await stats()).connections === cap, 5000, `${cap} connections`)
      const sse = await fetch(`${getBase()}/events?user=greedy`)
      expect(sse.status).toBe(429)
      expect(Number(sse.headers.get('retry-after'))).toBeGreaterThan(0)
      const ws = await openWs(`${getBase()}/ws?user=greedy`).catch((error) => error)
      expect(ws.status).toBe(429)
      const someoneElse = await openWs(`${getBase()}/ws?user=modest`)
      closers.push(() => someoneElse.close())
      await stillEchoes(someoneElse, 'modest')
    })

    it('frees a WebSocket whose TCP connection vanishes without a close frame', async () => {
      const ws = await openWs(`${getBase()}/ws?user=vanisher&channel=news`)
      await eventually(async () => (await stats()).connections === 1)
      ;(ws.socket as unknown as { _socket: { destroy(): void } })._socket.destroy()
      await eventually(
        async () => {
          const now = await stats()
          return now.connections === 0 && now.users === 0 && now.channels === 0
        },
        5000,
        'the registry to empty',
      )
    })

    it('survives a half-written handshake and garbage on the socket', async () => {
      const { hostname, port } = new URL(getBase())
      for (const garbage of [
        'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n',
        '\x16\x03\x01garbage\r\n\r\n',
        'GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n',
      ]) {
        const socket = connect(Number(port), hostname)
        socket.on('error', () => {})
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
        socket.write(garbage)
        await new Promise((resolve) => setTimeout(resolve, 50))
        socket.destroy()
      }
      const ws = await witness()
      await stillEchoes(ws, 'after-garbage')
      await eventually(async () => (await stats()).connections === 1, 5000, 'only the witness left')
    })

    it('answers random frames with realtime:error or onMessage, never breaking the connection or others (fuzz)', async () => {
      const other = await witness()
      const ws = await openWs(`${getBase()}/ws`)
      closers.push(() => ws.close())
      const frames = fc.sample(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc
            .record({
              event: fc.constantFrom('realtime:subscribe', 'realtime:unsubscribe', 'realtime:ping', 'realtime:nope', 'realtime:'),
              data: fc.anything(),
            })
            .map((value) => {
              try {
                return JSON.stringify(value)
              } catch {
                return '{"event":"realtime:ping"}'
              }
            }),
          fc
            .record({
              event: fc.constant('realtime:subscribe'),
              data: fc.record({ channel: fc.string({ maxLength: 250 }), cursor: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] }),
            })
            .map((value) => JSON.stringify(value)),
        ),
        { numRuns: 30, seed: 42 },
      )
      for (const frame of frames) ws.send(frame.length > 0 && frame.length < 900 ? frame : 'x')
      await stillEchoes(ws, 'after-fuzz')
      await stillEchoes(other, 'other-after-fuzz')
      expect(ws.socket.readyState).toBe(1)
    })

    it('publishing with an injected event name or id is refused before anything is written', async () => {
      const sse = await openSse(`${getBase()}/events`)
      closers.push(() => sse.close())
      for (const event of ['a\rb', 'a\nid: 1', 'x\r\n\r\ndata: injected']) {
        const answer = await post(`${getBase()}/publish`, { event, data: 1 })
        expect(answer.body.error.code).toBe('REALTIME_INVALID_FIELD')
      }
      await post(`${getBase()}/publish`, { event: 'clean', data: 1 })
      await sse.inbox.next((event) => event.event === 'clean')
      expect(sse.raw).not.toContain('injected')
    })
  })
}
