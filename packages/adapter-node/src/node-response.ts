// The web-to-Node response bridge: a web `Response` written to a `ServerResponse` or a raw socket.
import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { LazySseResponse, SSE_HEAD } from './_lazy-response.js'
import { attachConnection, sseConnectionOf } from './sse-connection.js'

/**
 * Writes a web `Response` to a Node response, streaming the body with backpressure. The response
 * of `realtime.sse()` is not streamed: its connection writes to `outgoing` directly from then on.
 */
export async function writeResponse(response: Response, outgoing: ServerResponse): Promise<void> {
  return sendResponse(response, outgoing)
}

/** {@link writeResponse}, with a promise only when it has to wait (an SSE stream attaches at once). */
export function sendResponse(response: Response, outgoing: ServerResponse): Promise<void> | undefined {
  // Before `body`: the response of a connection opened on a `serve()` request has no web stream
  // unless its body is read.
  const connection = sseConnectionOf(response)
  if (connection) {
    // A response nobody read: the status and headers every such stream has (as the real one's).
    if (response instanceof LazySseResponse && response.unbuilt && response.headersInit === undefined) {
      outgoing.writeHead(200, SSE_HEAD as string[])
      return attachConnection(connection, outgoing)
    }
    // The head in one go (the same bytes as setHeader for each header): an idle stream's
    // ServerResponse then keeps no per-header store.
    const head: Array<string | string[]> = []
    for (const [name, value] of response.headers) if (name !== 'set-cookie') head.push(name, value)
    const cookies = response.headers.getSetCookie()
    if (cookies.length > 0) head.push('set-cookie', cookies)
    if (response.statusText) outgoing.writeHead(response.status, response.statusText, head)
    else outgoing.writeHead(response.status, head)
    return attachConnection(connection, outgoing)
  }
  return streamResponse(response, outgoing)
}

/** Writes a web `Response` to a Node response, streaming its body with backpressure. */
async function streamResponse(response: Response, outgoing: ServerResponse): Promise<void> {
  outgoing.statusCode = response.status
  if (response.statusText) outgoing.statusMessage = response.statusText
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue
    outgoing.setHeader(name, value)
  }
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) outgoing.setHeader('set-cookie', cookies)
  const body = response.body
  if (!body) {
    outgoing.end()
    return
  }
  outgoing.flushHeaders()
  const reader = body.getReader()
  let open = true
  // A body errored while this waits for the client (an SSE stream dropped because its client
  // stopped reading) must not wait for a drain that never comes: the connection goes at once.
  reader.closed.catch(() => {
    if (open) outgoing.destroy()
  })
  outgoing.once('close', () => {
    open = false
    reader.cancel().catch(ignore)
  })
  while (open) {
    let chunk: ReadableStreamReadResult<Uint8Array>
    try {
      chunk = await reader.read()
    } catch (error) {
      // The body was errored: the response cannot be completed, so the connection goes. An
      // AbortError is a deliberate end (an SSE stream dropped), not a failure to report.
      outgoing.destroy()
      if ((error as { name?: unknown } | null)?.name === 'AbortError') return
      throw error
    }
    const { done, value } = chunk
    if (done) break
    if (!outgoing.write(value) && open) {
      await new Promise<void>((resolve) => {
        const finish = () => {
          outgoing.off('drain', finish)
          outgoing.off('close', finish)
          resolve()
        }
        outgoing.on('drain', finish)
        outgoing.on('close', finish)
      })
    }
  }
  if (open) outgoing.end()
}

export async function writeRawResponse(socket: Duplex, response: Response): Promise<void> {
  const body = response.body ? await response.text() : ''
  if (socket.destroyed) return
  let head = `HTTP/1.1 ${response.status} ${response.statusText || statusText(response.status)}\r\n`
  const headers = new Headers(response.headers)
  headers.set('connection', 'close')
  headers.set('content-length', String(Buffer.byteLength(body)))
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`
  socket.end(head + '\r\n' + body)
}

function statusText(status: number): string {
  return (
    (
      {
        400: 'Bad Request',
        403: 'Forbidden',
        426: 'Upgrade Required',
        500: 'Internal Server Error',
        501: 'Not Implemented',
        503: 'Service Unavailable',
      } as Record<number, string>
    )[status] ?? ''
  )
}

function ignore(): void {}
