import { limits, RealtimeError, type Broker, type Cursor, type HistoryOptions, type HistoryResult } from '@loewen-digital/realtime-core'
import { createHash } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import type { RedisTarget } from './_clients.js'
import { Connections } from './_connections.js'
import { keyLayout, randomId } from './_keys.js'
import { clusterNamespace, redisNamespace } from './_namespace.js'
import { Publisher } from './_outage.js'
import { Topics } from './_topics.js'
import { RedisPresence, type RedisPresenceOptions } from './redis-presence.js'

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /** Redis URL, `redis://[[user]:password@]host[:port][/db]` or `rediss://` for TLS (default `redis://127.0.0.1:6379`). */
  url?: string
  /**
   * A Redis Cluster instead of one Redis: the URLs of some of its nodes (`redis://host:port`, one is
   * enough, the others are discovered), e.g. `['redis://127.0.0.1:7000', 'redis://127.0.0.1:7001']`.
   * Needs Redis 7 (sharded pub/sub). Each topic's keys and channel share one hash slot, so its
   * scripts run on one shard and its messages travel only through that shard (`SPUBLISH`). `url`
   * is then ignored; `prefix` must not contain `{` or `}` (default none: one Redis at `url`).
   */
  cluster?: readonly string[]
  /**
   * Further ioredis options for every connection (TLS, username, password, ...); on a cluster they
   * apply to each node's connections (default none).
   */
  redis?: RedisOptions
  /** Prefix of every key and pub/sub channel; separates apps sharing one Redis (default `'realtime'`). */
  prefix?: string
  /**
   * History window per stream: the last `size` messages, each for `ttl` milliseconds; `false` for
   * no history and no resume (default `{ size: 100, ttl: 300000 }`, as the in-memory broker).
   */
  history?: HistoryOptions | false
  /**
   * Milliseconds a stream's header (its epoch and last offset) is kept after its last publish,
   * join or resume; after that the stream starts over with a new epoch (default 86400000: a day).
   */
  headerTtl?: number
  /**
   * Milliseconds a Redis command may take before it counts as failed; each connection is also
   * pinged every `2 × commandTimeout` (at most 10 s) and replaced when a ping gets no answer within
   * it (default 5000).
   */
  commandTimeout?: number
  /**
   * Milliseconds a process stays subscribed to a topic after its last connection of it left, so
   * connections that come and go do not resubscribe each time (default 5000).
   */
  unsubscribeDelay?: number
  /** Liveness of this process's presence entries (default `{ ttl: 15000, refresh: 5000 }`). */
  presence?: RedisPresenceOptions
  /**
   * Receives the broker's errors: Redis unreachable (once per outage), a sync that failed.
   * Default: `console.error`.
   */
  onError?: (error: RealtimeError) => void
}

/** The Redis broker: also exposes its process id and whether both connections are up. */
export interface RedisBroker extends Broker {
  /** Unique id of this process's broker (presence entries carry it). */
  readonly processId: string
  /**
   * True while both Redis connections (commands and pub/sub) are ready and answering: false from
   * the moment one stops answering (a ping or a publish that timed out) until it is back.
   */
  readonly connected: boolean
  /** Outages of Redis this process noticed since start (each also reported once to `onError`). */
  readonly outages: number
  /** Resolves once both connections were ready once; rejects after `commandTimeout` if not. */
  ready(): Promise<void>
  readonly presence: RedisPresence
}

/** Default {@link RedisBrokerOptions.headerTtl}. */
export const DEFAULT_HEADER_TTL_MS = 86_400_000
/** Default {@link RedisBrokerOptions.commandTimeout}. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000
/** Default {@link RedisBrokerOptions.unsubscribeDelay}. */
export const DEFAULT_UNSUBSCRIBE_DELAY_MS = 5_000

/**
 * A {@link Broker} on Redis, for running the realtime hub in several processes or machines:
 * `createRealtime({ broker: redisBroker({ url }) })` in each.
 *
 * - Fan-out: each publish runs one Lua script that assigns the stream's next offset, appends the
 *   message to the stream's history (a Redis Stream) and publishes it on the topic's pub/sub
 *   channel. A process subscribes only to the channels of topics its connections are in.
 * - Order: every process hands each stream to the hub in offset order with no hole and no
 *   duplicate (`_topics.ts`). A hole (after a reconnect to Redis) is filled from the stream; what
 *   the stream no longer has becomes a gap notice (`realtime:gap` for the connections that missed it).
 * - History and resume are shared: a client may resume on any process. The epoch changes when
 *   Redis loses a stream or its offsets go backwards (older data after a restart or a failover).
 * - Redis unreachable or stalling (`_outage.ts`): publishes reach this process's connections
 *   (without a cursor) and the broker reports the outage once; when Redis is back, the streams
 *   whose messages it never took get a gap notice with reason `outage`, so every client of them
 *   learns it may have missed something. Both connections are health-checked (`_connections.ts`).
 * - `presence`: cluster-wide presence sets whose entries expire with their process.
 * - A Redis Cluster (`cluster`): each topic's keys and channel share one hash slot (`_keys.ts`), so
 *   every script runs on one shard, and messages travel with sharded pub/sub (`SPUBLISH`) through
 *   that shard only (`_clients.ts`).
 *
 * See docs/redis.md for the key layout and the full contract.
 */
export function redisBroker(options: RedisBrokerOptions = {}): RedisBroker {
  const prefix = options.prefix ?? 'realtime'
  let target: RedisTarget = { url: options.url ?? 'redis://127.0.0.1:6379' }
  if (options.cluster !== undefined) {
    if (!Array.isArray(options.cluster) || options.cluster.length === 0 || !options.cluster.every((node) => typeof node === 'string' && node !== '')) {
      throw new RealtimeError('REALTIME_INVALID_OPTION', 'redisBroker: cluster must be a non-empty array of node URLs (redis://host:port)')
    }
    // A brace in the prefix would make it (not the topic) the keys' hash tag, and split a topic's keys over slots.
    if (/[{}]/.test(prefix))
      throw new RealtimeError('REALTIME_INVALID_OPTION', `redisBroker: with cluster, prefix must not contain '{' or '}', got ${JSON.stringify(prefix)}`)
    target = { cluster: options.cluster }
  }
  const keys = keyLayout(prefix)
  const history =
    options.history === false
      ? undefined
      : { size: options.history?.size ?? limits.DEFAULT_HISTORY_SIZE, ttl: options.history?.ttl ?? limits.DEFAULT_HISTORY_TTL_MS }
  const headerTtl = Math.max(options.headerTtl ?? DEFAULT_HEADER_TTL_MS, history?.ttl ?? 0)
  const commandTimeout = options.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS
  const unsubscribeDelay = options.unsubscribeDelay ?? DEFAULT_UNSUBSCRIBE_DELAY_MS
  for (const [name, value] of [
    ['history.size', history?.size ?? 1],
    ['history.ttl', history?.ttl ?? 1],
    ['headerTtl', headerTtl],
    ['commandTimeout', commandTimeout],
    ['unsubscribeDelay', unsubscribeDelay + 1],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RealtimeError('REALTIME_INVALID_OPTION', `redisBroker: ${name} must be a positive number, got ${String(value)}`)
    }
  }
  const processId = randomId(16)
  const onError = options.onError ?? ((error: RealtimeError) => console.error(`[realtime-redis] ${error.code}: ${error.message}`))
  const report = (error: unknown, context = 'redis') => {
    try {
      onError(
        RealtimeError.isInstance(error)
          ? error
          : new RealtimeError('REALTIME_TRANSPORT_ERROR', `${context}: ${(error as Error)?.message ?? String(error)}`, { cause: error }),
      )
    } catch (hookError) {
      console.error('[realtime-redis] onError threw', hookError)
    }
  }

  // Presence refreshes and sweeps on timers. While the command connection is not ready (before the
  // first connect, during an outage) they fail as expected: the outage is reported once (see
  // Connections), and presence writes itself again when the connection is back (commandReady).
  const reportPresence = (error: unknown) => {
    if (connections.commandUp && !connections.closed) report(error, 'presence')
  }
  let presence!: RedisPresence
  let topics!: Topics
  let publisher!: Publisher
  const connections = new Connections(
    target,
    options.redis,
    commandTimeout,
    processId,
    report,
    {
      commandReady() {
        // First of all on a new connection: settle what the previous one left unsettled.
        void publisher.resolve()
        void presence.refresh().catch(reportPresence)
        if (publisher.outage.size > 0) void publisher.flushOutage()
        // Topics whose sync failed while only this connection was down.
        topics.retryPending()
      },
      subscriberReady: () => void topics.resubscribe(),
      subscriberClosed: () => topics.pauseAll(),
      message: (channel, payload) => topics.receive(channel, payload),
    },
    (text) => createHash('sha1').update(text).digest('hex'),
  )
  // On a cluster the command client is a `Cluster`, which has the same commands.
  presence = new RedisPresence(connections.command as Redis, keys, processId, options.presence ?? {}, reportPresence)
  topics = new Topics(connections, keys, history, headerTtl, unsubscribeDelay, report, (topic) => publisher.published.get(topic))
  publisher = new Publisher(connections, topics, keys, history, headerTtl, processId, report)

  const broker: RedisBroker = {
    processId,
    namespace: target.cluster === undefined ? redisNamespace(target.url, options.redis, prefix) : clusterNamespace(target.cluster, prefix),
    presence,
    get connected() {
      return connections.up && !publisher.suspect
    },
    get outages() {
      return connections.outages
    },
    keepsHistory: history !== undefined,
    async ready() {
      if (!(await connections.waitFirstReady(commandTimeout))) throw new RealtimeError('REALTIME_TRANSPORT_ERROR', `${connections.where} is unreachable`)
    },

    async publish(message) {
      if (connections.closed) throw new RealtimeError('REALTIME_TRANSPORT_ERROR', 'the Redis broker is closed')
      await publisher.publish(message)
    },

    subscribe(next) {
      topics.listener = next
    },

    addTopic: (topic) => topics.add(topic),
    removeTopic: (topic) => topics.remove(topic),

    async position(topic): Promise<Cursor | undefined> {
      if (!history) return undefined
      const state = topics.states.get(topic)
      if (state) {
        if (state.epoch === undefined) await topics.waitReady(state)
        if (state.epoch !== undefined) return { epoch: state.epoch, offset: state.last }
        state.blind = true
      }
      const read = await topics.readForClient(topic, -1)
      return { epoch: read.epoch, offset: read.offset }
    },

    async history(topic, since): Promise<HistoryResult> {
      if (!history) return { ok: false, reason: 'disabled' }
      // Live delivery must be on before the read, so nothing falls between replay and live.
      const state = topics.states.get(topic)
      if (state && state.epoch === undefined) await topics.waitReady(state)
      if (state && state.epoch === undefined) state.blind = true
      // A cursor beyond the stream's end gets an epoch gap, but only what this process itself saw
      // starts the stream over for everyone (a client's cursor could be made up).
      const read = await topics.readForClient(topic, since.offset)
      const position = { epoch: read.epoch, offset: read.offset }
      if (read.epoch !== since.epoch || since.offset > read.offset) return { ok: false, reason: 'epoch', position }
      const missed = read.offset - since.offset
      if (missed === 0) {
        if (state) await topics.caughtUp(state, read.epoch, read.offset)
        return { ok: true, messages: [] }
      }
      if (missed > history.size || read.messages.length !== missed || read.messages[0]!.offset !== since.offset + 1) {
        return { ok: false, reason: 'window', position }
      }
      // Replay only what this process has already handed to the hub: the rest reaches the hub
      // through the listener after the replay, so (even with native fan-out, which does not
      // deduplicate) nothing comes twice and nothing is skipped. Usually it has caught up.
      if (!state || state.epoch !== read.epoch) return { ok: true, messages: read.messages }
      await topics.caughtUp(state, read.epoch, read.offset)
      if (state.epoch !== read.epoch) return { ok: true, messages: read.messages }
      return { ok: true, messages: read.messages.filter((message) => message.offset! <= state.last) }
    },

    async close() {
      if (connections.closed) return
      await presence.close().catch(() => {})
      topics.clear()
      await connections.close()
    },
  }
  return broker
}
