import type { ExpiredPresence, PresenceEntry, PresenceStore, RestoredPresence } from '@loewen-digital/realtime-core'
import type { Redis } from 'ioredis'
import type { KeyLayout } from './_keys.js'
import { OWNER_LIVENESS_SCRIPT, OWNER_REFRESH_SCRIPT } from './_presence-scripts.js'
import { decodeEntry, Sweeper } from './_sweeper.js'

/** Presence options of `redisBroker`. */
export interface RedisPresenceOptions {
  /**
   * Milliseconds after its last refresh that a process counts as dead (crashed, frozen, cut off
   * from Redis): its entries stop being listed, and within one more `refresh` a surviving process
   * removes them and announces their leaves (default 15000).
   */
  ttl?: number
  /**
   * Milliseconds between refreshes of this process's liveness, and between sweeps for dead
   * processes (default 5000).
   */
  refresh?: number
}

/** Default {@link RedisPresenceOptions.ttl}. */
export const DEFAULT_PRESENCE_TTL_MS = 15_000
/** Default {@link RedisPresenceOptions.refresh}. */
export const DEFAULT_PRESENCE_REFRESH_MS = 5_000
/**
 * Milliseconds a presence hash, an owner's topic index and the owners' set are kept after their
 * last write: a day. A process touches the keys of its own entries again every quarter of it.
 */
const PRESENCE_KEY_TTL_MS = 86_400_000

type PresenceRedis = Redis & {
  realtimePresenceRefresh(key: string, owner: string, ttl: number, keyTtl: number, mustExist: string): Promise<number>
  realtimePresenceLiveness(key: string, ...owners: string[]): Promise<number[]>
}

/**
 * @internal The presence store of one process. Its entries carry its owner tag (the process id, or
 * `<process id>.<n>` after it was declared dead and came back), whose deadline in the owners' set
 * it refreshes every `refresh` ms. Entries of an owner whose deadline passed are not listed; the
 * {@link Sweeper} of a surviving process removes them and hands them to the hub.
 */
export class RedisPresence implements PresenceStore {
  /** This process's own entries, so they can be written again after Redis lost them. */
  private readonly local = new Map<string, Map<string, PresenceEntry>>()
  private readonly ttl: number
  private readonly refreshMs: number
  private timer: ReturnType<typeof setInterval> | undefined
  /** The registration in progress (or done) that entries wait for before they are written. */
  private registering: Promise<void> | undefined
  private registered = false
  /** An add or remove failed: write every local entry again on the next refresh. */
  private stale = false
  /** Taken for dead meanwhile: once every local entry is written again, the listeners hear of them. */
  private revived = false
  private readonly restoredListeners = new Set<(restored: RestoredPresence) => void>()
  /** The tag this process's entries carry now. */
  private owner: string
  private incarnation = 0
  /** Other owners known alive, until (local ms): their deadline, so `list` asks Redis rarely. */
  private readonly deadlines = new Map<string, number>()
  private touched = Date.now()
  /** Finds dead processes and removes their entries (started with the first entry or listener). */
  readonly sweeper: Sweeper

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyLayout,
    readonly processId: string,
    options: RedisPresenceOptions,
    private readonly report: (error: unknown) => void,
  ) {
    this.ttl = options.ttl ?? DEFAULT_PRESENCE_TTL_MS
    this.refreshMs = options.refresh ?? DEFAULT_PRESENCE_REFRESH_MS
    if (!(this.ttl > 0) || !(this.refreshMs > 0) || this.refreshMs >= this.ttl) {
      throw new RangeError(`presence.refresh (${this.refreshMs}) must be positive and below presence.ttl (${this.ttl})`)
    }
    this.owner = processId
    redis.defineCommand('realtimePresenceRefresh', { numberOfKeys: 1, lua: OWNER_REFRESH_SCRIPT })
    redis.defineCommand('realtimePresenceLiveness', { numberOfKeys: 1, lua: OWNER_LIVENESS_SCRIPT })
    this.sweeper = new Sweeper(redis, keys, this.refreshMs, report)
  }

  /** Adds (or replaces) this process's entry in `topic`; it is listed while this process is alive. */
  async add(topic: string, entry: PresenceEntry): Promise<void> {
    let entries = this.local.get(topic)
    if (!entries) this.local.set(topic, (entries = new Map()))
    entries.set(entry.connectionId, entry)
    this.start()
    try {
      // Never an entry without a registered owner: another process would take it for a dead one's.
      if (!this.registered) await (this.registering ??= this.register())
      await this.write([[topic, [entry]]])
    } catch (error) {
      this.stale = true
      throw error
    }
  }

  /** Removes an entry; resolves to whether Redis had it. */
  async remove(topic: string, connectionId: string): Promise<boolean> {
    const entries = this.local.get(topic)
    const emptied = entries?.delete(connectionId) === true && entries.size === 0
    if (emptied) this.local.delete(topic)
    try {
      const [removed] = await Promise.all([
        this.redis.hdel(this.keys.presence(topic), connectionId),
        emptied ? this.redis.srem(this.keys.ownerTopics(this.owner), topic) : undefined,
      ])
      return removed === 1
    } catch (error) {
      this.stale = true
      throw error
    }
  }

  /**
   * Every live entry of `topic` in every process. Entries of an owner whose deadline passed are
   * left out; those of an owner no longer registered at all (its sweeper died half-way) are also
   * removed and handed to the `onExpired` listeners.
   */
  async list(topic: string): Promise<PresenceEntry[]> {
    const stored = await this.redis.hgetall(this.keys.presence(topic))
    const decoded: Array<{ owner: string; entry: PresenceEntry }> = []
    for (const value of Object.values(stored)) {
      try {
        decoded.push(decodeEntry(value))
      } catch (error) {
        this.report(error)
      }
    }
    const now = Date.now()
    const unknown = new Set<string>()
    for (const { owner } of decoded) if (owner !== this.owner && !((this.deadlines.get(owner) ?? 0) > now)) unknown.add(owner)
    const dead = new Set<string>()
    if (unknown.size > 0) {
      const owners = [...unknown]
      const answer = await (this.redis as PresenceRedis).realtimePresenceLiveness(this.keys.owners, ...owners)
      const orphans: string[] = []
      if (this.deadlines.size > 1000) for (const [owner, until] of this.deadlines) if (until <= now) this.deadlines.delete(owner)
      owners.forEach((owner, index) => {
        const deadline = answer[index + 1]!
        if (deadline > answer[0]!) this.deadlines.set(owner, now + (deadline - answer[0]!))
        else {
          dead.add(owner)
          if (deadline === -1) orphans.push(owner)
        }
      })
      if (orphans.length > 0) this.sweeper.expire(topic, orphans).catch(this.report)
    }
    return decoded.filter(({ owner }) => !dead.has(owner)).map(({ entry }) => entry)
  }

  /**
   * Registers `listener` for entries of dead processes that this process removed (the hub announces
   * their leaves), and starts sweeping for dead processes. Returns the listener's removal.
   */
  onExpired(listener: (expired: ExpiredPresence) => void): () => void {
    return this.sweeper.listen(listener)
  }

  /**
   * Registers `listener` for this process's entries written again after it had been taken for
   * dead (the hub announces their members' joins). Returns the listener's removal.
   */
  onRestored(listener: (restored: RestoredPresence) => void): () => void {
    this.restoredListeners.add(listener)
    return () => void this.restoredListeners.delete(listener)
  }

  /**
   * Refreshes this process's liveness now. When a sweeper had claimed it meanwhile (it was frozen
   * or cut off longer than `ttl`) or Redis lost it, it goes on under a new owner tag and writes
   * every local entry again; likewise after a failed add or remove.
   */
  async refresh(): Promise<void> {
    if (this.timer === undefined) return
    if (!this.registered) await (this.registering ??= this.register())
    else if ((await this.refreshOwner(true)) === -1) {
      this.owner = `${this.processId}.${++this.incarnation}`
      await this.refreshOwner(false)
      this.stale = true
      this.revived = true
    }
    if (this.stale) {
      this.stale = false
      const topics = [...this.local].map(([topic, entries]): [string, PresenceEntry[]] => [topic, [...entries.values()]])
      try {
        await this.write(topics)
      } catch (error) {
        this.stale = true
        throw error
      }
      if (this.revived) {
        this.revived = false
        this.announceRestored(topics)
      }
    } else if (Date.now() - this.touched > PRESENCE_KEY_TTL_MS / 4) {
      this.touched = Date.now()
      const keys = [...this.local.keys()].map((topic) => this.keys.presence(topic))
      keys.push(this.keys.ownerTopics(this.owner))
      await Promise.all(keys.map((key) => this.redis.pexpire(key, PRESENCE_KEY_TTL_MS)))
    }
  }

  /**
   * Stops refreshing and sweeping, and marks this process dead at once: its entries stop being
   * listed, and the next sweep of a surviving process announces the leaves of those left.
   */
  async close(): Promise<void> {
    this.sweeper.stop()
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
    this.local.clear()
    if (this.registered) await this.redis.zadd(this.keys.owners, 'XX', 0, this.owner)
  }

  /** Hands the entries written again after this process was taken for dead to the listeners. */
  private announceRestored(topics: Array<[string, PresenceEntry[]]>): void {
    for (const [topic, entries] of topics) {
      if (entries.length === 0) continue
      for (const listener of this.restoredListeners) {
        try {
          listener({ topic, entries })
        } catch (error) {
          this.report(error)
        }
      }
    }
  }

  private start(): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => this.refresh().catch(this.report), this.refreshMs)
    ;(this.timer as { unref?: () => void }).unref?.()
    this.sweeper.start()
  }

  private async register(): Promise<void> {
    try {
      await this.refreshOwner(false)
      this.registered = true
      this.touched = Date.now()
    } finally {
      this.registering = undefined
    }
  }

  private refreshOwner(mustExist: boolean): Promise<number> {
    return (this.redis as PresenceRedis).realtimePresenceRefresh(this.keys.owners, this.owner, this.ttl, PRESENCE_KEY_TTL_MS, mustExist ? '1' : '0')
  }

  /** Writes entries (each topic's own command: its key's slot) and adds their topics to the index. */
  private async write(topics: Array<[string, PresenceEntry[]]>): Promise<void> {
    const writes: Array<Promise<unknown>> = []
    const written: string[] = []
    for (const [topic, entries] of topics) {
      if (entries.length === 0) continue
      const key = this.keys.presence(topic)
      const fields: string[] = []
      for (const entry of entries) fields.push(entry.connectionId, `${this.owner}\n${JSON.stringify(entry)}`)
      writes.push(
        this.redis
          .multi()
          .hset(key, ...fields)
          .pexpire(key, PRESENCE_KEY_TTL_MS)
          .exec(),
      )
      written.push(topic)
    }
    if (written.length === 0) return
    const index = this.keys.ownerTopics(this.owner)
    writes.push(
      this.redis
        .multi()
        .sadd(index, ...written)
        .pexpire(index, PRESENCE_KEY_TTL_MS)
        .exec(),
    )
    await Promise.all(writes)
  }
}
