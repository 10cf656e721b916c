// Deadline alarms: the hub's connection deadlines (token expiries) as the Durable Object's one alarm.
import type { Connection, DeadlineScheduler } from '@loewen-digital/realtime-core'
import type { DurableObjectStateLike } from './_runtime.js'

/** A connection's deadline as its attachment keeps it: when its credential expires, when it is due. */
export type Deadline = readonly [expiresAt: number, at: number]

/** One scheduled deadline. */
interface Entry {
  at: number
  callback: () => void
}

/**
 * Connection deadlines (`identify`'s `expiresAt`: the request for a fresh token, then the close)
 * kept as one Durable Object alarm, set for the earliest of them, instead of a `setTimeout` each:
 * a pending timer keeps the object from hibernating, and it is lost when the runtime evicts the
 * object anyway; an alarm does neither. The deadlines themselves live in memory. After the object
 * left memory they are scheduled again from the sockets' attachments (`deadline`, kept through
 * `changed`) when it wakes, and the alarm is what wakes it.
 */
export class DeadlineAlarms implements DeadlineScheduler {
  private readonly entries = new Set<Entry>()
  /** The time of the alarm this object set and that has not fired yet. */
  private armedAt: number | undefined

  /**
   * @param state - the object's state (its storage holds the alarm)
   * @param changed - a connection's deadline: due at `deadline[1]`, its credential expiring at
   *   `deadline[0]` (undefined: it has none now)
   */
  constructor(
    private readonly state: DurableObjectStateLike,
    private readonly changed: (connection: Connection<any>, deadline: Deadline | undefined) => void,
  ) {}

  /** Implements {@link DeadlineScheduler.schedule}. */
  schedule(connection: Connection<any>, expiresAt: number, at: number, callback: () => void): unknown {
    const entry: Entry = { at, callback }
    this.entries.add(entry)
    this.changed(connection, [expiresAt, at])
    this.arm(at)
    return entry
  }

  /** Implements {@link DeadlineScheduler.cancel}. */
  cancel(connection: Connection<any>, handle: unknown): void {
    this.entries.delete(handle as Entry)
    this.changed(connection, undefined)
  }

  /**
   * Runs every deadline due at `now` (the alarm fired, or the object woke up with deadlines
   * already past), then sets the alarm for the next one.
   */
  run(now = Date.now()): void {
    this.armedAt = undefined
    for (const entry of [...this.entries]) {
      if (entry.at > now || !this.entries.delete(entry)) continue
      entry.callback()
    }
    let next: number | undefined
    for (const entry of this.entries) if (next === undefined || entry.at < next) next = entry.at
    if (next !== undefined) this.arm(next)
  }

  /** Sets the alarm for `at` unless one this object set fires earlier. */
  private arm(at: number): void {
    if (this.armedAt !== undefined && this.armedAt <= at) return
    this.armedAt = at
    this.state.waitUntil(this.state.storage.setAlarm(at))
  }
}
