// Reading a topic's stream: its position and the messages after a given offset, in one script call.
import type { BrokerMessage, HistoryOptions } from '@loewen-digital/realtime-core'
import { decodeBody } from './_codec.js'
import type { Connections } from './_connections.js'
import { randomId, type KeyLayout } from './_keys.js'

export interface StreamRead {
  epoch: string
  offset: number
  messages: BrokerMessage[]
}

/** A position in a stream this process knows of (to detect a stream whose offset went backwards). */
export interface Known {
  epoch: string
  offset: number
}

/**
 * Reads the stream's position and its messages after `since` (-1: only the position). With
 * `known`, a stream whose offset went back below it starts over with a new epoch.
 */
export async function readStream(
  connections: Connections,
  keys: KeyLayout,
  history: Required<HistoryOptions>,
  headerTtl: number,
  topic: string,
  since: number,
  known?: Known,
): Promise<StreamRead> {
  await connections.commandReady()
  const reply = await connections.bounded(
    connections.command.realtimeRead(
      keys.meta(topic),
      keys.stream(topic),
      randomId(),
      since,
      history.ttl,
      headerTtl,
      known?.epoch ?? '',
      known ? String(known.offset) : '',
    ),
  )
  const epoch = String(reply[0])
  const messages: BrokerMessage[] = []
  for (let index = 2; index < reply.length; index += 2) {
    const id = String(reply[index])
    messages.push(decodeBody(topic, String(reply[index + 1]), epoch, Number(id.slice(0, id.indexOf('-')))))
  }
  return { epoch, offset: Number(reply[1]), messages }
}
