// The private protocol between a Worker and the realtime Durable Object, and the state each
// hibernatable WebSocket carries. Documented in docs/runtimes/workers.md.
import { RealtimeError } from '@loewen-digital/realtime-core'

/** Which realtime instance (and so which object) a request is for. */
export const INSTANCE_HEADER = 'x-realtime-instance'
/** What the object is asked to do: `connect`, `publish`, `stats`, `presence` or `close`. */
export const ACTION_HEADER = 'x-realtime-action'
/** Marks a request the object replays through the application, with a token only it knows. */
export const REPLAY_HEADER = 'x-realtime-replay'
/** Marks a placeholder response the Worker must replace with the object's answer. */
export const FORWARD_HEADER = 'x-realtime-forward'

/** Internal base URL of object actions other than `connect` (which keeps the client's URL). */
export const ACTION_URL = 'https://realtime.internal/'

export type ObjectAction = 'connect' | 'publish' | 'stats' | 'presence' | 'close'

/** Body of a `publish` action. */
export interface PublishBody {
  topic: 'broadcast' | 'user' | 'channel'
  target?: string
  event: string
  data: unknown
  except?: string
}

/** The protocol ping the runtime answers without waking the object (exact text match). */
export const AUTO_PING = '{"event":"realtime:ping"}'
/** The answer to {@link AUTO_PING}: what the core answers to a ping without data. */
export const AUTO_PONG = '{"event":"realtime:pong","data":null}'

/**
 * What a hibernatable WebSocket keeps across hibernation (`serializeAttachment`, at most 2,048
 * bytes). When the full record does not fit, `channels` and `headers` move to the object's storage
 * under {@link spillKey} and `spilled` is set.
 */
export interface Attachment {
  /** Format version. */
  v: 1
  /** Connection id, stable across hibernation. */
  id: string
  /** Realtime instance name. */
  instance: string
  /** User id, if any. */
  user?: string
  /** The upgrade call passed handlers: replay the route after waking to get them back. */
  handlers: boolean
  /** URL of the upgrade request. */
  url: string
  /** Channels joined. */
  channels?: string[]
  /** Request headers kept for the replay (handshake and hop-by-hop headers dropped). */
  headers?: Array<[string, string]>
  /** `channels` and `headers` are in storage. */
  spilled?: true
  /**
   * The connection's deadline, ms since the epoch: when its credential expires (`identify`'s
   * `expiresAt`) and when the deadline is due (earlier while the client is still to be asked for
   * a fresh token).
   */
  deadline?: readonly [expiresAt: number, at: number]
}

/** Storage key of a connection's spilled attachment fields. */
export function spillKey(id: string): string {
  return `realtime:connection:${id}`
}

const DROPPED_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-accept',
  'accept-encoding',
  'content-length',
  'host',
  INSTANCE_HEADER,
  ACTION_HEADER,
  REPLAY_HEADER,
])

/** The headers of `request` worth keeping to replay it later. */
export function keptHeaders(request: Request): Array<[string, string]> {
  const kept: Array<[string, string]> = []
  request.headers.forEach((value, name) => {
    if (!DROPPED_HEADERS.has(name) && !name.startsWith('cf-')) kept.push([name, value])
  })
  return kept
}

/** The object's error answer: `{ error: { code, message } }`, which the Worker rethrows as the same `RealtimeError`. */
export function errorResponse(error: unknown, status: number): Response {
  const code = RealtimeError.isInstance(error) ? error.code : 'REALTIME_TRANSPORT_ERROR'
  return Response.json({ error: { code, message: (error as Error)?.message ?? String(error) } }, { status })
}
