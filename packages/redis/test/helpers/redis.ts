// A Redis for the tests (the shared one at REDIS_URL, or one started here), a unique key prefix per
// run, brokers that are closed after each test, and a proxy that can cut a process off from Redis.
import { connect, createServer, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import type { BrokerMessage } from '@loewen-digital/realtime-core'
import { redisBroker, type RedisBroker, type RedisBrokerOptions } from '../../src/index.js'
// @ts-expect-error plain JavaScript script shared with scripts/test.mjs
import { ensureRedis, startRedisServer } from '../../../../scripts/ensure-redis.mjs'

export interface TestRedis {
  url?: string
  skip?: string
  stop(): Promise<void>
}

/** The Redis of this test run: REDIS_URL's (default 127.0.0.1:6379) or one started here. */
export async function testRedis(): Promise<TestRedis> {
  if (process.env.REALTIME_REDIS_SKIP) return { skip: process.env.REALTIME_REDIS_SKIP, stop: async () => {} }
  return ensureRedis()
}

/** A redis-server of the test's own on a free port (for stopping and restarting it). */
export async function ownRedis(): Promise<{ url: string; port: number; stop(): Promise<void>; restart(): Promise<void> }> {
  let server = await startRedisServer(undefined)
  const port = Number(new URL(server.url).port)
  return {
    url: server.url,
    port,
    stop: () => server.stop(),
    async restart() {
      server = await startRedisServer(undefined, port)
    },
  }
}

/** A key prefix no other run uses. */
export function uniquePrefix(name: string): string {
  return `rt-test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/** A broker plus everything its listener received. */
export interface TestBroker {
  broker: RedisBroker
  received: BrokerMessage[]
  errors: string[]
  /** Messages of one topic received so far. */
  of(topic: string): BrokerMessage[]
}

/** Creates brokers with a shared prefix and closes them with `closeAll`. */
export function brokers(defaults: () => RedisBrokerOptions) {
  const open: RedisBroker[] = []
  return {
    async create(options: RedisBrokerOptions = {}): Promise<TestBroker> {
      const errors: string[] = []
      const broker = redisBroker({ ...defaults(), onError: (error) => errors.push(error.message), ...options })
      open.push(broker)
      const received: BrokerMessage[] = []
      await broker.subscribe((message) => received.push(message))
      // As the core does for an instance's broadcast topic: followed while open.
      broker.addTopic!('broadcast')
      await broker.ready()
      return { broker, received, errors, of: (topic) => received.filter((message) => message.topic === topic) }
    },
    async closeAll() {
      while (open.length) await open.pop()!.close()
    },
  }
}

/**
 * A TCP proxy in front of Redis that can cut its clients off (and refuse new ones) until resumed,
 * or go silent: `silence()` makes every connection open at that moment forward nothing more, in
 * either direction, without closing it (a half-open connection: a partition, a proxy or NAT that
 * lost the flow); connections made afterwards work. `silenceSubscribers()` does that to the
 * connections that sent a (S)SUBSCRIBE only.
 */
export async function pausableProxy(target: string): Promise<{
  url: string
  pause(): void
  resume(): void
  silence(): void
  silenceSubscribers(): void
  holdReplies(): void
  releaseReplies(): void
  close(): Promise<void>
}> {
  const { hostname, port } = new URL(target)
  const open = new Set<Socket>()
  const pairs = new Set<{ client: Socket; upstream: Socket; silent: boolean; subscriber: boolean }>()
  let paused = false
  /** While set, what Redis answers on the command connections waits here (`holdReplies`). */
  let held: Array<() => void> | undefined
  const server = createServer((client) => {
    if (paused) {
      client.destroy()
      return
    }
    const upstream = connect(Number(port), hostname)
    const pair = { client, upstream, silent: false, subscriber: false }
    open.add(client)
    open.add(upstream)
    pairs.add(pair)
    const drop = () => {
      open.delete(client)
      open.delete(upstream)
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.on('data', (chunk: Buffer) => {
      if (!pair.subscriber && /subscribe/i.test(chunk.toString('latin1'))) pair.subscriber = true
      if (!pair.silent) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (pair.silent) return
      if (held !== undefined && !pair.subscriber) held.push(() => client.write(chunk))
      else client.write(chunk)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${address.port}`,
    pause() {
      paused = true
      for (const socket of [...open]) socket.destroy()
      open.clear()
    },
    resume() {
      paused = false
    },
    silence() {
      for (const pair of pairs) pair.silent = true
    },
    /** `silence()` for the connections that subscribed to something (a broker's subscriber) only. */
    silenceSubscribers() {
      for (const pair of pairs) if (pair.subscriber) pair.silent = true
    },
    /** Holds Redis's replies on the connections that did not subscribe (a broker's commands), in order. */
    holdReplies() {
      held ??= []
    },
    /** Sends the held replies on, and lets later ones through. */
    releaseReplies() {
      const waiting = held ?? []
      held = undefined
      for (const write of waiting) write()
    },
    close() {
      for (const socket of open) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** The offsets of `messages` that are application messages (not gap notices). */
export const offsets = (messages: BrokerMessage[]) => messages.filter((message) => message.gap === undefined).map((message) => message.offset)
