// Event handlers: the application's `realtime.on(event, handler)` for events clients send, with
// optional Standard Schema validation, and the answers to `realtime:request`.
import type { Connection } from '../connection.js'
import { RealtimeError } from '../errors.js'
import { Outbound } from '../message.js'
import { SERVER_CONTROL } from '../protocol.js'
import type { StandardSchemaV1 } from '../standard-schema.js'
import { handlerError, isThenable, type Reporting } from './reporting.js'

/** A handler of one client event: its result answers a request (ignored for a plain event). */
export type EventHandler = (data: any, socket: Connection<any>) => unknown

/** What a client receives when its request failed: `realtime:response` `{ id, error }`. */
interface ErrorAnswer {
  code: string
  message: string
  issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }>
}

/**
 * Holds the handlers of client events and runs them: validates the data when the event has a
 * schema, calls the handler inside a guard, and answers a request with what it returned or the
 * error it threw. Nothing here throws into the transport.
 */
export class EventHandlers {
  private readonly handlers = new Map<string, EventHandler>()

  constructor(
    private readonly schemas: Readonly<Record<string, StandardSchemaV1 | undefined>> | undefined,
    private readonly reporting: Reporting,
  ) {}

  /** True when no handler is registered (inbound frames then skip parsing application events). */
  get empty(): boolean {
    return this.handlers.size === 0
  }

  /** Registers (or replaces) the handler of `event`. */
  set(event: string, handler: EventHandler): void {
    if (typeof event !== 'string' || event.length === 0 || event.startsWith('realtime:')) {
      throw new RealtimeError(
        'REALTIME_INVALID_OPTION',
        `on(): the event must be a non-empty name outside the realtime: namespace, got ${JSON.stringify(event)}`,
      )
    }
    if (typeof handler !== 'function') throw new RealtimeError('REALTIME_INVALID_OPTION', `on(${JSON.stringify(event)}): the handler must be a function`)
    this.handlers.set(event, handler)
  }

  /** Removes the handler of `event`. */
  delete(event: string, handler?: EventHandler): void {
    if (handler === undefined || this.handlers.get(event) === handler) this.handlers.delete(event)
  }

  has(event: string): boolean {
    return this.handlers.has(event)
  }

  /**
   * A plain client event with a handler: validated, then handled; the result is dropped. A
   * failure (invalid data, a throwing handler) answers `realtime:error` `{ code, message, event }`.
   */
  event(connection: Connection<any>, event: string, data: unknown): void {
    this.run(connection, event, data, (error) => {
      if (!connection.isClosed) connection.write(new Outbound(SERVER_CONTROL.ERROR, { ...serializable(error), event }))
    })
  }

  /** A request: answered with `realtime:response` `{ id, data }` or `{ id, error }`, exactly once. */
  request(connection: Connection<any>, id: string, event: string, data: unknown): void {
    if (!this.handlers.has(event)) {
      return this.answer(connection, id, { code: 'REALTIME_UNKNOWN_EVENT', message: `no handler for ${JSON.stringify(event)}` })
    }
    this.run(
      connection,
      event,
      data,
      (error) => this.answer(connection, id, error),
      (result) => this.answer(connection, id, undefined, result),
    )
  }

  /**
   * Validates and runs a handler. `failed` gets what the client may see; `done` the result.
   * A handler that throws a `RealtimeError` sends its code and message (an expected refusal, not
   * reported); anything else is reported to `onError` and the client sees only `REALTIME_HANDLER_ERROR`.
   */
  private run(connection: Connection<any>, event: string, data: unknown, failed: (error: ErrorAnswer) => void, done?: (result: unknown) => void): void {
    const handler = this.handlers.get(event)!
    const threw = (error: unknown) => {
      if (RealtimeError.isInstance(error)) return failed({ code: error.code, message: error.message })
      this.reporting.report(connection, handlerError(`the handler of ${JSON.stringify(event)}`, error))
      failed({ code: 'REALTIME_HANDLER_ERROR', message: `the handler of ${JSON.stringify(event)} failed` })
    }
    const call = (value: unknown) => {
      try {
        const result = handler(value, connection)
        if (isThenable(result)) Promise.resolve(result).then(done, threw)
        else done?.(result)
      } catch (error) {
        threw(error)
      }
    }
    const schema = this.schemas && Object.hasOwn(this.schemas, event) ? this.schemas[event] : undefined
    if (!schema) return call(data)
    const settle = (result: StandardSchemaV1.Result<unknown>) => {
      if (!result.issues) return call(result.value)
      const issues = result.issues.map((issue) =>
        issue.path
          ? { message: issue.message, path: issue.path.map((segment) => (typeof segment === 'object' ? segment.key : segment)) }
          : { message: issue.message },
      )
      failed({
        code: 'REALTIME_INVALID_DATA',
        message: `invalid data for ${JSON.stringify(event)}: ${issues.map((issue) => issue.message).join('; ')}`,
        issues,
      })
    }
    const broken = (error: unknown) => threw(error)
    try {
      const result = schema['~standard'].validate(data)
      if (isThenable(result)) Promise.resolve(result).then(settle, broken)
      else settle(result)
    } catch (error) {
      broken(error)
    }
  }

  /** Writes the answer of request `id`; a result that cannot be serialized becomes an error answer. */
  private answer(connection: Connection<any>, id: string, error: ErrorAnswer | undefined, result?: unknown): void {
    if (connection.isClosed) return
    let outbound: Outbound
    try {
      outbound = new Outbound(SERVER_CONTROL.RESPONSE, error ? { id, error: serializable(error) } : { id, data: result === undefined ? null : result })
    } catch (cause) {
      this.reporting.report(connection, handlerError('a request handler returned data that is not JSON', cause))
      outbound = new Outbound(SERVER_CONTROL.RESPONSE, { id, error: { code: 'REALTIME_HANDLER_ERROR', message: 'the result could not be serialized' } })
    }
    connection.write(outbound)
  }
}

/** An error answer with JSON-safe issue paths (symbols become strings). */
function serializable(error: ErrorAnswer): ErrorAnswer {
  if (!error.issues) return error
  return {
    ...error,
    issues: error.issues.map((issue) => (issue.path ? { ...issue, path: issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key)) } : issue)),
  }
}
