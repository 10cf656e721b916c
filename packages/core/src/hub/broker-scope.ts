// Instance names on a broker: every topic an instance hands its broker carries the instance's name,
// so instances that share a broker object, a backend namespace or a process stay apart, and the
// instances of one name in several processes are one application.
import type { Broker, BrokerListener, BrokerMessage, ExpiredPresence, HistoryResult, PresenceStore } from '../broker.js'
import type { Cursor } from '../cursor.js'
import { RealtimeError } from '../errors.js'
import { isThenable } from './reporting.js'
import { BROADCAST_TOPIC, namedTopic, nameStart } from './topics.js'

/** The instances on one broker object: one subscription, each message routed by the name it carries. */
interface Shared {
  /** Names taken on the object, each with its instance's listener once that subscribed. */
  readonly routes: Map<string, BrokerListener | undefined>
  /** What the broker's own `subscribe` returned; unset until the first instance subscribed. */
  subscribed?: { result: void | Promise<void> }
}

/** A name taken on a backend namespace in this process; `defaulted` when an instance took it without asking. */
interface Held {
  count: number
  defaulted: boolean
}

const brokers = new WeakMap<Broker, Shared>()
/** Names in use on each backend namespace (`Broker.namespace`) in this process, keyed `<namespace>\n<name>`. */
const namespaces = new Map<string, Held>()

/**
 * The view of `broker` that the instance named `name` uses: it adds the name to every topic it
 * passes on (publish, interest, position, history, presence) and takes it off what comes back, so
 * the hub only ever sees its own topics. Throws `REALTIME_NAME_IN_USE` when another open instance
 * has the name on this broker object, or (when either took it by default, `defaulted`) on another
 * broker object of the same namespace in this process. Closing the view frees the name; the broker
 * itself is closed with the last view on it.
 */
export function scopeBroker(broker: Broker, name: string, defaulted: boolean): Broker {
  const shared = brokers.get(broker) ?? { routes: new Map<string, BrokerListener | undefined>() }
  if (shared.routes.has(name)) throw inUse(name, 'this broker', defaulted)
  const key = broker.namespace === undefined ? undefined : `${broker.namespace}\n${name}`
  const held = key === undefined ? undefined : namespaces.get(key)
  if (held && (held.defaulted || defaulted)) throw inUse(name, `a broker of the same namespace (${broker.namespace}) in this process`, defaulted)
  brokers.set(broker, shared)
  shared.routes.set(name, undefined)
  if (key !== undefined) {
    if (held) held.count++
    else namespaces.set(key, { count: 1, defaulted })
  }

  const named = (topic: string) => namedTopic(topic, name)
  const broadcast = named(BROADCAST_TOPIC)
  let open = true
  const release = () => {
    open = false
    shared.routes.delete(name)
    if (shared.routes.size === 0) brokers.delete(broker)
    const entry = key === undefined ? undefined : namespaces.get(key)
    if (entry && --entry.count === 0) namespaces.delete(key!)
  }

  const view: Broker = {
    get keepsHistory() {
      return broker.keepsHistory
    },
    get connected() {
      return broker.connected
    },
    get outages() {
      return broker.outages
    },
    presence: broker.presence && namedPresence(broker.presence, name, named),
    publish: (message) => broker.publish(withTopic(message, named(message.topic))),
    subscribe(listener) {
      try {
        shared.routes.set(name, listener)
        shared.subscribed ??= { result: broker.subscribe(router(shared)) }
        // The broadcast is every connection's: followed for as long as the instance is open.
        broker.addTopic?.(broadcast)
        return shared.subscribed.result
      } catch (error) {
        release()
        throw error
      }
    },
    async close() {
      if (!open) return
      release()
      try {
        broker.removeTopic?.(broadcast)
      } catch {
        // A failing broker must not keep the instance from closing; its faults reach onError elsewhere.
      }
      if (!brokers.has(broker)) await broker.close()
    },
  }
  if (broker.addTopic) view.addTopic = (topic) => broker.addTopic!(named(topic))
  if (broker.removeTopic) view.removeTopic = (topic) => broker.removeTopic!(named(topic))
  if (broker.position) view.position = (topic) => broker.position!(named(topic)) as Cursor | undefined | Promise<Cursor | undefined>
  if (broker.history) {
    view.history = (topic, since) => {
      const result = broker.history!(named(topic), since)
      // Synchronous stays synchronous: the in-memory broker's answers need no waiting.
      return isThenable(result) ? Promise.resolve(result).then((answer) => unnamedResult(answer, topic)) : unnamedResult(result, topic)
    }
  }
  return view
}

/** Hands each message to the instance whose name its topic carries, without the name; drops the rest. */
function router(shared: Shared): BrokerListener {
  return (message) => {
    const topic = message.topic
    const start = nameStart(topic)
    if (start === 0) return
    const listener = shared.routes.get(topic.slice(start))
    if (listener) listener(withTopic(message, topic.slice(0, start - 1)))
  }
}

/**
 * A copy of `message` under `topic`, with every field (the encoded form the hub keeps on it too).
 * `Object.assign`, not a spread: a broker adds `epoch` and `offset` to the copy, and a spread's
 * object takes new properties about ten times slower (measured on Node 20: 4 µs a publish).
 */
function withTopic(message: BrokerMessage, topic: string): BrokerMessage {
  const copy = Object.assign({}, message)
  copy.topic = topic
  return copy
}

function unnamedResult(result: HistoryResult, topic: string): HistoryResult {
  return result.ok ? { ok: true, messages: result.messages.map((message) => withTopic(message, topic)) } : result
}

/** The presence store under the instance's topics; expired entries of other names are not its business. */
function namedPresence(store: PresenceStore, name: string, named: (topic: string) => string): PresenceStore {
  const view: PresenceStore = {
    add: (topic, entry) => store.add(named(topic), entry),
    remove: (topic, connectionId) => store.remove(named(topic), connectionId),
    list: (topic) => store.list(named(topic)),
  }
  if (store.onExpired) view.onExpired = (listener) => store.onExpired!(ownTopics(name, listener))
  if (store.onRestored) view.onRestored = (listener) => store.onRestored!(ownTopics(name, listener))
  return view
}

/** A listener of presence entries that sees those of the instance's own topics only, unnamed. */
function ownTopics(name: string, listener: (entries: ExpiredPresence) => void): (entries: ExpiredPresence) => void {
  return (named) => {
    const start = nameStart(named.topic)
    if (start > 0 && named.topic.slice(start) === name) listener({ topic: named.topic.slice(0, start - 1), entries: named.entries })
  }
}

function inUse(name: string, where: string, defaulted: boolean): RealtimeError {
  const why = defaulted ? ` ('${name}' is the default name: the driver)` : ''
  return new RealtimeError(
    'REALTIME_NAME_IN_USE',
    `createRealtime: an open instance named '${name}' already uses ${where}${why}: give each instance its own name, createRealtime({ name: 'chat', ... }), or close the other first`,
  )
}
