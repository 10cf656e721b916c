const MARKER = Symbol.for('@loewen-digital/realtime.error')

/**
 * Stable error codes. Every code is listed with its meaning in `docs/errors.md`; codes are never
 * renamed, only added.
 */
export type RealtimeErrorCode =
  | 'REALTIME_INVALID_OPTION'
  | 'REALTIME_INVALID_FIELD'
  | 'REALTIME_INVALID_MESSAGE'
  | 'REALTIME_BAD_FRAME'
  | 'REALTIME_UNKNOWN_CONTROL'
  | 'REALTIME_FORBIDDEN'
  | 'REALTIME_TOO_MANY_CONNECTIONS'
  | 'REALTIME_RATE_LIMITED'
  | 'REALTIME_MESSAGE_TOO_BIG'
  | 'REALTIME_UNSUPPORTED_DATA'
  | 'REALTIME_UPGRADE_UNAVAILABLE'
  | 'REALTIME_HANDLER_ERROR'
  | 'REALTIME_TRANSPORT_ERROR'
  | 'REALTIME_TOO_MANY_CHANNELS'
  | 'REALTIME_INVALID_CHANNEL'
  | 'REALTIME_INVALID_TARGET'
  | 'REALTIME_CLOSED'
  | 'REALTIME_INTERNAL_ERROR'
  | 'REALTIME_UNKNOWN_EVENT'
  | 'REALTIME_INVALID_DATA'
  | 'REALTIME_TOKEN_EXPIRED'
  | 'REALTIME_UNAUTHORIZED'
  | 'REALTIME_NAME_IN_USE'

/**
 * The one error class the library throws or reports. Check with {@link RealtimeError.isInstance},
 * which also works across duplicate installs of the package.
 */
export class RealtimeError extends Error {
  /** Stable machine-readable code (see `docs/errors.md`). */
  readonly code: RealtimeErrorCode
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: read by isInstance through the symbol, across copies of the package
  private readonly [MARKER] = true

  /**
   * @param code - stable code from {@link RealtimeErrorCode}
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`, e.g. `{ cause }`
   */
  constructor(code: RealtimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RealtimeError'
    this.code = code
  }

  /** True when `error` is a {@link RealtimeError} from any copy of this library. */
  static isInstance(error: unknown): error is RealtimeError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true
  }
}
