// The load generator of the reconnect storm (storm.mjs): N raw TCP clients in one process, each
// remembering the position of the last message it received, as each library's client would, and
// reconnecting with it. Messages are few here (a handful per client), so each is parsed in full.
//
// Commands (one JSON per line on stdin; one JSON reply per line on stdout, same `id`):
//   connect   { kind, port, path, n, concurrency } -> { ms, ok, failed }   (fresh clients)
//   expect    { count, timeout } -> { done, clients, ms }: every client has `count` messages
//   closed    { timeout } -> { closed, clients }: every client saw its connection end
//   reconnect { port, concurrency, count, timeout } -> every client reconnects with its position
//             and must receive `count` messages: { clients, connected, caughtUp, failed,
//             connectedMs, caughtUpMs, received }
//   close     {} -> {}
// kinds: `ws` and `sse` (this library: cursor map as `?lastEventId=` / `Last-Event-ID`), `ws-naive`
// (the ws server: `?last=<id>`), `socketio` (Socket.IO: `40{"last":<id>}`).
import net from 'node:net'
import { createInterface } from 'node:readline'
import { readFrames, textFrame } from './lib/ws-frames.mjs'

const now = () => performance.now()
const WS_HEAD = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

const SOCKETIO_PONG = textFrame('3')

let clients = []
const run = { target: Infinity, done: 0, finish: undefined, connected: 0, connectedAt: 0, onConnected: undefined }

class Client {
  constructor(kind) {
    this.kind = kind
    this.socket = undefined
    this.last = undefined // the position of the last message received (what the client resumes from)
    this.count = 0
    this.open = false
    this.closed = false
    this.pending = null
    this.headersDone = false
    this.chunkLeft = 0
    this.crlfLeft = 0
    this.chunked = false
    this.text = ''
  }

  /** Opens the connection (resuming from `this.last` when known); resolves true once connected. */
  connect(port, path) {
    return new Promise((resolve) => {
      this.open = false
      this.closed = false
      this.pending = null
      this.headersDone = false
      this.chunkLeft = 0
      this.crlfLeft = 0
      this.text = ''
      this.ready = resolve
      const socket = (this.socket = net.connect({ port, host: '127.0.0.1', noDelay: true }))
      socket.on('data', (chunk) => this.data(chunk))
      socket.on('error', () => {})
      socket.on('close', () => {
        this.closed = true
        this.settle(false)
      })
      socket.on('connect', () => {
        const host = `Host: 127.0.0.1:${port}\r\n`
        const last = this.last
        if (this.kind === 'sse') socket.write(`GET ${path} HTTP/1.1\r\n${host}Accept: text/event-stream\r\n${last !== undefined ? `Last-Event-ID: ${last}\r\n` : ''}\r\n`)
        else {
          let target = path
          if (last !== undefined && this.kind === 'ws') target += `?lastEventId=${encodeURIComponent(last)}`
          if (last !== undefined && this.kind === 'ws-naive') target += `?last=${last}`
          socket.write(`GET ${target} HTTP/1.1\r\n${host}${WS_HEAD}\r\n`)
        }
      })
    })
  }

  settle(ok) {
    const ready = this.ready
    this.ready = undefined
    ready?.(ok)
  }

  connected() {
    this.open = true
    this.settle(true)
    run.connected++
    run.onConnected?.()
  }

  message() {
    if (++this.count === run.target && ++run.done === clients.length) run.finish?.()
  }

  data(chunk) {
    let buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
    this.pending = null
    let offset = 0
    if (!this.headersDone) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) {
        this.pending = buffer
        return
      }
      const head = buffer.latin1Slice(0, end)
      const status = head.slice(9, 12)
      if (status !== (this.kind === 'sse' ? '200' : '101')) {
        this.socket.destroy()
        return
      }
      this.headersDone = true
      this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head)
      offset = end + 4
      if (this.kind === 'socketio') this.socket.write(textFrame(`40${this.last !== undefined ? JSON.stringify({ last: this.last }) : ''}`))
      else this.connected()
    }
    if (this.kind === 'sse') return this.sseBody(buffer, offset)
    offset = readFrames(buffer, offset, this)
    if (offset < buffer.length) this.pending = Buffer.from(buffer.subarray(offset))
  }

  /** A text frame's payload (see readFrames). */
  frameText(buffer, start, end) {
    this.frame(buffer.toString('utf8', start, end))
  }

  frame(text) {
    if (this.kind === 'socketio') {
      if (text === '2') return void this.socket.write(SOCKETIO_PONG)
      if (text.startsWith('40')) return this.connected()
      if (!text.startsWith('42')) return
      const [event, data] = JSON.parse(text.slice(2))
      if (event !== 'm') return
      this.last = data.id
      return this.message()
    }
    const message = JSON.parse(text)
    if (message.event !== 'm') return
    // This library: the broadcast stream's cursor, as a cursor map (`b=<epoch:offset>`).
    this.last = this.kind === 'ws' ? `b=${message.id}` : message.data.id
    this.message()
  }

  /** De-chunks the SSE body and reads whole events (`id:` and `event:` lines). */
  sseBody(buffer, offset) {
    const length = buffer.length
    if (this.chunked) {
      while (offset < length) {
        if (this.chunkLeft > 0) {
          const end = Math.min(length, offset + this.chunkLeft)
          this.text += buffer.toString('utf8', offset, end)
          this.chunkLeft -= end - offset
          offset = end
          if (this.chunkLeft === 0) this.crlfLeft = 2
          continue
        }
        if (this.crlfLeft > 0) {
          const skip = Math.min(this.crlfLeft, length - offset)
          this.crlfLeft -= skip
          offset += skip
          continue
        }
        const newline = buffer.indexOf(10, offset)
        if (newline === -1) {
          this.pending = Buffer.from(buffer.subarray(offset))
          break
        }
        const size = parseInt(buffer.latin1Slice(offset, newline), 16)
        offset = newline + 1
        if (size === 0) this.crlfLeft = 2
        else this.chunkLeft = size
      }
    } else this.text += buffer.toString('utf8', offset)
    let end
    while ((end = this.text.indexOf('\n\n')) !== -1) {
      const block = this.text.slice(0, end)
      this.text = this.text.slice(end + 2)
      let id
      let event
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) id = line.slice(4)
        else if (line.startsWith('event: ')) event = line.slice(7)
      }
      if (id !== undefined) this.last = id
      if (event === 'm') this.message()
    }
  }
}

/** Connects `list` with at most `concurrency` handshakes in flight; resolves to the failures. */
async function connectAll(list, port, path, concurrency) {
  let next = 0
  let failed = 0
  const worker = async () => {
    while (next < list.length) {
      const client = list[next++]
      if (!(await client.connect(port, path))) failed++
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker))
  return failed
}

function expectMessages(count, timeout) {
  for (const client of clients) client.count = 0
  run.target = count
  run.done = 0
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeout)
    run.finish = () => {
      clearTimeout(timer)
      resolve()
    }
  })
}

const commands = {
  async connect({ kind, port, path = '/', n, concurrency = 100 }) {
    const started = now()
    const fresh = Array.from({ length: n }, () => new Client(kind))
    fresh.path = path
    const failed = await connectAll(fresh, port, path, concurrency)
    clients.push(...fresh.filter((client) => client.open))
    clients.path = path
    return { ms: now() - started, ok: clients.length, failed }
  },
  async expect({ count, timeout = 60_000 }) {
    const started = now()
    await expectMessages(count, timeout)
    return { done: run.done, clients: clients.length, ms: now() - started }
  },
  async closed({ timeout = 30_000 }) {
    const deadline = Date.now() + timeout
    while (Date.now() < deadline && clients.some((client) => !client.closed)) await new Promise((resolve) => setTimeout(resolve, 20))
    return { closed: clients.filter((client) => client.closed).length, clients: clients.length }
  },
  async reconnect({ port, concurrency = 500, count, timeout = 120_000 }) {
    const started = now()
    run.connected = 0
    run.connectedAt = 0
    run.onConnected = () => {
      if (run.connected === clients.length) run.connectedAt = now()
    }
    const caughtUp = expectMessages(count, timeout)
    const failed = await connectAll(clients, port, clients.path ?? '/', concurrency)
    await caughtUp
    run.onConnected = undefined
    const received = clients.reduce((sum, client) => sum + client.count, 0)
    return {
      clients: clients.length,
      connected: run.connected,
      caughtUp: run.done,
      failed,
      connectedMs: run.connectedAt ? run.connectedAt - started : undefined,
      caughtUpMs: run.done === clients.length ? now() - started : undefined,
      received,
    }
  },
  close() {
    for (const client of clients) client.socket?.resetAndDestroy()
    clients = []
    return {}
  },
}

const lines = createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const { id, cmd, ...args } = JSON.parse(line)
  try {
    process.stdout.write(JSON.stringify({ id, ...(await commands[cmd](args)) }) + '\n')
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, error: String(error?.stack ?? error) }) + '\n')
  }
})
lines.on('close', () => process.exit(0))
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
