// Resume: no message lost across reconnects, none duplicated, per-stream order, or an explicit
// realtime:gap. Part of the conformance suite, so it runs against every runtime's fixture.
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, openEventSource, openWs, post, sleep, type WsMessage } from '../helpers/clients.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { FIXTURE_SETTINGS } from './settings.js'
import type { FixtureServer } from './suite.js'

/** Cursor-map key of a WebSocket frame's stream, as docs/protocol.md defines it. */
function keyOf(channel: string | undefined): string {
  if (channel === undefined) return 'b'
  if (channel === 'realtime:user') return 'u'
  return 'c.' + encodeURIComponent(channel)
}

export function resumeTests(getBase: () => string, start: () => Promise<FixtureServer>): void {
  describe('resume', () => {
    let proxy: TcpProxy | undefined
    const closers: Array<() => unknown> = []
    afterEach(async () => {
      while (closers.length) await closers.pop()!()
      await proxy?.close()
      proxy = undefined
    })

    /** Publishes `count` numbered messages to each target, cutting the proxy after `cutAfter`. */
    async function publishAll(targets: Array<Record<string, unknown>>, count: number, cutAfter: number) {
      for (let n = 1; n <= count; n++) {
        if (n === cutAfter) expect(proxy!.cut()).toBeGreaterThan(0)
        await Promise.all(
          targets.map((target) =>
            post(`${getBase()}/publish`, { ...target, event: 'tick', data: { stream: target.channel ?? target.user ?? 'broadcast', n } }),
          ),
        )
      }
    }
    const targets = [{}, { user: 'resumer' }, { channel: 'news' }, { channel: 'orders' }]
    const expected = (count: number) => Array.from({ length: count }, (_, index) => index + 1)

    it('a native EventSource resumes every stream through Last-Event-ID: nothing lost, nothing twice, in order', async () => {
      proxy = await startTcpProxy(getBase())
      const source = openEventSource(`${proxy.url}/events?user=resumer&channel=news&channel=orders`, ['tick', 'realtime:connected', 'realtime:gap'])
      closers.push(() => source.close())
      await source.inbox.next((event) => event.event === 'realtime:connected')
      const count = 30
      await publishAll(targets, count, 12)
      await eventually(() => source.inbox.items.filter((event) => event.event === 'tick').length >= count * targets.length, 10_000, 'every tick')
      await sleep(100)
      const ticks = source.inbox.items.filter((event) => event.event === 'tick').map((event) => JSON.parse(event.data))
      for (const stream of ['broadcast', 'resumer', 'news', 'orders']) {
        expect(
          ticks.filter((tick) => tick.stream === stream).map((tick) => tick.n),
          stream,
        ).toEqual(expected(count))
      }
      expect(source.inbox.items.some((event) => event.event === 'realtime:gap')).toBe(false)
      expect(source.inbox.items.filter((event) => event.event === 'realtime:connected').length, 'it did reconnect').toBeGreaterThanOrEqual(2)
    }, 30_000)

    it('a WebSocket client resumes with ?lastEventId and with realtime:subscribe cursors', async () => {
      proxy = await startTcpProxy(getBase())
      /** What a client library does: remember the newest cursor of every stream it saw. */
      const cursorsOf = (frames: WsMessage[]) => {
        const cursors = new Map<string, string>()
        for (const frame of frames) {
          if (frame.event === 'realtime:connected') {
            for (const entry of String(frame.data.cursor).split(',').filter(Boolean)) {
              const [key, cursor] = entry.split('=')
              if (!cursors.has(key!)) cursors.set(key!, cursor!)
            }
          } else if (frame.event === 'realtime:subscribed' && frame.data.cursor) {
            if (!cursors.has(keyOf(frame.data.channel))) cursors.set(keyOf(frame.data.channel), frame.data.cursor)
          } else if (frame.id !== undefined) cursors.set(keyOf(frame.channel), frame.id)
        }
        return cursors
      }
      const first = await openWs(`${proxy.url}/ws?user=resumer&resume=1&channel=news`)
      closers.push(() => first.close())
      await first.inbox.next((message) => message.event === 'realtime:connected')
      await first.subscribe('orders')
      const count = 30
      const publishing = publishAll(targets, count, 10)
      await first.closed
      // Reconnect: broadcast, user and news through lastEventId; orders through its subscribe cursor.
      const cursors = cursorsOf(first.inbox.items)
      const map = [...cursors]
        .filter(([key]) => key !== 'c.orders')
        .map(([key, cursor]) => `${key}=${cursor}`)
        .join(',')
      const second = await openWs(`${proxy.url}/ws?user=resumer&lastEventId=${encodeURIComponent(map)}&channel=news`)
      closers.push(() => second.close())
      second.send({ event: 'realtime:subscribe', data: { channel: 'orders', cursor: cursors.get('c.orders') } })
      await publishing
      const ticks = () => [...first.inbox.items, ...second.inbox.items].filter((message) => message.event === 'tick').map((message) => message.data)
      await eventually(() => ticks().length >= count * targets.length, 10_000, 'every tick')
      await sleep(100)
      for (const stream of ['broadcast', 'resumer', 'news', 'orders']) {
        expect(
          ticks()
            .filter((tick) => tick.stream === stream)
            .map((tick) => tick.n),
          stream,
        ).toEqual(expected(count))
      }
      expect(second.inbox.items.some((message) => message.event === 'realtime:gap')).toBe(false)
      // Messages still in flight when the proxy was cut are replayed; nothing the first connection
      // received is sent again (the server may flush after answering the publish, as Bun does).
      for (const stream of ['broadcast', 'resumer', 'news', 'orders']) {
        const ticksOf = (inbox: WsMessage[]) =>
          inbox.filter((message) => message.event === 'tick' && message.data.stream === stream).map((message) => message.data.n as number)
        const received = ticksOf(first.inbox.items)
        expect(ticksOf(second.inbox.items)[0], `${stream}: the replay started where the first connection stopped`).toBe((received.at(-1) ?? 0) + 1)
      }
    }, 30_000)

    it('sends realtime:gap naming the channel when the history window was exceeded', async () => {
      const ws = await openWs(`${getBase()}/ws?resume=1&channel=window`)
      const subscribed = await ws.inbox.next((message) => message.event === 'realtime:subscribed')
      const cursor = subscribed.data.cursor as string
      ws.close()
      await ws.closed
      const size = (FIXTURE_SETTINGS.history as { size: number }).size
      for (let n = 1; n <= size + 5; n++) await post(`${getBase()}/publish`, { channel: 'window', event: 'tick', data: { n } })
      const again = await openWs(`${getBase()}/ws`)
      closers.push(() => again.close())
      again.send({ event: 'realtime:subscribe', data: { channel: 'window', cursor } })
      const gap = await again.inbox.next((message) => message.event === 'realtime:gap')
      expect(gap.data).toMatchObject({ channel: 'window', reason: 'window' })
      expect(gap.data.cursor).toMatch(/:\d+$/)
      await post(`${getBase()}/publish`, { channel: 'window', event: 'tick', data: { n: 'live' } })
      const live = await again.inbox.next((message) => message.event === 'tick')
      expect(live.data.n).toBe('live')
      expect(again.inbox.items.filter((message) => message.event === 'tick')).toHaveLength(1)
    })

    it('sends realtime:gap after a restart (new epoch), over SSE and WebSocket', async () => {
      const ws = await openWs(`${getBase()}/ws?resume=1&channel=news`)
      const connected = await ws.inbox.next((message) => message.event === 'realtime:connected')
      ws.close()
      const restarted = await start()
      closers.push(() => restarted.close())
      const source = openEventSource(`${restarted.url}/events?channel=news`, ['realtime:gap', 'tick'])
      closers.push(() => source.close())
      // The eventsource package sends Last-Event-ID only on its own reconnects, so the first
      // connection passes the cursor map in the lastEventId query parameter, as the client does.
      source.close()
      const resumed = openEventSource(`${restarted.url}/events?channel=news&lastEventId=${encodeURIComponent(connected.data.cursor)}`, ['realtime:gap'])
      closers.push(() => resumed.close())
      const gaps = new Set<string>()
      await eventually(
        () => {
          for (const event of resumed.inbox.items) gaps.add(JSON.parse(event.data).channel)
          return gaps.has('news') && gaps.has('realtime:broadcast')
        },
        5000,
        'gaps for news and broadcast',
      )
      const wsResumed = await openWs(`${restarted.url}/ws?channel=news&lastEventId=${encodeURIComponent(connected.data.cursor)}`)
      closers.push(() => wsResumed.close())
      const wsGap = await wsResumed.inbox.next((message) => message.event === 'realtime:gap' && message.data.channel === 'news')
      expect(wsGap.data.reason).toBe('epoch')
    })

    it('answers an unreadable Last-Event-ID with a gap for every stream instead of silence', async () => {
      const response = await fetch(`${getBase()}/events?channel=news`, { headers: { 'Last-Event-ID': 'garbage,,=' } })
      const reader = response.body!.getReader()
      let text = ''
      while (!(text.includes('"channel":"news"') && text.includes('realtime:broadcast'))) {
        const { value, done } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      }
      await reader.cancel()
      expect(text).toContain('event: realtime:gap')
      expect(text).toContain('"reason":"invalid"')
    })
  })
}
