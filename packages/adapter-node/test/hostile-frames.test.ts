// Frames `ws` refuses on its own (too long, invalid UTF-8, a protocol violation): `ws` closes the
// socket with the matching code, and `onClose`/`onError` must say that code and error, not 1006
// and a generic transport error (issue #24). Sent over a raw TCP socket, as a hostile client would.
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { afterAll, expect, it } from 'vitest'
import { createRealtime, serve } from '@loewen-digital/realtime-node'
import { eventually } from '../../../test/helpers/clients.js'

const closes: number[] = []
const errors: string[] = []
const realtime = createRealtime({ heartbeat: 0, maxMessageBytes: 1024, onError: (error) => errors.push(error.code) })
const server = await serve({
  fetch: (request) => realtime.upgrade(request, { onClose: (_socket, code) => void closes.push(code) }),
  port: 0,
})
afterAll(async () => {
  await realtime.close({ drainTimeout: 100 })
  await server.close()
})

/** Completes a WebSocket handshake on a raw socket. */
async function handshake(): Promise<Socket> {
  const { port } = new URL(server.url)
  const socket = connect(Number(port), '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const key = randomBytes(16).toString('base64')
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  await new Promise<void>((resolve, reject) => {
    let head = ''
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      if (head.startsWith('HTTP/1.1 101')) resolve()
      else reject(new Error(`handshake refused: ${head.split('\r\n')[0]}`))
    }
    socket.on('data', onData)
  })
  await eventually(() => realtime.stats().connections === 1, 3000, 'the connection registered')
  return socket
}

/** A masked frame with the given first byte and payload (mask of zeros: the payload stays as is). */
function frame(first: number, payload: Buffer): Buffer {
  const length = payload.length
  const header = length < 126 ? Buffer.from([first, 0x80 | length]) : Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff])
  return Buffer.concat([header, Buffer.alloc(4), payload])
}

const cases: Array<{ name: string; bytes: () => Buffer; code: number; error: string }> = [
  {
    name: 'a frame announcing 2^63 - 1 bytes',
    bytes: () => Buffer.concat([Buffer.from([0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(4)]),
    code: 1009,
    error: 'REALTIME_MESSAGE_TOO_BIG',
  },
  { name: 'a text frame over maxMessageBytes', bytes: () => frame(0x81, Buffer.alloc(2048, 0x61)), code: 1009, error: 'REALTIME_MESSAGE_TOO_BIG' },
  { name: 'a text frame of invalid UTF-8', bytes: () => frame(0x81, Buffer.from([0x61, 0xff, 0xfe])), code: 1007, error: 'REALTIME_TRANSPORT_ERROR' },
  { name: 'a frame with an unknown opcode', bytes: () => frame(0x83, Buffer.from('x')), code: 1002, error: 'REALTIME_TRANSPORT_ERROR' },
]

for (const { name, bytes, code, error } of cases) {
  it(`reports ${code} to onClose and ${error} to onError for ${name}, and releases the connection`, async () => {
    closes.length = 0
    errors.length = 0
    const socket = await handshake()
    socket.write(bytes())
    await eventually(() => closes.length === 1, 5000, 'onClose')
    expect(closes).toEqual([code])
    expect(errors).toEqual([error])
    expect(realtime.stats().connections).toBe(0)
    socket.destroy()
  })
}
