// Publishing, and what happens to a publish when Redis does not take it: the local-only delivery,
// the `outage` gap notice once Redis is back, and the publish whose outcome is unknown (timed out,
// or its connection closed under it), which Redis is made to settle for good before anyone is told
// anything: ran (the stream's copy then reaches every other process) or never will (an `outage`
// gap). Also keeps one process's publishes in the order it made them, whatever happens to Redis's
// script cache.
import type { BrokerMessage, HistoryOptions } from '@loewen-digital/realtime-core'
import { encodeBody, encodePayloadWithoutHistory, isEphemeral } from './_codec.js'
import type { Connections } from './_connections.js'
import { randomId, type KeyLayout } from './_keys.js'
import type { Known, Topics } from './_topics.js'

/** Bound of the per-topic map of the latest published position. */
const MAX_TRACKED = 10_000
/** Times a publish is sent again after NOSCRIPT or while an earlier one is being sent again. */
const MAX_ATTEMPTS = 5

/** A publish whose outcome is unknown: Redis decides it (ran, or cancelled) at the next resolve. */
interface Unsettled {
  topic: string
  origin: string
  /** The stream's epoch when it was published (empty: unknown), for the `outage` notice. */
  epoch: string
}

export class Publisher {
  /**
   * Topics published to while Redis was unreachable, with the epoch they had (empty: unknown): they
   * get an `outage` gap notice when it is back, unless the stream was lost meanwhile (then every
   * process sends its connections an epoch gap anyway).
   */
  readonly outage = new Map<string, string>()
  /** The latest position this process published at, per topic. */
  readonly published = new Map<string, Known>()
  /**
   * True from a publish that timed out until Redis settled it: publishes go to this process's
   * connections only, at once, instead of each waiting `commandTimeout` on a Redis that stalls.
   */
  get suspect(): boolean {
    return this.connections.settling
  }
  /** The last publish sequence number given out (the process's publishes run in this order). */
  private seq = 0
  /** Counter of publishes without history (origins only, no order to keep). */
  private plain = 0
  private readonly unsettled = new Map<number, Unsettled>()
  /**
   * Per topic, the latest publish whose outcome is not known yet (in flight, or unsettled): the
   * next publish to the topic may only run after it (the publish script checks).
   */
  private readonly unknown = new Map<string, number>()
  private resolving = false
  private resolveAgain = false

  constructor(
    private readonly connections: Connections,
    private readonly topics: Topics,
    private readonly keys: KeyLayout,
    private readonly history: Required<HistoryOptions> | undefined,
    private readonly headerTtl: number,
    private readonly processId: string,
    private readonly report: (error: unknown, context?: string) => void,
  ) {}

  async publish(message: BrokerMessage): Promise<void> {
    const { connections, keys, history } = this
    const channel = keys.channel(message.topic)
    try {
      await connections.commandReady()
    } catch (error) {
      this.localOnly(message, error)
      return
    }
    if (!history || isEphemeral(message)) {
      // No stream, so nothing to settle: a publish that timed out is delivered here now, and its
      // copy is dropped if Redis runs it later.
      const origin = `${this.processId}:e${++this.plain}`
      try {
        await connections.publishPlain(channel, encodePayloadWithoutHistory(message, origin))
      } catch (error) {
        if (!String((error as Error)?.message).includes('enableOfflineQueue')) this.topics.local.remember(origin, message.topic)
        this.localOnly(message, error)
      }
      return
    }
    if (this.suspect && (!connections.sharded || this.isUnsettled(message.topic))) {
      // On a cluster only the topics with an unsettled publish wait (their shard may be failing
      // over): the order of a topic's publishes is kept per topic, and the other shards answer.
      this.localOnly(message, new Error('Redis stopped answering'))
      return
    }
    const seq = ++this.seq
    const origin = `${this.processId}:${seq}`
    const known = this.topics.known(message.topic)
    const previous = this.unknown.get(message.topic)
    this.unknown.set(message.topic, seq)
    const args = [
      keys.meta(message.topic),
      keys.stream(message.topic),
      keys.publisher(this.processId, message.topic),
      randomId(),
      encodeBody(message, origin),
      channel,
      history.size,
      history.ttl,
      this.headerTtl,
      '',
      seq,
      known?.epoch ?? '',
      known ? known.offset : '',
      previous ?? '',
    ]
    let reply: [string, number]
    try {
      reply = await this.run(args)
    } catch (error) {
      // Its outcome stays unknown (`unknown` keeps it) until Redis settled it.
      // It may still run (queued behind a Redis that stalls): delivered here now, settled later.
      this.unsettled.set(seq, { topic: message.topic, origin, epoch: this.epochOf(message.topic) })
      this.topics.local.remember(origin, message.topic)
      connections.settling = true
      connections.lost(error)
      this.topics.deliverLocally(message)
      void this.resolve()
      connections.check()
      return
    }
    if (this.unknown.get(message.topic) === seq) this.unknown.delete(message.topic)
    const offset = Number(reply[1])
    if (offset === -4) {
      // It ran already (the command was sent again): its copy reaches every process from Redis.
      return
    }
    if (offset === -2) {
      // Cancelled by a resolve that ran before it: it never will.
      this.localOnly(message, new Error('publish cancelled'))
      return
    }
    const epoch = String(reply[0])
    if (this.published.has(message.topic) || this.published.size < MAX_TRACKED) this.published.set(message.topic, { epoch, offset })
    message.epoch = epoch
    message.offset = offset
    // Its copy reaches this process's hub through the topic's sync; until then nothing it
    // delivers without Redis may overtake it.
    this.topics.local.published(this.topics.states.get(message.topic), message, origin)
    if (this.outage.size > 0) void this.flushOutage()
  }

  /**
   * Runs the publish script: EVALSHA, and EVAL when Redis does not have the script (emptied cache,
   * restart) or refused it because an earlier publish of this process has not run yet (that one
   * got NOSCRIPT and is being sent again: the script keeps the order).
   */
  private async run(args: Array<string | number>): Promise<[string, number]> {
    const { command, publishScript, publishSha } = this.connections
    let full = false
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let reply: [string, number]
      try {
        reply = (await this.connections.bounded(full ? command.eval(publishScript, 3, ...args) : command.evalsha(publishSha, 3, ...args))) as [string, number]
      } catch (error) {
        if (!String((error as Error)?.message).includes('NOSCRIPT')) throw error
        full = true
        continue
      }
      if (Number(reply[1]) !== -3) return reply
      full = true
    }
    throw new Error(`publish refused ${MAX_ATTEMPTS} times: an earlier publish of this process did not run`)
  }

  /**
   * Makes Redis settle every publish whose outcome is unknown: those that ran reach the other
   * processes through the stream (and not this one's connections again); the others never will,
   * and their streams get an `outage` notice. One settle script per topic concerned, in the
   * topic's slot. Also run on every (re)connect: until it settled them, publishes stay local-only,
   * so nothing sent on an older connection can run after what is sent on this one.
   */
  async resolve(): Promise<void> {
    if (this.connections.closed || !this.history) return
    if (this.resolving) {
      this.resolveAgain = true
      return
    }
    this.resolving = true
    const upTo = this.seq
    let failed = false
    try {
      // One settle per topic (each in its topic's slot, on a cluster maybe a shard that is down:
      // the topics that answered are settled, the others are tried again).
      const topics = new Set<string>()
      for (const [seq, publish] of this.unsettled) if (seq <= upTo) topics.add(publish.topic)
      const lasts = new Map<string, number>()
      let error: unknown
      await Promise.all(
        [...topics].map(async (topic) => {
          try {
            lasts.set(
              topic,
              Number(
                await this.connections.bounded(this.connections.command.realtimeResolve(this.keys.publisher(this.processId, topic), upTo, this.headerTtl)),
              ),
            )
          } catch (failure) {
            error ??= failure
          }
        }),
      )
      for (const topic of lasts.keys()) if ((this.unknown.get(topic) ?? Infinity) <= upTo) this.unknown.delete(topic)
      for (const [seq, publish] of this.unsettled) {
        if (seq > upTo || !lasts.has(publish.topic)) continue
        this.unsettled.delete(seq)
        if (seq <= lasts.get(publish.topic)!) {
          // It ran: its stream copy is not handed to this process's hub again (it had it already).
          if (!this.topics.states.has(publish.topic)) this.topics.local.delivered.delete(publish.origin)
        } else {
          this.topics.local.delivered.delete(publish.origin)
          if (!this.outage.has(publish.topic)) this.outage.set(publish.topic, publish.epoch)
        }
      }
      if (this.unsettled.size === 0 && this.suspect) {
        this.connections.settling = false
        this.connections.recovered()
      }
      if (error !== undefined) throw error
    } catch (error) {
      // Part of the same outage: reported once.
      failed = true
      this.connections.lost(error)
      this.connections.check()
    } finally {
      this.resolving = false
    }
    const again = this.resolveAgain || this.unsettled.size > 0
    this.resolveAgain = false
    // Otherwise the next (re)connect resolves.
    if (again && this.connections.commandUp) (setTimeout(() => void this.resolve(), failed ? 1000 : 0) as { unref?: () => void }).unref?.()
    if ((!this.suspect || this.connections.sharded) && this.outage.size > 0) void this.flushOutage()
  }

  /** True while a publish to `topic` has an unknown outcome. */
  private isUnsettled(topic: string): boolean {
    for (const publish of this.unsettled.values()) if (publish.topic === topic) return true
    return false
  }

  /** Publishes an `outage` gap notice to every stream published to while Redis was unreachable. */
  async flushOutage(): Promise<void> {
    const { keys, history } = this
    const { sharded } = this.connections
    for (const [topic, epoch] of [...this.outage]) {
      if (!this.connections.commandUp) return
      // On a cluster a topic whose publish is not settled yet gets its notice once it is.
      if (sharded && this.isUnsettled(topic)) continue
      this.outage.delete(topic)
      try {
        const body = encodeBody({ topic, event: 'realtime:gap', data: null, gap: 'outage' })
        const known = this.topics.known(topic)
        await this.connections.bounded(
          this.connections.command.eval(
            this.connections.publishScript,
            3,
            keys.meta(topic),
            keys.stream(topic),
            keys.publisher(this.processId, topic),
            randomId(),
            body,
            keys.channel(topic),
            history!.size,
            history!.ttl,
            this.headerTtl,
            epoch,
            '',
            known?.epoch ?? '',
            known ? known.offset : '',
            '',
          ),
        )
      } catch (error) {
        this.outage.set(topic, epoch)
        this.report(error, `gap notice for ${topic}`)
        // One shard down leaves the others' notices to send.
        if (!sharded) return
      }
    }
  }

  /** Redis did not take the message: this process's connections still get it, without a cursor. */
  private localOnly(message: BrokerMessage, error: unknown): void {
    if (this.connections.commandUp && !this.suspect) this.report(error, `publishing to ${message.topic}`)
    else this.connections.lost(error)
    if (this.history && !isEphemeral(message) && !this.outage.has(message.topic)) this.outage.set(message.topic, this.epochOf(message.topic))
    this.topics.deliverLocally(message)
  }

  /** The stream's epoch as this process knows it (empty: unknown). */
  private epochOf(topic: string): string {
    return this.topics.states.get(topic)?.epoch ?? this.published.get(topic)?.epoch ?? ''
  }
}
