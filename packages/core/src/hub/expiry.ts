// Expiry: connections whose credential expires (`identify` returned `expiresAt`): the request for a
// fresh token, its renewal over the open WebSocket (`reauthenticate`), and the end of the rest.
import { CLOSE_CODES, TOKEN_REFRESH_LEAD_MS } from '../constants.js'
import type { Connection } from '../connection.js'
import { Outbound } from '../message.js'
import type { Identity, RealtimeOptions } from '../options.js'
import type { DeadlineScheduler } from '../platform.js'
import { SERVER_CONTROL } from '../protocol.js'
import type { ChannelConfigs } from './channel-configs.js'
import { controlError, type Membership } from './membership.js'
import { handlerError, type Reporting } from './reporting.js'

/** The longest delay a timer takes (2^31 - 1 ms). */
const MAX_TIMER = 2 ** 31 - 1

interface Deadline {
  expiresAt: number
  /** What the scheduler returned. */
  handle: unknown
}

/** The default scheduler: one `setTimeout` per deadline. */
const timeouts: DeadlineScheduler = {
  schedule: (_connection, _expiresAt, at, callback) => setTimeout(callback, Math.min(Math.max(0, at - Date.now()), MAX_TIMER)),
  cancel: (_connection, handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/**
 * One deadline per connection that has an expiry (none for the others), kept by the platform's
 * scheduler (`setTimeout` unless the platform has its own). Before the expiry a WebSocket
 * is asked for a fresh token when `reauthenticate` is set; at the expiry the connection gets
 * `realtime:error` `REALTIME_TOKEN_EXPIRED` and is closed (WebSocket 4002; an SSE stream ends).
 */
export class Expiry {
  private readonly deadlines = new Map<Connection<any>, Deadline>()

  constructor(
    private readonly reauthenticate: RealtimeOptions<any>['reauthenticate'],
    private readonly configs: ChannelConfigs,
    private readonly membership: Membership,
    private readonly reporting: Reporting,
    private readonly scheduler: DeadlineScheduler = timeouts,
  ) {}

  /** Starts (or moves) the deadline of an open connection; `undefined` removes it. */
  set(connection: Connection<any>, expiresAt: number | undefined): void {
    this.clear(connection)
    if (expiresAt === undefined || connection.isClosed) return
    const renewable = this.renewable(connection)
    const left = expiresAt - Date.now()
    const askAt = renewable ? expiresAt - Math.min(TOKEN_REFRESH_LEAD_MS, left / 2) : expiresAt
    this.schedule(connection, expiresAt, renewable && left > 0 ? askAt : expiresAt, renewable && left > 0)
  }

  /**
   * Gives a connection restored after its runtime dropped it (a hibernated Durable Object) the
   * deadline it had: `at` is when it is due, the request for a fresh token when before `expiresAt`.
   */
  resume(connection: Connection<any>, expiresAt: number, at: number): void {
    this.clear(connection)
    if (connection.isClosed) return
    const ask = at < expiresAt && this.renewable(connection)
    this.schedule(connection, expiresAt, ask ? at : expiresAt, ask)
  }

  /** The connection is gone: drops its deadline. */
  clear(connection: Connection<any>): void {
    const deadline = this.deadlines.get(connection)
    if (deadline === undefined) return
    this.deadlines.delete(connection)
    this.scheduler.cancel(connection, deadline.handle)
  }

  /** A fresh token from the client (`realtime:auth`). Never throws. */
  async renew(connection: Connection<any>, token: string): Promise<void> {
    const reauthenticate = this.reauthenticate
    if (!reauthenticate)
      return controlError(connection, 'REALTIME_UNAUTHORIZED', 'this server renews no tokens over the connection: reconnect with a fresh one')
    let identity: { userId: string | undefined; expiresAt: number | undefined } | undefined
    try {
      identity = normalizeIdentity(await reauthenticate(token, connection))
    } catch (error) {
      this.reporting.report(connection, handlerError('reauthenticate', error))
    }
    if (connection.isClosed) return
    if (identity === undefined || identity.userId === undefined || identity.userId !== connection.userId) {
      return controlError(connection, 'REALTIME_UNAUTHORIZED', 'the token was not accepted; the connection still ends when the previous one expires')
    }
    this.set(connection, identity.expiresAt)
    connection.write(new Outbound(SERVER_CONTROL.AUTHENTICATED, { expiresAt: identity.expiresAt ?? null }))
    await this.reauthorize(connection)
  }

  /** Runs `authorize` again for every channel of the connection; leaves those it refuses now. */
  private async reauthorize(connection: Connection<any>): Promise<void> {
    for (const channel of [...connection.channels]) {
      const authorize = this.configs.of(channel)?.authorize
      if (!authorize) continue
      let allowed = false
      try {
        allowed = (await authorize(connection, connection.userId, channel)) === true
      } catch (error) {
        this.reporting.report(connection, handlerError('authorize', error))
      }
      if (connection.isClosed) return
      if (allowed || !connection.channels.has(channel)) continue
      this.membership.leave(connection, channel)
      controlError(connection, 'REALTIME_FORBIDDEN', `no longer allowed in ${channel}`, channel)
    }
  }

  /** A WebSocket can be asked for a fresh token before its expiry when `reauthenticate` is set. */
  private renewable(connection: Connection<any>): boolean {
    return connection.transport === 'websocket' && this.reauthenticate !== undefined
  }

  private schedule(connection: Connection<any>, expiresAt: number, at: number, ask: boolean): void {
    const deadline: Deadline = { expiresAt, handle: undefined }
    this.deadlines.set(connection, deadline)
    deadline.handle = this.scheduler.schedule(connection, expiresAt, at, () => this.due(connection, expiresAt, at, ask))
  }

  private due(connection: Connection<any>, expiresAt: number, at: number, ask: boolean): void {
    if (this.deadlines.get(connection)?.expiresAt !== expiresAt) return
    this.deadlines.delete(connection)
    if (connection.isClosed) return
    if (Date.now() < at) return this.schedule(connection, expiresAt, at, ask) // past the timer's range
    if (ask) {
      connection.write(new Outbound(SERVER_CONTROL.REFRESH, { expiresAt }))
      return this.schedule(connection, expiresAt, expiresAt, false)
    }
    controlError(connection, 'REALTIME_TOKEN_EXPIRED', 'the token expired')
    connection.close(CLOSE_CODES.TOKEN_EXPIRED, 'token expired')
  }
}

/** An {@link Identity} as the hub keeps it: a string user id (or none) and an expiry in ms (or none). */
export function normalizeIdentity(identity: Identity): { userId: string | undefined; expiresAt: number | undefined } {
  if (identity === null || identity === undefined) return { userId: undefined, expiresAt: undefined }
  if (typeof identity !== 'object') return { userId: String(identity), expiresAt: undefined }
  const { userId, expiresAt } = identity
  const at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt
  return {
    userId: userId === null || userId === undefined ? undefined : String(userId),
    expiresAt: typeof at === 'number' && Number.isFinite(at) ? at : undefined,
  }
}
