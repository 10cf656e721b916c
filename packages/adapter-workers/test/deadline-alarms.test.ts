// The deadline alarm against a Durable Object storage that behaves as workerd's did in the
// conformance runs: it keeps an alarm's time in whole milliseconds (the fraction cut off), and an
// alarm set from within `alarm()` for the millisecond that is firing does not fire again. The
// workerd tests (hibernation.test.ts, the conformance token tests) run the real alarm; a deadline
// with a fraction of a millisecond comes there only by chance (a refresh asked halfway to an
// expiry an odd number of milliseconds away), so this test makes one.
import { describe, expect, it } from 'vitest'
import type { Connection } from '@loewen-digital/realtime-core'
import { DeadlineAlarms } from '../src/deadline-alarms.js'
import type { DurableObjectStateLike } from '../src/_runtime.js'

/** A storage with one alarm, kept in whole milliseconds; `fire()` runs it as the runtime does. */
function alarmStorage() {
  let alarm: number | null = null
  /** The millisecond firing now: an alarm set for it from the handler is dropped with it. */
  let firing: number | undefined
  const state = {
    waitUntil: () => {},
    storage: {
      setAlarm: async (time: number) => {
        const whole = Math.trunc(time)
        alarm = whole === firing ? null : whole
      },
      getAlarm: async () => alarm,
      deleteAlarm: async () => {
        alarm = null
      },
    },
  } as unknown as DurableObjectStateLike
  return {
    state,
    alarm: () => alarm,
    /** Fires the alarm at its time: the handler sees that time as `Date.now()`. */
    fire(handler: (now: number) => void) {
      const at = alarm!
      alarm = null
      firing = at
      handler(at)
      firing = undefined
    },
  }
}

const connection = {} as Connection<any>

describe('workers: deadline alarms', () => {
  it('runs a deadline with a fraction of a millisecond when its alarm fires', async () => {
    const storage = alarmStorage()
    const alarms = new DeadlineAlarms(storage.state, () => {})
    const due: number[] = []
    const at = Date.now() + 600.5
    alarms.schedule(connection, at + 600, at, () => due.push(at))
    await Promise.resolve()
    expect(storage.alarm()).toBe(Math.ceil(at))
    storage.fire((now) => alarms.run(now))
    expect(due).toEqual([at])
    expect(storage.alarm(), 'nothing left to wake the object for').toBeNull()
  })

  it('sets the alarm for the next deadline after the first ran, in whole milliseconds', async () => {
    const storage = alarmStorage()
    const alarms = new DeadlineAlarms(storage.state, () => {})
    const due: string[] = []
    const first = Date.now() + 100.25
    const second = first + 50.5
    alarms.schedule(connection, second, second, () => due.push('second'))
    alarms.schedule(connection, first, first, () => due.push('first'))
    await Promise.resolve()
    expect(storage.alarm()).toBe(Math.ceil(first))
    storage.fire((now) => alarms.run(now))
    expect(due).toEqual(['first'])
    expect(storage.alarm()).toBe(Math.ceil(second))
    storage.fire((now) => alarms.run(now))
    expect(due).toEqual(['first', 'second'])
  })
})
