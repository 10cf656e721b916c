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

/** How long a client read's reply is given to the same read after it arrived (ms). */
const REUSE_MS = 1000
/** Replies kept for reuse at most (all are forgotten when full). */
const MAX_KEPT = 256

/**
 * Reads for clients (resume, position) that share one script call when they are the same read:
 * in a reconnect storm thousands of clients resume one stream from one message at once, and each
 * read is the same reply. A read is given a reply in flight, or one that arrived within the last
 * {@link REUSE_MS}, only while this process has handed nothing of the topic to its hub since that
 * read was sent (the caller puts the topic's handed-over position in `key`): what reaches the hub
 * later reaches the new reader's connection live, and what reached it before is in the reply, so
 * nothing falls between replay and live. Callers share the reply's messages and must not change
 * them (the hub keeps each message's encoded form on it, so the replay is encoded once for all).
 */
export class SharedReads {
  private readonly reads = new Map<string, { reply: Promise<StreamRead>; until: number }>()

  /** The reply under `key` in flight or recent, else a new one made by `read`. */
  read(key: string, read: () => Promise<StreamRead>): Promise<StreamRead> {
    const now = Date.now()
    const existing = this.reads.get(key)
    if (existing !== undefined && existing.until >= now) return existing.reply
    if (this.reads.size >= MAX_KEPT) this.reads.clear()
    const reply = read()
    // Until it arrives, then for REUSE_MS; a failed read is not given to anyone else.
    const entry = { reply, until: Number.POSITIVE_INFINITY }
    this.reads.set(key, entry)
    reply.then(
      () => {
        entry.until = Date.now() + REUSE_MS
      },
      () => {
        if (this.reads.get(key) === entry) this.reads.delete(key)
      },
    )
    return reply
  }

  /** Forgets every reply (the broker closes). */
  clear(): void {
    this.reads.clear()
  }
}
