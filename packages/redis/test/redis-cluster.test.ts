// The Redis broker on a real Redis Cluster (three primaries, one replica each): every topic's keys
// and channel in one slot, fan-out through the shard that owns the topic (SPUBLISH, never a
// cluster-wide PUBLISH), the delivery contract across processes, and a primary killed under live
// clients (its replica promoted): the gap is signalled, nothing is duplicated, delivery goes on.
// Presence and per-user caps span the processes on the cluster too.
import type { BrokerMessage } from '@loewen-digital/realtime-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openWs, post, sleep, type WsMessage } from '../../../test/helpers/clients.js'
import type { SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { keyLayout } from '../src/_keys.js'
import { redisBroker } from '../src/index.js'
import { bunAvailable, keyOf, startFixture } from './helpers/fixtures.js'
import { duplicates, startProcess, type Process } from './helpers/hubs.js'
import { testCluster, type TestCluster } from './helpers/redis-cluster.js'
import { brokers, pausableProxy, uniquePrefix } from './helpers/redis.js'

const cluster: TestCluster = await testCluster()
if (cluster.skip) console.log(`[redis-cluster.test] skipped: ${cluster.skip}`)
afterAll(() => cluster.stop())

/** Calls of `command` per node (`INFO commandstats`), commands run by scripts included. */
async function calls(node: string, command: string): Promise<number> {
  const stats = await cluster.admin(node).info('commandstats')
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
}

/**
 * `count` channel names and the primary that owns each one's topic: `channel:<name><suffix>` (the
 * hubs of helpers/hubs.ts add their instance name, `@app`).
 */
async function spreadChannels(prefix: string, count: number, suffix = ''): Promise<{ names: string[]; owner: Map<string, string> }> {
  const keys = keyLayout(prefix)
  const owner = new Map<string, string>()
  const names = Array.from({ length: count }, (_, index) => `room-${index}`)
  for (const name of names) owner.set(name, await cluster.primaryOf(keys.meta(`channel:${name}${suffix}`)))
  return { names, owner }
}

describe.skipIf(cluster.skip !== undefined)('the Redis broker on a Redis Cluster', () => {
  it('keeps every key and the channel of a topic in one slot, whatever the topic', async () => {
    const keys = keyLayout('rt')
    const admin = cluster.admin(cluster.nodes[0]!)
    const topics = [
      'broadcast',
      'user:42',
      'channel:news',
      'presence:chat',
      'sse:broadcast',
      'ws:channel:a}b',
      'channel:{x}',
      '}',
      '{',
      '}{',
      '%7D',
      '%',
      '',
      'channel:ü 🎉',
    ]
    const slots = new Set<number>()
    for (const topic of topics) {
      const names = [keys.meta(topic), keys.stream(topic), keys.channel(topic), keys.publisher('p1', topic)]
      const topicSlots = await Promise.all(names.map((name) => admin.cluster('KEYSLOT', name)))
      expect(new Set(topicSlots).size, `${JSON.stringify(topic)}: ${names.join(' ')}`).toBe(1)
      expect(keys.topicOf(keys.channel(topic))).toBe(topic)
      slots.add(Number(topicSlots[0]))
    }
    // Different topics, different slots: the tag is the topic, not something they share.
    expect(slots.size).toBeGreaterThan(topics.length - 3)
    expect(() => redisBroker({ cluster: cluster.nodes, prefix: 'app{1}' })).toThrow(/prefix/)
  })

  it('sends each message only through the shard that owns its topic (SPUBLISH), never PUBLISH', async () => {
    const prefix = uniquePrefix('cluster-shards')
    const primaries = await cluster.primaries()
    await Promise.all(cluster.nodes.map((node) => cluster.admin(node).config('RESETSTAT')))
    const pool = brokers(() => ({ cluster: [cluster.nodes[0]!], prefix }))
    const plain = brokers(() => ({ cluster: [cluster.nodes[1]!], prefix, history: false }))
    try {
      const a = await pool.create()
      const b = await pool.create()
      const c = await plain.create()
      const { names, owner } = await spreadChannels(prefix, 12)
      expect(new Set(owner.values()).size, 'the channels spread over every primary').toBe(3)
      for (const name of names) b.broker.addTopic!(`channel:${name}`)
      for (const name of names) await b.broker.position!(`channel:${name}`)
      const expected = new Map(primaries.map((node) => [node, 0]))
      for (let n = 1; n <= 5; n++) {
        for (const name of names) {
          await a.broker.publish({ topic: `channel:${name}`, event: 'n', data: n } as BrokerMessage)
          expected.set(owner.get(name)!, expected.get(owner.get(name)!)! + 1)
        }
      }
      // Without history (and for presence updates) the message is SPUBLISHed directly.
      await c.broker.publish({ topic: `channel:${names[0]}`, event: 'plain', data: 0 } as BrokerMessage)
      expected.set(owner.get(names[0]!)!, expected.get(owner.get(names[0]!)!)! + 1)
      await eventually(() => names.every((name) => b.of(`channel:${name}`).filter((message) => message.event === 'n').length === 5), 5000, 'every message at b')
      for (const name of names)
        expect(
          b
            .of(`channel:${name}`)
            .filter((message) => message.event === 'n')
            .map((message) => message.offset),
        ).toEqual([1, 2, 3, 4, 5])
      for (const node of primaries) expect(await calls(node, 'spublish'), `SPUBLISH on ${node}`).toBe(expected.get(node))
      for (const node of cluster.nodes) expect(await calls(node, 'publish'), `PUBLISH on ${node}`).toBe(0)
      // Each shard holds b's subscriptions of its own topics only.
      for (const node of primaries) {
        const mine = names.filter((name) => owner.get(name) === node).map((name) => keyLayout(prefix).channel(`channel:${name}`))
        const counts = (await cluster.admin(node).call('PUBSUB', 'SHARDNUMSUB', ...mine)) as Array<string | number>
        for (let index = 1; index < counts.length; index += 2) expect(counts[index]).toBe(1)
      }
      expect([...a.errors, ...b.errors, ...c.errors]).toEqual([])
    } finally {
      await pool.closeAll()
      await plain.closeAll()
    }
  })

  describe('across processes', () => {
    const prefix = uniquePrefix('cluster-hubs')
    let a: Process
    let b: Process
    beforeAll(async () => {
      a = await startProcess({ cluster: cluster.nodes, prefix })
      b = await startProcess({ cluster: [...cluster.nodes].reverse(), prefix })
    })
    afterAll(async () => {
      await a?.close()
      await b?.close()
    })

    it('delivers every message once, in order, with the same cursors, and resumes on the other process', async () => {
      const { names } = await spreadChannels(prefix, 6, '@app')
      const clients = await Promise.all(names.map((name) => b.client(name)))
      for (let n = 1; n <= 6; n++) for (const name of names) await (n % 2 ? a : b).tick(name, `${name}:${n}`)
      await eventually(() => clients.every((client) => client.ticks().length === 6), 5000, 'six ticks per channel')
      for (const [index, name] of names.entries()) expect(clients[index]!.ticks()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `${name}:${n}`))
      // Resume on the other process from the cursor of the third message: the rest, once, no gap.
      const resumed = await Promise.all(names.map((name, index) => a.client(name, clients[index]!.idOf(`${name}:3`))))
      for (const name of names) await a.tick(name, `${name}:7`)
      await eventually(() => resumed.every((client) => client.ticks().length === 4), 5000, 'the resumed ticks')
      await sleep(100)
      for (const [index, name] of names.entries()) {
        expect(resumed[index]!.ticks()).toEqual([4, 5, 6, 7].map((n) => `${name}:${n}`))
        expect(resumed[index]!.gaps()).toEqual([])
      }
      expect([...a.errors, ...b.errors]).toEqual([])
    })
  })

  describe(`spawned servers (node + ${bunAvailable ? 'bun' : 'node'})`, () => {
    const prefix = uniquePrefix('cluster-cross')
    let servers: SpawnedServer[] = []
    beforeAll(async () => {
      servers = await Promise.all([
        startFixture('node', { cluster: cluster.nodes, prefix }),
        startFixture(bunAvailable ? 'bun' : 'node', { cluster: cluster.nodes, prefix }),
      ])
    }, 60_000)
    afterAll(() => Promise.all(servers.map((server) => server.close())))

    it('broadcast and channel messages reach WebSocket clients on both processes; a client resumes on the other', async () => {
      const [one, two] = servers as [SpawnedServer, SpawnedServer]
      const first = await openWs(`${one.url}/ws?channel=news&resume=1`)
      const other = await openWs(`${two.url}/ws?channel=news&resume=1`)
      await first.inbox.next((message) => message.event === 'realtime:connected')
      await other.inbox.next((message) => message.event === 'realtime:connected')
      for (let n = 1; n <= 3; n++) {
        await post(`${n % 2 ? one.url : two.url}/publish`, { event: 'tick', data: { stream: 'broadcast', n } })
        await post(`${n % 2 ? two.url : one.url}/publish`, { channel: 'news', event: 'tick', data: { stream: 'news', n } })
      }
      const ticks = (items: WsMessage[]) => items.filter((message) => message.event === 'tick').map((message) => `${message.data.stream}:${message.data.n}`)
      await eventually(() => ticks(first.inbox.items).length === 6 && ticks(other.inbox.items).length === 6, 5000, 'six ticks on each')
      for (const stream of ['broadcast', 'news']) {
        expect(ticks(other.inbox.items).filter((tick) => tick.startsWith(stream))).toEqual([1, 2, 3].map((n) => `${stream}:${n}`))
      }
      const cursors = new Map<string, string>()
      for (const frame of first.inbox.items) {
        if (frame.event === 'realtime:connected')
          for (const entry of String(frame.data.cursor).split(',')) cursors.set(entry.split('=')[0]!, entry.split('=')[1]!)
        else if (frame.id !== undefined) cursors.set(keyOf(frame.channel), frame.id)
      }
      first.close()
      other.close()
      for (let n = 4; n <= 6; n++) {
        await post(`${one.url}/publish`, { event: 'tick', data: { stream: 'broadcast', n } })
        await post(`${two.url}/publish`, { channel: 'news', event: 'tick', data: { stream: 'news', n } })
      }
      const map = [...cursors].map(([key, cursor]) => `${key}=${cursor}`).join(',')
      const back = await openWs(`${two.url}/ws?channel=news&lastEventId=${encodeURIComponent(map)}`)
      await eventually(() => ticks(back.inbox.items).length === 6, 5000, 'the six missed ticks')
      await sleep(100)
      back.close()
      for (const stream of ['broadcast', 'news'])
        expect(ticks(back.inbox.items).filter((tick) => tick.startsWith(stream))).toEqual([4, 5, 6].map((n) => `${stream}:${n}`))
      expect(back.inbox.items.some((message) => message.event === 'realtime:gap')).toBe(false)
    })

    it('presence spans processes on the cluster: per-user caps and join/leave across them', async () => {
      const [one, two] = servers as [SpawnedServer, SpawnedServer]
      const opened: Array<{ close(): void }> = []
      try {
        for (let index = 0; index < 4; index++) {
          const client = await openWs(`${index % 2 ? two.url : one.url}/ws?user=greedy&resume=1`)
          opened.push(client)
          // realtime:connected comes once the connection's presence entry is written.
          await client.inbox.next((message) => message.event === 'realtime:connected')
        }
        const refused = await openWs(`${one.url}/ws?user=greedy`).catch((error) => error)
        expect(refused.status).toBe(429)
        const watcher = await openWs(`${one.url}/ws?user=watcher`)
        opened.push(watcher)
        await watcher.subscribe('chat')
        const visitor = await openWs(`${two.url}/ws?user=visitor`)
        opened.push(visitor)
        await visitor.subscribe('chat')
        const snapshot = await visitor.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'snapshot')
        expect(snapshot.data.members.map((member: { userId: string }) => member.userId).sort()).toEqual(['visitor', 'watcher'])
        visitor.close()
        const left = await watcher.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'leave', 5000, 'the leave')
        expect(left.data.member.userId).toBe('visitor')
      } finally {
        for (const client of opened) client.close()
      }
    })
  })

  it('a half-open subscriber connection to one shard is noticed (PING) and replaced; what that shard published meanwhile arrives', async () => {
    const prefix = uniquePrefix('cluster-half-open')
    const [target] = await cluster.primaries()
    const { names, owner } = await spreadChannels(prefix, 12)
    const silent = `channel:${names.find((name) => owner.get(name) === target)!}`
    const live = `channel:${names.find((name) => owner.get(name) !== target)!}`
    // Clients reach this primary through a proxy: the node announces the proxy's port (CLUSTER
    // SLOTS) and keeps its bus port, so the cluster itself is unchanged.
    const proxy = await pausableProxy(target!)
    const node = cluster.admin(target!)
    const myself = String(await node.cluster('NODES'))
      .split('\n')
      .find((line) => line.includes('myself'))!
    const busPort = myself.split(' ')[1]!.split('@')[1]!.split(',')[0]!
    const announced = async (port: number) =>
      (await Promise.all(cluster.nodes.map(async (each) => JSON.stringify(await cluster.admin(each).cluster('SLOTS'))))).every((slots) =>
        slots.includes(`"127.0.0.1",${port},`),
      )
    const pool = brokers(() => ({ cluster: cluster.nodes, prefix, commandTimeout: 500 }))
    try {
      await node.config('SET', 'cluster-announce-bus-port', busPort)
      await node.config('SET', 'cluster-announce-port', new URL(proxy.url).port)
      await eventually(() => announced(Number(new URL(proxy.url).port)), 10_000, 'every node to list the proxy')
      const a = await pool.create()
      const b = await pool.create()
      for (const topic of [silent, live]) {
        a.broker.addTopic!(topic)
        await a.broker.position!(topic)
      }
      await b.broker.publish({ topic: silent, event: 'n', data: 1 } as BrokerMessage)
      await eventually(() => a.of(silent).length === 1, 5000, 'the first message')
      // The subscriber connections through the proxy stop forwarding anything, without closing.
      proxy.silenceSubscribers()
      await b.broker.publish({ topic: silent, event: 'n', data: 2 } as BrokerMessage)
      await b.broker.publish({ topic: live, event: 'n', data: 2 } as BrokerMessage)
      // The other shards stay live meanwhile.
      await eventually(() => a.of(live).length === 1, 5000, "the other shard's message")
      // Before, it never came: nothing told the broker that the connection was dead.
      await eventually(
        () =>
          a
            .of(silent)
            .map((message) => message.data)
            .join() === '1,2',
        15_000,
        'the message published while the connection was half-open',
      )
      expect(
        a.errors.filter((error) => /no answer to PING on the subscriber connection/.test(error)),
        a.errors.join('; '),
      ).toHaveLength(1)
      expect(a.broker.outages).toBe(1)
      // And on: the new connection delivers.
      await b.broker.publish({ topic: silent, event: 'n', data: 3 } as BrokerMessage)
      await eventually(
        () =>
          a
            .of(silent)
            .map((message) => message.data)
            .join() === '1,2,3',
        5000,
        'a message after the recovery',
      )
    } finally {
      await pool.closeAll()
      await node.config('SET', 'cluster-announce-port', '0')
      await node.config('SET', 'cluster-announce-bus-port', '0')
      await proxy.close()
      await eventually(() => announced(Number(new URL(target!).port)), 10_000, 'every node to list the node itself again')
    }
  }, 60_000)

  // Last: it changes which nodes are primaries.
  it('a primary dies under live clients: its replica takes over, the gap is signalled, nothing is duplicated', async () => {
    const prefix = uniquePrefix('cluster-failover')
    const a = await startProcess({ cluster: cluster.nodes, prefix, commandTimeout: 2000 })
    const b = await startProcess({ cluster: cluster.nodes, prefix, commandTimeout: 2000 })
    let publishing = true
    try {
      const { names, owner } = await spreadChannels(prefix, 6, '@app')
      const victim = owner.get(names[0]!)!
      const clients = await Promise.all(names.map((name) => b.client(name)))
      const local = await Promise.all(names.map((name) => a.client(name)))
      let n = 0
      const publisher = (async () => {
        while (publishing) {
          n++
          await Promise.all(names.map((name) => a.tick(name, n)))
          await sleep(20)
        }
      })()
      await eventually(() => clients.every((client) => client.ticks().length >= 5), 5000, 'ticks before the failover')
      await cluster.kill(victim)
      await eventually(async () => !(await cluster.primaries()).includes(victim), 15_000, 'the replica promoted')
      await cluster.waitOk()
      // Publishes go through the new primary again (the broker settles what it could not know).
      const after = n
      await eventually(() => clients[0]!.ticks().some((tick) => (tick as number) > after + 5), 20_000, 'ticks through the new primary at b')
      publishing = false
      await publisher
      // Once the broker settled what it could not know, a last tick reaches every client.
      await eventually(() => a.broker.connected && b.broker.connected, 10_000, 'both brokers connected')
      const last = ++n
      await Promise.all(names.map((name) => a.tick(name, last)))
      await eventually(() => [...clients, ...local].every((client) => client.ticks().includes(last)), 10_000, 'the last tick everywhere')
      await sleep(200)
      for (const [index, name] of names.entries()) {
        for (const [who, client] of [
          ['b', clients[index]!],
          ['a', local[index]!],
        ] as const) {
          const ticks = client.ticks() as number[]
          expect(duplicates(ticks), `${who} ${name}: duplicates`).toBe(0)
          // On failure: what the client got, in order, with each tick's cursor and the gaps.
          const trace = () =>
            client.events
              .filter((event) => event.event === 'tick' || event.event === 'realtime:gap')
              .map((event) => (event.event === 'tick' ? `${event.data}@${event.id ?? '-'}` : `gap(${JSON.stringify(event.data)})`))
              .join(' ')
          expect(ticks, `${who} ${name}${owner.get(name) === victim ? ' (on the killed primary)' : ''}: in order: ${trace()}`).toEqual(
            [...ticks].sort((x, y) => x - y),
          )
          const missing = last - ticks[0]! + 1 - ticks.length
          // Whatever a client did not get, it was told about.
          if (missing > 0) expect(client.gaps().length, `${who} ${name}: ${missing} missing, gaps ${JSON.stringify(client.gaps())}`).toBeGreaterThan(0)
        }
      }
      // The failed shard's channel was told (the publishes that could not reach it meanwhile).
      const victimIndex = names.findIndex((name) => owner.get(name) === victim)
      expect(clients[victimIndex]!.gaps().length).toBeGreaterThan(0)
      // The publishing process noticed and reported the outage.
      expect(a.broker.outages).toBeGreaterThan(0)
      expect(a.errors.some((error) => error.startsWith('Redis unreachable'))).toBe(true)
      // The killed node comes back as a replica; delivery goes on.
      await cluster.restart(victim)
      await cluster.waitOk()
      await a.tick(names[0]!, 'back')
      await eventually(() => clients[0]!.ticks().includes('back'), 5000, 'a tick after the node came back')
    } finally {
      publishing = false
      await sleep(50)
      await a.close()
      await b.close()
    }
  }, 60_000)
})
