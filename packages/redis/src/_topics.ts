// Topic sync: the topics this process follows, each handed to the hub in offset order with no
// hole and no duplicate. A hole (after a reconnect to Redis) is filled from the stream; what the
// stream no longer has, or a stream that started over, becomes a gap notice.
import type { BrokerListener, BrokerMessage, HistoryOptions } from '@loewen-digital/realtime-core'
import type { TopicState } from './_topic-state.js'
import { decodePayload } from './_codec.js'
import type { Connections } from './_connections.js'
import { within } from './_health.js'
import type { KeyLayout } from './_keys.js'
import { LocalDelivery } from './_local-delivery.js'
import { type Known, readStream, SharedReads, type StreamRead } from './_stream-read.js'

export type { Known, StreamRead } from './_stream-read.js'
export type { TopicState } from './_topic-state.js'

/** Messages a topic may buffer while it is being synchronized with its stream. */
const MAX_PENDING = 10_000
/** Milliseconds between attempts to subscribe a topic whose shard is down (a cluster failing over). */
const SHARD_RETRY_MS = 1000

/** The topics this process follows, and reading their streams. */
export class Topics {
  readonly states = new Map<string, TopicState>()
  listener: BrokerListener | undefined
  /** What this process hands its hub without Redis, in publish order (see `Publisher`). */
  readonly local = new LocalDelivery(() => this.listener)
  /** Identical client reads in flight or recent share one script call (see `SharedReads`). */
  private readonly shared = new SharedReads()

  constructor(
    private readonly connections: Connections,
    private readonly keys: KeyLayout,
    private readonly history: Required<HistoryOptions> | undefined,
    private readonly headerTtl: number,
    private readonly unsubscribeDelay: number,
    private readonly report: (error: unknown, context?: string) => void,
    /** The latest position this process published at, per topic. */
    private readonly published: (topic: string) => Known | undefined,
  ) {}

  private newState(topic: string): TopicState {
    let resolveReady!: () => void
    const ready = new Promise<void>((resolve) => (resolveReady = resolve))
    return {
      topic,
      channel: this.keys.channel(topic),
      interest: 1,
      epoch: undefined,
      last: 0,
      pending: [],
      syncing: false,
      own: undefined,
      again: false,
      blind: false,
      linger: undefined,
      waiters: [],
      ready,
      resolveReady,
    }
  }

  /** The latest position of `topic` this process knows: what it handed over or published. */
  known(topic: string): Known | undefined {
    const state = this.states.get(topic)
    const published = this.published(topic)
    if (state?.epoch === undefined) return published
    if (published && published.epoch === state.epoch && published.offset > state.last) return published
    return { epoch: state.epoch, offset: state.last }
  }

  add(topic: string): void {
    const existing = this.states.get(topic)
    if (existing) {
      existing.interest++
      if (existing.linger !== undefined) clearTimeout(existing.linger)
      existing.linger = undefined
      return
    }
    const state = this.newState(topic)
    this.states.set(topic, state)
    if (this.connections.subscriberUp) {
      this.connections.subscribe([state.channel]).then(
        () => void (this.states.get(topic) === state && this.sync(state)),
        () => {},
      )
    }
  }

  remove(topic: string): void {
    const state = this.states.get(topic)
    if (!state || --state.interest > 0) return
    // Stay subscribed a little while: connections come and go, and a topic that is followed
    // again soon then needs no new subscription and no new baseline.
    state.linger = setTimeout(() => {
      if (this.states.get(topic) !== state || state.interest > 0) return
      this.states.delete(topic)
      if (this.connections.subscriberUp) this.connections.unsubscribe(state.channel).catch(() => {})
    }, this.unsubscribeDelay)
    ;(state.linger as { unref?: () => void }).unref?.()
  }

  /** Nothing arrives until the subscriber connection is back; then every topic is read from its stream. */
  pauseAll(): void {
    for (const state of this.states.values()) state.pending ??= []
  }

  /** Syncs the topics whose sync failed while only the command connection was down. */
  retryPending(): void {
    if (this.connections.subscriberUp) for (const state of this.states.values()) if (state.pending && !state.syncing) void this.sync(state)
  }

  /** Subscribes every topic of interest (after a (re)connect) and reads what was missed. */
  async resubscribe(): Promise<void> {
    const topics = [...this.states.values()]
    if (this.connections.sharded) {
      // Each topic through its own shard: those of healthy shards go live at once, those of a
      // shard that is failing over once it is back.
      await Promise.all(topics.map((state) => this.resubscribeSharded(state)))
      this.connections.checkFirstReady()
      return
    }
    for (const state of topics) state.pending ??= []
    try {
      await this.connections.subscribe(topics.map((state) => state.channel))
    } catch (error) {
      if (!this.connections.closed) this.report(error, 'subscribe')
      return
    }
    this.connections.checkFirstReady()
    for (const state of topics) if (this.states.get(state.topic) === state) void this.sync(state)
  }

  /** Subscribes one topic on a cluster and syncs it; retries (every second) while its shard is down. */
  private async resubscribeSharded(state: TopicState): Promise<void> {
    state.pending ??= []
    try {
      await this.connections.bounded(this.connections.subscribe([state.channel]))
    } catch (error) {
      if (this.connections.closed || this.states.get(state.topic) !== state) return
      this.connections.lost(error)
      setTimeout(() => void (this.states.get(state.topic) === state && this.resubscribeSharded(state)), SHARD_RETRY_MS).unref?.()
      return
    }
    if (this.states.get(state.topic) === state) void this.sync(state)
  }

  receive(channel: string, payload: string): void {
    const topic = this.keys.topicOf(channel)
    if (topic === undefined) return
    const state = this.states.get(topic)
    if (!state) return
    let message: BrokerMessage
    try {
      message = decodePayload(topic, payload)
    } catch (error) {
      this.report(error, `malformed message on ${channel}`)
      return
    }
    if (!this.history || message.offset === undefined) {
      // Without history, or ephemeral: no position, nothing to order or fill.
      this.deliver(message)
      return
    }
    if (state.pending) {
      if (state.pending.length < MAX_PENDING) state.pending.push(message)
      // Beyond the bound the buffer stops growing; the sync reads the rest from the stream.
      return
    }
    this.accept(state, message, true)
  }

  /**
   * Hands the next message of a live topic to the hub, or starts a sync on a hole or a new epoch.
   * A live message this process has already handed over should not happen: it may mean that the
   * stream's offsets went backwards, which the sync finds out (and starts the stream over).
   */
  private accept(state: TopicState, message: BrokerMessage, live = false): void {
    if (message.epoch === state.epoch) {
      if (message.offset! <= state.last) {
        if (live) {
          state.pending = []
          void this.sync(state)
        }
        return
      }
      if (message.offset === state.last + 1) {
        state.last = message.offset
        this.deliver(message)
        if (state.own !== undefined) this.local.prune(state)
        if (state.waiters.length > 0) this.wake(state)
        return
      }
    }
    state.pending = [message]
    void this.sync(state)
  }

  /** Hands a stream message to the hub, unless this process already did without its cursor. */
  private deliver(message: BrokerMessage): void {
    if (!this.local.handedOver(message)) this.listener?.(message)
  }

  /** Hands one of this process's messages to the hub without Redis, after its earlier publishes of the topic. */
  deliverLocally(message: BrokerMessage): void {
    this.local.deliver(this.states.get(message.topic), message)
  }

  /**
   * Reads the topic's stream after the last message handed to the hub and hands over what it
   * has, then the messages that arrived meanwhile: the topic becomes live again, without holes.
   * What the stream no longer has becomes a gap notice.
   */
  async sync(state: TopicState): Promise<void> {
    if (this.connections.closed) return
    if (state.syncing) {
      state.again = true
      return
    }
    if (!this.history || state.topic.startsWith('presence:')) {
      // No stream to follow: presence topics carry only ephemeral messages.
      const pending = state.pending ?? []
      state.pending = undefined
      for (const message of pending) this.deliver(message)
      state.resolveReady()
      return
    }
    state.syncing = true
    try {
      const baseline = state.epoch === undefined
      // The read starts the stream over when it ends before what this process handed over.
      const read = await this.read(state.topic, baseline ? -1 : state.last, this.known(state.topic))
      if (this.states.get(state.topic) !== state) return
      if (baseline) {
        state.epoch = read.epoch
        state.last = read.offset
        if (state.blind) this.notice(state, 'outage')
      } else if (read.epoch !== state.epoch || read.offset < state.last) {
        // Redis lost the stream, or it went backwards: a new epoch. Everything of it that is still
        // there follows the notice.
        const fresh = read.offset > 0 ? await this.read(state.topic, 0) : read
        if (this.states.get(state.topic) !== state) return
        state.epoch = fresh.epoch
        state.last = fresh.messages.length > 0 ? fresh.messages[0]!.offset! - 1 : fresh.offset
        this.notice(state, 'epoch')
        this.handOver(state, fresh.messages)
      } else {
        this.handOver(state, read.messages, read.offset)
      }
    } catch (error) {
      state.syncing = false
      if (this.connections.closed) return
      // While Redis is unreachable this is part of the outage, reported once.
      if (this.connections.commandUp && !this.connections.settling) this.report(error, `reading ${state.topic}`)
      else this.connections.lost(error)
      // A read that timed out: is the command connection still answering?
      this.connections.check()
      // Retry while Redis answers; otherwise the reconnect resyncs every topic.
      if (!this.connections.closed && this.connections.up) setTimeout(() => void this.sync(state), 1000).unref?.()
      return
    }
    state.syncing = false
    if (state.again) {
      state.again = false
      void this.sync(state)
      return
    }
    const pending = state.pending ?? []
    state.pending = undefined
    for (const message of pending) {
      if (state.pending) (state.pending as BrokerMessage[]).push(message)
      else this.accept(state, message)
    }
    if (state.own !== undefined) this.local.prune(state)
    state.resolveReady()
    if (state.waiters.length > 0) this.wake(state)
  }

  /** Resolves the history reads this process has now caught up with (or that a new epoch voids). */
  private wake(state: TopicState): void {
    state.waiters = state.waiters.filter((waiter) => {
      if (waiter.epoch === state.epoch && waiter.offset > state.last) return true
      waiter.resolve()
      return false
    })
  }

  /** Waits (at most `commandTimeout`) until this process has handed the stream up to `offset` to the hub. */
  async caughtUp(state: TopicState, epoch: string, offset: number): Promise<void> {
    if (state.epoch !== epoch || state.last >= offset) return
    let resolve!: () => void
    const done = new Promise<void>((next) => (resolve = next))
    const waiter = { epoch, offset, resolve }
    state.waiters.push(waiter)
    if (!(await within(done, this.connections.commandTimeout))) state.waiters = state.waiters.filter((other) => other !== waiter)
  }

  /** Waits (at most `commandTimeout`) for a topic's baseline, unless Redis is known to be unreachable. */
  async waitReady(state: TopicState): Promise<void> {
    if (this.connections.subscriberUp || this.connections.starting) await within(state.ready, this.connections.commandTimeout)
  }

  /** Hands stream messages after `state.last` to the hub; a hole before them becomes a window notice. */
  private handOver(state: TopicState, messages: BrokerMessage[], position?: number): void {
    for (const message of messages) {
      if (message.offset! <= state.last) continue
      if (message.offset! > state.last + 1) {
        state.last = message.offset! - 1
        this.notice(state, 'window')
      }
      state.last = message.offset!
      this.deliver(message)
    }
    if (position !== undefined && position > state.last) {
      state.last = position
      this.notice(state, 'window')
    }
  }

  /** Tells the hub that the topic's messages up to `state.last` could not be delivered here. */
  private notice(state: TopicState, reason: 'window' | 'epoch' | 'outage'): void {
    this.listener?.({ topic: state.topic, event: 'realtime:gap', data: null, epoch: state.epoch, offset: state.last, gap: reason })
  }

  /**
   * A read for a client (resume from `since`, or -1: the position), shared with the same read in
   * flight or just made, while nothing of the topic was handed to the hub since it was sent (see
   * `SharedReads`).
   */
  readForClient(topic: string, since: number): Promise<StreamRead> {
    const known = this.known(topic)
    const state = this.states.get(topic)
    // `known` is the handed-over position unless this process published further; then the state's
    // position is what tells a newer hand-over.
    const key = `${topic}\n${since}\n${known?.epoch}\n${known?.offset}\n${state?.epoch}\n${state?.last}`
    return this.shared.read(key, () => this.read(topic, since, known))
  }

  /** Reads the stream's position and its messages after `since` (see {@link readStream}). */
  read(topic: string, since: number, known?: Known): Promise<StreamRead> {
    return readStream(this.connections, this.keys, this.history!, this.headerTtl, topic, since, known)
  }

  clear(): void {
    for (const state of this.states.values()) if (state.linger !== undefined) clearTimeout(state.linger)
    this.listener = undefined
    this.states.clear()
    this.shared.clear()
  }
}
