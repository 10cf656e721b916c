// A direct `socket.send()` to a client that stopped reading gets the same slow-consumer policy as a
// broadcast (issue #20): 4001, then the socket is destroyed after the grace period, instead of a
// close frame that waits behind the unread data until `ws` gives up 30 s later.
import { afterAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createRealtime, serve } from '@loewen-digital/realtime-node'
import { eventually } from '../../../test/helpers/clients.js'

const closes: number[] = []
const realtime = createRealtime({ maxBufferedBytes: 64 * 1024, heartbeat: 0, rateLimit: false })
const chunk = 'x'.repeat(16 * 1024)
const server = await serve({
  fetch: (request) =>
    realtime.upgrade(request, {
      onMessage: (socket, message) => {
        if (message !== 'flood') return
        // Far more than the kernel's socket buffers take on loopback, so our own bound is reached.
        for (let index = 0; index < 2000 && socket.open; index++) socket.send(chunk)
      },
      onClose: (_socket, code) => void closes.push(code),
    }),
  port: 0,
})
afterAll(async () => {
  await realtime.close({ drainTimeout: 100 })
  await server.close()
})

it('cuts a client that does not read direct sends with 4001 and releases it within the grace period', async () => {
  const client = new WebSocket(server.url.replace('http', 'ws'))
  client.on('error', () => {})
  await new Promise<void>((resolve) => client.once('open', () => resolve()))
  ;(client as unknown as { _socket: { pause(): void } })._socket.pause()
  client.send('flood')
  await eventually(() => closes.length === 1, 5000, 'onClose')
  expect(closes).toEqual([4001])
  await eventually(() => realtime.stats().connections === 0, 5000, 'the connection released')
  client.terminate()
})
