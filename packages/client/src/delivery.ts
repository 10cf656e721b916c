// Delivery to the application's handlers: in arrival order, after the event's schema accepted the data; a throwing handler stops nothing.
import { errorMessage, type Message, PREFIX } from './frame.js'
import type { StandardSchemaV1 } from './standard-schema.js'
import type { ClientState } from './state.js'

/** Delivers `message` to the handlers of its event, in arrival order also when a schema validates asynchronously. */
export function dispatch(s: ClientState, message: Message): void {
  if (s._queue) return enqueue(s, () => deliver(s, message))
  const pending = deliver(s, message)
  if (pending) enqueue(s, () => pending)
}

function enqueue(s: ClientState, task: () => unknown): void {
  const queue: Promise<void> = (s._queue ?? Promise.resolve())
    .then(task)
    .catch((cause) => log({ code: 'REALTIME_HANDLER_ERROR', message: 'a delivery failed', cause }))
    .then(() => {
      if (s._queue === queue) s._queue = undefined
    })
  s._queue = queue
}

/** Validates the data when the event has a schema, then emits; a promise when validation is asynchronous. */
function deliver(s: ClientState, message: Message): Promise<void> | void {
  const schemas = s._options.schemas as Record<string, StandardSchemaV1> | undefined
  const schema = schemas && Object.hasOwn(schemas, message.event) && schemas[message.event]
  if (!schema) return emit(s, message)
  const settle = (result: StandardSchemaV1.Result<unknown>) => {
    if (!result.issues) return emit(s, { ...message, data: result.value })
    emit(
      s,
      errorMessage('REALTIME_INVALID_DATA', `invalid data for ${message.event}: ${result.issues.map((issue) => issue.message).join('; ')}`, {
        event: message.event,
        issues: result.issues,
      }),
    )
  }
  const fail = (error: unknown) => settle({ issues: [{ message: String(error) }] })
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>
  try {
    result = schema['~standard'].validate(message.data)
  } catch (error) {
    return fail(error)
  }
  if (typeof (result as Promise<unknown>).then === 'function') return (result as Promise<StandardSchemaV1.Result<unknown>>).then(settle, fail)
  settle(result as StandardSchemaV1.Result<unknown>)
}

function emit(s: ClientState, message: Message): void {
  const handlers = s._handlers.get(message.event)
  const error = message.event === PREFIX + 'error'
  if (!handlers?.size) {
    if (error) log(message.data)
    return
  }
  for (const handler of [...handlers]) {
    try {
      handler(message.data, message)
    } catch (cause) {
      // Reported once: a throwing realtime:error handler only to the console.
      if (error) log({ code: 'REALTIME_HANDLER_ERROR', message: 'a realtime:error handler threw', cause })
      else emit(s, errorMessage('REALTIME_HANDLER_ERROR', `a handler of ${message.event} threw`, { event: message.event, cause }))
    }
  }
}

/** The last resort for errors nobody handles; never throws, whatever `error` is. */
function log(error: any): void {
  try {
    console.error(`[realtime] ${error.code}: ${error.message}`, error.cause ?? '')
  } catch {}
}
