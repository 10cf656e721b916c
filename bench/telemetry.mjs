// What OpenTelemetry recording costs the fan-out (issue #22): server CPU per delivery of the
// core's broadcast to N web-standard SSE connections, with `telemetry` off and with a meter from
// the real SDK (`@opentelemetry/sdk-metrics`, an in-memory reader), in one process, alternating.
// Usage: node bench/telemetry.mjs [--n 1000] [--messages 300] [--rounds 7]
import { parseArgs } from 'node:util'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { createRealtime } from '@loewen-digital/realtime-node'

const { values } = parseArgs({ options: { n: { type: 'string', default: '1000' }, messages: { type: 'string', default: '300' }, rounds: { type: 'string', default: '7' } } })
const N = Number(values.n)
const M = Number(values.messages)
const ROUNDS = Number(values.rounds)

class MemoryReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}
const provider = new MeterProvider({ readers: [new MemoryReader()] })

/** Median server CPU (ns) per delivery over `ROUNDS` rounds. */
async function measure(telemetry) {
  const results = []
  for (let round = 0; round < ROUNDS; round++) {
    const realtime = createRealtime({ heartbeat: 0, maxBufferedBytes: 1e9, onError: () => {}, telemetry })
    const streams = []
    for (let index = 0; index < N; index++) streams.push(realtime.sse(new Request('http://bench.local/events')).stream)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const data = { t: 0, payload: 'x'.repeat(80) }
    for (let index = 0; index < M / 10; index++) await realtime.broadcast({ event: 'm', data }) // warm-up
    const start = process.cpuUsage()
    for (let index = 0; index < M; index++) await realtime.broadcast({ event: 'm', data })
    const used = process.cpuUsage(start)
    results.push(((used.user + used.system) / (N * M)) * 1000)
    for (const stream of streams) stream.close()
    await realtime.close({ drainTimeout: 0 })
  }
  results.sort((a, b) => a - b)
  return results[Math.floor(results.length / 2)]
}

const rows = []
for (let pass = 0; pass < 2; pass++) {
  rows.push({ telemetry: 'off', ns: await measure(undefined) })
  rows.push({ telemetry: 'on (sdk-metrics)', ns: await measure({ meter: provider.getMeter('bench') }) })
}
console.log(`| telemetry | ns per delivery (median of ${ROUNDS}; N = ${N}, ${M} broadcasts) |\n|---|---|`)
for (const row of rows) console.log(`| ${row.telemetry} | ${row.ns.toFixed(0)} |`)
