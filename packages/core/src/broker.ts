import type { Cursor } from './cursor.js'

/**
 * A message as it travels between processes. `topic` is `broadcast`, `user:<id>` or
 * `channel:<name>`; `except` is a connection id that must not receive it. A broker with history
 * sets `epoch` and `offset` when it publishes.
 */
export interface BrokerMessage {
  topic: string
  event: string
  data: unknown
  except?: string
  epoch?: string
  offset?: number
  /**
   * Set on a gap notice instead of an application message: the stream's messages up to
   * `epoch:offset` could not be delivered (`window`: no longer in the history, `epoch`: the
   * history was lost, `outage`: published while the broker was unreachable). Connections of the
   * stream behind that position get `realtime:gap` and continue from it; the others ignore it. A
   * broker sends one when it cannot deliver a stream in order without holes (live, or in a replay).
   */
  gap?: 'window' | 'epoch' | 'outage'
  /** Not stored in history and carries no cursor (presence updates). */
  ephemeral?: boolean
}

/** Receives every message published through the broker, in every process. */
export type BrokerListener = (message: BrokerMessage) => void

/** One connection's entry in a presence set (a channel's members, or a user's connections). */
export interface PresenceEntry {
  /** The connection's id (unique across processes). */
  connectionId: string
  /** The connection's user, if identified. */
  userId?: string
  /** Metadata set at join (JSON-serializable). */
  data?: unknown
}

/** Entries a broker removed from a presence set because their process died (see {@link PresenceStore.onExpired}). */
export interface ExpiredPresence {
  /** The presence set's topic (`channel:<name>` or `user:<id>`). */
  topic: string
  /** The removed entries. */
  entries: PresenceEntry[]
}

/**
 * Cluster-wide presence sets, keyed by topic (`channel:<name>` for channel members, `user:<id>`
 * for a user's connections, used by per-user connection caps). A broker that spans processes
 * expires the entries of a process that stopped refreshing them.
 */
export interface PresenceStore {
  /** Adds (or replaces) an entry. */
  add(topic: string, entry: PresenceEntry): void | Promise<void>
  /** Removes an entry; resolves to whether it existed. */
  remove(topic: string, connectionId: string): boolean | Promise<boolean>
  /** Every live entry of the topic, in every process. */
  list(topic: string): PresenceEntry[] | Promise<PresenceEntry[]>
  /**
   * Registers a listener for entries the store removed because their process died without removing
   * them (a crash, `kill -9`, a process cut off longer than its liveness). A store that spans
   * processes calls the listeners of exactly one surviving process for each removed entry, so the
   * hub announces each such member's `leave` once. Returns a function that unregisters the listener.
   * Optional: a store of one process has nothing to expire.
   */
  onExpired?(listener: (expired: ExpiredPresence) => void): () => void
}

/** Answer of {@link Broker.history}. */
export type HistoryResult =
  | { ok: true; messages: BrokerMessage[] }
  | { ok: false; reason: 'epoch' | 'window' | 'disabled' | 'invalid'; position?: Cursor }

/**
 * Carries published messages to every process that has matching connections, and keeps the
 * history that resume reads. The in-memory broker ({@link memoryBroker}) works within one
 * process; `@loewen-digital/realtime-redis` across processes and machines.
 */
export interface Broker {
  /** True when the broker keeps history (messages get cursors and can be replayed). */
  readonly keepsHistory?: boolean
  /** Publishes a message (assigning `epoch`/`offset` when it keeps history); resolves once accepted. */
  publish(message: BrokerMessage): void | Promise<void>
  /** Registers the one listener of this process. Called once by `createRealtime`. */
  subscribe(listener: BrokerListener): void | Promise<void>
  /** This process now has a connection interested in `topic` (lets a broker filter). */
  addTopic?(topic: string): void
  /** This process no longer has a connection interested in `topic`. */
  removeTopic?(topic: string): void
  /** The current position of a stream: where a new subscriber starts. */
  position?(topic: string): Cursor | undefined | Promise<Cursor | undefined>
  /** Messages published to `topic` after `since`, oldest first, or why they cannot be had. */
  history?(topic: string, since: Cursor): HistoryResult | Promise<HistoryResult>
  /** Cluster-wide presence (channel members, per-user connection counts). */
  readonly presence?: PresenceStore
  /** Whether the broker reaches its backend now (default: always); `realtime.broker.up` reads it. */
  readonly connected?: boolean
  /** Outages of its backend the broker noticed since start (default 0); `realtime.broker.outages` reads it. */
  readonly outages?: number
  /** Releases the broker's resources. */
  close(): void | Promise<void>
}
