// Reporting: errors to `onError` once, hooks run so that a throw or a rejection is reported, never thrown.
import type { Connection } from '../connection.js'
import { RealtimeError } from '../errors.js'
import type { RealtimeOptions } from '../options.js'

/** Where errors go: the connection's own `onError`, else the instance's, else `console.error`. */
export class Reporting {
  constructor(
    private readonly hook: RealtimeOptions<any>['onError'],
    /** Sees every reported error first (metrics count rejections by code). */
    private readonly observe?: (error: RealtimeError) => void,
  ) {}

  /** Reports `error` once; a hook that throws is logged, never rethrown. */
  report(connection: Connection<any> | undefined, error: RealtimeError): void {
    this.observe?.(error)
    try {
      const local = connection?.handlers.onError
      if (local) local(connection!, error)
      else if (this.hook) this.hook(error, connection)
      else console.error(`[realtime] ${error.code}: ${error.message}`)
    } catch (hookError) {
      console.error('[realtime] onError threw', hookError)
    }
  }

  /** Runs an application hook; a throw or a rejection becomes `REALTIME_HANDLER_ERROR`. */
  guard(connection: Connection<any> | undefined, hook: string, run: () => void | Promise<void>): void {
    try {
      const result = run()
      if (result instanceof Promise) result.catch((error: unknown) => this.report(connection, handlerError(hook, error)))
    } catch (error) {
      this.report(connection, handlerError(hook, error))
    }
  }
}

/** An application hook threw or rejected. */
export function handlerError(hook: string, error: unknown): RealtimeError {
  if (RealtimeError.isInstance(error)) return error
  return new RealtimeError('REALTIME_HANDLER_ERROR', `${hook} threw: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}

/** The socket, the stream or the broker failed. */
export function transportError(error: unknown): RealtimeError {
  return new RealtimeError('REALTIME_TRANSPORT_ERROR', `transport error: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}

/** A failure inside the library itself (a bug or a broker fault) while serving one connection. */
export function internalError(step: string, error: unknown): RealtimeError {
  if (RealtimeError.isInstance(error)) return error
  return new RealtimeError('REALTIME_INTERNAL_ERROR', `${step} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}

/** True for a promise or any other thenable. */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}
