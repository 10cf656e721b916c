// What the client asks the server for: the channels and cursors in each connection's URL, and over WebSocket the (un)subscribe frames.
import { reopen, send } from './connection.js'
import { formatCursorMap, streamKey } from './cursor-map.js'
import { PREFIX } from './frame.js'
import type { ClientState } from './state.js'

/** The cursor map of what the client has received, for the streams it is still in (`client.cursor`). */
export function cursorMap(s: ClientState): string {
  const keys = new Set(['b', 'u', ...[...s._channels].map(streamKey)])
  return formatCursorMap([...s._cursors].filter(([key]) => keys.has(key)))
}

/** The URL of the next connection: the client's channels, cursors and `token`. */
export function connectionUrl(s: ClientState, token?: string): string {
  const url = new URL(s._url)
  const params = url.searchParams
  params.delete('channel')
  params.delete('lastEventId')
  params.delete('resume')
  for (const channel of s._channels) params.append('channel', channel)
  if (token !== undefined) params.set('token', token)
  const cursor = cursorMap(s)
  if (cursor) params.set('lastEventId', cursor)
  // SSE: heartbeats as events (EventSource hides comment lines), for the dead-peer timer.
  if (!s._websocket) params.set('heartbeat', '1')
  else {
    if (!cursor) params.set('resume', '1') // asks for realtime:connected with the starting cursors
    url.protocol = url.protocol.replace('http', 'ws')
    s._joined = new Set(s._channels) // the socket's URL joins them
  }
  return url.href
}

/** Brings the server's channel set in line with the client's. */
export function sync(s: ClientState): void {
  // SSE names its channels in the URL: the connection reopens with the new set.
  if (!s._websocket) return reopen(s)
  // Until realtime:connected, the socket's URL names the channels; this runs again then.
  if (s._state !== 'open') return
  for (const channel of s._channels) {
    if (s._joined.has(channel)) continue
    s._joined.add(channel)
    const cursor = s._cursors.get(streamKey(channel))
    control(s, 'subscribe', cursor ? { channel, cursor } : { channel })
  }
  for (const channel of s._joined) {
    if (s._channels.has(channel)) continue
    s._joined.delete(channel)
    control(s, 'unsubscribe', { channel })
  }
}

/** Sends the control event `event` (`realtime:subscribe`, `realtime:auth`, ...) over the open WebSocket. */
export function control(s: ClientState, event: string, data: unknown): void {
  send(s, { event: PREFIX + event, data })
}
