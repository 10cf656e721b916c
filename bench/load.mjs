// The load generator: N raw TCP clients in one process (pinned to its own core by run.mjs),
// speaking just enough WebSocket (RFC 6455), engine.io v4 / Socket.IO v5 and SSE (HTTP/1.1,
// chunked) to count deliveries and read the publish time of each message. It parses frame and
// chunk headers and only the start of each data line, so one core keeps up with the servers.
//
// Commands (one JSON per line on stdin; one JSON reply per line on stdout, same `id`):
//   connect { kind: 'ws'|'sse'|'socketio', port, path, n, concurrency } -> { ms, ok, failed }
//   expect  { count, latency, offset }  -> { ok: true } at once, then when every client has
//           `count` new messages (or `timeout` ms passed): { id, done, first, last, received, p50,
//           p99, max }; `offset` (µs) is the server's clock minus ours (0 for Node servers)
//   clock   {} -> { now } (µs, this process's monotonic clock)
//   churn   { kind, port, path, seconds, rate, users } -> { opened, closed, failed } (soak test)
//   close   {} -> {}
// A `path` may hold `{user}`: replaced by `user-<k>` with k = a client counter modulo `users`.
import net from 'node:net'
import { createInterface } from 'node:readline'
import { readFrames, textFrame } from './lib/ws-frames.mjs'

const now = () => Number(process.hrtime.bigint() / 1000n)
const MARK = Buffer.from('{"t":')
const CR = 13
const LF = 10

/** Per-run delivery accounting shared by all clients. */
const run = {
  target: Infinity,
  done: 0,
  received: 0,
  latency: false,
  samples: new Float64Array(0),
  sampleCount: 0,
  offset: 0,
  first: 0,
  last: 0,
  finish: undefined,
}

function delivered(client, t) {
  run.received++
  if (run.latency) {
    const at = now()
    if (run.sampleCount < run.samples.length) run.samples[run.sampleCount++] = at - (t - run.offset)
  }
  if (++client.count === run.target) {
    if (run.done === 0) run.first = now()
    if (++run.done === clients.length) {
      run.last = now()
      run.finish?.()
    }
  }
}

/** Reads the decimal digits at `offset` (the `t` value after `{"t":`). */
function readNumber(buffer, offset, end) {
  let value = 0
  for (let index = offset; index < end; index++) {
    const digit = buffer[index] - 48
    if (digit < 0 || digit > 9) break
    value = value * 10 + digit
  }
  return value
}

const SOCKETIO_CONNECT = textFrame('40')
const SOCKETIO_PONG = textFrame('3')

class WebSocketClient {
  constructor(socket, socketio, onOpen, onFail) {
    this.socket = socket
    this.socketio = socketio
    this.onOpen = onOpen
    this.onFail = onFail
    this.count = 0
    this.upgraded = false
    this.pending = null
  }

  data(chunk) {
    let buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
    this.pending = null
    let offset = 0
    const length = buffer.length
    if (!this.upgraded) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) {
        this.pending = buffer
        return
      }
      if (buffer.latin1Slice(9, 12) !== '101') return this.onFail(new Error(buffer.latin1Slice(0, end)))
      this.upgraded = true
      offset = end + 4
      if (this.socketio) this.socket.write(SOCKETIO_CONNECT)
      else this.onOpen()
    }
    offset = readFrames(buffer, offset, this)
    if (offset < length) this.pending = Buffer.from(buffer.subarray(offset))
  }

  frameText(buffer, start, end) {
    if (this.socketio) {
      const type = buffer[start]
      if (type === 0x32 /* 2: engine.io ping */ && end - start === 1) return void this.socket.write(SOCKETIO_PONG)
      if (type !== 0x34 /* 4: message */) return
      if (buffer[start + 1] === 0x30 /* 40: namespace connected */) return this.onOpen()
      if (buffer[start + 1] !== 0x32 /* 42: event */) return
    }
    const at = buffer.indexOf(MARK, start)
    if (at === -1 || at >= end || at - start > 40) return
    delivered(this, run.latency ? readNumber(buffer, at + MARK.length, end) : 0)
  }
}

// SSE: after the headers, de-chunk the body and match `data:` `{"t":` at the start of each line.
const PATTERN = Buffer.from('data: {"t":')
const SPACE_AT = 5
const SKIP = -1
const DIGITS = -2

class SseClient {
  constructor(socket, onOpen, onFail) {
    this.socket = socket
    this.onOpen = onOpen
    this.onFail = onFail
    this.count = 0
    this.headersDone = false
    this.chunked = false
    this.pending = null
    this.chunkLeft = 0
    this.crlfLeft = 0
    /** Bytes of PATTERN matched at the start of the current line, or SKIP / DIGITS. */
    this.state = 0
    this.value = 0
  }

  data(chunk) {
    let buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
    this.pending = null
    let offset = 0
    const length = buffer.length
    if (!this.headersDone) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) {
        this.pending = buffer
        return
      }
      const head = buffer.latin1Slice(0, end)
      if (head.slice(9, 12) !== '200') return this.onFail(new Error(head))
      this.headersDone = true
      this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head)
      offset = end + 4
      this.onOpen()
    }
    if (!this.chunked) return this.body(buffer, offset, length)
    while (offset < length) {
      if (this.chunkLeft > 0) {
        const end = Math.min(length, offset + this.chunkLeft)
        this.body(buffer, offset, end)
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
      const newline = buffer.indexOf(LF, offset)
      if (newline === -1) break
      const size = parseInt(buffer.latin1Slice(offset, newline), 16)
      offset = newline + 1
      if (size === 0) this.crlfLeft = 2
      else this.chunkLeft = size
    }
    if (offset < length) this.pending = Buffer.from(buffer.subarray(offset))
  }

  /** Streams over body bytes [start, end): a few byte comparisons per line, indexOf for the rest. */
  body(buffer, start, end) {
    let index = start
    while (index < end) {
      const state = this.state
      if (state >= 0) {
        const byte = buffer[index]
        if (byte === PATTERN[state]) {
          index++
          if (state + 1 === PATTERN.length) {
            this.state = DIGITS
            this.value = 0
          } else this.state = state + 1
          continue
        }
        if (state === SPACE_AT && byte === PATTERN[SPACE_AT + 1]) {
          this.state = SPACE_AT + 1 // `data:{"t":` without the optional space
          continue
        }
        if (byte === LF) {
          this.state = 0
          index++
          continue
        }
        this.state = SKIP
      } else if (state === DIGITS) {
        const digit = buffer[index] - 48
        if (digit >= 0 && digit <= 9) {
          this.value = this.value * 10 + digit
          index++
          continue
        }
        delivered(this, this.value)
        this.state = SKIP
      }
      const newline = buffer.indexOf(LF, index)
      if (newline === -1 || newline >= end) return
      index = newline + 1
      this.state = 0
    }
  }
}

let clients = []
let userCounter = 0

function pathFor(path, users) {
  return path.includes('{user}') ? path.replace('{user}', `user-${userCounter++ % (users ?? 1)}`) : path
}

const WS_CLOSE = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]) // masked close frame, code 1000

/** Ends a client one of three ways: a clean close (WebSocket close frame, then FIN), FIN only, or RST. */
function drop(client, how) {
  if (how === 0 && client instanceof WebSocketClient) {
    client.socket.write(WS_CLOSE)
    client.socket.end()
  } else if (how <= 1) client.socket.end()
  else client.socket.resetAndDestroy()
}

function connectOne(kind, port, path) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
    let settled = false
    const settle = (error) => {
      if (settled) return
      settled = true
      if (error) {
        socket.destroy()
        resolve(undefined)
      } else resolve(client)
    }
    const client =
      kind === 'sse'
        ? new SseClient(socket, () => settle(), settle)
        : new WebSocketClient(socket, kind === 'socketio', () => settle(), settle)
    client.kind = kind
    socket.on('data', (chunk) => client.data(chunk))
    socket.on('error', (error) => settle(error))
    socket.on('close', () => settle(new Error('closed')))
    socket.on('connect', () => {
      const head =
        kind === 'sse'
          ? `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`
          : `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
      socket.write(head)
    })
  })
}

const commands = {
  async connect({ kind, port, path = '/', n, concurrency = 100, users }) {
    const started = now()
    const before = clients.length
    let next = 0
    let failed = 0
    const worker = async () => {
      while (next < n) {
        next++
        const client = await connectOne(kind, port, pathFor(path, users))
        if (client) clients.push(client)
        else failed++
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
    return { ms: (now() - started) / 1000, ok: clients.length - before, failed }
  },
  /**
   * Every 100 ms, drops `rate / 10` random clients (cleanly, FIN or RST in turn) and starts as many
   * new ones of the same kinds, without waiting for them, so the rate holds while the server is busy.
   */
  async churn({ port, path = '/', seconds, rate, users }) {
    const counts = { opened: 0, closed: 0, failed: 0 }
    const opening = []
    const end = Date.now() + seconds * 1000
    let step = 0
    let owed = 0
    while (Date.now() < end) {
      owed += rate / 10
      for (; owed >= 1 && clients.length > 0; owed--) {
        const at = Math.floor(Math.random() * clients.length)
        const client = clients[at]
        clients[at] = clients[clients.length - 1]
        clients.pop()
        drop(client, step++ % 3)
        counts.closed++
        opening.push(
          connectOne(client.kind, port, pathFor(path, users)).then((fresh) => {
            if (fresh) {
              clients.push(fresh)
              counts.opened++
            } else counts.failed++
          }),
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await Promise.all(opening)
    return counts
  },
  clock: () => ({ now: now() }),
  expect({ count, latency = false, timeout = 120_000, offset = 0 }, id) {
    for (const client of clients) client.count = 0
    Object.assign(run, { target: count, done: 0, received: 0, latency, sampleCount: 0, first: 0, last: 0, offset })
    run.samples = latency ? new Float64Array(clients.length * count) : new Float64Array(0)
    let timer
    const finished = new Promise((resolve) => {
      run.finish = resolve
      timer = setTimeout(resolve, timeout)
    }).then(() => {
      clearTimeout(timer)
      run.finish = undefined
      const result = { done: run.done, clients: clients.length, received: run.received, first: run.first, last: run.last || now() }
      if (latency) {
        const samples = run.samples.subarray(0, run.sampleCount).sort()
        const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0
        Object.assign(result, { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1] ?? 0 })
      }
      reply(id, { final: true, ...result })
    })
    void finished
    return { ok: true }
  },
  /** Drops every client: at once with RST, or (`mixed`) each one cleanly, with FIN or with RST in turn. */
  close({ mixed = false } = {}) {
    let step = 0
    for (const client of clients) {
      if (mixed) drop(client, step++ % 3)
      else client.socket.resetAndDestroy()
    }
    clients = []
    return {}
  },
}

function reply(id, body) {
  process.stdout.write(JSON.stringify({ id, ...body }) + '\n')
}

const lines = createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const { id, cmd, ...args } = JSON.parse(line)
  try {
    reply(id, await commands[cmd](args, id))
  } catch (error) {
    reply(id, { error: String(error?.stack ?? error) })
  }
})
lines.on('close', () => process.exit(0))
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
