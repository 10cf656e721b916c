// The WebSocket transport: one socket per connection, its pings (the dead-peer timer), and the status of a refused handshake where shown.
import { PREFIX } from './frame.js'
import { MAX_TIMER } from './reconnect-policy.js'
import type { End, Options, Read, Wire } from './transport.js'
import { numberOption, watch } from './transport.js'
import type { WebSocketConstructor } from './types.js'

/** Opens a WebSocket to `href`. */
export function openWebSocket(href: string, Socket: WebSocketConstructor, options: Options, read: Read, end: End): Wire {
  const socket = new Socket(href, options.protocols)
  let status: number | undefined
  let retryAfter: string | undefined
  /** Something arrived since the last ping. */
  let heard = true
  let stop: (() => void) | undefined
  const wire: Wire = {
    _send(message) {
      if (socket.readyState !== 1) return false
      socket.send(typeof message === 'string' ? message : JSON.stringify(message))
      return true
    },
    _close(code = 1000, reason) {
      stop?.()
      socket.close(code, reason)
    },
  }
  // Liveness: ping every interval; a socket that sent nothing since the last ping is dead.
  const interval = Math.min(numberOption(options, 'pingInterval', 25_000), MAX_TIMER)
  if (interval > 0) {
    stop = watch(
      interval,
      () => {
        if (socket.readyState !== 1) return true
        if (!heard) return false
        heard = false
        wire._send!({ event: PREFIX + 'ping', data: null })
        return true
      },
      wire,
      end,
    )
  }
  socket.onmessage = (event) => {
    heard = true
    read(event.data)
  }
  // `ws` (Node) shows a refused handshake's status and headers; browsers, Deno, Bun and undici hide them.
  ;(socket as { on?: (...args: any[]) => unknown }).on?.(
    'unexpected-response',
    (_request: unknown, response: { statusCode: number; headers: Record<string, string> }) => {
      status = response.statusCode
      retryAfter = response.headers['retry-after']
      socket.close() // ends the handshake: error, then close 1006
    },
  )
  const closed = (code?: number, reason?: string) => {
    stop?.()
    end()(status, code, reason, retryAfter)
  }
  socket.onerror = (event) => {
    status ||= Number(/response: (\d{3})/.exec(event?.message)?.[1]) || undefined
    // undici (Node 20) reports a refused handshake with an error and no close: do not wait for one.
    if (socket.readyState !== 1) {
      setTimeout(() => {
        if (socket.readyState === 1) return
        socket.close()
        closed(1006)
      }, 100)
    }
  }
  socket.onclose = (event) => closed(event?.code, event?.reason)
  return wire
}
