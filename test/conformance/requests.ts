// Client events and request/response (docs/protocol.md, "Requests"). Part of the conformance
// suite: the demo app's `realtime.on` handlers answer the same way on every runtime.
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, openWs } from '../helpers/clients.js'
import { FIXTURE_SETTINGS } from './settings.js'

type Ws = Awaited<ReturnType<typeof openWs>>

export function requestTests(getBase: () => string, stats: () => Promise<any>): void {
  describe('client events and requests', () => {
    const closers: Array<() => unknown> = []
    afterEach(async () => {
      while (closers.length) await closers.pop()!()
    })
    const open = async (query = '') => {
      const ws = await openWs(`${getBase()}/ws${query}`)
      closers.push(() => ws.close())
      return ws
    }
    const request = (ws: Ws, id: string, event: string, data?: unknown) => {
      ws.send({ event: 'realtime:request', data: { id, event, data } })
      return ws.inbox.next((message) => message.event === 'realtime:response' && message.data?.id === id, 8000, `the answer to ${id}`)
    }

    it('answers a request with what the handler returned, matched by id', async () => {
      const ws = await open('?user=alice')
      await ws.subscribe('chat')
      const answer = await request(ws, 'r1', 'send-message', { text: 'hello' })
      expect(answer.data).toEqual({ id: 'r1', data: { id: expect.any(Number) } })
      const chat = await ws.inbox.next((message) => message.event === 'chat')
      expect(chat.data).toEqual({ id: answer.data.data.id, user: 'alice', text: 'hello' })
    })

    it('matches answers that come back out of order to their requests', async () => {
      const ws = await open()
      ws.send({ event: 'realtime:request', data: { id: 'slow', event: 'wait', data: { ms: 300 } } })
      ws.send({ event: 'realtime:request', data: { id: 'fast', event: 'wait', data: { ms: 0 } } })
      const first = await ws.inbox.next((message) => message.event === 'realtime:response', 8000, 'first answer')
      expect(first.data).toEqual({ id: 'fast', data: { waited: 0 } })
      const second = await ws.inbox.next((message) => message.event === 'realtime:response' && message.data.id === 'slow', 8000, 'second answer')
      expect(second.data).toEqual({ id: 'slow', data: { waited: 300 } })
    })

    it('answers with the code and message of a RealtimeError the handler threw, and reports nothing', async () => {
      const ws = await open()
      const answer = await request(ws, 'r2', 'refuse')
      expect(answer.data).toEqual({ id: 'r2', error: { code: 'REALTIME_FORBIDDEN', message: 'not allowed to do that' } })
      expect((await stats()).errors).toEqual([])
    })

    it('answers REALTIME_HANDLER_ERROR without internals when the handler fails, and reports the cause', async () => {
      const ws = await open()
      const answer = await request(ws, 'r3', 'crash')
      expect(answer.data.error.code).toBe('REALTIME_HANDLER_ERROR')
      expect(answer.raw).not.toContain('internal detail')
      await eventually(async () =>
        (await stats()).errors.some(
          (error: { code: string; message: string }) => error.code === 'REALTIME_HANDLER_ERROR' && error.message.includes('internal detail'),
        ),
      )
    })

    it('answers REALTIME_INVALID_DATA with the issues when the data fails its schema; the connection goes on', async () => {
      const ws = await open()
      const answer = await request(ws, 'r4', 'send-message', { text: 42 })
      expect(answer.data.error).toMatchObject({ code: 'REALTIME_INVALID_DATA', issues: [{ message: 'text must be a string', path: ['text'] }] })
      expect((await request(ws, 'r5', 'wait', { ms: 0 })).data).toEqual({ id: 'r5', data: { waited: 0 } })
    })

    it('answers REALTIME_UNKNOWN_EVENT for an event without a handler', async () => {
      const ws = await open()
      const answer = await request(ws, 'r6', 'no-such-event', 1)
      expect(answer.data.error.code).toBe('REALTIME_UNKNOWN_EVENT')
    })

    it('refuses a malformed request with realtime:error REALTIME_BAD_FRAME', async () => {
      const ws = await open()
      for (const data of [
        { event: 'wait' },
        { id: '', event: 'wait' },
        { id: 'x'.repeat(65), event: 'wait' },
        { id: 'a', event: 'realtime:subscribe' },
        { id: 'a' },
        'text',
      ]) {
        ws.send({ event: 'realtime:request', data })
        const error = await ws.inbox.next((message) => message.event === 'realtime:error', 5000, 'the refusal')
        expect(error.data.code).toBe('REALTIME_BAD_FRAME')
        ws.inbox.items.length = 0
      }
      expect((await request(ws, 'ok', 'wait', { ms: 0 })).data.data).toEqual({ waited: 0 })
    })

    it('gives a plain event to its handler, and events without a handler to onMessage as sent', async () => {
      const alice = await open('?user=alice')
      const bob = await open('?user=bob')
      await alice.subscribe('chat')
      await bob.subscribe('chat')
      bob.send({ event: 'typing' })
      expect((await alice.inbox.next((message) => message.event === 'typing')).data).toEqual({ user: 'bob' })
      const frame = JSON.stringify({ event: 'unhandled', data: { n: 1 } })
      bob.send(frame)
      const echo = await bob.inbox.next((message) => message.raw.startsWith('{"echo"'))
      expect(echo.raw).toBe(JSON.stringify({ echo: { event: 'unhandled', data: { n: 1 } } }))
    })

    it('answers an invalid plain event with realtime:error REALTIME_INVALID_DATA naming the event', async () => {
      const ws = await open()
      ws.send({ event: 'send-message', data: { text: '' } })
      const error = await ws.inbox.next((message) => message.event === 'realtime:error')
      expect(error.data).toMatchObject({ code: 'REALTIME_INVALID_DATA', event: 'send-message' })
    })

    it('bounds a flood of requests by the rate limit (close 1008)', async () => {
      const ws = await open()
      const flood = FIXTURE_SETTINGS.rateLimit.messages * 3
      for (let i = 0; i < flood; i++) ws.send({ event: 'realtime:request', data: { id: `f${i}`, event: 'wait', data: { ms: 0 } } })
      expect((await ws.closed).code).toBe(1008)
      const answered = ws.inbox.items.filter((message) => message.event === 'realtime:response').length
      expect(answered).toBeLessThanOrEqual(FIXTURE_SETTINGS.rateLimit.messages)
      await eventually(async () => (await stats()).errors.some((error: { code: string }) => error.code === 'REALTIME_RATE_LIMITED'))
    })
  })
}
