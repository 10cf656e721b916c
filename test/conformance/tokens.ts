// Tokens that expire (docs/protocol.md, "Tokens"), with real short expiries. The demo's tokens are
// `demo:<user>:<expires at>`: `identify` reads them from the `token` parameter and
// `reauthenticate` from `realtime:auth`. Part of the conformance suite: every runtime.
import { afterEach, describe, expect, it } from 'vitest'
import { openSse, openWs, post, sleep } from '../helpers/clients.js'

type Ws = Awaited<ReturnType<typeof openWs>>

export function tokenTests(getBase: () => string): void {
  describe('tokens that expire', () => {
    const closers: Array<() => unknown> = []
    afterEach(async () => {
      while (closers.length) await closers.pop()!()
    })
    let users = 0
    const nextUser = () => `token-user-${++users}-${Math.random().toString(36).slice(2, 6)}`
    const token = (user: string, lifetime: number) => `demo:${user}:${Date.now() + lifetime}`
    const openWith = async (user: string, lifetime: number, query = '') => {
      const ws = await openWs(`${getBase()}/ws?resume=1&token=${encodeURIComponent(token(user, lifetime))}${query}`)
      closers.push(() => ws.close())
      await ws.inbox.next((message) => message.event === 'realtime:connected')
      return ws
    }
    const next = (ws: Ws, event: string, timeout = 8000) => ws.inbox.next((message) => message.event === event, timeout, event)

    it('asks a WebSocket for a fresh token before it expires, and closes it with 4002 when none comes', async () => {
      const ws = await openWith(nextUser(), 1500)
      const refresh = await next(ws, 'realtime:refresh')
      expect(refresh.data.expiresAt).toBeGreaterThan(Date.now())
      const error = await next(ws, 'realtime:error')
      expect(error.data.code).toBe('REALTIME_TOKEN_EXPIRED')
      expect(await ws.closed).toMatchObject({ code: 4002, reason: 'token expired' })
    })

    it('a fresh token sent over the open WebSocket extends the connection', async () => {
      const user = nextUser()
      const ws = await openWith(user, 1200)
      const started = Date.now()
      for (let renewal = 1; renewal <= 2; renewal++) {
        await next(ws, 'realtime:refresh')
        ws.inbox.items.length = 0
        ws.send({ event: 'realtime:auth', data: { token: token(user, 1200) } })
        const authenticated = await next(ws, 'realtime:authenticated')
        expect(authenticated.data.expiresAt).toBeGreaterThan(Date.now())
      }
      // Past the first token's expiry, and still open.
      await sleep(Math.max(0, started + 1500 - Date.now()))
      ws.send({ tag: 'still-open' })
      await ws.inbox.next((message) => message.raw === JSON.stringify({ echo: { tag: 'still-open' } }))
    })

    it("refuses another user's token (REALTIME_UNAUTHORIZED); the old expiry stands", async () => {
      const ws = await openWith(nextUser(), 1500)
      await next(ws, 'realtime:refresh')
      ws.send({ event: 'realtime:auth', data: { token: token('someone-else', 60_000) } })
      expect((await next(ws, 'realtime:error')).data.code).toBe('REALTIME_UNAUTHORIZED')
      ws.inbox.items.length = 0
      expect((await next(ws, 'realtime:error')).data.code).toBe('REALTIME_TOKEN_EXPIRED')
      expect((await ws.closed).code).toBe(4002)
    })

    it('removes a user from a channel whose authorization was revoked, when the token is renewed', async () => {
      const user = nextUser()
      const ws = await openWith(user, 1200)
      expect((await ws.subscribe('club')).event).toBe('realtime:subscribed')
      await post(`${getBase()}/revoke`, { user })
      await next(ws, 'realtime:refresh')
      ws.send({ event: 'realtime:auth', data: { token: token(user, 60_000) } })
      await next(ws, 'realtime:authenticated')
      const removed = await next(ws, 'realtime:error')
      expect(removed.data).toMatchObject({ code: 'REALTIME_FORBIDDEN', channel: 'club' })
      ws.inbox.items.length = 0
      await post(`${getBase()}/publish`, { channel: 'club', event: 'club-news', data: 1 })
      ws.send({ tag: 'after-revoke' })
      await ws.inbox.next((message) => message.raw === JSON.stringify({ echo: { tag: 'after-revoke' } }))
      expect(ws.inbox.items.some((message) => message.event === 'club-news')).toBe(false)
    })

    it('refuses a malformed realtime:auth with REALTIME_BAD_FRAME', async () => {
      const ws = await openWith(nextUser(), 60_000)
      ws.send({ event: 'realtime:auth', data: { token: 42 } })
      expect((await next(ws, 'realtime:error')).data.code).toBe('REALTIME_BAD_FRAME')
    })

    it('ends an SSE stream when its token expires (REALTIME_TOKEN_EXPIRED)', async () => {
      const sse = await openSse(`${getBase()}/events?token=${encodeURIComponent(token(nextUser(), 1000))}`)
      closers.push(() => sse.close())
      await sse.inbox.next((event) => event.event === 'realtime:connected')
      const error = await sse.inbox.next((event) => event.event === 'realtime:error', 8000, 'the expiry')
      expect(JSON.parse(error.data).code).toBe('REALTIME_TOKEN_EXPIRED')
      await sse.done
    })
  })
}
