// Handlers run inside the Durable Object, and may broadcast from there: the object sends the
// broadcast to itself through its stub (only its own context may write to its sockets).
// The demo's chat: onJoin announces the member to the others, onMessage relays to the channel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openWs } from '../../../test/helpers/clients.js'
import { startWorkerd } from './workerd.js'

describe('workers: handlers inside the object', () => {
  let server: Awaited<ReturnType<typeof startWorkerd>>
  beforeAll(async () => {
    server = await startWorkerd()
  })
  afterAll(async () => {
    await server?.close()
  })

  it('broadcast from onJoin and onMessage reaches the channel, except the sender when asked', async () => {
    const alice = await openWs(`${server.url}/ws?user=alice`)
    const bob = await openWs(`${server.url}/ws?user=bob`)
    expect((await alice.subscribe('chat')).event).toBe('realtime:subscribed')
    expect((await bob.subscribe('chat')).event).toBe('realtime:subscribed')
    expect((await alice.inbox.next((message) => message.event === 'joined')).data).toEqual({ user: 'bob' })
    alice.send(JSON.stringify({ chat: 'hello' }))
    for (const client of [alice, bob]) {
      expect(await client.inbox.next((message) => message.event === 'chat')).toMatchObject({ channel: 'chat', data: { user: 'alice', text: 'hello' } })
    }
    // onJoin broadcast with { except: socket }: bob never hears of his own join.
    expect(bob.inbox.items.some((message) => message.event === 'joined' && message.data.user === 'bob')).toBe(false)
    bob.close()
    expect((await alice.inbox.next((message) => message.event === 'left')).data).toEqual({ user: 'bob' })
    alice.close()
  })
})
