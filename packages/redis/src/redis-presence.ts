import type { PresenceEntry, PresenceStore } from '@loewen-digital/realtime-core'
import type { Redis } from 'ioredis'
import type { KeyLayout } from './_keys.js'
import { PRESENCE_LIST_SCRIPT } from './_scripts.js'

/** Presence options of `redisBroker`. */
export interface RedisPresenceOptions {
  /**
   * Milliseconds after which the entries of a process that stopped refreshing (crashed, frozen,
   * cut off from Redis) stop being listed (default 15000).
   */
  ttl?: number
  /** Milliseconds between refreshes of this process's liveness key (default 5000). */
  refresh?: number
}

/** Default {@link RedisPresenceOptions.ttl}. */
export const DEFAULT_PRESENCE_TTL_MS = 15_000
/** Default {@link RedisPresenceOptions.refresh}. */
export const DEFAULT_PRESENCE_REFRESH_MS = 5_000
/** Milliseconds a presence hash is kept after its last change: a day. */
const PRESENCE_KEY_TTL_MS = 86_400_000

type ListingRedis = Redis & { realtimePresenceList(key: string, processPrefix: string): Promise<string[]> }

/** @internal The presence store of one process, with its liveness key. */
export class RedisPresence implements PresenceStore {
  /** This process's own entries, so they can be written again after Redis lost them. */
  private readonly local = new Map<string, Map<string, PresenceEntry>>()
  private readonly ttl: number
  private readonly refreshMs: number
  private timer: ReturnType<typeof setInterval> | undefined
  private alive: Promise<void> | undefined
  /** An add or remove failed: write every local entry again on the next refresh. */
  private stale = false

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyLayout,
    private readonly processId: string,
    options: RedisPresenceOptions,
    private readonly report: (error: unknown) => void,
  ) {
    this.ttl = options.ttl ?? DEFAULT_PRESENCE_TTL_MS
    this.refreshMs = options.refresh ?? DEFAULT_PRESENCE_REFRESH_MS
    if (!(this.ttl > 0) || !(this.refreshMs > 0) || this.refreshMs >= this.ttl) {
      throw new RangeError(`presence.refresh (${this.refreshMs}) must be positive and below presence.ttl (${this.ttl})`)
    }
    redis.defineCommand('realtimePresenceList', { numberOfKeys: 1, lua: PRESENCE_LIST_SCRIPT })
  }

  /** Adds (or replaces) this process's entry in `topic`; it is listed while this process is alive. */
  async add(topic: string, entry: PresenceEntry): Promise<void> {
    let entries = this.local.get(topic)
    if (!entries) this.local.set(topic, (entries = new Map()))
    entries.set(entry.connectionId, entry)
    this.start()
    try {
      await this.alive
      await this.write(topic, [entry])
    } catch (error) {
      this.stale = true
      throw error
    }
  }

  /** Removes an entry; resolves to whether Redis had it. */
  async remove(topic: string, connectionId: string): Promise<boolean> {
    const entries = this.local.get(topic)
    entries?.delete(connectionId)
    if (entries?.size === 0) this.local.delete(topic)
    try {
      return (await this.redis.hdel(this.keys.presence(topic), connectionId)) === 1
    } catch (error) {
      this.stale = true
      throw error
    }
  }

  /** Every live entry of `topic` in every process; entries of dead processes are deleted. */
  async list(topic: string): Promise<PresenceEntry[]> {
    const values = await (this.redis as ListingRedis).realtimePresenceList(this.keys.presence(topic), this.keys.processPrefix)
    const entries: PresenceEntry[] = []
    for (const value of values) {
      const stored = JSON.parse(value.slice(value.indexOf('\n') + 1)) as PresenceEntry
      entries.push(stored)
    }
    return entries
  }

  /** Refreshes the liveness key now; writes every local entry again when Redis lost them. */
  async refresh(): Promise<void> {
    if (this.timer === undefined) return
    const previous = await this.redis.set(this.keys.process(this.processId), '1', 'PX', this.ttl, 'GET')
    if (previous === null || this.stale) {
      this.stale = false
      await Promise.all([...this.local].map(([topic, entries]) => this.write(topic, [...entries.values()])))
    }
  }

  /** Stops refreshing and deletes the liveness key, so this process's entries stop being listed. */
  async close(): Promise<void> {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
    this.local.clear()
    await this.redis.del(this.keys.process(this.processId))
  }

  private start(): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => this.refresh().catch(this.report), this.refreshMs)
    ;(this.timer as { unref?: () => void }).unref?.()
    this.alive = this.refresh()
    this.alive.catch(() => (this.alive = undefined))
  }

  private async write(topic: string, entries: PresenceEntry[]): Promise<void> {
    if (entries.length === 0) return
    const key = this.keys.presence(topic)
    const fields: string[] = []
    for (const entry of entries) fields.push(entry.connectionId, `${this.processId}\n${JSON.stringify(entry)}`)
    await this.redis.multi().hset(key, ...fields).pexpire(key, PRESENCE_KEY_TTL_MS).exec()
  }
}
