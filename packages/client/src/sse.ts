// The SSE transport: one EventSource per connection, its named events, the heartbeat watch, and the status of a refusal EventSource hides.
import { PREFIX } from './frame.js'
import { MAX_TIMER } from './reconnect-policy.js'
import type { End, Options, Read, Wire } from './transport.js'
import { watch } from './transport.js'
import type { EventSourceConstructor } from './types.js'

/** Control events the server sends over SSE as named events. */
const CONTROL = ['connected', 'subscribed', 'unsubscribed', 'gap', 'error', 'reconnect', 'pong', 'heartbeat']

/**
 * Opens an SSE stream to `href` that listens to the control events and to `events` (the names the
 * application handles). The client never lets `EventSource` reconnect by itself (it would wait the
 * server's `retry:`, which no option bounds): when the stream fails, it is closed and ends.
 */
export function openSse(href: string, Source: EventSourceConstructor, options: Options, read: Read, end: End, events: Iterable<string>): Wire {
  const source = new Source(href, { withCredentials: options.withCredentials === true })
  const listening = new Set<string>()
  /** When the stream last delivered anything (its heartbeats included). */
  let heard = 0
  let connected = false
  let stop: (() => void) | undefined
  const listen = (event: string) => {
    if (listening.has(event)) return
    listening.add(event)
    source.addEventListener(event, (message: MessageEvent) => {
      heard = Date.now()
      // The server writes the whole cursor map as the id; EventSource repeats the last one.
      if (event !== PREFIX + 'heartbeat') read(message.data, event, message.lastEventId)
    })
  }
  const wire: Wire = {
    _close() {
      stop?.()
      source.close()
    },
    _listen: listen,
    _connected(heartbeat: any) {
      connected = true
      if (!(heartbeat > 0)) return
      // Dead peer: nothing (not even a heartbeat) for two heartbeat intervals, at least 2 s.
      const limit = Math.min(Math.max(2 * heartbeat, 2000), MAX_TIMER)
      stop = watch(limit / 2, () => Date.now() - heard <= limit, wire, end)
    },
  }
  // Heartbeats as events (the `heartbeat=1` of the URL): EventSource hides comment lines.
  for (const name of ['message', ...CONTROL.map((name) => PREFIX + name), ...events]) listen(name)
  source.onerror = (event?: { code?: number; status?: number; retryAfter?: string | null }) => {
    wire._close()
    const report = end()
    const fetcher = options.fetch ?? globalThis.fetch
    // The fetch transport (`./fetch`) knows the status of a refusal: no need to ask again.
    if (event?.status) return report(event.status, undefined, undefined, event.retryAfter)
    // Set up, then ended: the server is there; reconnect.
    if (connected || !fetcher) return report(event?.code)
    // It failed before realtime:connected, and EventSource does not show why. Ask again to learn
    // the status and Retry-After, then drop the answer. EventSource follows redirects itself: a
    // redirect is followed here too, and one that leads nowhere (a loop) refuses for good.
    const ask = async (redirect: RequestRedirect) => {
      const controller = new AbortController()
      const response = await fetcher(href, {
        headers: { accept: 'text/event-stream' },
        credentials: options.withCredentials ? 'include' : 'same-origin',
        signal: controller.signal,
        redirect,
      })
      controller.abort()
      return response
    }
    ask('manual')
      .then(async (response) => {
        // A browser hides the status of a redirect it did not follow: 300 stands for it.
        const redirect = response.type === 'opaqueredirect' ? 300 : response.status >= 300 && response.status < 400 ? response.status : 0
        if (redirect) response = await ask('follow').catch(() => ({ status: redirect, headers: response.headers }) as Response)
        report(response.status === 200 ? undefined : response.status, undefined, undefined, response.headers.get('retry-after'))
      })
      .catch(() => report(event?.code))
  }
  return wire
}
