// Liveness in the realtime object: SSE heartbeats on a timer that runs only while a stream is
// open, and the dead-peer check of WebSockets without a timer (so the object can hibernate).
import { CLOSE_CODES } from '@loewen-digital/realtime-core'
import type { DurableObjectStateLike, WorkersWebSocket } from './_runtime.js'
import type { WorkersSseConnection } from './sse-connection.js'
import type { WorkersWebSocketConnection } from './websocket-connection.js'

/** Heartbeats and dead-peer checks of one object's connections, every `interval()` ms (0: none). */
export class Liveness {
  private readonly streams = new Set<WorkersSseConnection<any>>()
  private timer: ReturnType<typeof setInterval> | undefined
  private lastSweep = 0

  /**
   * @param state - the object's state (its hibernatable sockets and their auto-response times)
   * @param interval - the instance's heartbeat interval in ms, read when needed (0: no heartbeat)
   * @param connectionOf - the live connection of a socket, if the object has rebuilt it
   */
  constructor(
    private readonly state: DurableObjectStateLike,
    private readonly interval: () => number,
    private readonly connectionOf: (ws: WorkersWebSocket) => WorkersWebSocketConnection<any> | undefined,
  ) {}

  /** An SSE stream opened: beat it (the timer starts with the first stream). */
  streamOpened(stream: WorkersSseConnection<any>): void {
    this.streams.add(stream)
    this.start()
  }

  /** An SSE stream ended; the last one stops the timer, so the object can hibernate at once. */
  streamEnded(stream: WorkersSseConnection<any>): void {
    this.streams.delete(stream)
    if (this.streams.size === 0) this.stop()
  }

  /**
   * Dead-peer check without a timer (a timer would keep the object from hibernating): at most once
   * per heartbeat interval, when the object handles an event anyway, a client that has sent
   * protocol pings (answered by the runtime) but neither pinged nor sent anything for two
   * intervals is closed with 4000. Clients that never ping are left to the runtime, which reports
   * connections whose TCP connection broke.
   */
  sweep(): void {
    const interval = this.interval()
    const now = Date.now()
    if (interval <= 0 || now - this.lastSweep < interval) return
    this.lastSweep = now
    const limit = now - 2 * interval
    for (const ws of this.state.getWebSockets()) {
      const pinged = this.state.getWebSocketAutoResponseTimestamp(ws)
      if (pinged === null || pinged.getTime() >= limit) continue
      const connection = this.connectionOf(ws)
      if (!connection) continue
      if (connection.lastSeen < limit) connection.close(CLOSE_CODES.HEARTBEAT_TIMEOUT, 'heartbeat timeout')
    }
  }

  /** Stops the heartbeat timer (the instance closed). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Forgets every stream and stops the timer (the hub was closed). */
  reset(): void {
    this.stop()
    this.streams.clear()
  }

  private start(): void {
    const interval = this.interval()
    if (this.timer !== undefined || interval <= 0) return
    this.timer = setInterval(() => {
      for (const stream of this.streams) {
        if (stream.isClosed) this.streams.delete(stream)
        else {
          try {
            stream.heartbeat()
          } catch (error) {
            stream.transportError(error)
          }
        }
      }
      if (this.streams.size === 0) this.stop()
    }, interval)
  }
}
