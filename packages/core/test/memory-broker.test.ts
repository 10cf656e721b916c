import { describe, expect, it, vi } from 'vitest'
import { formatCursorMap, memoryBroker, parseCursorMap, type BrokerMessage } from '@loewen-digital/realtime-core'

const message = (topic: string, n: number): BrokerMessage => ({ topic, event: 'tick', data: n })

describe('memoryBroker history', () => {
  it('numbers messages per stream and replays what came after a cursor', () => {
    const broker = memoryBroker()
    const seen: BrokerMessage[] = []
    broker.subscribe((delivered) => seen.push(delivered))
    const start = broker.position!('channel:a') as { epoch: string; offset: number }
    for (let n = 1; n <= 3; n++) broker.publish(message('channel:a', n))
    broker.publish(message('channel:b', 1))
    expect(seen.map((delivered) => [delivered.topic, delivered.offset])).toEqual([
      ['channel:a', 1],
      ['channel:a', 2],
      ['channel:a', 3],
      ['channel:b', 1],
    ])
    const replay = broker.history!('channel:a', { epoch: start.epoch, offset: 1 })
    expect(replay).toMatchObject({ ok: true })
    expect((replay as { messages: BrokerMessage[] }).messages.map((entry) => entry.data)).toEqual([2, 3])
    expect(broker.history!('channel:a', { epoch: start.epoch, offset: 3 })).toEqual({ ok: true, messages: [] })
  })

  it('reports the window when more was missed than it keeps, and the epoch for another history', () => {
    const broker = memoryBroker({ history: { size: 2 } })
    broker.subscribe(() => {})
    const start = broker.position!('broadcast') as { epoch: string; offset: number }
    for (let n = 1; n <= 5; n++) broker.publish(message('broadcast', n))
    expect(broker.history!('broadcast', start)).toMatchObject({ ok: false, reason: 'window', position: { epoch: start.epoch, offset: 5 } })
    expect(broker.history!('broadcast', { epoch: start.epoch, offset: 3 })).toMatchObject({ ok: true })
    expect(broker.history!('broadcast', { epoch: 'otherepoch', offset: 3 })).toMatchObject({ ok: false, reason: 'epoch' })
    expect(broker.history!('broadcast', { epoch: start.epoch, offset: 99 })).toMatchObject({ ok: false, reason: 'epoch' })
  })

  it('expires messages after ttl', () => {
    vi.useFakeTimers()
    try {
      const broker = memoryBroker({ history: { ttl: 1000 } })
      broker.subscribe(() => {})
      const start = broker.position!('broadcast') as { epoch: string; offset: number }
      broker.publish(message('broadcast', 1))
      vi.advanceTimersByTime(1500)
      expect(broker.history!('broadcast', start)).toMatchObject({ ok: false, reason: 'window' })
    } finally {
      vi.useRealTimers()
    }
  })

  it('gives every process start a new epoch', () => {
    const first = memoryBroker().position!('broadcast') as { epoch: string }
    const second = memoryBroker().position!('broadcast') as { epoch: string }
    expect(first.epoch).not.toBe(second.epoch)
  })

  it('assigns no cursors with history off', () => {
    const broker = memoryBroker({ history: false })
    const seen: BrokerMessage[] = []
    broker.subscribe((delivered) => seen.push(delivered))
    broker.publish(message('broadcast', 1))
    expect(seen[0]!.offset).toBeUndefined()
    expect(broker.history!('broadcast', { epoch: 'x', offset: 0 })).toMatchObject({ ok: false, reason: 'disabled' })
  })
})

describe('cursor maps', () => {
  it('round-trips, percent-encoding channel names', () => {
    const map = new Map([
      ['b', { epoch: 'e1', offset: 4 }],
      ['c.' + encodeURIComponent('orders,eu=1'), { epoch: 'e2', offset: 0 }],
    ])
    const text = formatCursorMap(map)
    expect(text).toBe('b=e1:4,c.orders%2Ceu%3D1=e2:0')
    expect(parseCursorMap(text)).toEqual(map)
  })

  it.each(['', 'b', 'b=', 'b=e1', 'b=e1:-1', 'b=e1:1.5', 'x=e1:1', 'b=e"1:1', 'b=e1:1,,u=e1:2'])('rejects %j', (text) => {
    expect(parseCursorMap(text)).toBeUndefined()
  })
})
