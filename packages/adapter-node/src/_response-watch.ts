import type { ServerResponse } from 'node:http'

/** What aborts a request's signal. */
export interface ResponseAbort {
  abort(): void
}

/** What the adapter attaches to a Node response, behind one shared 'close' listener. */
export interface ResponseWatch {
  /**
   * Aborts the request's signal when the response closes before it finished: the request's
   * `ClientSignal` (which lets go of itself once the request is gone), or a weak handle on its
   * AbortController (see `toRequest`).
   */
  abort: ResponseAbort | undefined
  /** The SSE connection written to this response: told when it closes. */
  connection: ClosingConnection | undefined
  /** Further SSE connections opened on the same request (rare): told too. */
  others: ClosingConnection[] | undefined
}

/** What is told that a response closed. */
export interface ClosingConnection {
  transportClosed(code: number, reason: string): void
}

const WATCH = Symbol('realtime-response-watch')
type Watched = ServerResponse & { [WATCH]?: ResponseWatch }

/** The watch of `response`; the first call registers the 'close' listener (one function for all). */
export function watchResponse(response: ServerResponse): ResponseWatch {
  let watch = (response as Watched)[WATCH]
  if (watch === undefined) {
    watch = { abort: undefined, connection: undefined, others: undefined }
    ;(response as Watched)[WATCH] = watch
    response.on('close', onResponseClose)
    if (response.socket === null) followSocketUntilTurn(response)
  }
  return watch
}

/**
 * A response to a request pipelined behind another gets its socket only when its turn comes, and
 * its 'close' is tied to that socket: if the socket closes first, Node never tells the response.
 * Until then the request's socket is followed instead.
 */
function followSocketUntilTurn(response: ServerResponse): void {
  const socket = response.req?.socket
  if (!socket) return
  const closed = () => onResponseClose.call(response as Watched)
  socket.once('close', closed)
  response.once('socket', () => socket.off('close', closed))
}

/** Tells `connection` when `response` closes. */
export function watchConnection(response: ServerResponse, connection: ClosingConnection): void {
  const watch = watchResponse(response)
  if (watch.connection === undefined || watch.connection === connection) watch.connection = connection
  else if (!watch.others?.includes(connection)) (watch.others ??= []).push(connection)
}

function onResponseClose(this: Watched): void {
  const watch = this[WATCH]!
  if (!this.writableFinished) watch.abort?.abort()
  watch.connection?.transportClosed(1001, 'client went away')
  if (watch.others !== undefined) for (const other of watch.others) other.transportClosed(1001, 'client went away')
}
