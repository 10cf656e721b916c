// The sweeper: removes the presence entries of processes that died without removing them (a crash,
// `kill -9`, a process cut off from Redis longer than its liveness) and hands them to the hub, which
// announces the leaves. Every process sweeps; each dead owner is claimed by exactly one of them (an
// atomic claim), and each entry is removed by exactly one script call, so each leave is announced
// once however many processes sweep.
import type { ExpiredPresence, PresenceEntry } from '@loewen-digital/realtime-core'
import type { Redis } from 'ioredis'
import type { KeyLayout } from './_keys.js'
import { CLAIM_SCRIPT, EXPIRE_SCRIPT } from './_presence-scripts.js'

/** Dead owners claimed per script call (a sweep claims again while it gets a full batch). */
const CLAIM_BATCH = 16
/** Topics of one dead owner cleaned at a time (one script call each). */
const TOPIC_BATCH = 64

type SweepingRedis = Redis & {
  realtimePresenceClaim(key: string, limit: number): Promise<string[]>
  realtimePresenceExpire(key: string, ...owners: string[]): Promise<string[]>
}

/** The entry of a stored presence value `<owner>\n<entry JSON>`. */
export function decodeEntry(value: string): { owner: string; entry: PresenceEntry } {
  const newline = value.indexOf('\n')
  return { owner: value.slice(0, newline), entry: JSON.parse(value.slice(newline + 1)) as PresenceEntry }
}

/** @internal Finds dead presence owners, removes their entries and tells the listeners. */
export class Sweeper {
  private readonly listeners = new Set<(expired: ExpiredPresence) => void>()
  private timer: ReturnType<typeof setInterval> | undefined
  private running: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyLayout,
    private readonly intervalMs: number,
    private readonly report: (error: unknown) => void,
  ) {
    redis.defineCommand('realtimePresenceClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT })
    redis.defineCommand('realtimePresenceExpire', { numberOfKeys: 1, lua: EXPIRE_SCRIPT })
  }

  /** Adds a listener of removed entries (and starts sweeping); returns its removal. */
  listen(listener: (expired: ExpiredPresence) => void): () => void {
    this.listeners.add(listener)
    this.start()
    return () => void this.listeners.delete(listener)
  }

  /** Sweeps every `intervalMs` from now on (and once at once). */
  start(): void {
    if (this.timer !== undefined || this.stopped) return
    this.timer = setInterval(() => void this.sweep(), this.intervalMs)
    ;(this.timer as { unref?: () => void }).unref?.()
    void this.sweep()
  }

  /** Stops sweeping. */
  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.listeners.clear()
  }

  /** Claims the owners whose deadline passed and removes their entries (one sweep at a time). */
  sweep(): Promise<void> {
    this.running ??= this.claimAll()
      .catch(this.report)
      .finally(() => (this.running = undefined))
    return this.running
  }

  /**
   * Removes the entries of `owners` (dead) from `topic`'s presence set and hands those it removed to
   * the listeners. Also called by `list` for entries whose owner is no longer registered (its
   * sweeper died half-way, or Redis lost the registration).
   */
  async expire(topic: string, owners: string[]): Promise<void> {
    const removed = await (this.redis as SweepingRedis).realtimePresenceExpire(this.keys.presence(topic), ...owners)
    if (removed.length === 0 || this.stopped) return
    const entries: PresenceEntry[] = []
    for (const value of removed) {
      try {
        entries.push(decodeEntry(value).entry)
      } catch (error) {
        this.report(error)
      }
    }
    for (const listener of this.listeners) {
      try {
        listener({ topic, entries })
      } catch (error) {
        this.report(error)
      }
    }
  }

  private async claimAll(): Promise<void> {
    for (;;) {
      if (this.stopped) return
      const claimed = await (this.redis as SweepingRedis).realtimePresenceClaim(this.keys.owners, CLAIM_BATCH)
      for (const owner of claimed) await this.sweepOwner(owner)
      if (claimed.length < CLAIM_BATCH) return
    }
  }

  /** Removes every entry of one claimed owner, topic by topic, then its topic index. */
  private async sweepOwner(owner: string): Promise<void> {
    const index = this.keys.ownerTopics(owner)
    const topics = await this.redis.smembers(index)
    for (let start = 0; start < topics.length; start += TOPIC_BATCH) {
      await Promise.all(topics.slice(start, start + TOPIC_BATCH).map((topic) => this.expire(topic, [owner])))
    }
    await this.redis.del(index)
  }
}
