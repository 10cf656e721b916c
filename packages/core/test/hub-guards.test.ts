// Application mistakes and broker faults found by probing (issue #24): each gets a clear
// REALTIME_* error, and none leaves a connection registered.
import { describe, expect, it } from 'vitest'
import { createRealtime, encodeSseEvent, hubOf, memoryBroker, RealtimeError, type Broker } from '../src/index.js'

const quiet = { onError: () => {} }
const sseRequest = (query = '') => new Request(`http://app.test/events${query}`, { headers: { Accept: 'text/event-stream' } })
const codeOf = async (run: () => unknown): Promise<string | undefined> => {
  try {
    await run()
  } catch (error) {
    return RealtimeError.isInstance(error) ? error.code : `not a RealtimeError: ${String(error)}`
  }
  return undefined
}

describe('channel patterns', () => {
  it('lets the most specific configuration decide, whatever the registration order', async () => {
    for (const order of [
      ['*', 'admin:*'],
      ['admin:*', '*'],
    ]) {
      const realtime = createRealtime(quiet)
      const configs: Record<string, object> = { '*': {}, 'admin:*': { authorize: () => false } }
      for (const pattern of order) realtime.channel(pattern, configs[pattern])
      realtime.channel('admin:open', {}) // an exact name beats every pattern
      const { stream } = realtime.sse(sseRequest())
      const joinAs = (channel: string) => hubOf(realtime).join(stream, channel, false)
      expect(await joinAs('admin:secret')).toBe(false)
      expect(await joinAs('admin:open')).toBe(true)
      expect(await joinAs('lobby')).toBe(true)
      await realtime.close({ drainTimeout: 0 })
    }
  })

  it("gives a pattern's handle the pattern as its name and refuses to broadcast to it", async () => {
    const realtime = createRealtime(quiet)
    const handle = realtime.channel('orders:*')
    expect(handle.name).toBe('orders:*')
    expect(await codeOf(() => handle.broadcast({ event: 'x', data: 1 }))).toBe('REALTIME_INVALID_CHANNEL')
    const { stream } = realtime.sse(sseRequest('?channel=orders:1&channel=orders:2&channel=other'))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(handle.size).toBe(1)
    expect([...handle.connections()]).toEqual([stream])
    await realtime.close({ drainTimeout: 0 })
  })
})

describe('publishing mistakes', () => {
  it('refuses sendTo without a user id instead of reaching a user named "undefined"', async () => {
    const realtime = createRealtime(quiet)
    for (const target of [undefined, null, '', Number.NaN, Infinity, true]) {
      expect(await codeOf(() => realtime.sendTo(target as never, { event: 'x', data: 1 }))).toBe('REALTIME_INVALID_TARGET')
    }
    expect(await codeOf(() => realtime.sendTo(0, { event: 'x', data: 1 }))).toBeUndefined()
    await realtime.close()
  })

  it('refuses reserved event names on broadcast, sendTo and socket.send', async () => {
    const realtime = createRealtime(quiet)
    expect(await codeOf(() => realtime.broadcast({ event: 'realtime:gap', data: {} }))).toBe('REALTIME_INVALID_MESSAGE')
    expect(await codeOf(() => realtime.sendTo('alice', { event: 'realtime:connected', data: {} }))).toBe('REALTIME_INVALID_MESSAGE')
    const { stream } = realtime.sse(sseRequest())
    expect(await codeOf(() => stream.send({ event: 'realtime:reconnect', data: {} }))).toBe('REALTIME_INVALID_MESSAGE')
    await realtime.close({ drainTimeout: 0 })
  })

  it('refuses channel names no client could join', async () => {
    const realtime = createRealtime(quiet)
    for (const name of ['', 'a\u0000', 'a\u007f', 'a\u0085', '\ud800', 'x'.repeat(201)]) {
      expect(await codeOf(() => realtime.toChannel(name))).toBe('REALTIME_INVALID_CHANNEL')
      expect(await codeOf(() => realtime.channel(name))).toBe('REALTIME_INVALID_OPTION')
    }
    await realtime.close()
  })

  it('rejects broadcast and sendTo after close() instead of resolving with nothing delivered', async () => {
    const realtime = createRealtime(quiet)
    await realtime.close()
    expect(await codeOf(() => realtime.broadcast({ event: 'x', data: 1 }))).toBe('REALTIME_CLOSED')
    expect(await codeOf(() => realtime.sendTo('alice', { event: 'x', data: 1 }))).toBe('REALTIME_CLOSED')
    expect(await codeOf(() => realtime.toChannel('a').broadcast({ event: 'x', data: 1 }))).toBe('REALTIME_CLOSED')
  })

  it('refuses an SSE retry that is not a finite, non-negative number', () => {
    for (const retry of [Number.NaN, Infinity, -1]) {
      expect(() => encodeSseEvent({ data: 'x', retry })).toThrowError(expect.objectContaining({ code: 'REALTIME_INVALID_FIELD' }))
    }
    expect(encodeSseEvent({ data: 'x', retry: 1500.7 })).toContain('retry: 1500\n')
  })
})

describe('joins and leaves', () => {
  it('resolves a server-side join of an invalid name to false and reports REALTIME_INVALID_CHANNEL', async () => {
    const errors: string[] = []
    const realtime = createRealtime({ onError: (error) => errors.push(error.code) })
    const { stream } = realtime.sse(sseRequest())
    expect(await stream.join('\ud800')).toBe(false)
    expect(await stream.join('ok')).toBe(true)
    expect(errors).toEqual(['REALTIME_INVALID_CHANNEL'])
    await realtime.close({ drainTimeout: 0 })
  })

  it('caps channels per connection, server-side joins included, and reports the refusal', async () => {
    const errors: string[] = []
    const realtime = createRealtime({ maxChannelsPerConnection: 3, onError: (error) => errors.push(error.code) })
    const { stream } = realtime.sse(sseRequest())
    for (const channel of ['a', 'b', 'c']) expect(await stream.join(channel)).toBe(true)
    expect(await stream.join('d')).toBe(false)
    expect(errors).toEqual(['REALTIME_TOO_MANY_CHANNELS'])
    stream.leave('a')
    expect(await stream.join('d')).toBe(true)
    await realtime.close({ drainTimeout: 0 })
  })

  it('deregisters a closing connection even when the broker throws while it leaves its channels', async () => {
    const errors: string[] = []
    const inner = memoryBroker()
    const broker: Broker = {
      ...inner,
      removeTopic() {
        throw new Error('broker down')
      },
    }
    const realtime = createRealtime({ broker, onError: (error) => errors.push(error.code) })
    const { stream } = realtime.sse(sseRequest('?channel=a&channel=b'))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(realtime.stats()).toMatchObject({ connections: 1, channels: 2 })
    stream.close()
    expect(realtime.stats()).toMatchObject({ connections: 0, sse: 0, channels: 0 })
    expect(errors).toContain('REALTIME_INTERNAL_ERROR')
    await realtime.close()
  })
})
