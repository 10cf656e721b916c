// A loopback TCP proxy that a test can cut: every open connection is destroyed at once, as a
// network blip would, while the server behind it stays up and the proxy keeps accepting.
import { connect, createServer, type Socket } from 'node:net'

export interface TcpProxy {
  /** Base URL of the proxy (same scheme as the target). */
  url: string
  /** Destroys every connection passing through the proxy now. Returns how many were cut. */
  cut(): number
  /**
   * Stops forwarding bytes, in both directions and for new connections too, without closing
   * anything: a network that silently drops traffic. `resume()` forwards again.
   */
  stall(): void
  resume(): void
  close(): Promise<void>
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port, protocol } = new URL(target)
  const open = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  let stalled = false
  const forward = ([client, upstream]: [Socket, Socket]) => {
    client.pipe(upstream)
    upstream.pipe(client)
  }
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname)
    open.add(client)
    open.add(upstream)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const drop = () => {
      pairs.delete(pair)
      open.delete(client)
      open.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    if (!stalled) forward(pair)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return {
    url: `${protocol}//127.0.0.1:${address.port}`,
    cut() {
      const count = open.size / 2
      for (const socket of [...open]) socket.destroy()
      open.clear()
      return count
    },
    stall() {
      stalled = true
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
    },
    resume() {
      stalled = false
      for (const pair of pairs) forward(pair)
    },
    close() {
      for (const socket of open) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
