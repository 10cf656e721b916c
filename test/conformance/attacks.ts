// Hostile clients and application mistakes (issue #24): one frame, one query string or one id must
// not take the server down, leave a connection registered, or pass a check it should fail. Part of
// the conformance suite, so every case runs against every runtime's fixture.
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post } from '../helpers/clients.js'
import { FIXTURE_SETTINGS } from './settings.js'

type Stats = {
  connections: number
  channels: number
  users: number
  refused: number
  refusals: Record<string, number>
  closes: Record<string, number>
  gaps: Record<string, number>
  inbound: number
  rejected: Record<string, number>
  published: Record<string, number>
  errors: Array<{ code: string; message: string }>
}

/** Frames a hostile client sends: malformed control frames, lone surrogates, control characters. */
const hostileChannel = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('\ud800', '\udfff', 'a\ud800b', '\u007f', '\u0085', '\u009f', '', ' ', 'x'.repeat(201), 'admin:secret', 'private:someone'),
  fc.string({ unit: fc.constantFrom('a', ':', '*', '%', '\u0000', '\u001f', '\u007f', '\u0080', '\ud800', '\udc00', '\ud83d\ude00'), maxLength: 8 }),
)
const hostileFrame = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc
    .record({
      event: fc.constantFrom('realtime:subscribe', 'realtime:unsubscribe'),
      data: fc.record(
        {
          channel: hostileChannel,
          cursor: fc.oneof(fc.string({ unit: 'binary', maxLength: 24 }), fc.constantFrom('x:1e400', 'a:-1', ':', 'a:9007199254740993', 'a'.repeat(70) + ':1')),
        },
        { requiredKeys: ['channel'] },
      ),
    })
    .map((frame) => JSON.stringify(frame)),
  fc.record({ event: fc.string({ unit: 'binary', maxLength: 16 }).map((name) => `realtime:${name}`), data: fc.anything() }).map((frame) => {
    try {
      return JSON.stringify(frame) ?? '{}'
    } catch {
      return '{}'
    }
  }),
)
/** Query strings and `Last-Event-ID` values for SSE and WebSocket handshakes. */
const hostileQuery = fc.array(fc.tuple(fc.constantFrom('channel', 'lastEventId', 'resume', 'user', 'channel'), fc.string({ unit: 'binary', maxLength: 40 })), {
  maxLength: 6,
})
const hostileLastEventId = fc.oneof(
  fc.string({ unit: 'binary-ascii', maxLength: 80 }).map((text) => text.replace(/[\r\n\0]/g, '')),
  fc.constantFrom('b=x:1e400', 'b=x:-1', 'c.%ED%A0%80=a:1', 'c.%=a:1', 'b=' + 'a'.repeat(65) + ':1', 'c.x=a:1,'.repeat(500), ','),
)

export function attackTests(getBase: () => string, stats: () => Promise<Stats>): void {
  describe('hostile clients (issue #24)', () => {
    const closers: Array<() => unknown> = []
    afterEach(async () => {
      while (closers.length) await closers.pop()!()
    })
    const open = async (path: string) => {
      const ws = await openWs(`${getBase()}${path}`)
      closers.push(() => ws.close())
      return ws
    }
    const stillEchoes = async (ws: Awaited<ReturnType<typeof openWs>>, tag: string) => {
      ws.send({ tag })
      await ws.inbox.next((message) => message.raw === JSON.stringify({ echo: { tag } }), 5000, `echo ${tag}`)
    }
    const emptied = () =>
      eventually(
        async () => {
          const now = await stats()
          return now.connections === 0 && now.channels === 0 && now.users === 0
        },
        8000,
        'every connection, channel and user released',
      )

    it('answers a lone-surrogate or control-character channel with REALTIME_BAD_FRAME; the connection goes on and is released on close', async () => {
      const other = await open('/ws')
      const ws = await openWs(`${getBase()}/ws?user=surrogate`)
      const channels = ['\ud800', '\udc00x', 'a\u007f', 'a\u0085', 'a\u009f']
      // JSON escapes, so each frame itself is valid UTF-8.
      for (const channel of channels) ws.send(`{"event":"realtime:subscribe","data":{"channel":${JSON.stringify(channel)}}}`)
      const errors = () => ws.inbox.items.filter((message) => message.event === 'realtime:error')
      await eventually(() => errors().length === channels.length, 5000, 'one realtime:error per frame')
      expect(errors().map((message) => message.data.code)).toEqual(channels.map(() => 'REALTIME_BAD_FRAME'))
      await stillEchoes(ws, 'after-surrogates')
      await stillEchoes(other, 'other-after-surrogates')
      ws.close()
      await eventually(async () => (await stats()).connections === 1, 5000, 'the hostile connection released')
      expect((await stats()).users).toBe(0)
    })

    it('decides a join by the most specific pattern, whatever the registration order', async () => {
      // The fixture registers '*' (open) before 'admin:*' (nobody may join).
      const ws = await open('/ws?user=alice')
      const admin = await ws.subscribe('admin:secret')
      expect(admin.event).toBe('realtime:error')
      expect(admin.data.code).toBe('REALTIME_FORBIDDEN')
      const open_ = await ws.subscribe('lobby')
      expect(open_.event).toBe('realtime:subscribed')
      await post(`${getBase()}/publish`, { channel: 'admin:secret', event: 'leak', data: 1 })
      await post(`${getBase()}/publish`, { channel: 'lobby', event: 'fine', data: 2 })
      await ws.inbox.next((message) => message.event === 'fine', 5000, 'the open channel message')
      expect(ws.inbox.items.some((message) => message.event === 'leak')).toBe(false)
    })

    it(`refuses a join past maxChannelsPerConnection (${FIXTURE_SETTINGS.maxChannelsPerConnection}) with REALTIME_TOO_MANY_CHANNELS and releases every channel on close`, async () => {
      const cap = FIXTURE_SETTINGS.maxChannelsPerConnection
      const ws = await openWs(`${getBase()}/ws`)
      for (let index = 0; index < cap; index++) expect((await ws.subscribe(`many-${index}`)).event).toBe('realtime:subscribed')
      const refused = await ws.subscribe(`many-${cap}`)
      expect(refused.event).toBe('realtime:error')
      expect(refused.data.code).toBe('REALTIME_TOO_MANY_CHANNELS')
      // Leaving one makes room again.
      ws.send({ event: 'realtime:unsubscribe', data: { channel: 'many-0' } })
      await ws.inbox.next((message) => message.event === 'realtime:unsubscribed', 5000, 'realtime:unsubscribed')
      expect((await ws.subscribe('many-extra')).event).toBe('realtime:subscribed')
      expect((await stats()).channels).toBe(cap)
      ws.close()
      await emptied()
    })

    it('keeps an SSE id within the cursor-map bound and writes it once per connect, whatever the channel list', async () => {
      const long = (index: number) => `long-${index}-` + 'n'.repeat(180) + ' x' // spaces are percent-encoded in ids
      const query = Array.from({ length: 40 }, (_, index) => `channel=${encodeURIComponent(long(index))}`).join('&')
      const sse = await openSse(`${getBase()}/events?${query}`)
      closers.push(() => sse.close())
      const connected = await sse.inbox.next((event) => event.event === 'realtime:connected', 8000, 'realtime:connected')
      expect(connected.id).toBeDefined()
      expect(connected.id!.length).toBeLessThanOrEqual(4096)
      const refused = sse.inbox.items.filter((event) => event.event === 'realtime:error' && JSON.parse(event.data).code === 'REALTIME_TOO_MANY_CHANNELS')
      const joined = sse.inbox.items.filter((event) => event.event === 'realtime:subscribed')
      expect(refused.length).toBeGreaterThan(0)
      expect(joined.length + refused.length).toBe(40)
      // One id line up to realtime:connected, its own: the id is not repeated per subscription.
      const head = sse.raw.slice(0, sse.raw.indexOf('event: realtime:connected'))
      expect(head.match(/^id:/gm) ?? []).toHaveLength(1)
      expect(head.endsWith(`id: ${connected.id}\n`)).toBe(true)
      // The id the server wrote is one it reads back: a reconnect with it resumes without a gap.
      const again = await openSse(`${getBase()}/events?${query}`, { headers: { 'Last-Event-ID': connected.id! } })
      closers.push(() => again.close())
      expect(again.response.status).toBe(200)
      await again.inbox.next((event) => event.event === 'realtime:connected', 8000, 'realtime:connected after resume')
      expect(again.inbox.items.some((event) => event.event === 'realtime:gap')).toBe(false)
    })

    it('refuses reserved event names, an absent user and an invalid channel at publish time', async () => {
      const sse = await openSse(`${getBase()}/events`)
      closers.push(() => sse.close())
      const reserved = await post(`${getBase()}/publish`, { event: 'realtime:gap', data: { channel: 'x' } })
      expect(reserved.body.error.code).toBe('REALTIME_INVALID_MESSAGE')
      const noUser = await post(`${getBase()}/publish`, { user: null, event: 'hello', data: 1 })
      expect(noUser.body.error.code).toBe('REALTIME_INVALID_TARGET')
      const badChannel = await post(`${getBase()}/publish`, { channel: 'a\u0000b', event: 'hello', data: 1 })
      expect(badChannel.body.error.code).toBe('REALTIME_INVALID_CHANNEL')
      await post(`${getBase()}/publish`, { event: 'clean', data: 1 })
      await sse.inbox.next((event) => event.event === 'clean', 5000, 'a clean broadcast')
      expect(sse.inbox.items.some((event) => event.event === 'realtime:gap' || event.event === 'hello')).toBe(false)
    })

    it('counts each refused handshake once, by reason, in stats().refusals and stats().refused (issue #20)', async () => {
      const before = await stats()
      const refused = await openWs(`${getBase()}/ws`, { headers: { Origin: 'https://evil.example' } }).catch((error) => error)
      expect(refused.status).toBe(403)
      const cap = FIXTURE_SETTINGS.maxConnectionsPerUser
      for (let index = 0; index < cap; index++) await open('/ws?user=counted')
      const capped = await openWs(`${getBase()}/ws?user=counted`).catch((error) => error)
      expect(capped.status).toBe(429)
      const after = await stats()
      expect(after.refusals.origin - before.refusals.origin).toBe(1)
      expect(after.refusals['user-cap'] - before.refusals['user-cap']).toBe(1)
      expect(after.refused - before.refused).toBe(2)
    })

    it('counts closes by code, gaps by reason, inbound messages, rejections and publishes in stats() (issue #22)', async () => {
      const before = await stats()
      const flooder = await openWs(`${getBase()}/ws`)
      for (let index = 0; index < FIXTURE_SETTINGS.rateLimit.messages * 2; index++) flooder.send({ flood: index })
      expect((await flooder.closed).code).toBe(1008)
      const resumer = await openSse(`${getBase()}/events`, { headers: { 'Last-Event-ID': 'b=not-a-cursor' } })
      closers.push(() => resumer.close())
      await resumer.inbox.next((event) => event.event === 'realtime:gap', 5000, 'a gap')
      await post(`${getBase()}/publish`, { event: 'counted', data: 1 })
      await resumer.inbox.next((event) => event.event === 'counted', 5000, 'the broadcast')
      await eventually(async () => ((await stats()).closes['1008'] ?? 0) - (before.closes['1008'] ?? 0) === 1, 5000, 'the 1008 close counted')
      const after = await stats()
      expect((after.gaps.invalid ?? 0) - (before.gaps.invalid ?? 0)).toBe(1)
      expect(after.rejected.rate_limited - before.rejected.rate_limited).toBe(1)
      expect(after.inbound - before.inbound).toBeGreaterThanOrEqual(FIXTURE_SETTINGS.rateLimit.messages + 1)
      expect(after.published.broadcast - before.published.broadcast).toBe(1)
    })

    it('survives generated hostile frames, handshakes and Last-Event-IDs, and releases everything (property)', async () => {
      const witness = await open('/ws')
      await fc.assert(
        fc.asyncProperty(fc.array(hostileFrame, { minLength: 1, maxLength: 12 }), hostileQuery, hostileLastEventId, async (frames, query, lastEventId) => {
          const search = new URLSearchParams(query).toString()
          const ws = await openWs(`${getBase()}/ws?${search}`).catch(() => undefined)
          const sse = await openSse(`${getBase()}/events?${search}`, { headers: { 'Last-Event-ID': lastEventId } }).catch(() => undefined)
          if (ws) {
            for (const frame of frames) ws.send(frame)
            ws.send({ tag: 'probe' })
            // The connection answers after all of it (or was closed for a documented reason).
            await Promise.race([ws.inbox.next((message) => message.raw === JSON.stringify({ echo: { tag: 'probe' } }), 5000, 'probe echo'), ws.closed])
            ws.close()
          }
          if (sse && sse.response.status === 200)
            await sse.inbox.next((event) => event.event === 'realtime:connected' || event.event === 'realtime:error', 5000, 'SSE answer')
          sse?.close()
          await eventually(async () => (await stats()).connections === 1, 8000, 'only the witness left')
        }),
        { numRuns: 25, seed: 24, endOnFailure: true },
      )
      await stillEchoes(witness, 'witness-after-property')
      const now = await stats()
      expect(now.connections).toBe(1)
      expect(now.channels).toBe(0)
      // The demo's onMessage parses JSON, so garbage gives REALTIME_HANDLER_ERROR reports; the
      // library itself must never have failed.
      expect(now.errors.filter((error) => error.code === 'REALTIME_INTERNAL_ERROR')).toEqual([])
    }, 120_000)
  })
}
