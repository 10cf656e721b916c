// Raw TCP clients for what `fetch` and `ws` never send (pipelined requests, a missing Host, a
// client that stops reading), and a look at the kernel's table of TCP sockets (Linux), to see
// whether a server really let go of a socket.
import { connect, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'

export interface RawClient {
  socket: Socket
  /** Everything received so far (latin1). */
  received(): string
  /** Resolves once the server closed or reset the connection. */
  closed: Promise<void>
  /** This end's local port (to find the server's side in {@link serverSocketState}). */
  localPort: number
}

/** Opens a TCP connection to the server of `base` and writes `text`. `paused`: never reads. */
export async function rawRequest(base: string, text: string, options: { paused?: boolean } = {}): Promise<RawClient> {
  const { hostname, port } = new URL(base)
  const socket = connect(Number(port), hostname)
  let received = ''
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  if (options.paused) socket.pause()
  else socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')))
  socket.write(text)
  return { socket, received: () => received, closed, localPort: socket.localPort! }
}

/** A request head; `host: null` leaves the Host header out. */
export function requestHead(method: string, path: string, headers: Record<string, string> = {}, host: string | null = 'localhost'): string {
  let head = `${method} ${path} HTTP/1.1\r\n`
  if (host !== null) head += `Host: ${host}\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  return head + '\r\n'
}

/** The status code of the first response in `text`, or undefined when none arrived yet. */
export function firstStatus(text: string): number | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  return match ? Number(match[1]) : undefined
}

/** TCP states of /proc/net/tcp (`st` column). */
const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
}

/**
 * The state of the server's end of a loopback TCP connection (local port `serverPort`, peer port
 * `clientPort`), from the kernel's table: 'ESTABLISHED' while the server holds it open, another
 * state once it closed it, undefined once it is gone (or where /proc/net/tcp does not exist).
 */
export function serverSocketState(serverPort: number, clientPort: number): string | undefined {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table: string
    try {
      table = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of table.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 4) continue
      const local = parseInt(fields[1]!.split(':')[1]!, 16)
      const remote = parseInt(fields[2]!.split(':')[1]!, 16)
      if (local === serverPort && remote === clientPort) return TCP_STATES[fields[3]!] ?? fields[3]
    }
  }
  return undefined
}

/** True where {@link serverSocketState} can see sockets (Linux). */
export function canSeeSocketStates(): boolean {
  try {
    readFileSync('/proc/net/tcp', 'utf8')
    return true
  } catch {
    return false
  }
}
