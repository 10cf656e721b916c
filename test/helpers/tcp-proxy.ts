// A loopback TCP proxy that a test can cut: every open connection is destroyed at once, as a
// network blip would, while the server behind it stays up and the proxy keeps accepting.
import { connect, createServer, type Socket } from 'node:net'

export interface TcpProxy {
  /** Base URL of the proxy (same scheme as the target). */
  url: string
  /** Destroys every connection passing through the proxy now. Returns how many were cut. */
  cut(): number
  close(): Promise<void>
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port, protocol } = new URL(target)
  const open = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname)
    open.add(client)
    open.add(upstream)
    const drop = () => {
      open.delete(client)
      open.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
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
    close() {
      for (const socket of open) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
