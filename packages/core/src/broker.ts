import type { Cursor } from './cursor.js'

/**
 * A message as it travels between processes. `topic` is the hub's topic (`broadcast`, `user:<id>`,
 * `channel:<name>` or `presence:<name>`) followed by `@<instance name>` (`channel:orders@chat`):
 * every topic a broker sees carries the name of the instance it belongs to (see {@link Broker}).
 * `except` is a connection id that must not receive it. A broker with history sets `epoch` and
 * `offset` when it publishes.
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
  /**
   * When the entry was added: milliseconds since the epoch by the adding process's clock, made
   * unique within that process. It orders one user's connections, so that of two joining at once
   * exactly one announces the user's `join`. A store keeps it with the entry (as it keeps `data`).
   */
  joinedAt?: number
}

/** Entries a broker removed from a presence set because their process died (see {@link PresenceStore.onExpired}). */
export interface ExpiredPresence {
  /** The presence set's topic (`channel:<name>@<instance>` or `user:<id>@<instance>`, as it was added). */
  topic: string
  /** The removed entries. */
  entries: PresenceEntry[]
}

/** Entries a process wrote to a presence set again after it had been taken for dead (see {@link PresenceStore.onRestored}). */
export interface RestoredPresence {
  /** The presence set's topic (`channel:<name>@<instance>` or `user:<id>@<instance>`, as it was added). */
  topic: string
  /** The entries written again. */
  entries: PresenceEntry[]
}

/**
 * Cluster-wide presence sets, keyed by topic (`channel:<name>@<instance>` for channel members,
 * `user:<id>@<instance>` for a user's connections, used by per-user connection caps: one set per
 * instance name, like every topic, see {@link Broker}). A broker that spans processes
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
   * hub announces each such member's `leave` once (the core gives each instance the topics of its
   * own name). Returns a function that unregisters the listener. Optional: a store of one process
   * has nothing to expire.
   */
  onExpired?(listener: (expired: ExpiredPresence) => void): () => void
  /**
   * Registers a listener for entries this process wrote again after the store had taken it for
   * dead (it was frozen or cut off longer than its liveness, and another process removed its
   * entries and announced their leaves; or the backend lost them). Called in that process only, so
   * the hub announces each member that is back with a `join`. Returns a function that unregisters
   * the listener. Optional, like {@link PresenceStore.onExpired}.
   */
  onRestored?(listener: (restored: RestoredPresence) => void): () => void
}

/** Answer of {@link Broker.history}. */
export type HistoryResult = { ok: true; messages: BrokerMessage[] } | { ok: false; reason: 'epoch' | 'window' | 'disabled' | 'invalid'; position?: Cursor }

/**
 * Carries published messages to every process that has matching connections, and keeps the
 * history that resume reads. The in-memory broker ({@link memoryBroker}) works within one
 * process; `@loewen-digital/realtime-redis` across processes and machines.
 *
 * Instance names: a broker given to `createRealtime` may be shared by several instances, and
 * several processes share one backend. Every topic a broker is handed (publish, addTopic,
 * removeTopic, position, history, presence) ends with `@<name>`, the instance's `name` option, so
 * a broker needs no notion of instances: streams, history and presence sets of different names are
 * simply different topics, and the instances of one name in every process are one application.
 * The core subscribes once per broker object and routes what it receives by that name; it adds
 * each instance's `broadcast@<name>` topic while the instance is open (a broker follows only the
 * topics it was given), and closes the broker when the last instance using it closes.
 */
export interface Broker {
  /** True when the broker keeps history (messages get cursors and can be replayed). */
  readonly keepsHistory?: boolean
  /** Publishes a message (assigning `epoch`/`offset` when it keeps history); resolves once accepted. */
  publish(message: BrokerMessage): void | Promise<void>
  /**
   * Registers the one listener of this broker object: called once, by the first instance that uses
   * it; the core hands each message to the instance named in its topic.
   */
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
  /**
   * Names the backend namespace this broker's topics live in (the Redis broker: host, port, db and
   * prefix), when two broker objects can share one. Within one process, two instances on broker
   * objects of the same namespace may share a name only when both were given it explicitly (one
   * application, as across processes); a default name taken twice fails with
   * `REALTIME_NAME_IN_USE`. Default: none (each broker object is its own namespace).
   */
  readonly namespace?: string
  /** Releases the broker's resources (the core calls it when the last instance using it closes). */
  close(): void | Promise<void>
}
