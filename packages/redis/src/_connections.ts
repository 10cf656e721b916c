// The broker's two Redis connections (commands, and pub/sub in subscriber mode), whether each is
// up, the health checks that replace one that went silent, and the one report per outage.
import { RealtimeError } from '@loewen-digital/realtime-core'
import type { Cluster, RedisOptions } from 'ioredis'
import { createClients, type RedisClient, type RedisTarget } from './_clients.js'
import { pingWithin, shardSubscribers, within } from './_health.js'
import { publishScript, READ_SCRIPT, RESOLVE_SCRIPT } from './_scripts.js'

/** Longest interval between pings of each connection. */
const HEALTH_CHECK_MS = 10_000

/** The command connection with the broker's scripts. */
export type ScriptedRedis = RedisClient & {
  realtimeRead(
    meta: string,
    stream: string,
    epoch: string,
    since: number,
    ttl: number,
    headerTtl: number,
    knownEpoch: string,
    knownOffset: string,
  ): Promise<Array<string | number>>
  realtimeResolve(publisher: string, seq: number, ttl: number): Promise<number>
}

/** What the connections tell the rest of the broker. */
export interface ConnectionEvents {
  /** The command connection is ready (again). */
  commandReady(): void
  /** The subscriber connection is ready (again): resubscribe. */
  subscriberReady(): void
  /** The subscriber connection (or one shard's) closed: nothing arrives until it is back. */
  subscriberClosed(): void
  /** A pub/sub message. */
  message(channel: string, payload: string): void
}

/**
 * Both connections. Each reconnects by itself (ioredis); a connection that stops answering
 * (half-open TCP, a proxy that stopped forwarding, a frozen Redis) would never say so, so each is
 * pinged every `2 × commandTimeout` (at most 10 s), and on demand when a command timed out, and is
 * replaced when the ping gets no answer within `commandTimeout`. A connection that connects but
 * never gets ready is replaced the same way. `up` is true only while both answer.
 */
export class Connections {
  readonly command: ScriptedRedis
  readonly subscriber: RedisClient
  /** A cluster: sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`). */
  readonly sharded: boolean
  commandUp = false
  subscriberUp = false
  closed = false
  /** Set while publishes that timed out are being settled: Redis is not answering as it should. */
  settling = false
  /** The publish script (`PUBLISH`, or `SPUBLISH` on a cluster) and its SHA1, for EVALSHA. */
  readonly publishScript: string
  readonly publishSha: string
  /** The location for messages (the URL without its password, or the cluster's nodes). */
  readonly where: string
  private outageReported = false
  /** Outages noticed since start (each reported once). */
  outages = 0
  private readonly firstReady: Promise<void>
  private readonly startupDeadline: number
  private resolveFirstReady!: () => void
  private readonly health: ReturnType<typeof setInterval>
  private readonly connectingSince = new Map<RedisClient, number>()
  /** Connections with a health-check PING out. */
  private readonly checking = new Set<unknown>()
  /** Set while a shard's subscriber is down: resubscribe when it is back (or after a while). */
  private shardRetry: ReturnType<typeof setTimeout> | undefined

  constructor(
    target: RedisTarget,
    redisOptions: RedisOptions | undefined,
    readonly commandTimeout: number,
    processId: string,
    private readonly report: (error: unknown, context?: string) => void,
    events: ConnectionEvents,
    sha1: (text: string) => string,
  ) {
    // One client for commands (fails fast while Redis is unreachable, so nothing waits on it) and
    // one for pub/sub. Both reconnect by themselves; we resubscribe and resync ourselves.
    const clients = createClients(target, redisOptions, commandTimeout, processId)
    this.command = clients.command as ScriptedRedis
    this.subscriber = clients.subscriber
    this.sharded = clients.sharded
    this.where = target.cluster === undefined ? `Redis at ${redacted(target.url)}` : `Redis Cluster at ${target.cluster.map(redacted).join(', ')}`
    this.command.defineCommand('realtimeRead', { numberOfKeys: 2, lua: READ_SCRIPT })
    this.command.defineCommand('realtimeResolve', { numberOfKeys: 1, lua: RESOLVE_SCRIPT })
    this.publishScript = publishScript(this.sharded ? 'SPUBLISH' : 'PUBLISH')
    this.publishSha = sha1(this.publishScript)
    this.firstReady = new Promise<void>((resolve) => (this.resolveFirstReady = resolve))
    this.startupDeadline = Date.now() + commandTimeout

    const { command, subscriber } = this
    for (const connection of [command, subscriber]) {
      connection.on('error', (error) => this.lost(error))
      connection.on('connect', () => this.connectingSince.set(connection, Date.now()))
      connection.on('ready', () => this.connectingSince.delete(connection))
      connection.on('close', () => this.connectingSince.delete(connection))
    }
    command.on('ready', () => {
      this.commandUp = true
      this.recovered()
      this.checkFirstReady()
      events.commandReady()
    })
    command.on('close', () => {
      if (this.commandUp) this.lost()
      this.commandUp = false
    })
    subscriber.on('ready', () => {
      this.subscriberUp = true
      this.recovered()
      events.subscriberReady()
    })
    subscriber.on('close', () => {
      if (this.subscriberUp) this.lost()
      this.subscriberUp = false
      events.subscriberClosed()
    })
    subscriber.on(this.sharded ? 'smessage' : 'message', (channel: string, payload: string) => events.message(channel, payload))
    if (this.sharded) {
      // A shard's subscriber connection ended (its primary died or failed over): ioredis makes a
      // new one once the slots are known again and subscribes it ('subscribersReady'); then every
      // topic is subscribed again and read from its stream (what that shard published meanwhile).
      // Should that event not come, after `commandTimeout` anyway. The other shards' topics stay
      // live meanwhile (nothing of theirs is missed).
      subscriber.on('-node', (_redis: unknown, nodeKey?: string) => {
        if (nodeKey === undefined || this.closed) return
        if (this.shardRetry !== undefined) clearTimeout(this.shardRetry)
        this.shardRetry = setTimeout(() => this.shardBack(events), commandTimeout)
        ;(this.shardRetry as { unref?: () => void }).unref?.()
      })
      subscriber.on('subscribersReady', () => {
        // Every shard has a subscriber again: the next outage is reported again.
        this.recovered()
        if (this.shardRetry !== undefined) this.shardBack(events)
      })
    }
    this.health = setInterval(
      () => {
        this.check(command)
        // A cluster's PING reaches a random node, not the sharded subscriber connections.
        if (this.sharded) this.checkShardSubscribers()
        else this.check(subscriber)
      },
      Math.min(HEALTH_CHECK_MS, 2 * commandTimeout),
    )
    ;(this.health as { unref?: () => void }).unref?.()
  }

  /** A shard's subscriber is back (or may be): subscribe every channel again and resync. */
  private shardBack(events: ConnectionEvents): void {
    if (this.shardRetry !== undefined) clearTimeout(this.shardRetry)
    this.shardRetry = undefined
    if (!this.closed && this.subscriberUp) events.subscriberReady()
  }

  /**
   * `command` bounded by `commandTimeout` on a cluster too: there a command sent while the cluster
   * is reconnecting waits in the cluster's queue, where no timeout applies. (One Redis: the
   * connection's own timeout applies, so this adds nothing to the hot path.)
   */
  bounded<T>(command: Promise<T>): Promise<T> {
    if (!this.sharded) return command
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Command timed out')), this.commandTimeout)))
    return Promise.race([command, timeout]).finally(() => clearTimeout(timer))
  }

  /** Subscribes to `channels` (`SSUBSCRIBE` on a cluster: one command per channel, each to its shard). */
  async subscribe(channels: string[]): Promise<void> {
    if (this.sharded) {
      await Promise.all(channels.map((channel) => this.subscriber.ssubscribe(channel)))
      return
    }
    for (let index = 0; index < channels.length; index += 1000) await this.subscriber.subscribe(...channels.slice(index, index + 1000))
  }

  async unsubscribe(channel: string): Promise<void> {
    await (this.sharded ? this.subscriber.sunsubscribe(channel) : this.subscriber.unsubscribe(channel))
  }

  /** Publishes a payload outside the publish script (no history, or ephemeral). */
  async publishPlain(channel: string, payload: string): Promise<void> {
    await (this.sharded ? this.bounded(this.command.spublish(channel, payload)) : this.command.publish(channel, payload))
  }

  /** True while both connections are ready and answering. */
  get up(): boolean {
    return this.commandUp && this.subscriberUp
  }

  /** Resolves the first-ready promise once both connections were ready once. */
  checkFirstReady(): void {
    if (this.commandUp && this.subscriberUp) this.resolveFirstReady()
  }

  /** Resolves once both connections were ready once; false after `ms`. */
  waitFirstReady(ms: number): Promise<boolean> {
    return within(this.firstReady, ms)
  }

  /** True until `commandTimeout` after start: the first connection may still come. */
  get starting(): boolean {
    return Date.now() < this.startupDeadline
  }

  /**
   * Pings `connection` (at once when it is not being checked already) and replaces it when it
   * does not answer within `commandTimeout`, or when it has been connecting for longer than that.
   */
  check(connection: RedisClient = this.command): void {
    if (this.closed || this.checking.has(connection)) return
    if (this.sharded) {
      this.checkNodes()
      return
    }
    const since = this.connectingSince.get(connection)
    if (since !== undefined && Date.now() - since > 2 * this.commandTimeout) {
      // Connected but never ready (the handshake got no answer).
      this.connectingSince.delete(connection)
      connection.disconnect(true)
      return
    }
    const ready = connection === this.command ? this.commandUp : this.subscriberUp
    if (!ready) return
    pingWithin(connection, this.commandTimeout, this.checking, () => {
      if (this.closed) return
      const stillUp = connection === this.command ? this.commandUp : this.subscriberUp
      if (!stillUp) return
      this.lost(new Error(`no answer to PING within ${this.commandTimeout} ms`))
      if (connection === this.command) this.commandUp = false
      else this.subscriberUp = false
      // The close event follows and does the rest (the subscriber's resyncs every topic).
      connection.disconnect(true)
    })
  }

  /**
   * On a cluster, pings each primary's connection and drops one that does not answer within
   * `commandTimeout` (the cluster opens a new one on the next command): one node failing is not a
   * reason to drop the others.
   */
  private checkNodes(): void {
    for (const node of (this.command as Cluster).nodes('master')) {
      if (node.status !== 'ready') continue
      pingWithin(node, this.commandTimeout, this.checking, () => {
        if (this.closed || node.status !== 'ready') return
        this.lost(new Error(`no answer to PING from ${node.options.host}:${node.options.port} within ${this.commandTimeout} ms`))
        node.disconnect()
      })
    }
  }

  /**
   * On a cluster, pings each shard's subscriber connection (ioredis keeps one per primary in the
   * subscriber client's group) and drops one that does not answer within `commandTimeout`: a
   * half-open connection (a partition, a proxy or NAT that lost the flow) delivers nothing and
   * says nothing. Dropped, it ends; ioredis opens a new one and subscribes it ('-node', then
   * 'subscribersReady'), and every topic is read from its stream, what that shard published
   * meanwhile included.
   */
  private checkShardSubscribers(): void {
    for (const shard of shardSubscribers(this.subscriber)) {
      if (shard.status !== 'ready') continue
      pingWithin(shard, this.commandTimeout, this.checking, () => {
        if (this.closed || shard.status !== 'ready') return
        this.lost(new Error(`no answer to PING on the subscriber connection to ${shard.options.host}:${shard.options.port} within ${this.commandTimeout} ms`))
        shard.disconnect()
      })
    }
  }

  /** Reports that Redis is unreachable, once per outage. */
  lost(error?: unknown): void {
    if (this.closed || this.outageReported) return
    this.outageReported = true
    this.outages++
    this.report(
      new RealtimeError(
        'REALTIME_TRANSPORT_ERROR',
        `Redis unreachable (${(error as Error)?.message ?? 'connection closed'}): publishing to this process's connections only until it is back`,
        { cause: error },
      ),
    )
  }

  /** Both connections answer again: the next outage is reported again. */
  recovered(): void {
    if (this.commandUp && this.subscriberUp && !this.settling) this.outageReported = false
  }

  /** Resolves when the command connection is up; fails at once during an outage. */
  async commandReady(): Promise<void> {
    if (this.commandUp) return
    if (this.closed) throw new RealtimeError('REALTIME_TRANSPORT_ERROR', 'the Redis broker is closed')
    // Only while starting up is it worth waiting for the first connection.
    const wait = this.startupDeadline - Date.now()
    if (wait <= 0 || !(await this.waitFirstReady(wait)) || !this.commandUp) {
      throw new RealtimeError('REALTIME_TRANSPORT_ERROR', `${this.where} is unreachable`)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.health)
    if (this.shardRetry !== undefined) clearTimeout(this.shardRetry)
    this.subscriber.disconnect()
    await within(
      this.command.quit().catch(() => {}),
      this.commandTimeout,
    )
    this.command.disconnect()
  }
}

/** The URL without its password, for messages. */
export function redacted(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@')
}
