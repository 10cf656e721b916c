// "Processes" in one test process: a realtime hub (core) per Redis broker, with SSE clients read
// straight from the hub's Response. What the clients receive is what the delivery contract is
// about: every message once, in order per publisher, or a realtime:gap.
import { createRealtime, type PresenceChange, type Realtime, type RealtimeOptions } from '@loewen-digital/realtime-core'
import { redisBroker, type RedisBroker, type RedisBrokerOptions } from '../../src/index.js'

export interface ClientEvent {
  event: string
  data: any
  id?: string
}

export interface Client {
  events: ClientEvent[]
  /** The data of the application messages (`tick`), in arrival order. */
  ticks(): unknown[]
  /** The `realtime:gap` events' data. */
  gaps(): Array<{ channel: string; reason: string; cursor: string | null }>
  /** The SSE id (cursor map) that came with the tick `data`. */
  idOf(data: unknown): string | undefined
  close(): void
}

export interface Process {
  realtime: Realtime
  broker: RedisBroker
  errors: string[]
  /** Publishes a `tick` to the channel (as `toChannel(channel).broadcast` does). */
  tick(channel: string, data: unknown): Promise<void>
  /** An SSE client of `channel`, resuming from `lastEventId` when given; resolves once connected. */
  client(channel: string, lastEventId?: string): Promise<Client>
  close(): Promise<void>
}

/**
 * Starts a hub on a Redis broker with `options`. Every "process" runs the same application, so they
 * share one explicit name ('app'): brokers of one namespace in one process may share a name only
 * when it is given, not a default one (REALTIME_NAME_IN_USE). `realtimeOptions` overrides the hub's options.
 */
export async function startProcess(options: RedisBrokerOptions, realtimeOptions: RealtimeOptions = {}): Promise<Process> {
  const errors: string[] = []
  const broker = redisBroker({ onError: (error) => errors.push(error.message), ...options })
  const realtime = createRealtime({ broker, heartbeat: 0, name: 'app', ...realtimeOptions })
  const clients: Client[] = []
  await broker.ready()
  return {
    realtime,
    broker,
    errors,
    tick: (channel, data) => Promise.resolve(realtime.toChannel(channel).broadcast({ event: 'tick', data })).then(() => undefined),
    async client(channel, lastEventId) {
      const headers: Record<string, string> = lastEventId ? { 'last-event-id': lastEventId } : {}
      const { response } = realtime.sse(new Request(`http://test/events?channel=${encodeURIComponent(channel)}`, { headers }))
      const { events, cancel } = readSse(response)
      const client: Client = {
        events,
        ticks: () => events.filter((event) => event.event === 'tick').map((event) => event.data),
        gaps: () => events.filter((event) => event.event === 'realtime:gap').map((event) => event.data),
        idOf: (data) => events.find((event) => event.event === 'tick' && event.data === data)?.id,
        close: cancel,
      }
      clients.push(client)
      const deadline = Date.now() + 10_000
      while (!events.some((event) => event.event === 'realtime:connected')) {
        if (Date.now() > deadline) throw new Error('the SSE client did not get realtime:connected')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return client
    },
    async close() {
      for (const client of clients) client.close()
      await realtime.close({ drainTimeout: 100 })
    },
  }
}

/** A hub whose `chat` channel has presence, users named by the `user` query parameter. */
export interface PresenceHub {
  realtime: Realtime
  broker: RedisBroker
  /** Every `onPresence` change this process ran. */
  changes: PresenceChange[]
  /** An SSE client of this process with `query` (e.g. `user=carol&channel=chat`). */
  client(query: string): { events: ClientEvent[]; cancel(): void }
  close(): Promise<void>
}

/**
 * Starts a {@link PresenceHub} on a Redis broker with `options`, capping users at `maxConnectionsPerUser`.
 * Named 'sse' explicitly: the same application as the demo fixture's main instance (whose default
 * name that is), and several of them may run in this one process (a default name could not).
 */
export async function startPresenceHub(options: RedisBrokerOptions, maxConnectionsPerUser = 4): Promise<PresenceHub> {
  const broker = redisBroker({ onError: () => {}, ...options })
  const realtime = createRealtime({
    name: 'sse',
    broker,
    heartbeat: 0,
    maxConnectionsPerUser,
    identify: (request) => new URL(request.url).searchParams.get('user') ?? undefined,
    onError: () => {},
  })
  const changes: PresenceChange[] = []
  realtime.channel('chat', { presence: true, onPresence: (change) => void changes.push(change) })
  await broker.ready()
  const clients: Array<() => void> = []
  return {
    realtime,
    broker,
    changes,
    client(query) {
      const reader = readSse(realtime.sse(new Request(`http://test/events?${query}`)).response)
      clients.push(reader.cancel)
      return reader
    },
    async close() {
      for (const cancel of clients) cancel()
      await realtime.close({ drainTimeout: 100 })
    },
  }
}

/** The presence changes (`realtime:presence` join and leave) among `events`, as `<action>:<user>`. */
export function presenceChanges(events: ClientEvent[]): string[] {
  return events
    .filter((event) => event.event === 'realtime:presence' && event.data.action !== 'snapshot')
    .map((event) => `${event.data.action}:${event.data.member.userId ?? 'anonymous'}`)
}

/** Reads an SSE response as it arrives: `events` grows with each event; `cancel` ends the read. */
export function readSse(response: Response): { events: ClientEvent[]; cancel(): void } {
  const reader = response.body!.getReader()
  const events: ClientEvent[] = []
  void (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buffer += decoder.decode(value, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event: Partial<ClientEvent> & { lines: string[] } = { lines: [] }
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event.event = line.slice(7)
            else if (line.startsWith('data: ')) event.lines.push(line.slice(6))
            else if (line.startsWith('id: ')) event.id = line.slice(4)
          }
          if (event.lines.length === 0) continue
          const text = event.lines.join('\n')
          let data: unknown = text
          try {
            data = JSON.parse(text)
          } catch {}
          events.push({ event: event.event ?? 'message', data, id: event.id })
        }
      }
    } catch {}
  })()
  return { events, cancel: () => void reader.cancel().catch(() => {}) }
}

/** How often each value occurs more than once in `values`. */
export function duplicates(values: unknown[]): number {
  const seen = new Set<unknown>()
  let count = 0
  for (const value of values) {
    if (seen.has(value)) count++
    seen.add(value)
  }
  return count
}
