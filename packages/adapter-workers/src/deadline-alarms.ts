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
    if (this.armedAt === undefined || at < this.armedAt) this.setAlarm(at)
    return entry
  }

  /**
   * Implements {@link DeadlineScheduler.cancel}. When the alarm was set for this deadline, it moves
   * to the next one or is deleted: it would wake the object for nothing.
   */
  cancel(connection: Connection<any>, handle: unknown): void {
    const entry = handle as Entry
    this.entries.delete(entry)
    this.changed(connection, undefined)
    if (entry.at === this.armedAt) this.rearm()
  }

  /**
   * Runs every deadline due at `now` (the alarm fired, or the object woke up with deadlines
   * already past), then sets the alarm for the next one.
   */
  run(now = Date.now()): void {
    // The alarm fired, or the one set while connections were restored is replaced below.
    this.armedAt = undefined
    for (const entry of [...this.entries]) {
      if (entry.at > now || !this.entries.delete(entry)) continue
      entry.callback()
    }
    this.rearm()
  }

  /** Sets the alarm for the earliest deadline left, or deletes it when none is left. */
  private rearm(): void {
    let next: number | undefined
    for (const entry of this.entries) if (next === undefined || entry.at < next) next = entry.at
    if (next === undefined) {
      this.armedAt = undefined
      this.state.waitUntil(this.state.storage.deleteAlarm())
    } else if (next !== this.armedAt) this.setAlarm(next)
  }

  private setAlarm(at: number): void {
    this.armedAt = at
    // Rounded up to a whole millisecond: the runtime keeps an alarm's time in whole milliseconds,
    // cutting the fraction off, so an alarm for a deadline with one (a refresh asked halfway to an
    // expiry) fired when the deadline was not due yet; set again for that same millisecond from
    // within `alarm()`, it never fired again.
    this.state.waitUntil(this.state.storage.setAlarm(Math.ceil(at)))
  }
}
