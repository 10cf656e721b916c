// Admission: every refusal of a handshake, one per-user-cap policy, each refusal counted once by reason.
import { DEFAULT_RETRY_AFTER_SECONDS } from '../constants.js'
import type { PresenceStore } from '../broker.js'
import type { Registry } from './registry.js'
import { transportError, type Reporting } from './reporting.js'
import type { Settings } from './settings.js'
import { userTopic } from './topics.js'

/** Why a connection was refused (`stats().refusals`). */
export type RefusalReason = 'capacity' | 'closing' | 'user-cap' | 'origin' | 'upgrade-required' | 'unavailable'

const TEXT = 'text/plain; charset=utf-8'

/**
 * Decides whether a handshake may go on, and answers the ones that may not with an HTTP
 * `Response` (status and reason; see `docs/errors.md`). Counts each refusal once, by reason.
 */
export class Admission {
  /** Refusals since start, by reason. */
  readonly refusals: Record<RefusalReason, number> = { capacity: 0, closing: 0, 'user-cap': 0, origin: 0, 'upgrade-required': 0, unavailable: 0 }
  /** Set by `realtime.close()`: every new connection is refused (503). */
  closing = false
  /** WebSocket handshakes under way (counted against `maxConnections`). */
  pending = 0

  constructor(
    private readonly settings: Settings,
    private readonly registry: Registry,
    private readonly presence: PresenceStore,
    private readonly reporting: Reporting,
    private readonly onRefused: (reason: RefusalReason) => void = () => {},
  ) {}

  /** Refusals since start, all reasons. */
  get refused(): number {
    let total = 0
    for (const count of Object.values(this.refusals)) total += count
    return total
  }

  /** 503 with `Retry-After` over `maxConnections` or while closing; undefined when there is room. */
  capacity(): Response | undefined {
    if (!this.closing && this.registry.all.size + this.pending < this.settings.maxConnections) return undefined
    return this.refuse(this.closing ? 'closing' : 'capacity', 503, this.closing ? 'Server is shutting down' : 'Too many connections', true)
  }

  /**
   * At the moment an upgraded socket opens: false (and counted) when the instance filled up or
   * started closing since the handshake began; the caller closes the socket with 1013.
   */
  roomAtOpen(): boolean {
    if (!this.closing && this.registry.all.size < this.settings.maxConnections) return true
    this.count(this.closing ? 'closing' : 'capacity')
    return false
  }

  /** 426 for a request that is not a WebSocket upgrade. */
  upgradeRequired(request: Request): Response | undefined {
    if ((request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket') return undefined
    this.count('upgrade-required')
    return new Response('Expected a WebSocket upgrade request', { status: 426, headers: { Upgrade: 'websocket' } })
  }

  /** 403 for a browser upgrade from an origin `allowedOrigins` does not allow (cross-site WebSocket hijacking). */
  origin(request: Request): Response | undefined {
    if (this.originAllowed(request)) return undefined
    return this.refuse('origin', 403, 'Origin not allowed', false)
  }

  /**
   * CORS headers for an SSE stream (or its refusal) requested from another origin that
   * `allowedOrigins` allows: that origin, with credentials (cookies, `withCredentials`), and
   * `Vary: Origin`. Undefined without an `Origin` header or for an origin it does not allow (the
   * browser then withholds the answer from the page).
   */
  cors(request: Request): Record<string, string> | undefined {
    const origin = request.headers.get('origin')
    if (origin === null || !this.originAllowed(request)) return undefined
    return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' }
  }

  /**
   * The answer to a CORS preflight (`OPTIONS`) of an SSE request: 204, with the CORS headers, `GET`
   * and the request headers asked for (say `Authorization`) when the origin is allowed; a bare 204
   * otherwise.
   */
  preflight(request: Request): Response {
    const cors = this.cors(request)
    if (!cors) return new Response(null, { status: 204, headers: { Vary: 'Origin' } })
    const headers: Record<string, string> = {
      ...cors,
      'Access-Control-Allow-Methods': 'GET',
      'Access-Control-Max-Age': '600',
      Vary: 'Origin, Access-Control-Request-Headers',
    }
    const asked = request.headers.get('access-control-request-headers')
    // Header names only (tokens, commas, spaces), at most 1000 characters: echoed as asked.
    if (asked && asked.length <= 1000 && /^[\w!#$%&'*+.^`|~, -]*$/.test(asked)) headers['Access-Control-Allow-Headers'] = asked
    return new Response(null, { status: 204, headers })
  }

  /** 501 on a runtime that cannot upgrade. */
  unavailable(runtime: string): Response {
    this.count('unavailable')
    return new Response(`WebSocket upgrades are not available on runtime '${runtime}'; install the adapter for your runtime`, { status: 501 })
  }

  /**
   * The per-user cap, the one policy for both transports: the user's connections (cluster-wide
   * where the broker's presence store is shared, else this process's) against
   * `maxConnectionsPerUser`. Synchronous when the store answers at once. 429 with `Retry-After`
   * over the cap.
   */
  userCap(userId: string): Response | undefined | Promise<Response | undefined> {
    const count = this.userConnections(userId)
    if (typeof count === 'number') return count >= this.settings.maxConnectionsPerUser ? this.userCapResponse() : undefined
    return count.then((value) => (value >= this.settings.maxConnectionsPerUser ? this.userCapResponse() : undefined))
  }

  /**
   * After a connection opened: true when its user has more than `maxConnectionsPerUser` (handshakes
   * in several processes at once each saw room). The caller closes it with 1008.
   */
  async overUserCapAfterOpen(userId: string): Promise<boolean> {
    if ((await this.userConnections(userId)) <= this.settings.maxConnectionsPerUser) return false
    this.count('user-cap')
    return true
  }

  /** Connections of a user: cluster-wide through the presence store, at least this process's. */
  private userConnections(userId: string): number | Promise<number> {
    const local = this.registry.userCount(userId)
    // Over the cap here already: no need to ask a distributed store (and SSE can refuse at once).
    if (local >= this.settings.maxConnectionsPerUser) return local
    const fail = (error: unknown) => {
      this.reporting.report(undefined, transportError(error))
      return local
    }
    try {
      const listed = this.presence.list(userTopic(userId))
      if (Array.isArray(listed)) return Math.max(local, listed.length)
      return Promise.resolve(listed).then((entries) => Math.max(local, entries.length), fail)
    } catch (error) {
      return fail(error)
    }
  }

  private userCapResponse(): Response {
    return this.refuse('user-cap', 429, 'Too many connections for this user', true)
  }

  private count(reason: RefusalReason): void {
    this.refusals[reason]++
    this.onRefused(reason)
  }

  private refuse(reason: RefusalReason, status: number, text: string, retry: boolean): Response {
    this.count(reason)
    const headers: Record<string, string> = { 'Content-Type': TEXT }
    if (retry) headers['Retry-After'] = String(DEFAULT_RETRY_AFTER_SECONDS)
    return new Response(text, { status, headers })
  }

  private originAllowed(request: Request): boolean {
    const origin = request.headers.get('origin')
    const allowed = this.settings.allowedOrigins
    if (allowed === '*') return true
    if (origin === null) return true
    if (typeof allowed === 'function') return allowed(origin, request) === true
    if (Array.isArray(allowed)) return allowed.includes(origin)
    const url = safeUrl(request.url)
    if (url && url.origin === origin) return true
    // Behind a proxy the request URL may be the internal one: compare with the Host header too.
    const host = request.headers.get('host')
    return host !== null && (origin === `http://${host}` || origin === `https://${host}`)
  }
}

/** `new URL(url)`, or undefined when it does not parse. */
export function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}
