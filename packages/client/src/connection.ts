// The connection's life: opens a transport (with a token from `auth`), tracks the state, and reconnects by reconnect-policy.ts or stops.
import { connectionUrl } from './channels.js'
import { dispatch } from './delivery.js'
import { errorMessage, PREFIX } from './frame.js'
import { read } from './receive.js'
import { isFinalCloseCode, isFinalStatus, later, reconnectDelay, STABLE_SESSION } from './reconnect-policy.js'
import { closeRequests, dropRequests } from './requests.js'
import { openSse } from './sse.js'
import type { ClientState } from './state.js'
import { type End, numberOption, type Read, type Wire } from './transport.js'
import type { ConnectionState, EventSourceConstructor, StateChange, WebSocketConstructor } from './types.js'
import { openWebSocket } from './websocket.js'

/** Opens a transport (after asking `auth` for a token, when there is `auth`). */
export function open(s: ClientState): void {
  clearTimeout(s._timer)
  s._openedAt = 0
  if (!s._options.auth) return connect(s)
  token(s).then(
    (token) => s._state !== 'closed' && connect(s, token),
    () => lost(s),
  )
}

/** A token from the `auth` callback; a failure is reported (`REALTIME_AUTH_FAILED`) and rejects. */
export function token(s: ClientState): Promise<string> {
  return new Promise<string>((resolve) => resolve(s._options.auth!())).catch((cause) => {
    dispatch(s, errorMessage('REALTIME_AUTH_FAILED', 'auth() failed', { cause }))
    throw cause
  })
}

/** `realtime:connected` arrived: the connection is open. */
export function connected(s: ClientState, heartbeat: unknown): void {
  s._openedAt = Date.now()
  s._wire?._connected?.(heartbeat)
  setState(s, 'open')
}

/** Sends a frame (a string as is, anything else as JSON); false, sending nothing, when the transport cannot (not open, or SSE). */
export function send(s: ClientState, message: unknown): boolean {
  return s._wire?._send?.(message) ?? false
}

/** SSE names its channels in the URL: reconnects (once per tick) with the client's channel set, resuming. */
export function reopen(s: ClientState): void {
  if (!s._wire || s._reopening) return
  s._reopening = true
  queueMicrotask(() => {
    s._reopening = false
    if (!s._wire) return
    s._wire._close()
    // The old stream is gone: should `auth` fail now, `lost` must see no current transport.
    s._wire = undefined
    open(s)
  })
}

/** Closes the client for good (state `closed`): requests reject, no reconnect follows. */
export function close(s: ClientState): void {
  if (s._state === 'closed') return
  closeRequests(s)
  clearTimeout(s._timer)
  s._wire?._close()
  s._wire = undefined
  setState(s, 'closed')
}

/** Changes the state and tells the application (`realtime:state`). */
function setState(s: ClientState, state: ConnectionState, detail?: Partial<StateChange>): void {
  const previous = s._state
  if (state === previous && state !== 'reconnecting') return
  s._state = state
  dispatch(s, { event: PREFIX + 'state', data: { ...detail, state, previous } })
}

/** Runs what a transport callback does; nothing in it may throw into the transport (or stall it). */
function guard(s: ClientState, task: () => void): void {
  try {
    task()
  } catch (cause) {
    dispatch(s, errorMessage('REALTIME_BAD_FRAME', 'the client failed on what the server sent', { cause }))
  }
}

function connect(s: ClientState, token?: string): void {
  const href = connectionUrl(s, token)
  let wire: Wire
  // What the transport reports counts only while it is the current one.
  const reader: Read = (text, event, id) => wire === s._wire && guard(s, () => read(s, text, event, id))
  const end: End = () => {
    if (wire !== s._wire) return () => {}
    s._wire = undefined
    return (...why) => guard(s, () => lost(s, ...why))
  }
  wire = s._wire = s._websocket
    ? openWebSocket(href, s._transport as WebSocketConstructor, s._options, reader, end)
    : openSse(href, s._transport as EventSourceConstructor, s._options, reader, end, s._handlers.keys())
}

/** The transport is gone: reconnect after a delay, or stop when the server said so. */
function lost(s: ClientState, status?: number, code?: number, reason?: string, retryAfter?: string | null): void {
  if (s._state === 'closed' || s._wire) return
  dropRequests(s)
  const detail: Partial<StateChange> = { status, code, reason }
  // A session that lasted starts the backoff over; a short one counts as another failure.
  if (s._openedAt && Date.now() - s._openedAt >= STABLE_SESSION) s._attempt = 0
  s._openedAt = 0
  let delay = -1
  if ((status && isFinalStatus(status)) || (code !== undefined && isFinalCloseCode(code))) {
    if (code !== 1000) {
      dispatch(
        s,
        errorMessage(
          'REALTIME_REFUSED',
          status
            ? `the server refused the connection (HTTP ${status}${status > 299 && status < 400 ? ': a redirect the transport could not follow, or a loop' : ''})`
            : `the server closed the connection (${code}${reason ? ': ' + reason : ''})`,
          { status, closeCode: code },
        ),
      )
    }
  } else if (s._options.reconnect !== false) {
    delay = reconnectDelay(
      s._attempt,
      numberOption(s._options, 'reconnectDelay', 1000),
      numberOption(s._options, 'maxReconnectDelay', 30_000),
      status === 429 || status === 503 || code === 1008 || code === 1013 ? later(retryAfter) : 0,
    )
  }
  s._attempt++
  if (delay < 0) return setState(s, 'closed', detail)
  detail.delay = delay
  setState(s, 'reconnecting', detail)
  s._timer = setTimeout(() => open(s), delay)
}
