// Presence: who is in a channel. Part of the conformance suite, so the same assertions run against
// every runtime's fixture (and, through the Redis fixture, across processes).
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs } from '../helpers/clients.js'

export function presenceTests(getBase: () => string): void {
  describe('presence', () => {
    const closers: Array<() => unknown> = []
    afterEach(async () => {
      while (closers.length) await closers.pop()!()
    })
    const members = async () => (await (await fetch(`${getBase()}/presence?channel=chat`)).json()) as Array<{ userId?: string; connections: number; data: any }>
    const join = async (user: string) => {
      const ws = await openWs(`${getBase()}/ws?user=${user}`)
      closers.push(() => ws.close())
      await ws.subscribe('chat')
      return ws
    }
    const presenceEvents = (ws: Awaited<ReturnType<typeof openWs>>, action: string) =>
      ws.inbox.items.filter((message) => message.event === 'realtime:presence' && message.data.action === action)

    it('sends a snapshot on join and join updates to the others, with metadata', async () => {
      const alice = await join('alice')
      const snapshot = await alice.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'snapshot')
      expect(snapshot.data.channel).toBe('chat')
      expect(snapshot.data.members).toEqual([{ userId: 'alice', connections: 1, data: { name: 'alice' } }])
      const bob = await join('bob')
      const joined = await alice.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'join')
      expect(joined.data.member).toMatchObject({ userId: 'bob', data: { name: 'bob' } })
      const bobSnapshot = await bob.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'snapshot')
      expect(bobSnapshot.data.members.map((member: { userId: string }) => member.userId).sort()).toEqual(['alice', 'bob'])
      expect(
        presenceEvents(bob, 'join').filter((message) => message.data.member.userId === 'bob'),
        'no join event about oneself',
      ).toHaveLength(0)
      expect((await members()).map((member) => member.userId).sort()).toEqual(['alice', 'bob'])
    })

    it('a user with two tabs leaves only when the last one closes', async () => {
      const watcher = await join('watcher')
      const tab1 = await openWs(`${getBase()}/ws?user=carol`)
      await tab1.subscribe('chat')
      const tab2 = await openSse(`${getBase()}/events?user=carol&channel=chat`)
      closers.push(() => tab2.close())
      await watcher.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'join' && message.data.member.userId === 'carol')
      await eventually(async () => (await members()).find((member) => member.userId === 'carol')?.connections === 2, 5000, 'carol with two connections')
      tab1.close()
      await eventually(async () => (await members()).find((member) => member.userId === 'carol')?.connections === 1, 5000, 'carol with one connection')
      // About carol only: the leave of an earlier test's member may still be on its way (the
      // announcement goes through the broker after that member's connection closed).
      expect(presenceEvents(watcher, 'leave').filter((message) => message.data.member.userId === 'carol')).toHaveLength(0)
      expect(presenceEvents(watcher, 'join').filter((message) => message.data.member.userId === 'carol')).toHaveLength(1)
      tab2.close()
      const left = await watcher.inbox.next(
        (message) => message.event === 'realtime:presence' && message.data.action === 'leave' && message.data.member.userId === 'carol',
      )
      expect(left.data.member).toMatchObject({ userId: 'carol', connections: 0 })
      expect((await members()).map((member) => member.userId)).toEqual(['watcher'])
    })

    it('turns an abrupt disconnect into a leave', async () => {
      const watcher = await join('watcher')
      const dave = await openWs(`${getBase()}/ws?user=dave`)
      await dave.subscribe('chat')
      await watcher.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'join' && message.data.member.userId === 'dave')
      ;(dave.socket as unknown as { _socket: { destroy(): void } })._socket.destroy()
      const left = await watcher.inbox.next(
        (message) => message.event === 'realtime:presence' && message.data.action === 'leave' && message.data.member.userId === 'dave',
        10_000,
        'dave to leave',
      )
      expect(left.data.member).toMatchObject({ userId: 'dave', connections: 0 })
    })
  })
}
