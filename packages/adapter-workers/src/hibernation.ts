// Hibernation storage: what survives of a WebSocket connection while its Durable Object is out of memory.
import { spillKey, type Attachment } from './_protocol.js'
import type { DurableObjectStateLike, WorkersWebSocket } from './_runtime.js'
import type { WorkersWebSocketConnection } from './websocket-connection.js'

/** Fields too large for a socket's attachment (2,048 bytes), kept in the object's storage instead. */
type Spilled = Pick<Attachment, 'url' | 'channels' | 'headers'>

/**
 * Stores id, user, channels, origin and deadline of a connection with its socket (the Hibernation
 * API's attachment); what does not fit in the attachment's 2,048 bytes goes to the object's storage.
 */
export function saveAttachment(state: DurableObjectStateLike, connection: WorkersWebSocketConnection<any>, instance: string): void {
  const origin = connection.origin
  const attachment: Attachment = {
    v: 1,
    id: connection.id,
    instance,
    handlers: origin.handlers,
    url: origin.url,
    channels: [...connection.channels],
    headers: origin.headers,
  }
  if (connection.userId !== undefined) attachment.user = connection.userId
  if (connection.deadline !== undefined) attachment.deadline = connection.deadline
  try {
    connection.ws.serializeAttachment(attachment)
    if (origin.spilled) {
      origin.spilled = false
      state.waitUntil(state.storage.delete(spillKey(connection.id)))
    }
    return
  } catch {
    // more than 2,048 bytes: keep the large fields in storage, the rest with the socket
  }
  origin.spilled = true
  const spilled: Spilled = { url: attachment.url, channels: attachment.channels, headers: attachment.headers }
  state.waitUntil(state.storage.put(spillKey(connection.id), spilled))
  const small: Attachment = { v: 1, id: attachment.id, instance: attachment.instance, handlers: attachment.handlers, url: '', spilled: true }
  if (attachment.user !== undefined) small.user = attachment.user
  if (attachment.deadline !== undefined) small.deadline = attachment.deadline
  connection.ws.serializeAttachment(small)
}

/** A closed connection: deletes what was spilled to storage for it. */
export function forgetAttachment(state: DurableObjectStateLike, connection: WorkersWebSocketConnection<any>): void {
  if (connection.origin.spilled) state.waitUntil(state.storage.delete(spillKey(connection.id)))
}

/** A socket's attachment, if it carries one of ours. */
export function readAttachment(ws: WorkersWebSocket): Attachment | undefined {
  try {
    const value = ws.deserializeAttachment() as Attachment | null
    return value && value.v === 1 ? value : undefined
  } catch {
    return undefined
  }
}

/** An attachment with its spilled fields read back from storage. */
export async function fullAttachment(state: DurableObjectStateLike, attachment: Attachment): Promise<Attachment> {
  if (!attachment.spilled) return attachment
  const spilled = await state.storage.get<Spilled>(spillKey(attachment.id))
  return { ...attachment, ...spilled }
}
