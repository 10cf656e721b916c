// The conformance suite: the same behaviour, asserted against a real fixture server of each
// runtime (apps/demo-* serve apps/demo-app). `start` returns the server's base URL.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { closeOpenClients, eventually, openEventSource, openSse, openWs, post, sleep } from '../helpers/clients.js'
import { attackTests } from './attacks.js'
import { hardeningTests } from './hardening.js'
import { isolationTests } from './isolation.js'
import { presenceTests } from './presence.js'
import { requestTests } from './requests.js'
import { tokenTests } from './tokens.js'
import { resumeTests } from './resume.js'
import { FIXTURE_SETTINGS } from './settings.js'
import { sseBoundsTests } from './sse-bounds.js'

export interface FixtureServer {
  url: string
  close(): Promise<void>
}

/** Behaviours a runtime may be unable to provide; each skip is declared with its reason. */
export type Capability = 'server-ping' | 'sse-socket-release'

export interface ConformanceOptions {
  /**
   * Capabilities this runtime truly cannot provide, each with the reason and the alternative used.
   * The affected test is skipped with the reason in its name, and the reason is printed.
   */
  unsupported?: Partial<Record<Capability, string>>
}

export function conformance(runtime: string, start: () => Promise<FixtureServer>, options: ConformanceOptions = {}): void {
  /** `it`, or a skip whose name carries the reason when the runtime declared `capability` unsupported. */
  const requires = (capability: Capability, name: string, test: () => Promise<void>) => {
    const reason = options.unsupported?.[capability]
    if (reason === undefined) return it(name, test)
    console.info(`[conformance: ${runtime}] skipping '${name}': ${capability} unsupported: ${reason}`)
    return it.skip(`${name} [unsupported on ${runtime}: ${reason}]`, test)
  }
  describe(`conformance: ${runtime}`, () => {
    let server: FixtureServer
    let base: string
    const cleanups: Array<() => void> = []
    const track = <T extends { close: () => void }>(client: T): T => {
      cleanups.push(() => client.close())
      return client
    }
    const stats = async (prefix = '') => (await fetch(`${base}${prefix}/stats`)).json()

    beforeAll(async () => {
      server = await start()
      base = server.url
    })
    afterAll(async () => {
      await server?.close()
    })
    beforeEach(async () => {
      while (cleanups.length) cleanups.pop()!()
      // What a failed test left open (it stopped before its own closes) must not fail the next.
      closeOpenClients()
      await eventually(async () => (await stats()).connections === 0, 5000, 'no connections left from the previous test')
      await post(`${base}/errors/clear`, {})
    })

    describe('SSE', () => {
      it('answers with the anti-buffering headers and an initial retry', async () => {
        const sse = track(await openSse(`${base}/events`))
        expect(sse.response.status).toBe(200)
        expect(sse.response.headers.get('content-type')).toBe('text/event-stream')
        expect(sse.response.headers.get('cache-control')).toBe('no-cache, no-transform')
        expect(sse.response.headers.get('x-accel-buffering')).toBe('no')
        await eventually(() => sse.retries.length > 0, 3000, 'retry:')
        expect(sse.retries[0]).toBeGreaterThan(0)
      })

      it('delivers events sent before the response was returned, first', async () => {
        const sse = track(await openSse(`${base}/events?greeting=hello`))
        const first = await sse.inbox.next()
        expect(first).toMatchObject({ event: 'notification' })
        expect(JSON.parse(first.data)).toEqual({ message: 'hello' })
      })

      it('splits multi-line raw data into data: lines that EventSource joins back', async () => {
        const sse = track(await openSse(`${base}/events?raw=${encodeURIComponent('line one\nline two\r\nline three')}`))
        const event = await sse.inbox.next()
        expect(event.data).toBe('line one\nline two\nline three')
        expect(sse.raw).toContain('data: line one\ndata: line two\ndata: line three\n\n')
      })

      it('rejects CR/LF in an event name with REALTIME_INVALID_FIELD and writes nothing', async () => {
        const sse = track(await openSse(`${base}/events`))
        await eventually(() => sse.retries.length > 0)
        const answer = await post(`${base}/publish`, { event: 'update\nevent: injected', data: 1 })
        expect(answer.status).toBe(400)
        expect(answer.body.error.code).toBe('REALTIME_INVALID_FIELD')
        await post(`${base}/publish`, { event: 'after', data: 2 })
        await sse.inbox.next((event) => event.event === 'after')
        expect(sse.inbox.items.map((event) => event.event).filter((event) => !event.startsWith('realtime:'))).toEqual(['after'])
        expect(sse.raw).not.toContain('injected')
      })

      it('sends a comment line every heartbeat interval', async () => {
        const sse = track(await openSse(`${base}/events`))
        await sse.comments.next(() => true, FIXTURE_SETTINGS.heartbeat * 4, 'a heartbeat comment')
      })

      it('announces the heartbeat interval in realtime:connected, and beats as events for a client that asks', async () => {
        const sse = track(await openSse(`${base}/events?heartbeat=1`))
        const connected = await sse.inbox.next((event) => event.event === 'realtime:connected')
        expect(JSON.parse(connected.data).heartbeat).toBe(FIXTURE_SETTINGS.heartbeat)
        const beat = await sse.inbox.next((event) => event.event === 'realtime:heartbeat', FIXTURE_SETTINGS.heartbeat * 4, 'a heartbeat event')
        expect(beat).toEqual({ event: 'realtime:heartbeat', data: String(FIXTURE_SETTINGS.heartbeat), id: undefined })
        expect(sse.comments.items).toEqual([])
        // Without the parameter, heartbeats stay comment lines.
        const plain = track(await openSse(`${base}/events`))
        await plain.comments.next(() => true, FIXTURE_SETTINGS.heartbeat * 4, 'a heartbeat comment')
        expect(plain.inbox.items.some((event) => event.event === 'realtime:heartbeat')).toBe(false)
      })

      it('answers an allowed cross-origin stream with CORS headers, others without', async () => {
        const allowed = track(await openSse(`${base}/events`, { headers: { Origin: 'http://app.test' } }))
        expect(allowed.response.status).toBe(200)
        expect(allowed.response.headers.get('access-control-allow-origin')).toBe('http://app.test')
        expect(allowed.response.headers.get('access-control-allow-credentials')).toBe('true')
        expect(allowed.response.headers.get('vary')).toMatch(/origin/i)
        expect(allowed.response.headers.get('content-type')).toBe('text/event-stream')
        await allowed.inbox.next((event) => event.event === 'realtime:connected')
        const other = track(await openSse(`${base}/events`, { headers: { Origin: 'http://evil.test' } }))
        expect(other.response.headers.get('access-control-allow-origin')).toBeNull()
        const plain = track(await openSse(`${base}/events`))
        expect(plain.response.headers.get('access-control-allow-origin')).toBeNull()
      })

      it('answers the CORS preflight of an allowed origin for the headers it asks for, and no other', async () => {
        const ask = (origin: string) =>
          fetch(`${base}/events`, {
            method: 'OPTIONS',
            headers: { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
          })
        const allowed = await ask('http://app.test')
        expect(allowed.status).toBe(204)
        expect(allowed.headers.get('access-control-allow-origin')).toBe('http://app.test')
        expect(allowed.headers.get('access-control-allow-headers')).toBe('authorization')
        expect(allowed.headers.get('access-control-allow-methods')).toBe('GET')
        expect(allowed.headers.get('access-control-allow-credentials')).toBe('true')
        const other = await ask('http://evil.test')
        expect(other.status).toBe(204)
        expect(other.headers.get('access-control-allow-origin')).toBeNull()
        expect(other.headers.get('access-control-allow-headers')).toBeNull()
      })

      it('gives a refusal (503) to an allowed origin with CORS headers, so the page can read its Retry-After', async () => {
        const held = [track(await openSse(`${base}/limited/events`)), track(await openSse(`${base}/limited/events`))]
        await Promise.all(held.map((sse) => sse.inbox.next((event) => event.event === 'realtime:connected')))
        const refused = await fetch(`${base}/limited/events`, { headers: { Origin: 'http://app.test', Accept: 'text/event-stream' } })
        expect(refused.status).toBe(503)
        expect(refused.headers.get('retry-after')).not.toBeNull()
        expect(refused.headers.get('access-control-allow-origin')).toBe('http://app.test')
        await refused.body?.cancel()
      })

      it('works with a native EventSource', async () => {
        const source = track(openEventSource(`${base}/events?greeting=native`, ['notification', 'update']))
        await source.opened
        const greeting = await source.inbox.next((event) => event.event === 'notification')
        expect(JSON.parse(greeting.data)).toEqual({ message: 'native' })
        await post(`${base}/publish`, { event: 'update', data: { n: 1 } })
        const update = await source.inbox.next((event) => event.event === 'update')
        expect(JSON.parse(update.data)).toEqual({ n: 1 })
      })

      it('frees the connection when the client goes away', async () => {
        const sse = await openSse(`${base}/events?user=leaver&channel=orders`)
        await eventually(async () => (await stats()).connections === 1)
        sse.close()
        await eventually(
          async () => {
            const now = await stats()
            return now.connections === 0 && now.users === 0 && now.channels === 0
          },
          5000,
          'the registry to empty',
        )
      })
    })

    describe('WebSocket', () => {
      it('runs the spec echo handler: raw text in, raw text out', async () => {
        const ws = track(await openWs(`${base}/ws`))
        ws.send(JSON.stringify({ hello: 'world' }))
        const answer = await ws.inbox.next((message) => message.raw.includes('echo'))
        expect(JSON.parse(answer.raw)).toEqual({ echo: { hello: 'world' } })
      })

      it('keeps socket.request readable in handlers after the upgrade: same URL and headers, signal not aborted', async () => {
        const ws = track(await openWs(`${base}/ws`, { headers: { 'X-Team': 'blue' } }))
        ws.send(JSON.stringify({ first: true }))
        await ws.inbox.next((message) => message.raw.includes('echo'))
        ws.send(JSON.stringify({ whoami: true }))
        const answer = await ws.inbox.next((message) => message.raw.includes('whoami'))
        expect(JSON.parse(answer.raw)).toEqual({ whoami: { path: '/ws', team: 'blue', aborted: false } })
      })

      it('reports a throwing onMessage to onError and keeps every connection working', async () => {
        const ws = track(await openWs(`${base}/ws`))
        const other = track(await openWs(`${base}/ws`))
        ws.send('this is not JSON')
        await eventually(
          async () => (await stats()).errors.some((error: { code: string }) => error.code === 'REALTIME_HANDLER_ERROR'),
          3000,
          'the error to be reported',
        )
        ws.send(JSON.stringify({ still: 'alive' }))
        await ws.inbox.next((message) => message.raw === JSON.stringify({ echo: { still: 'alive' } }))
        other.send(JSON.stringify({ other: true }))
        await other.inbox.next((message) => message.raw === JSON.stringify({ echo: { other: true } }))
      })

      it('never passes reserved events to onMessage; unknown control events get realtime:error', async () => {
        const ws = track(await openWs(`${base}/ws`))
        ws.send({ event: 'realtime:bogus', data: {} })
        const error = await ws.inbox.next((message) => message.event === 'realtime:error')
        expect(error.data.code).toBe('REALTIME_UNKNOWN_CONTROL')
        ws.send({ event: 'realtime:subscribe', data: {} })
        const bad = await ws.inbox.next((message) => message.event === 'realtime:error' && message.data.code === 'REALTIME_BAD_FRAME')
        expect(bad.data.message).toContain('channel')
        ws.send({ event: 'realtime:ping', data: 7 })
        const pong = await ws.inbox.next((message) => message.event === 'realtime:pong')
        expect(pong.data).toBe(7)
        await sleep(50)
        expect(ws.inbox.items.some((message) => message.raw.includes('echo'))).toBe(false)
      })

      it('closes a connection whose message exceeds the size limit with 1009, others unaffected', async () => {
        const ws = await openWs(`${base}/ws`)
        const other = track(await openWs(`${base}/ws`))
        ws.send(JSON.stringify({ big: 'x'.repeat(FIXTURE_SETTINGS.maxMessageBytes * 2) }))
        const closed = await ws.closed
        expect(closed.code).toBe(1009)
        other.send(JSON.stringify({ fine: true }))
        await other.inbox.next((message) => message.raw.includes('fine'))
      })

      requires('server-ping', 'pings every heartbeat and closes a peer that does not answer', async () => {
        const answering = track(await openWs(`${base}/ws`))
        let pings = 0
        answering.socket.on('ping', () => pings++)
        const silent = await openWs(`${base}/ws`, { autoPong: false })
        const closed = await Promise.race([silent.closed, sleep(FIXTURE_SETTINGS.heartbeat * 6).then(() => undefined)])
        expect(closed, 'the silent peer was closed').toBeDefined()
        // The answering peer's second ping and the silent peer's close come due at the same time
        // on different sockets; no runtime orders them, so wait for the ping instead of racing it.
        await eventually(() => pings >= 2, FIXTURE_SETTINGS.heartbeat * 6, 'a second ping to the answering peer')
        expect(answering.socket.readyState).toBe(1)
      })

      it('answers 426 to a plain GET on the upgrade route', async () => {
        const response = await fetch(`${base}/ws`)
        expect(response.status).toBe(426)
      })
    })

    describe('fan-out', () => {
      it('broadcast reaches SSE and WebSocket clients of one instance', async () => {
        const sse = track(await openSse(`${base}/events`))
        const ws = track(await openWs(`${base}/ws`))
        await eventually(async () => (await stats()).connections === 2)
        await post(`${base}/publish`, { event: 'update', data: { value: 42 } })
        const viaSse = await sse.inbox.next((event) => event.event === 'update')
        expect(JSON.parse(viaSse.data)).toEqual({ value: 42 })
        const viaWs = await ws.inbox.next((message) => message.event === 'update')
        expect(viaWs.data).toEqual({ value: 42 })
        expect(JSON.parse(viaWs.raw)).toMatchObject({ event: 'update', data: { value: 42 } })
      })

      it('sendTo(userId) reaches every connection of that user and nobody else', async () => {
        const aliceSse = track(await openSse(`${base}/events?user=alice`))
        const aliceWs = track(await openWs(`${base}/ws?user=alice`))
        const bobWs = track(await openWs(`${base}/ws?user=bob`))
        const anonymous = track(await openSse(`${base}/events`))
        await eventually(async () => (await stats()).users === 2)
        await post(`${base}/publish`, { user: 'alice', event: 'order-update', data: { id: 1 } })
        await post(`${base}/publish`, { event: 'marker', data: null })
        await aliceSse.inbox.next((event) => event.event === 'order-update')
        await aliceWs.inbox.next((message) => message.event === 'order-update')
        await bobWs.inbox.next((message) => message.event === 'marker')
        await anonymous.inbox.next((event) => event.event === 'marker')
        expect(bobWs.inbox.items.some((message) => message.event === 'order-update')).toBe(false)
        expect(anonymous.inbox.items.some((event) => event.event === 'order-update')).toBe(false)
      })
    })

    describe('channels', () => {
      it('joins with realtime:subscribe, runs onJoin (sendTo(socket)), delivers to members only', async () => {
        const member = track(await openWs(`${base}/ws`))
        const outsider = track(await openWs(`${base}/ws`))
        const answer = await member.subscribe('orders')
        expect(answer.event).toBe('realtime:subscribed')
        const connected = await member.inbox.next((message) => message.event === 'connected')
        expect(connected.data).toEqual({ channel: 'orders' })
        await post(`${base}/publish`, { channel: 'orders', event: 'new-order', data: { id: 7 } })
        const order = await member.inbox.next((message) => message.event === 'new-order')
        expect(order).toMatchObject({ data: { id: 7 }, channel: 'orders' })
        await post(`${base}/publish`, { event: 'marker', data: null })
        await outsider.inbox.next((message) => message.event === 'marker')
        expect(outsider.inbox.items.some((message) => message.event === 'new-order')).toBe(false)
      })

      it('broadcasts with except: every member but the excepted one (onJoin announces a join to the others)', async () => {
        // The demo's chat channel: onJoin broadcasts `joined` with `except: socket`. Ids are made
        // when first read, so this also checks that except finds a connection by its id then.
        const alice = track(await openWs(`${base}/ws?user=alice`))
        await alice.subscribe('chat')
        const bob = track(await openWs(`${base}/ws?user=bob`))
        await bob.subscribe('chat')
        expect((await alice.inbox.next((message) => message.event === 'joined' && message.data?.user === 'bob')).channel).toBe('chat')
        const carol = track(await openWs(`${base}/ws?user=carol`))
        await carol.subscribe('chat')
        await bob.inbox.next((message) => message.event === 'joined' && message.data?.user === 'carol')
        // One connection's messages arrive in order: a `joined` for bob would have come before carol's.
        expect(bob.inbox.items.some((message) => message.event === 'joined' && message.data?.user === 'bob')).toBe(false)
        await post(`${base}/publish`, { event: 'marker', data: null })
        await carol.inbox.next((message) => message.event === 'marker')
        expect(carol.inbox.items.some((message) => message.event === 'joined' && message.data?.user === 'carol')).toBe(false)
      })

      it('stops delivering after realtime:unsubscribe', async () => {
        const ws = track(await openWs(`${base}/ws`))
        await ws.subscribe('news')
        ws.send({ event: 'realtime:unsubscribe', data: { channel: 'news' } })
        await ws.inbox.next((message) => message.event === 'realtime:unsubscribed')
        await post(`${base}/publish`, { channel: 'news', event: 'headline', data: 1 })
        await post(`${base}/publish`, { event: 'marker', data: null })
        await ws.inbox.next((message) => message.event === 'marker')
        expect(ws.inbox.items.some((message) => message.event === 'headline')).toBe(false)
      })

      it('lets SSE clients join with ?channel= (repeatable)', async () => {
        const sse = track(await openSse(`${base}/events?channel=news&channel=orders`))
        await sse.inbox.next((event) => event.event === 'connected')
        await post(`${base}/publish`, { channel: 'news', event: 'headline', data: 'a' })
        await post(`${base}/publish`, { channel: 'orders', event: 'new-order', data: 'b' })
        await sse.inbox.next((event) => event.event === 'headline')
        await sse.inbox.next((event) => event.event === 'new-order')
      })

      it('refuses a join that authorize denies with REALTIME_FORBIDDEN and grants nothing', async () => {
        const mallory = track(await openWs(`${base}/ws?user=mallory`))
        const denied = await mallory.subscribe('private:alice')
        expect(denied.event).toBe('realtime:error')
        expect(denied.data.code).toBe('REALTIME_FORBIDDEN')
        const alice = track(await openWs(`${base}/ws?user=alice`))
        expect((await alice.subscribe('private:alice')).event).toBe('realtime:subscribed')
        const sse = track(await openSse(`${base}/events?user=mallory&channel=private:alice`))
        const sseDenied = await sse.inbox.next((event) => event.event === 'realtime:error')
        expect(JSON.parse(sseDenied.data).code).toBe('REALTIME_FORBIDDEN')
        await post(`${base}/publish`, { channel: 'private:alice', event: 'secret', data: 's' })
        await alice.inbox.next((message) => message.event === 'secret')
        await post(`${base}/publish`, { event: 'marker', data: null })
        await mallory.inbox.next((message) => message.event === 'marker')
        await sse.inbox.next((event) => event.event === 'marker')
        expect(mallory.inbox.items.some((message) => message.event === 'secret')).toBe(false)
        expect(sse.inbox.items.some((event) => event.event === 'secret')).toBe(false)
      })
    })

    resumeTests(() => base, start)
    hardeningTests(
      () => base,
      () => stats(),
    )
    attackTests(
      () => base,
      () => stats(),
    )
    presenceTests(() => base)
    sseBoundsTests(() => base, stats, requires)
    requestTests(
      () => base,
      () => stats(),
    )
    tokenTests(() => base)
    isolationTests(() => base, stats)

    describe('limits and lifecycle', () => {
      it('refuses connections over maxConnections with 503 and Retry-After, SSE and WebSocket alike', async () => {
        const first = track(await openSse(`${base}/limited/events`))
        const second = track(await openWs(`${base}/limited/ws`))
        await eventually(async () => (await stats('/limited')).connections === 2)
        const refusedSse = await fetch(`${base}/limited/events`)
        expect(refusedSse.status).toBe(503)
        expect(Number(refusedSse.headers.get('retry-after'))).toBeGreaterThan(0)
        const refusedWs = await openWs(`${base}/limited/ws`).catch((error) => error)
        expect(refusedWs.status).toBe(503)
        expect(Number(refusedWs.headers['retry-after'])).toBeGreaterThan(0)
        await post(`${base}/limited/publish`, { event: 'still-here', data: null })
        await first.inbox.next((event) => event.event === 'still-here')
        await second.inbox.next((message) => message.event === 'still-here')
        first.close()
        second.close()
        await eventually(async () => (await stats('/limited')).connections === 0)
      })

      it('leaves the registry empty after 1,000 connect/disconnect cycles', async () => {
        const batch = 50
        for (let round = 0; round < 1000 / batch; round++) {
          await Promise.all(
            Array.from({ length: batch }, async (_, index) => {
              if (index % 2 === 0) {
                const ws = await openWs(`${base}/ws?user=u${index}`)
                await ws.subscribe('orders')
                ws.close()
                await ws.closed
              } else {
                // A user of its own per round: on Workers an SSE client that left is noticed at the
                // next write (the 300 ms heartbeat here), so one user reconnecting faster than that
                // would meet the per-user cap (docs/runtimes/workers.md), which is not under test.
                const sse = await openSse(`${base}/events?user=s${round}-${index}&channel=news`)
                await sse.inbox.next((event) => event.event === 'realtime:subscribed')
                sse.close()
              }
            }),
          )
        }
        await eventually(
          async () => {
            const now = await stats()
            return now.connections === 0 && now.users === 0 && now.channels === 0
          },
          10_000,
          'the registry to empty',
        )
      }, 60_000)
    })
  })
}
