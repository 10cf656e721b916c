// Resume history kept in the Durable Object's SQLite storage, so it survives hibernation and
// eviction: the broker of the hub inside the realtime object.
import {
  limits,
  type Broker,
  type BrokerListener,
  type BrokerMessage,
  type Cursor,
  type HistoryOptions,
  type HistoryResult,
} from '@loewen-digital/realtime-core'
import type { DurableObjectStateLike, SqlStorageLike } from './_runtime.js'
import { HISTORY_SWEEP_INTERVAL_MS, STREAM_HEAD_TOUCH_WRITE_MS, STREAM_HEAD_TTL_MS } from './constants.js'

const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS realtime_streams (topic TEXT PRIMARY KEY, epoch TEXT NOT NULL, position INTEGER NOT NULL, touched INTEGER NOT NULL)',
  'CREATE TABLE IF NOT EXISTS realtime_history (topic TEXT NOT NULL, position INTEGER NOT NULL, at INTEGER NOT NULL, event TEXT NOT NULL, data TEXT, except_id TEXT, PRIMARY KEY (topic, position))',
  'CREATE INDEX IF NOT EXISTS realtime_history_at ON realtime_history (at)',
  'CREATE INDEX IF NOT EXISTS realtime_streams_touched ON realtime_streams (touched)',
]

interface StreamHead {
  epoch: string
  offset: number
  /** Local connections interested in the stream (addTopic minus removeTopic); not stored. */
  interest: number
  /** Last publish, join, departure or resume: the head outlives it by a day ({@link STREAM_HEAD_TTL_MS}). */
  touched: number
  /** `touched` as last written to storage (a publish stores it with its message). */
  stored: number
  /** Offset up to which messages beyond `size` were deleted. */
  pruned: number
}

/** The SQLite-backed broker, which can also count what it stores. */
export interface DurableHistoryBroker extends Broker {
  /** Stream heads and messages in storage now (`stats().storedHistory`). */
  stored(): StoredHistory
}

/** What the realtime object keeps in its storage for resume. */
export interface StoredHistory {
  /** Streams with a stored epoch and offset. */
  streams: number
  /** Messages kept for replay (at most `history.size` per stream, none older than `history.ttl`). */
  messages: number
}

type HistoryRow = { position: number; event: string; data: string | null; except_id: string | null } & Record<string, string | number | null>
type HeadRow = { epoch: string; position: number; touched: number } & Record<string, string | number | null>
type LastRow = { position: number | null; at: number | null } & Record<string, string | number | null>

/**
 * The broker of the realtime object when its storage is SQLite-backed: delivers synchronously
 * inside the object, as the in-memory broker does, and keeps each stream's epoch, offset and last
 * `size` messages (for `ttl` ms) in the object's SQLite storage. A client that reconnects after
 * the object hibernated or was evicted resumes from its cursor; the epoch changes only when the
 * storage lost the stream (deleted, or forgotten after a day without publish, join or resume:
 * {@link STREAM_HEAD_TTL_MS}). Publishes that arrive together are stored in one task (one commit)
 * and delivered after their rows are written: the runtime's output gate holds the deliveries until
 * the commit is confirmed.
 *
 * @param sql - `ctx.storage.sql` of a SQLite-backed Durable Object
 * @param options - the history window (default `{ size: 100, ttl: 300000 }`, as in memory)
 */
export function durableHistoryBroker(sql: SqlStorageLike, options: HistoryOptions = {}): DurableHistoryBroker {
  const size = options.size ?? limits.DEFAULT_HISTORY_SIZE
  const ttl = options.ttl ?? limits.DEFAULT_HISTORY_TTL_MS
  // Messages beyond `size` are deleted in batches of a quarter window: at most 1.25 × size stored.
  const pruneEvery = Math.max(1, Math.floor(size / 4))
  const keep = Math.max(1, size) // the newest message always stays: it carries the stream's offset
  for (const statement of SCHEMA) sql.exec(statement)
  let listener: BrokerListener | undefined
  const heads = new Map<string, StreamHead>()
  let lastSweep = 0

  const newEpoch = () => crypto.randomUUID().replace(/-/g, '').slice(0, 12)
  /** The stream's head, from memory or storage; undefined when the storage has none. */
  const find = (topic: string): StreamHead | undefined => {
    let head = heads.get(topic)
    if (head) return head
    const row = first<HeadRow>(sql.exec('SELECT epoch, position, touched FROM realtime_streams WHERE topic = ?', topic))
    if (!row) return undefined
    // A publish writes only its message: the newest one holds the stream's offset and last use.
    const last = first<LastRow>(sql.exec('SELECT MAX(position) AS position, MAX(at) AS at FROM realtime_history WHERE topic = ?', topic))
    const touched = Math.max(row.touched, last?.at ?? 0)
    head = { epoch: row.epoch, offset: Math.max(row.position, last?.position ?? 0), interest: 0, touched, stored: touched, pruned: 0 }
    heads.set(topic, head)
    return head
  }
  const log = (topic: string): StreamHead => {
    let head = find(topic)
    if (!head) {
      const now = Date.now()
      head = { epoch: newEpoch(), offset: 0, interest: 0, touched: now, stored: now, pruned: 0 }
      heads.set(topic, head)
      sql.exec('INSERT OR REPLACE INTO realtime_streams (topic, epoch, position, touched) VALUES (?, ?, ?, ?)', topic, head.epoch, 0, head.touched)
    }
    return head
  }
  /** The stream was used now; storage learns it at most once a minute (a join need not write). */
  const touch = (topic: string, head: StreamHead, now: number) => {
    head.touched = now
    if (now - head.stored < STREAM_HEAD_TOUCH_WRITE_MS) return
    head.stored = now
    sql.exec('UPDATE realtime_streams SET touched = ? WHERE topic = ?', now, topic)
  }
  /** Deletes expired messages, then the heads of streams with no message, no interest and no use for a day. */
  const sweep = (now: number) => {
    if (now - lastSweep < HISTORY_SWEEP_INTERVAL_MS) return
    lastSweep = now
    // Heads take over the offset and last use of the messages about to expire, then those go.
    sql.exec(
      `UPDATE realtime_streams SET
         position = MAX(position, (SELECT MAX(h.position) FROM realtime_history h WHERE h.topic = realtime_streams.topic)),
         touched = MAX(touched, (SELECT MAX(h.at) FROM realtime_history h WHERE h.topic = realtime_streams.topic))
       WHERE topic IN (SELECT topic FROM realtime_history WHERE at < ?)`,
      now - ttl,
    )
    sql.exec('DELETE FROM realtime_history WHERE at < ?', now - ttl)
    const unused = now - STREAM_HEAD_TTL_MS
    const idle = sql
      .exec<{ topic: string }>(
        'SELECT topic FROM realtime_streams s WHERE touched < ? AND NOT EXISTS (SELECT 1 FROM realtime_history h WHERE h.topic = s.topic)',
        unused,
      )
      .toArray()
    for (const { topic } of idle) {
      const head = heads.get(topic)
      if (head && (head.interest > 0 || head.touched >= unused)) continue
      heads.delete(topic)
      sql.exec('DELETE FROM realtime_streams WHERE topic = ?', topic)
    }
    // Memory holds the heads of streams in use; the others are read from storage again when needed.
    for (const [topic, head] of heads) if (head.interest <= 0 && head.touched < now - ttl) heads.delete(topic)
  }

  /** Numbers and stores one message (one row; a quarter-window batch of old ones deleted now and then). */
  const store = (message: BrokerMessage, now: number) => {
    const head = log(message.topic)
    message.epoch = head.epoch
    message.offset = ++head.offset
    head.touched = head.stored = now
    // One row per publish: the message, which also records the stream's offset and last use.
    sql.exec(
      'INSERT OR REPLACE INTO realtime_history (topic, position, at, event, data, except_id) VALUES (?, ?, ?, ?, ?, ?)',
      message.topic,
      head.offset,
      now,
      message.event,
      message.data === undefined ? null : JSON.stringify(message.data),
      message.except ?? null,
    )
    if (head.offset > keep && head.offset - head.pruned >= pruneEvery) {
      head.pruned = head.offset
      sql.exec('DELETE FROM realtime_history WHERE topic = ? AND position <= ?', message.topic, head.offset - keep)
    }
  }

  // Group commit: publishes that arrive while a batch waits for its turn join it; the batch is
  // stored in one task (one commit) and only then delivered, so the output gate holds every
  // delivery until its message is in storage.
  let pending: BrokerMessage[] = []
  let batch: Promise<void> | undefined
  const flush = () => {
    const messages = pending
    pending = []
    batch = undefined
    const now = Date.now()
    sweep(now)
    for (const message of messages) if (!message.ephemeral) store(message, now)
    for (const message of messages) listener?.(message)
  }

  return {
    keepsHistory: true,
    publish(message) {
      pending.push(message)
      batch ??= new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          try {
            flush()
            resolve()
          } catch (error) {
            reject(error)
          }
        }, 0)
      })
      return batch
    },
    subscribe(next) {
      listener = next
    },
    addTopic(topic) {
      const now = Date.now()
      sweep(now)
      const head = log(topic)
      head.interest++
      touch(topic, head, now)
    },
    removeTopic(topic) {
      const head = heads.get(topic)
      if (!head) return
      const now = Date.now()
      head.interest--
      touch(topic, head, now)
      // Joins and leaves sweep too: churn without publishes must not pile up stream heads.
      sweep(now)
    },
    position(topic): Cursor {
      const head = log(topic)
      return { epoch: head.epoch, offset: head.offset }
    },
    history(topic, since): HistoryResult {
      const now = Date.now()
      sweep(now)
      const head = find(topic)
      if (!head || head.epoch !== since.epoch) return { ok: false, reason: 'epoch', position: head && { epoch: head.epoch, offset: head.offset } }
      touch(topic, head, now)
      const position = { epoch: head.epoch, offset: head.offset }
      if (since.offset > head.offset) return { ok: false, reason: 'epoch', position }
      const missed = head.offset - since.offset
      if (missed === 0) return { ok: true, messages: [] }
      if (missed > size) return { ok: false, reason: 'window', position }
      const rows = sql
        .exec<HistoryRow>(
          'SELECT position, event, data, except_id FROM realtime_history WHERE topic = ? AND position > ? AND at >= ? ORDER BY position',
          topic,
          since.offset,
          now - ttl,
        )
        .toArray()
      if (rows.length < missed || rows[0]!.position !== since.offset + 1) return { ok: false, reason: 'window', position }
      return { ok: true, messages: rows.map((row) => messageOf(topic, head.epoch, row)) }
    },
    stored() {
      const count = (table: string) => Number(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).toArray()[0]?.n ?? 0)
      return { streams: count('realtime_streams'), messages: count('realtime_history') }
    },
    close() {
      // The history stays in storage: the object's next hub continues the same streams.
      if (pending.length > 0) flush()
      listener = undefined
      heads.clear()
    },
  }
}

function messageOf(topic: string, epoch: string, row: HistoryRow): BrokerMessage {
  const message: BrokerMessage = { topic, event: row.event, data: row.data === null ? undefined : JSON.parse(row.data), epoch, offset: row.position }
  if (row.except_id !== null) message.except = row.except_id
  return message
}

function first<T extends Record<string, string | number | null>>(cursor: { toArray(): T[] }): T | undefined {
  return cursor.toArray()[0]
}

let warned = false

/**
 * The broker for the hub of a realtime object: the SQLite-backed history when the object's
 * storage has the SQL API, else undefined (the core's in-memory broker, whose history is lost
 * when the object hibernates; a warning says so once per isolate). `false`: no history at all.
 */
export function historyBrokerFor(storage: DurableObjectStateLike['storage'], history: HistoryOptions | false | undefined): DurableHistoryBroker | undefined {
  if (history === false) return undefined
  let reason = 'its storage has no SQL API'
  try {
    const sql = storage.sql
    // Key-value-backed storage: `sql` is missing, or its first statement throws ("SQL is not enabled").
    if (sql && typeof sql.exec === 'function') return durableHistoryBroker(sql, history)
  } catch (error) {
    reason = (error as Error)?.message ?? String(error)
  }
  if (!warned) {
    warned = true
    console.warn(
      `[realtime] the realtime Durable Object cannot store history (${reason}): resume history stays in memory and is lost when the object hibernates (clients get realtime:gap). Declare the class in "new_sqlite_classes" of a wrangler migration (see docs/runtimes/workers.md).`,
    )
  }
  return undefined
}
