// Inbound frames: the rate limit, the size limit, control frames, and application messages to `onMessage`.
import { CLOSE_CODES } from '../constants.js'
import type { Connection } from '../connection.js'
import { RealtimeError } from '../errors.js'
import { Outbound } from '../message.js'
import { CLIENT_CONTROL, parseControlFrame, SERVER_CONTROL, type ControlFrame } from '../protocol.js'
import type { EventHandlers } from './event-handlers.js'
import type { Expiry } from './expiry.js'
import { controlError, type Membership } from './membership.js'
import type { Metrics } from './metrics.js'
import { internalError, type Reporting } from './reporting.js'
import type { Settings } from './settings.js'

const encoder = new TextEncoder()

/**
 * Handles each text message a client sends: over the rate limit closes 1008, over the size limit
 * 1009, a malformed control frame gets `realtime:error`, a request or an `{ event, data }` message
 * whose event has a `realtime.on` handler goes to that handler, anything else reaches `onMessage`
 * exactly as sent. Requests count against the rate limit like every other message. Owns `Connection.rateWindow` and `Connection.rateCount`.
 */
export class Inbound {
  constructor(
    private readonly settings: Settings,
    private readonly membership: Membership,
    private readonly reporting: Reporting,
    private readonly metrics: Metrics,
    private readonly events: EventHandlers,
    private readonly expiry: Expiry,
  ) {}

  /** One inbound text message. Never throws. */
  receive(connection: Connection<any>, text: string): void {
    const { rateMessages, rateInterval, maxMessageBytes } = this.settings
    this.metrics.inbound()
    if (rateMessages !== Infinity) {
      const now = Date.now()
      if (now - connection.rateWindow >= rateInterval) {
        connection.rateWindow = now
        connection.rateCount = 0
      }
      if (++connection.rateCount > rateMessages) {
        if (connection.rateCount === rateMessages + 1) {
          this.reporting.report(connection, new RealtimeError('REALTIME_RATE_LIMITED', `more than ${rateMessages} messages in ${rateInterval} ms`))
          connection.close(CLOSE_CODES.POLICY_VIOLATION, 'rate limit exceeded')
        }
        return
      }
    }
    if (text.length > maxMessageBytes || (text.length * 3 > maxMessageBytes && encoder.encode(text).byteLength > maxMessageBytes)) {
      this.reporting.report(connection, new RealtimeError('REALTIME_MESSAGE_TOO_BIG', `message exceeds maxMessageBytes (${maxMessageBytes})`))
      connection.close(CLOSE_CODES.MESSAGE_TOO_BIG, 'message too big')
      return
    }
    let frame: ControlFrame | undefined
    try {
      frame = parseControlFrame(text)
    } catch (error) {
      const realtimeError = error as RealtimeError
      this.metrics.rejected('bad_frame')
      controlError(connection, realtimeError.code, realtimeError.message)
      return
    }
    if (frame === undefined) {
      if (!this.events.empty) {
        const message = applicationEvent(text)
        if (message !== undefined && this.events.has(message.event)) return this.events.event(connection, message.event, message.data)
      }
      const onMessage = connection.handlers.onMessage
      if (onMessage) this.reporting.guard(connection, 'onMessage', () => onMessage(connection, text))
      return
    }
    switch (frame.event) {
      case CLIENT_CONTROL.SUBSCRIBE: {
        const channel = frame.channel
        this.membership.join(connection, channel, false, frame.cursor).catch((error: unknown) => this.membership.joinFailed(connection, channel, error))
        return
      }
      case CLIENT_CONTROL.UNSUBSCRIBE:
        this.membership.leave(connection, frame.channel)
        connection.write(new Outbound(SERVER_CONTROL.UNSUBSCRIBED, { channel: frame.channel }))
        return
      case CLIENT_CONTROL.PING:
        connection.write(new Outbound(SERVER_CONTROL.PONG, frame.data ?? null))
        return
      case CLIENT_CONTROL.REQUEST:
        this.events.request(connection, frame.id, frame.name, frame.data)
        return
      case CLIENT_CONTROL.AUTH:
        this.expiry.renew(connection, frame.token).catch((error: unknown) => this.reporting.report(connection, internalError('renew', error)))
        return
    }
  }
}

/** `{ event, data }` when `text` is a JSON object with a string `event`, else undefined. */
function applicationEvent(text: string): { event: string; data: unknown } | undefined {
  if (text.indexOf('"event"') === -1) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const event = (value as { event?: unknown }).event
  return typeof event === 'string' ? { event, data: (value as { data?: unknown }).data } : undefined
}
