import { RESERVED_PREFIX } from './constants.js'
import { RealtimeError } from './errors.js'
import { assertSseField, encodeSseData } from './sse-encoder.js'

/** Map of event name to the type of its `data`; shared by server and client for typed events. */
export type EventMap = Record<string, unknown>

/**
 * Events clients send, each typed as a function `(data) => result`: the type of its data and of
 * what the server's handler answers a `request` with (`void` for an event nobody answers), the
 * way Socket.IO types client-to-server events. Shared by `createRealtime` and `connect`.
 *
 * @example
 * ```ts
 * type ClientEvents = {
 *   'send-message': (data: { text: string }) => { id: number } // client.request(...) resolves { id }
 *   typing: (data: { room: string }) => void // client.emit(...)
 * }
 * ```
 */
export type ClientEventMap = Record<string, (data: any) => unknown>

/** The client events of an untyped instance: any name, data and result `unknown`. */
export type AnyClientEvents = Record<string, (data: unknown) => unknown>

/** The data of client event `Name`. */
export type ClientEventData<Map extends ClientEventMap, Name extends keyof Map> = Parameters<Map[Name]>[0]

/** What the handler of client event `Name` answers (a request resolves with it). */
export type ClientEventResult<Map extends ClientEventMap, Name extends keyof Map> = Awaited<ReturnType<Map[Name]>>

/**
 * An application message: an event name and its data. On a WebSocket it travels as one JSON text
 * frame `{"event":…,"data":…}`; on SSE as `event:` plus `data:` (JSON). With a typed map, `data`
 * is required unless the event's type includes `undefined`; untyped (the default map), it is optional.
 */
export type RealtimeMessage<Events extends EventMap = EventMap> = {
  [Name in keyof Events & string]: undefined extends Events[Name] ? { event: Name; data?: Events[Name] } : { event: Name; data: Events[Name] }
}[keyof Events & string]

/**
 * A message encoded once for every connection that receives it. Adapters may keep
 * transport-specific encodings (a pre-built WebSocket frame) in {@link Outbound.cache}.
 * Adapter API; not for application code.
 */
export class Outbound {
  /** JSON of `data`, computed once. */
  readonly dataJson: string
  /** Stream position (set by the broker before the first encoding) when the message is resumable. */
  epoch: string | undefined = undefined
  offset: number | undefined = undefined
  /** Cursor-map key of the stream (`b`, `u`, `c.<name>`) when the message is resumable. */
  key: string | undefined = undefined
  /** SSE: write the connection's cursor map as `id:` before this event. */
  carriesCursor = false
  /** Set on a broker's gap notice (`BrokerMessage.gap`): written as `realtime:gap`, never as is. */
  gap: string | undefined = undefined
  private textFrame: string | undefined
  private sseBlock: string | undefined
  private sseCursorBlock: string | undefined
  /** Core-owned: {@link Outbound.sse} as UTF-8, encoded once (web-standard SSE). */
  sseBytes: Uint8Array | undefined = undefined
  /** Core-owned: {@link Outbound.sseWithOwnCursor} as UTF-8, encoded once (web-standard SSE). */
  sseOwnCursorBytes: Uint8Array | undefined = undefined
  /** Adapter-owned cache of further encodings of this message. */
  cache: unknown = undefined

  constructor(
    readonly event: string,
    data: unknown,
    /** Wire stream name (`channel` field): a channel, or `realtime:user`; absent for broadcast. */
    readonly channel?: string,
  ) {
    if (typeof event !== 'string' || event.length === 0) {
      throw new RealtimeError('REALTIME_INVALID_MESSAGE', 'message.event must be a non-empty string')
    }
    assertSseField('event', event)
    let json: string | undefined
    try {
      json = JSON.stringify(data === undefined ? null : data)
    } catch (error) {
      throw new RealtimeError('REALTIME_INVALID_MESSAGE', `message.data is not JSON-serializable: ${(error as Error).message}`, { cause: error })
    }
    this.dataJson = json ?? 'null'
  }

  /** `epoch:offset` of a resumable message. */
  get id(): string | undefined {
    return this.offset === undefined ? undefined : `${this.epoch}:${this.offset}`
  }

  /** The WebSocket text frame: `{"event":…,"data":…[,"channel":…][,"id":…]}`. */
  get text(): string {
    if (this.textFrame === undefined) {
      let frame = `{"event":${JSON.stringify(this.event)},"data":${this.dataJson}`
      if (this.channel !== undefined) frame += `,"channel":${JSON.stringify(this.channel)}`
      if (this.offset !== undefined) frame += `,"id":${JSON.stringify(`${this.epoch}:${this.offset}`)}`
      this.textFrame = frame + '}'
    }
    return this.textFrame
  }

  /** The SSE event block without its `id:` line: `event: …\ndata: …\n\n`. */
  get sse(): string {
    if (this.sseBlock === undefined) this.sseBlock = `event: ${this.event}\n${encodeSseData(this.dataJson)}\n`
    return this.sseBlock
  }

  /**
   * The SSE event block of a resumable message with the `id:` line of a connection whose cursor
   * map holds only this message's own position (`id: <key>=<epoch>:<offset>`): the common
   * broadcast-only case, where every recipient gets the same bytes. Undefined when not resumable.
   */
  get sseWithOwnCursor(): string | undefined {
    if (this.key === undefined || this.offset === undefined) return undefined
    if (this.sseCursorBlock === undefined) this.sseCursorBlock = `id: ${this.key}=${this.epoch}:${this.offset}\n${this.sse}`
    return this.sseCursorBlock
  }
}

/** Validates a user-supplied message and encodes it once (adapter API). */
export function toOutbound(message: { event: string; data?: unknown }, channel?: string): Outbound {
  if (message === null || typeof message !== 'object') {
    throw new RealtimeError('REALTIME_INVALID_MESSAGE', 'a message must be an object { event, data }')
  }
  // Application events never use the protocol's namespace: a client would take them for control
  // events (a forged `realtime:gap` or `realtime:connected`).
  if (typeof message.event === 'string' && message.event.startsWith(RESERVED_PREFIX)) {
    throw new RealtimeError(
      'REALTIME_INVALID_MESSAGE',
      `event names starting with '${RESERVED_PREFIX}' are reserved for the protocol: ${JSON.stringify(message.event)}`,
    )
  }
  return new Outbound(message.event, message.data, channel)
}
