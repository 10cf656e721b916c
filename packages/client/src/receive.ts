// What each message from the server changes (cursors, channels, the connection, requests) before it is delivered; duplicates stop here.
import { control, sync } from './channels.js'
import { connected, token } from './connection.js'
import { isNewer, parseCursorMap, streamKey } from './cursor-map.js'
import { dispatch } from './delivery.js'
import { badFrame, type Message, PREFIX, readFrame } from './frame.js'
import { answer, flush } from './requests.js'
import type { ClientState } from './state.js'
import { numberOption } from './transport.js'

/**
 * Uses what the transport delivered (see {@link readFrame}); over SSE, each new event `id` (the
 * whole cursor map, repeated on later events) is checked once and replaces the cursors.
 */
export function read(s: ClientState, text: unknown, event?: string, id?: string): void {
  if (id && id !== s._lastEventId) {
    s._lastEventId = id
    const cursors = parseCursorMap(id)
    if (cursors) s._cursors = cursors
    else dispatch(s, badFrame('id: not a cursor map'))
  }
  receive(s, readFrame(text, event, numberOption(s._options, 'maxMessageBytes', 1_048_576)))
}

/** Keeps the client's state (cursors, channels, connection) in step with a message, then delivers it. */
function receive(s: ClientState, message: Message): void {
  const { event, data } = message
  const websocket = s._websocket
  if (event === PREFIX + 'response') return answer(s, data)
  if (event.startsWith(PREFIX)) {
    const channel = data?.channel
    const isConnected = event === PREFIX + 'connected'
    // The cursor map of realtime:connected and realtime:reconnect (SSE keeps it from the id:).
    if (websocket && (isConnected || event === PREFIX + 'reconnect')) {
      for (const [key, cursor] of parseCursorMap(data.cursor ?? '')!) advance(s, key, cursor)
    }
    if (isConnected) {
      s._id = data.id
      connected(s, data.heartbeat)
      if (websocket) {
        sync(s) // channels subscribed or left while connecting
        flush(s) // requests made while connecting
      }
    } else if (websocket && event === PREFIX + 'subscribed' && data.cursor) {
      advance(s, streamKey(channel), data.cursor)
    } else if (websocket && event === PREFIX + 'gap') {
      if (data.cursor) s._cursors.set(streamKey(channel), data.cursor)
      else s._cursors.delete(streamKey(channel))
    } else if (event === PREFIX + 'refresh' && s._options.auth) {
      // The token is about to expire: send a fresh one over the open connection.
      token(s).then(
        (token) => control(s, 'auth', { token }),
        () => {},
      )
    } else if (event === PREFIX + 'error' && data?.code === 'REALTIME_FORBIDDEN' && channel) {
      s._channels.delete(channel)
      s._joined.delete(channel)
    }
  } else if (message.id !== undefined && !advance(s, streamKey(message.channel), message.id)) {
    return // a message the client already has
  }
  dispatch(s, message)
}

/** Moves a stream's cursor forward; false when `cursor` is not newer (a duplicate). */
function advance(s: ClientState, key: string, cursor: string): boolean {
  if (!isNewer(s._cursors.get(key), cursor)) return false
  s._cursors.set(key, cursor)
  return true
}
