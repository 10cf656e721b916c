// The control side of every benchmark server: one JSON command per line on stdin, one JSON reply
// per line on stdout. The protocol is described in bench/README.md; it is runtime-neutral (Node
// and Bun), so a server in another runtime can reuse this file or speak the same lines itself.
import { createInterface } from 'node:readline'
import { makeData, nowMicros } from './message.mjs'

const collect =
  typeof globalThis.gc === 'function'
    ? () => globalThis.gc()
    : typeof globalThis.Bun?.gc === 'function'
      ? () => globalThis.Bun.gc(true)
      : () => {
          throw new Error('no gc: run the server with --expose-gc')
        }

/**
 * Starts answering the orchestrator. `server` supplies:
 * - `port`: the loopback port clients connect to
 * - `kind`: how the load generator speaks to it (`ws`, `sse`, `socketio`), `path`: the URL path
 * - `count()`: connections the server has registered
 * - `publish(data)`: publishes one message `{ event: 'm', data }` to every client, idiomatically
 * - `commands` (optional): further commands, `name(args) => reply object` (may return a promise)
 *
 * @param {{ port: number, kind: string, path?: string, name: string, count(): number, publish(data: object): unknown, commands?: Record<string, (args: object) => unknown> }} server
 */
export function serveControl(server) {
  let mark = process.cpuUsage()
  const reply = (id, body) => process.stdout.write(JSON.stringify({ id, ...body }) + '\n')
  const commands = {
    async mem() {
      for (let round = 0; round < 3; round++) {
        collect()
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const usage = process.memoryUsage()
      return { rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external }
    },
    gc() {
      collect()
      return {}
    },
    count: () => ({ count: server.count() }),
    /** This process's `nowMicros()`: lets the orchestrator relate its clock to the load generator's. */
    clock: () => ({ now: nowMicros() }),
    mark() {
      mark = process.cpuUsage()
      return {}
    },
    cpu() {
      const delta = process.cpuUsage(mark)
      return { user: delta.user, system: delta.system }
    },
    /** M messages published at once, in one synchronous loop. */
    burst({ m }) {
      const t0 = nowMicros()
      for (let seq = 0; seq < m; seq++) server.publish(makeData(seq))
      return { t0, t1: nowMicros() }
    },
    /** `count` messages, one every `interval` ms. */
    paced({ count, interval }) {
      return new Promise((resolve) => {
        let seq = 0
        const timer = setInterval(() => {
          server.publish(makeData(seq++))
          if (seq === count) {
            clearInterval(timer)
            resolve({})
          }
        }, interval)
      })
    },
  }
  Object.assign(commands, server.commands)
  const lines = createInterface({ input: process.stdin })
  lines.on('line', async (line) => {
    const { id, cmd, ...args } = JSON.parse(line)
    try {
      reply(id, await commands[cmd](args))
    } catch (error) {
      reply(id, { error: String(error?.stack ?? error) })
    }
  })
  lines.on('close', () => process.exit(0))
  process.stdout.write(JSON.stringify({ ready: true, name: server.name, port: server.port, kind: server.kind, path: server.path ?? '/' }) + '\n')
}
