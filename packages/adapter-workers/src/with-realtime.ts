import { REPLAY_HEADER } from './_protocol.js'
import { instanceNamed, registerApplication, rememberEnv, takeForward } from './_registry.js'
import type { ExecutionContextLike, WorkerHandler } from './_runtime.js'

/**
 * Wraps the Worker's default export so realtime routes work: when a route's `realtime.sse()` or
 * `realtime.upgrade()` answers, the request is handed to the instance's Durable Object, which runs
 * this same handler again and completes the call there, next to the connections. Also remembers
 * the Worker's `env` (for the Durable Object binding) from every handler it wraps.
 *
 * @example
 * export default withRealtime({ fetch: (request) => router(request) })
 * export { RealtimeDurableObject } from '@loewen-digital/realtime'
 *
 * @param handler - the Worker's handler object (`fetch`, `scheduled`, `queue`, …)
 * @returns a handler object with the same handlers
 */
export function withRealtime<Handler extends WorkerHandler>(handler: Handler): Handler {
  registerApplication(handler)
  const wrapped: Record<string, unknown> = {}
  for (const key of Object.keys(handler)) {
    const value = (handler as Record<string, unknown>)[key]
    wrapped[key] =
      typeof value === 'function'
        ? (event: unknown, env: unknown, context: unknown) => {
            rememberEnv(env)
            return (value as (...args: unknown[]) => unknown).call(handler, event, env, context)
          }
        : value
  }
  if (handler.fetch) {
    wrapped.fetch = async (request: Request, env: unknown, context: ExecutionContextLike) => {
      rememberEnv(env)
      // A replay mark from the internet means nothing: only the object sets it.
      const incoming = request.headers.has(REPLAY_HEADER) ? withoutReplayMark(request) : request
      const response = await handler.fetch!(incoming, env, context)
      const forward = takeForward(response)
      if (!forward) return response
      const instance = instanceNamed(forward.instance)
      if (!instance) return response
      await response.body?.cancel()
      const answer = await instance.connect(incoming)
      return answer.body && (answer.headers.get('content-type') ?? '').startsWith('text/event-stream') ? relay(answer, incoming.signal) : answer
    }
  }
  return wrapped as Handler
}

/**
 * Streams the object's SSE response through this Worker, cancelling it when the client goes away:
 * the runtime does not always tell the object when a client vanishes while data flows.
 */
function relay(answer: Response, signal: AbortSignal | undefined): Response {
  const reader = answer.body!.getReader()
  const cancel = (reason?: unknown) => reader.cancel(reason).catch(() => {})
  signal?.addEventListener('abort', () => void cancel('client went away'), { once: true })
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      },
      cancel,
    },
    { highWaterMark: 0 },
  )
  return new Response(body, answer)
}

function withoutReplayMark(request: Request): Request {
  const headers = new Headers(request.headers)
  headers.delete(REPLAY_HEADER)
  return new Request(request, { headers })
}
