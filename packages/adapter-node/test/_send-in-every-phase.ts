import type { Connection } from '@loewen-digital/realtime-node'

/**
 * Sends a `step` event named after each phase of the event loop it is sent from (now, a microtask,
 * the next tick, setImmediate, a 20 ms timer), recording each name in `sent` in the order sent.
 */
export function sendInEveryPhase(stream: Connection, sent: string[]): void {
  const step = (name: string) => {
    sent.push(name)
    stream.send({ event: 'step', data: name })
  }
  step('sync')
  queueMicrotask(() => step('microtask'))
  process.nextTick(() => step('next tick'))
  setImmediate(() => step('immediate'))
  setTimeout(() => step('timeout'), 20)
}
