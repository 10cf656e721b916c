// Slow consumers: one client stops reading while 10,000 messages are broadcast to 200 clients.
// The slow one is closed (4001, resumable) once more than maxBufferedBytes wait for it; the
// server-side buffer never grows past that bound, and every other client receives everything, in
// order. Messages are large enough (about 600 bytes) that the kernel's socket buffers (a few MB on
// loopback) cannot absorb them all, so the library's own bound is what is exercised.
import { afterAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createRealtime, serve, type Connection } from '@loewen-digital/realtime-node'
import { eventually } from '../../../test/helpers/clients.js'

const maxBufferedBytes = 256 * 1024
const realtime = createRealtime({ maxBufferedBytes, heartbeat: 0, rateLimit: false })
const closes: Array<{ slow: boolean; code: number }> = []
let slowServerSide: Connection | undefined
const server = await serve({
  fetch: (request) =>
    realtime.upgrade(request, {
      onOpen: (socket) => {
        if (new URL(socket.request.url).searchParams.has('slow')) slowServerSide = socket
      },
      onClose: (socket, code) => void closes.push({ slow: socket === slowServerSide, code }),
    }),
  port: 0,
})
afterAll(async () => {
  await realtime.close({ drainTimeout: 100 })
  await server.close()
})

const open = (query: string, onMessage?: (raw: Buffer) => void) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/?${query}`)
    if (onMessage) socket.on('message', onMessage)
    socket.once('open', () => resolve(socket))
    socket.once('error', reject)
  })

it('closes the one slow consumer with 4001 and delivers everything to the 200 others', async () => {
  const clients = 200
  const messages = 10_000
  const next = new Array<number>(clients).fill(0)
  let outOfOrder = 0
  const sockets = await Promise.all(
    Array.from({ length: clients }, (_, index) =>
      open(`n=${index}`, (raw) => {
        const match = /"n":(\d+)/.exec(raw.toString('latin1'))
        if (!match) return // control frames: the shutdown notice at the end
        const n = Number(match[1])
        if (n !== next[index]) outOfOrder++
        next[index] = n + 1
      }),
    ),
  )
  const slow = await open('slow=1')
  ;(slow as unknown as { _socket: { pause(): void } })._socket.pause() // stops reading: kernel buffers fill, then ours
  await eventually(() => realtime.stats().connections === clients + 1 && slowServerSide !== undefined)

  let maxObserved = 0
  const payload = 'x'.repeat(600)
  for (let n = 0; n < messages; n++) {
    await realtime.broadcast({ event: 'tick', data: { n, payload } })
    if (n % 50 === 49) {
      if (slowServerSide!.open) maxObserved = Math.max(maxObserved, slowServerSide!.bufferedAmount)
      await new Promise((resolve) => setImmediate(resolve)) // let the healthy clients read
    }
  }
  await eventually(() => next.every((count) => count === messages), 60_000, 'every healthy client to have every message')
  expect(outOfOrder).toBe(0)
  // The paused client cannot notice anything itself; the server reports how it ended.
  await eventually(() => closes.some((close) => close.slow), 10_000, 'the slow consumer to be closed')
  expect(closes.filter((close) => close.slow).map((close) => close.code)).toEqual([4001])
  expect(closes.filter((close) => !close.slow)).toEqual([])
  expect(maxObserved, 'server-side buffer of the slow consumer').toBeLessThanOrEqual(maxBufferedBytes + 2048)
  slow.terminate()
  for (const socket of sockets) socket.close()
  await eventually(() => realtime.stats().connections === 0, 10_000, 'the registry to empty')
}, 180_000)
