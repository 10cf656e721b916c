// Two instances on one broker (issue #21): the fixture's `realtime` (default name, the driver) and
// `limited` (named 'limited') share the fixture's broker, in memory or on Redis. Each keeps to its
// own broadcasts, users, channels and presence, as instances with brokers of their own always did.
// On Workers each instance has its own Durable Object; the same assertions hold there.
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post } from '../helpers/clients.js'

type Stats = (prefix?: string) => Promise<{ connections: number }>

export function isolationTests(getBase: () => string, stats: Stats): void {
  describe('two instances on one broker', () => {
    const closers: Array<() => unknown> = []
    afterEach(async () => {
      while (closers.length) await closers.pop()!()
      await eventually(async () => (await stats('/limited')).connections === 0, 5000, 'the limited registry to empty')
    })
    const sse = async (path: string) => {
      const client = await openSse(`${getBase()}${path}`)
      closers.push(() => client.close())
      await client.inbox.next((event) => event.event === 'realtime:connected')
      return {
        names: () => client.inbox.items.map((event) => event.event),
        next: (event: string) => client.inbox.next((item) => item.event === event, 5000, event),
      }
    }
    const ws = async (path: string, channel: string) => {
      const client = await openWs(`${getBase()}${path}`)
      closers.push(() => client.close())
      await client.subscribe(channel)
      return {
        inbox: client.inbox,
        names: () => client.inbox.items.map((message) => message.event ?? ''),
        next: (event: string) => client.inbox.next((message) => message.event === event, 5000, event),
      }
    }
    const applicationEvents = (names: string[]) => names.filter((name) => !name.startsWith('realtime:'))

    it("delivers each instance's broadcasts, user and channel messages to its own connections only", async () => {
      const base = getBase()
      const mainSse = await sse('/events?user=ann&channel=news')
      const mainWs = await ws('/ws?user=ann', 'news')
      const limitedSse = await sse('/limited/events?user=ann&channel=news')
      const limitedWs = await ws('/limited/ws?user=ann', 'news')
      for (const target of [{}, { user: 'ann' }, { channel: 'news' }]) {
        await post(`${base}/limited/publish`, { ...target, event: 'for-limited', data: target })
        await post(`${base}/publish`, { ...target, event: 'for-main', data: target })
      }
      // A marker last through each instance: anything that leaked was published before it.
      await post(`${base}/limited/publish`, { event: 'marker', data: null })
      await post(`${base}/publish`, { event: 'marker', data: null })
      for (const client of [mainSse, mainWs, limitedSse, limitedWs]) await client.next('marker')
      const own = (event: string) => [event, event, event, 'marker']
      // Before instance names, the instance that subscribed last got every message and the other none.
      await eventually(() => applicationEvents(mainSse.names()).length >= 4 && applicationEvents(limitedWs.names()).length >= 4, 5000, 'every message')
      expect(applicationEvents(mainSse.names()).sort()).toEqual(own('for-main').sort())
      expect(applicationEvents(mainWs.names()).sort()).toEqual(own('for-main').sort())
      expect(applicationEvents(limitedSse.names()).sort()).toEqual(own('for-limited').sort())
      expect(applicationEvents(limitedWs.names()).sort()).toEqual(own('for-limited').sort())
    })

    it("keeps each instance's presence to itself", async () => {
      const base = getBase()
      const members = async (prefix: string) => (await (await fetch(`${base}${prefix}/presence?channel=chat`)).json()) as Array<{ userId?: string }>
      // `limited` has a plain `chat` channel; the main instance tracks presence in its own.
      const bystander = await ws('/limited/ws?user=bea', 'chat')
      const ann = await ws('/ws?user=ann', 'chat')
      await ws('/ws?user=cid', 'chat')
      // cid's join was announced (and reached the main instance's members) before the marker below.
      await ann.inbox.next(
        (message) => message.event === 'realtime:presence' && message.data?.action === 'join' && message.data.member?.userId === 'cid',
        5000,
        "cid's join",
      )
      expect((await members('')).map((member) => member.userId).sort()).toEqual(['ann', 'cid'])
      expect(await members('/limited')).toEqual([])
      await post(`${base}/limited/publish`, { channel: 'chat', event: 'marker', data: null })
      await bystander.next('marker')
      expect(bystander.names().filter((name) => name === 'realtime:presence')).toEqual([])
    })
  })
}
