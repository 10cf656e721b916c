import { limits, RealtimeError, type Broker, type BrokerListener, type BrokerMessage, type Cursor, type HistoryOptions, type HistoryResult } from '@loewen-digital/realtime-core'
import { Redis, type RedisOptions } from 'ioredis'
import { decodeBody, decodePayload, encodeBody, encodePayloadWithoutHistory, isEphemeral } from './_codec.js'
import { keyLayout, randomId } from './_keys.js'
import { PUBLISH_SCRIPT, READ_SCRIPT } from './_scripts.js'
import { RedisPresence, type RedisPresenceOptions } from './redis-presence.js'

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /** Redis URL, `redis://[[user]:password@]host[:port][/db]` or `rediss://` for TLS (default `redis://127.0.0.1:6379`). */
  url?: string
  /** Further ioredis options for both connections (TLS, username, password, ...) (default none). */
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
  /** Milliseconds a Redis command may take before it counts as failed (default 5000). */
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
  /** True while both Redis connections (commands and pub/sub) are ready. */
  readonly connected: boolean
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
/** Milliseconds between pings of the subscriber connection. */
const HEALTH_CHECK_MS = 10_000
/** Messages a topic may buffer while it is being synchronized with its stream. */
const MAX_PENDING = 10_000

interface TopicState {
  readonly topic: string
  readonly channel: string
  /** Local interest (addTopic minus removeTopic). */
  interest: number
  /** Epoch and offset of the last message handed to the listener (the baseline before any). */
  epoch: string | undefined
  last: number
  /** Messages received while the topic is being synchronized with its stream; undefined when live. */
  pending: BrokerMessage[] | undefined
  syncing: boolean
  /** A sync was asked for while one ran: run another before going live. */
  again: boolean
  /**
   * A connection started following the topic before it had a baseline (Redis unreachable): it has
   * no position, so the baseline comes with an `outage` notice.
   */
  blind: boolean
  /** Set while the topic has no local interest: it is unsubscribed when this fires. */
  linger: ReturnType<typeof setTimeout> | undefined
  /** History reads waiting for this process to have handed over the stream up to an offset. */
  waiters: Array<{ epoch: string; offset: number; resolve(): void }>
  /** Resolves once the topic has a baseline (subscribed, then positioned). */
  readonly ready: Promise<void>
  resolveReady(): void
}

type ScriptedRedis = Redis & {
  realtimePublish(meta: string, stream: string, epoch: string, body: string, channel: string, size: number, ttl: number, headerTtl: number, requiredEpoch: string): Promise<[string, number]>
  realtimeRead(meta: string, stream: string, epoch: string, since: number, ttl: number, headerTtl: number): Promise<Array<string | number>>
}

interface StreamRead {
  epoch: string
  offset: number
  messages: BrokerMessage[]
}

/**
 * A {@link Broker} on Redis, for running the realtime hub in several processes or machines:
 * `createRealtime({ broker: redisBroker({ url }) })` in each.
 *
 * - Fan-out: each publish runs one Lua script that assigns the stream's next offset, appends the
 *   message to the stream's history (a Redis Stream) and publishes it on the topic's pub/sub
 *   channel. A process subscribes only to the channels of topics its connections are in.
 * - Order: every process hands each stream to the hub in offset order with no hole and no
 *   duplicate. A hole (after a reconnect to Redis) is filled from the stream; what the stream no
 *   longer has becomes a gap notice (`realtime:gap` for the connections that missed it).
 * - History and resume are shared: a client may resume on any process. The epoch changes when
 *   Redis loses a stream.
 * - Redis unreachable: publishes reach this process's connections (without a cursor) and the
 *   broker reports the outage once; when Redis is back, the streams published to meanwhile get a
 *   gap notice with reason `outage`, so every client of them learns it may have missed something.
 * - `presence`: cluster-wide presence sets whose entries expire with their process.
 *
 * See docs/redis.md for the key layout and the full contract.
 */
export function redisBroker(options: RedisBrokerOptions = {}): RedisBroker {
  const url = options.url ?? 'redis://127.0.0.1:6379'
  const keys = keyLayout(options.prefix ?? 'realtime')
  const history = options.history === false ? undefined : { size: options.history?.size ?? limits.DEFAULT_HISTORY_SIZE, ttl: options.history?.ttl ?? limits.DEFAULT_HISTORY_TTL_MS }
  const headerTtl = Math.max(options.headerTtl ?? DEFAULT_HEADER_TTL_MS, history?.ttl ?? 0)
  const commandTimeout = options.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS
  const unsubscribeDelay = options.unsubscribeDelay ?? DEFAULT_UNSUBSCRIBE_DELAY_MS
  for (const [name, value] of [['history.size', history?.size ?? 1], ['history.ttl', history?.ttl ?? 1], ['headerTtl', headerTtl], ['commandTimeout', commandTimeout], ['unsubscribeDelay', unsubscribeDelay + 1]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RealtimeError('REALTIME_INVALID_OPTION', `redisBroker: ${name} must be a positive number, got ${String(value)}`)
    }
  }
  const processId = randomId(16)
  const onError = options.onError ?? ((error: RealtimeError) => console.error(`[realtime-redis] ${error.code}: ${error.message}`))
  const report = (error: unknown, context = 'redis') => {
    try {
      onError(RealtimeError.isInstance(error) ? error : new RealtimeError('REALTIME_TRANSPORT_ERROR', `${context}: ${(error as Error)?.message ?? String(error)}`, { cause: error }))
    } catch (hookError) {
      console.error('[realtime-redis] onError threw', hookError)
    }
  }

  // One connection for commands (fails fast while Redis is unreachable, so nothing waits on it)
  // and one in subscriber mode. Both reconnect by themselves; we resubscribe and resync ourselves.
  const connectionOptions: RedisOptions = {
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), 2000),
    connectTimeout: commandTimeout,
    ...options.redis,
    lazyConnect: false,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
  }
  const command = new Redis(url, { ...connectionOptions, commandTimeout, connectionName: `realtime:${processId}` }) as ScriptedRedis
  const subscriber = new Redis(url, { ...connectionOptions, connectionName: `realtime-sub:${processId}` })
  command.defineCommand('realtimePublish', { numberOfKeys: 2, lua: PUBLISH_SCRIPT })
  command.defineCommand('realtimeRead', { numberOfKeys: 2, lua: READ_SCRIPT })

  let listener: BrokerListener | undefined
  let closed = false
  let commandUp = false
  let subscriberUp = false
  let outageReported = false
  const states = new Map<string, TopicState>()
  /**
   * Topics published to while Redis was unreachable, with the epoch they had (empty: unknown): they
   * get an `outage` gap notice when it is back, unless the stream was lost meanwhile (then every
   * process sends its connections an epoch gap anyway).
   */
  const outage = new Map<string, string>()
  /** The epoch of the last successful publish per topic, for {@link outage}. */
  const published = new Map<string, string>()
  const presence = new RedisPresence(command, keys, processId, options.presence ?? {}, (error) => report(error, 'presence'))

  let resolveFirstReady!: () => void
  const firstReady = new Promise<void>((resolve) => (resolveFirstReady = resolve))
  const startupDeadline = Date.now() + commandTimeout
  const checkFirstReady = () => commandUp && subscriberUp && resolveFirstReady()

  const lost = (error?: unknown) => {
    if (closed || outageReported) return
    outageReported = true
    report(
      new RealtimeError(
        'REALTIME_TRANSPORT_ERROR',
        `Redis unreachable (${(error as Error)?.message ?? 'connection closed'}): publishing to this process's connections only until it is back`,
        { cause: error },
      ),
    )
  }
  for (const connection of [command, subscriber]) connection.on('error', (error) => lost(error))

  command.on('ready', () => {
    commandUp = true
    outageReported = false
    checkFirstReady()
    void presence.refresh().catch((error) => report(error, 'presence'))
    void flushOutage()
    // Topics whose sync failed while only this connection was down.
    if (subscriberUp) for (const state of states.values()) if (state.pending && !state.syncing) void sync(state)
  })
  command.on('close', () => {
    if (commandUp) lost()
    commandUp = false
  })
  subscriber.on('ready', () => {
    subscriberUp = true
    void resubscribe()
  })
  subscriber.on('close', () => {
    if (subscriberUp) lost()
    subscriberUp = false
    // Nothing arrives until the connection is back; then every topic is read from its stream.
    for (const state of states.values()) state.pending ??= []
  })
  subscriber.on('message', (channel: string, payload: string) => receive(channel, payload))
  // A subscriber connection that went silent (half-open TCP) would never say so: ping it, and
  // reconnect it (which resyncs every topic) when it does not answer.
  const health = setInterval(() => {
    if (!subscriberUp) return
    within(subscriber.ping(), commandTimeout).then((answered) => {
      if (!answered && subscriberUp && !closed) subscriber.disconnect(true)
    })
  }, HEALTH_CHECK_MS)
  ;(health as { unref?: () => void }).unref?.()

  const newState = (topic: string): TopicState => {
    let resolveReady!: () => void
    const ready = new Promise<void>((resolve) => (resolveReady = resolve))
    return { topic, channel: keys.channel(topic), interest: 1, epoch: undefined, last: 0, pending: [], syncing: false, again: false, blind: false, linger: undefined, waiters: [], ready, resolveReady }
  }

  /** Subscribes every topic of interest (after a (re)connect) and reads what was missed. */
  async function resubscribe(): Promise<void> {
    const topics = [...states.values()]
    for (const state of topics) state.pending ??= []
    try {
      for (let index = 0; index < topics.length; index += 1000) {
        await subscriber.subscribe(...topics.slice(index, index + 1000).map((state) => state.channel))
      }
    } catch (error) {
      report(error, 'subscribe')
      return
    }
    checkFirstReady()
    for (const state of topics) if (states.get(state.topic) === state) void sync(state)
  }

  function receive(channel: string, payload: string): void {
    if (!channel.startsWith(keys.channelPrefix)) return
    const topic = channel.slice(keys.channelPrefix.length)
    const state = states.get(topic)
    if (!state) return
    let message: BrokerMessage
    try {
      message = decodePayload(topic, payload)
    } catch (error) {
      report(error, `malformed message on ${channel}`)
      return
    }
    if (!history || message.offset === undefined) {
      // Without history, or ephemeral: no position, nothing to order or fill.
      listener?.(message)
      return
    }
    if (state.pending) {
      if (state.pending.length < MAX_PENDING) state.pending.push(message)
      // Beyond the bound the buffer stops growing; the sync reads the rest from the stream.
      return
    }
    accept(state, message)
  }

  /** Hands the next message of a live topic to the hub, or starts a sync on a hole or a new epoch. */
  function accept(state: TopicState, message: BrokerMessage): void {
    if (message.epoch === state.epoch) {
      if (message.offset! <= state.last) return
      if (message.offset === state.last + 1) {
        state.last = message.offset
        listener?.(message)
        if (state.waiters.length > 0) wake(state)
        return
      }
    }
    state.pending = [message]
    void sync(state)
  }

  /**
   * Reads the topic's stream after the last message handed to the hub and hands over what it
   * has, then the messages that arrived meanwhile: the topic becomes live again, without holes.
   * What the stream no longer has becomes a gap notice.
   */
  async function sync(state: TopicState): Promise<void> {
    if (closed) return
    if (state.syncing) {
      state.again = true
      return
    }
    if (!history || state.topic.startsWith('presence:')) {
      // No stream to follow: presence topics carry only ephemeral messages.
      const pending = state.pending ?? []
      state.pending = undefined
      for (const message of pending) listener?.(message)
      state.resolveReady()
      return
    }
    state.syncing = true
    try {
      const baseline = state.epoch === undefined
      const read = await readStream(state.topic, baseline ? -1 : state.last)
      if (states.get(state.topic) !== state) return
      if (baseline) {
        state.epoch = read.epoch
        state.last = read.offset
        if (state.blind) notice(state, 'outage')
      } else if (read.epoch !== state.epoch || read.offset < state.last) {
        // Redis lost the stream: a new epoch. Everything of it that is still there follows the notice.
        const fresh = read.offset > 0 ? await readStream(state.topic, 0) : read
        if (states.get(state.topic) !== state) return
        state.epoch = fresh.epoch
        state.last = fresh.messages.length > 0 ? fresh.messages[0]!.offset! - 1 : fresh.offset
        notice(state, 'epoch')
        handOver(state, fresh.messages)
      } else {
        handOver(state, read.messages, read.offset)
      }
    } catch (error) {
      state.syncing = false
      report(error, `reading ${state.topic}`)
      // Retry while Redis answers; otherwise the reconnect resyncs every topic.
      if (!closed && commandUp && subscriberUp) setTimeout(() => void sync(state), 1000).unref?.()
      return
    }
    state.syncing = false
    if (state.again) {
      state.again = false
      void sync(state)
      return
    }
    const pending = state.pending ?? []
    state.pending = undefined
    for (const message of pending) {
      if (state.pending) (state.pending as BrokerMessage[]).push(message)
      else accept(state, message)
    }
    state.resolveReady()
    if (state.waiters.length > 0) wake(state)
  }

  /** Resolves the history reads this process has now caught up with (or that a new epoch voids). */
  function wake(state: TopicState): void {
    state.waiters = state.waiters.filter((waiter) => {
      if (waiter.epoch === state.epoch && waiter.offset > state.last) return true
      waiter.resolve()
      return false
    })
  }

  /** Waits (at most `commandTimeout`) until this process has handed the stream up to `offset` to the hub. */
  async function caughtUp(state: TopicState, epoch: string, offset: number): Promise<void> {
    if (state.epoch !== epoch || state.last >= offset) return
    let resolve!: () => void
    const done = new Promise<void>((next) => (resolve = next))
    const waiter = { epoch, offset, resolve }
    state.waiters.push(waiter)
    if (!(await within(done, commandTimeout))) state.waiters = state.waiters.filter((other) => other !== waiter)
  }

  /** Hands stream messages after `state.last` to the hub; a hole before them becomes a window notice. */
  function handOver(state: TopicState, messages: BrokerMessage[], position?: number): void {
    for (const message of messages) {
      if (message.offset! <= state.last) continue
      if (message.offset! > state.last + 1) {
        state.last = message.offset! - 1
        notice(state, 'window')
      }
      state.last = message.offset!
      listener?.(message)
    }
    if (position !== undefined && position > state.last) {
      state.last = position
      notice(state, 'window')
    }
  }

  /** Tells the hub that the topic's messages up to `state.last` could not be delivered here. */
  function notice(state: TopicState, reason: 'window' | 'epoch' | 'outage'): void {
    listener?.({ topic: state.topic, event: 'realtime:gap', data: null, epoch: state.epoch, offset: state.last, gap: reason })
  }

  async function readStream(topic: string, since: number): Promise<StreamRead> {
    await commandReady()
    const reply = await command.realtimeRead(keys.meta(topic), keys.stream(topic), randomId(), since, history!.ttl, headerTtl)
    const epoch = String(reply[0])
    const messages: BrokerMessage[] = []
    for (let index = 2; index < reply.length; index += 2) {
      const id = String(reply[index])
      messages.push(decodeBody(topic, String(reply[index + 1]), epoch, Number(id.slice(0, id.indexOf('-')))))
    }
    return { epoch, offset: Number(reply[1]), messages }
  }

  /** Waits (at most `commandTimeout`) for a topic's baseline, unless Redis is known to be unreachable. */
  async function waitReady(state: TopicState): Promise<void> {
    if (subscriberUp || Date.now() < startupDeadline) await within(state.ready, commandTimeout)
  }

  /** Resolves when the command connection is up; fails at once during an outage. */
  async function commandReady(): Promise<void> {
    if (commandUp) return
    if (closed) throw new RealtimeError('REALTIME_TRANSPORT_ERROR', 'the Redis broker is closed')
    // Only while starting up is it worth waiting for the first connection.
    const wait = startupDeadline - Date.now()
    if (wait <= 0 || !(await within(firstReady, wait)) || !commandUp) {
      throw new RealtimeError('REALTIME_TRANSPORT_ERROR', `Redis at ${redacted(url)} is unreachable`)
    }
  }

  /** Publishes an `outage` gap notice to every stream published to while Redis was unreachable. */
  async function flushOutage(): Promise<void> {
    for (const [topic, epoch] of [...outage]) {
      if (!commandUp) return
      outage.delete(topic)
      try {
        const body = encodeBody({ topic, event: 'realtime:gap', data: null, gap: 'outage' })
        await command.realtimePublish(keys.meta(topic), keys.stream(topic), randomId(), body, keys.channel(topic), history!.size, history!.ttl, headerTtl, epoch)
      } catch (error) {
        outage.set(topic, epoch)
        report(error, `gap notice for ${topic}`)
        return
      }
    }
  }

  /** Redis did not take the message: this process's connections still get it, without a cursor. */
  function degrade(message: BrokerMessage, error: unknown): void {
    if (commandUp) report(error, `publishing to ${message.topic}`)
    else lost(error)
    if (history && !isEphemeral(message) && !outage.has(message.topic)) outage.set(message.topic, states.get(message.topic)?.epoch ?? published.get(message.topic) ?? '')
    listener?.(message)
  }

  const broker: RedisBroker = {
    processId,
    presence,
    get connected() {
      return commandUp && subscriberUp
    },
    keepsHistory: history !== undefined,
    async ready() {
      if (!(await within(firstReady, commandTimeout))) throw new RealtimeError('REALTIME_TRANSPORT_ERROR', `Redis at ${redacted(url)} is unreachable`)
    },

    async publish(message) {
      if (closed) throw new RealtimeError('REALTIME_TRANSPORT_ERROR', 'the Redis broker is closed')
      const body = encodeBody(message)
      const channel = keys.channel(message.topic)
      try {
        await commandReady()
        if (!history || isEphemeral(message)) {
          await command.publish(channel, encodePayloadWithoutHistory(message))
          return
        }
        const [epoch, offset] = await command.realtimePublish(keys.meta(message.topic), keys.stream(message.topic), randomId(), body, channel, history.size, history.ttl, headerTtl, '')
        if (published.get(message.topic) !== epoch && published.size < 10_000) published.set(message.topic, epoch)
        message.epoch = String(epoch)
        message.offset = Number(offset)
      } catch (error) {
        degrade(message, error)
        return
      }
      if (outage.size > 0) void flushOutage()
    },

    subscribe(next) {
      listener = next
      if (!states.has('broadcast')) broker.addTopic!('broadcast')
    },

    addTopic(topic) {
      const existing = states.get(topic)
      if (existing) {
        existing.interest++
        if (existing.linger !== undefined) clearTimeout(existing.linger)
        existing.linger = undefined
        return
      }
      const state = newState(topic)
      states.set(topic, state)
      if (subscriberUp) {
        subscriber.subscribe(state.channel).then(
          () => void (states.get(topic) === state && sync(state)),
          () => {},
        )
      }
    },

    removeTopic(topic) {
      const state = states.get(topic)
      if (!state || --state.interest > 0 || topic === 'broadcast') return
      // Stay subscribed a little while: connections come and go, and a topic that is followed
      // again soon then needs no new subscription and no new baseline.
      state.linger = setTimeout(() => {
        if (states.get(topic) !== state || state.interest > 0) return
        states.delete(topic)
        if (subscriberUp) subscriber.unsubscribe(state.channel).catch(() => {})
      }, unsubscribeDelay)
      ;(state.linger as { unref?: () => void }).unref?.()
    },

    async position(topic): Promise<Cursor | undefined> {
      if (!history) return undefined
      const state = states.get(topic)
      if (state) {
        if (state.epoch === undefined) await waitReady(state)
        if (state.epoch !== undefined) return { epoch: state.epoch, offset: state.last }
        state.blind = true
      }
      const read = await readStream(topic, -1)
      return { epoch: read.epoch, offset: read.offset }
    },

    async history(topic, since): Promise<HistoryResult> {
      if (!history) return { ok: false, reason: 'disabled' }
      // Live delivery must be on before the read, so nothing falls between replay and live.
      const state = states.get(topic)
      if (state && state.epoch === undefined) await waitReady(state)
      if (state && state.epoch === undefined) state.blind = true
      const read = await readStream(topic, since.offset)
      const position = { epoch: read.epoch, offset: read.offset }
      if (read.epoch !== since.epoch || since.offset > read.offset) return { ok: false, reason: 'epoch', position }
      const missed = read.offset - since.offset
      if (missed === 0) {
        if (state) await caughtUp(state, read.epoch, read.offset)
        return { ok: true, messages: [] }
      }
      if (missed > history.size || read.messages.length !== missed || read.messages[0]!.offset !== since.offset + 1) {
        return { ok: false, reason: 'window', position }
      }
      // Replay only what this process has already handed to the hub: the rest reaches the hub
      // through the listener after the replay, so (even with native fan-out, which does not
      // deduplicate) nothing comes twice and nothing is skipped. Usually it has caught up.
      if (!state || state.epoch !== read.epoch) return { ok: true, messages: read.messages }
      await caughtUp(state, read.epoch, read.offset)
      if (state.epoch !== read.epoch) return { ok: true, messages: read.messages }
      return { ok: true, messages: read.messages.filter((message) => message.offset! <= state.last) }
    },

    async close() {
      if (closed) return
      await presence.close().catch(() => {})
      closed = true
      clearInterval(health)
      for (const state of states.values()) if (state.linger !== undefined) clearTimeout(state.linger)
      listener = undefined
      states.clear()
      subscriber.disconnect()
      await within(
        command.quit().catch(() => {}),
        commandTimeout,
      )
      command.disconnect()
    },
  }
  return broker
}

/** Resolves to true when `promise` settles within `ms`, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@')
}
