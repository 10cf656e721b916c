// The benchmark message: `data` is a JSON object of exactly 100 bytes whose first field `t` is the
// publish time in microseconds of the system's monotonic clock (the same clock in every process on
// the machine), so the load generator measures publish-to-receipt latency.

const PAD = 'x'.repeat(100)
export const DATA_BYTES = 100

/** Microseconds of the monotonic clock (CLOCK_MONOTONIC, shared by all processes). */
export function nowMicros() {
  return Number(process.hrtime.bigint() / 1000n)
}

/** `{ t, s, p }` whose JSON is exactly 100 bytes. */
export function makeData(seq) {
  const t = nowMicros()
  // {"t":<t>,"s":<seq>,"p":"<pad>"} = 18 bytes of syntax plus the digits
  const used = 18 + String(t).length + String(seq).length
  return { t, s: seq, p: PAD.slice(0, DATA_BYTES - used) }
}
