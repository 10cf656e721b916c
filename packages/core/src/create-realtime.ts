import type { AnyClientEvents, ClientEventMap, EventMap } from './message.js'
import type { RealtimeOptions } from './options.js'
import { Realtime } from './realtime.js'

/**
 * Creates a realtime instance on web standards only: SSE works on any runtime whose `Response`
 * accepts a `ReadableStream` body; `upgrade()` answers 501 because WebSockets need a runtime
 * adapter (`@loewen-digital/realtime-node`, `-bun`, `-deno`, `-workers`). The facade
 * `@loewen-digital/realtime` picks the right adapter for you.
 */
export function createRealtime<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents>(
  options: RealtimeOptions<Events, Client> = {},
): Realtime<Events, Client> {
  return new Realtime<Events, Client>(options)
}
