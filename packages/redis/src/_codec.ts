// How a message travels through Redis: a JSON body (event, data, except, gap; the topic is in the
// key or channel name), and on pub/sub `<epoch>\n<offset>\n<body>` so the receiver learns the
// position the publish script assigned.
import type { BrokerMessage } from '@loewen-digital/realtime-core'

/** `BrokerMessage.ephemeral`, read structurally so this works with cores that predate it. */
type Ephemeral = { ephemeral?: boolean }

/** True for a message that is not stored in history and carries no cursor (presence updates). */
export function isEphemeral(message: BrokerMessage): boolean {
  return (message as Ephemeral).ephemeral === true
}

interface Body {
  e: string
  d?: unknown
  x?: string
  g?: BrokerMessage['gap']
  /** Ephemeral (presence updates): no history, no cursor. */
  p?: true
  /** Origin: `<process id>:<publish sequence number>`, so the publishing process knows its own messages. */
  o?: string
}

/** The origins of decoded messages (kept off the message the hub sees). */
const origins = new WeakMap<BrokerMessage, string>()

/** The origin (`<process id>:<sequence number>`) a decoded message was published with. */
export function originOf(message: BrokerMessage): string | undefined {
  return origins.get(message)
}

/** The JSON body of a message (without topic and position), with its origin when given. */
export function encodeBody(message: BrokerMessage, origin?: string): string {
  const body: Body = { e: message.event, d: message.data }
  if (message.except !== undefined) body.x = message.except
  if (message.gap !== undefined) body.g = message.gap
  if ((message as Ephemeral).ephemeral === true) body.p = true
  if (origin !== undefined) body.o = origin
  return JSON.stringify(body)
}

/** The message of a body read from a stream entry or a pub/sub payload. */
export function decodeBody(topic: string, body: string, epoch: string | undefined, offset: number | undefined): BrokerMessage {
  const parsed = JSON.parse(body) as Body
  const message: BrokerMessage = { topic, event: parsed.e, data: parsed.d }
  if (parsed.x !== undefined) message.except = parsed.x
  if (parsed.g !== undefined) message.gap = parsed.g
  if (parsed.p === true) (message as Ephemeral).ephemeral = true
  if (typeof parsed.o === 'string') origins.set(message, parsed.o)
  if (offset !== undefined) {
    message.epoch = epoch
    message.offset = offset
  }
  return message
}

/** Decodes a pub/sub payload `<epoch>\n<offset>\n<body>` (epoch and offset empty without history). */
export function decodePayload(topic: string, payload: string): BrokerMessage {
  const first = payload.indexOf('\n')
  const second = payload.indexOf('\n', first + 1)
  if (first < 0 || second < 0) throw new SyntaxError('malformed broker payload')
  const offsetText = payload.slice(first + 1, second)
  const offset = offsetText === '' ? undefined : Number(offsetText)
  return decodeBody(topic, payload.slice(second + 1), payload.slice(0, first), offset)
}

/** The payload of a message published without history or ephemeral (no position). */
export function encodePayloadWithoutHistory(message: BrokerMessage, origin?: string): string {
  return '\n\n' + encodeBody(message, origin)
}
