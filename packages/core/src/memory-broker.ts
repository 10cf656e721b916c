import type { Broker, BrokerListener, BrokerMessage, HistoryResult, PresenceEntry, PresenceStore } from './broker.js'
import { DEFAULT_HISTORY_SIZE, DEFAULT_HISTORY_TTL_MS } from './constants.js'
import type { Cursor } from './cursor.js'

/** History window of a broker: how many messages per stream, for how long. */
export interface HistoryOptions {
  /** Messages kept per stream (default 100). */
  size?: number
  /** Milliseconds a message stays replayable (default 300000: five minutes). */
  ttl?: number
}

/** Options of {@link memoryBroker}. */
export interface MemoryBrokerOptions {
  /** History window, or `false` for no history and no resume (default `{ size: 100, ttl: 300000 }`). */
  history?: HistoryOptions | false
}

interface StreamLog {
  epoch: string
  offset: number
  /** Retained messages, oldest first, with the time each was published. */
  entries: Array<{ message: BrokerMessage; at: number }>
  /** Local connections interested in the stream (addTopic minus removeTopic). */
  interest: number
  /** Last publish or last departure: the header outlives both by `ttl`. */
  touched: number
}

/**
 * The embedded default broker: delivers synchronously inside this process and keeps a bounded
 * history per stream for resume. Each stream's epoch is random per process, so a restart is an
 * epoch change (clients get `realtime:gap`). A stream that has had no interested connection, no
 * publish and no retained message for `ttl` is forgotten; a later cursor for it gets a gap.
 */
export function memoryBroker(options: MemoryBrokerOptions = {}): Broker {
  let listener: BrokerListener | undefined
  const history =
    options.history === false ? undefined : { size: options.history?.size ?? DEFAULT_HISTORY_SIZE, ttl: options.history?.ttl ?? DEFAULT_HISTORY_TTL_MS }
  const logs = new Map<string, StreamLog>()
  let lastSweep = Date.now()

  const newEpoch = () => Math.random().toString(36).slice(2, 10).padEnd(8, '0')
  const log = (topic: string): StreamLog => {
    let stream = logs.get(topic)
    if (!stream) {
      stream = { epoch: newEpoch(), offset: 0, entries: [], interest: 0, touched: Date.now() }
      logs.set(topic, stream)
    }
    return stream
  }
  const expire = (stream: StreamLog, now: number) => {
    const oldest = now - history!.ttl
    let drop = 0
    while (drop < stream.entries.length && stream.entries[drop]!.at < oldest) drop++
    if (drop > 0) stream.entries.splice(0, drop)
  }
  const sweep = (now: number) => {
    if (now - lastSweep < 10_000) return
    lastSweep = now
    for (const [topic, stream] of logs) {
      expire(stream, now)
      if (stream.entries.length === 0 && stream.interest <= 0 && now - stream.touched > history!.ttl) logs.delete(topic)
    }
  }

  return {
    keepsHistory: history !== undefined,
    publish(message) {
      if (history && !message.ephemeral) {
        const now = Date.now()
        sweep(now)
        const stream = log(message.topic)
        message.epoch = stream.epoch
        message.offset = ++stream.offset
        stream.touched = now
        stream.entries.push({ message, at: now })
        if (stream.entries.length > history.size) stream.entries.shift()
      }
      listener?.(message)
    },
    subscribe(next) {
      listener = next
    },
    addTopic(topic) {
      if (!history) return
      sweep(Date.now())
      log(topic).interest++
    },
    removeTopic(topic) {
      const stream = logs.get(topic)
      if (stream) {
        stream.interest--
        stream.touched = Date.now()
        // Joins and leaves sweep too: churn without publishes must not pile up stream headers.
        sweep(stream.touched)
      }
    },
    position(topic): Cursor | undefined {
      if (!history) return undefined
      const stream = log(topic)
      return { epoch: stream.epoch, offset: stream.offset }
    },
    history(topic, since): HistoryResult {
      if (!history) return { ok: false, reason: 'disabled' }
      const now = Date.now()
      sweep(now)
      const stream = logs.get(topic)
      if (!stream || stream.epoch !== since.epoch) return { ok: false, reason: 'epoch', position: stream && { epoch: stream.epoch, offset: stream.offset } }
      expire(stream, now)
      const position = { epoch: stream.epoch, offset: stream.offset }
      if (since.offset > stream.offset) return { ok: false, reason: 'epoch', position }
      const missed = stream.offset - since.offset
      if (missed > stream.entries.length) return { ok: false, reason: 'window', position }
      return { ok: true, messages: stream.entries.slice(stream.entries.length - missed).map((entry) => entry.message) }
    },
    presence: memoryPresence(),
    close() {
      listener = undefined
      logs.clear()
    },
  }
}

/** Presence sets of one process: what the in-memory broker offers as its `presence` store. */
export function memoryPresence(): PresenceStore {
  const sets = new Map<string, Map<string, PresenceEntry>>()
  return {
    add(topic, entry) {
      let set = sets.get(topic)
      if (!set) sets.set(topic, (set = new Map()))
      set.set(entry.connectionId, entry)
    },
    remove(topic, connectionId) {
      const set = sets.get(topic)
      const removed = set?.delete(connectionId) ?? false
      if (set?.size === 0) sets.delete(topic)
      return removed
    },
    list(topic) {
      return [...(sets.get(topic)?.values() ?? [])]
    },
  }
}
