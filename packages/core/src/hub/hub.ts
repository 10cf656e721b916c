// The hub: wires the modules of one instance and is the owner every connection talks to (adapter API).
import type { Broker } from '../broker.js'
import type { Connection, ConnectionOwner } from '../connection.js'
import type { Cursor } from '../cursor.js'
import type { RealtimeError } from '../errors.js'
import { memoryPresence } from '../memory-broker.js'
import type { RealtimeOptions } from '../options.js'
import type { Platform } from '../platform.js'
import { Admission } from './admission.js'
import { ChannelConfigs } from './channel-configs.js'
import { Delivery } from './delivery.js'
import { EventHandlers } from './event-handlers.js'
import { Expiry } from './expiry.js'
import { FanOut } from './fan-out.js'
import { Inbound } from './inbound.js'
import { Lifecycle } from './lifecycle.js'
import { Membership } from './membership.js'
import { Metrics, type RejectionReason, type TelemetryOptions } from './metrics.js'
import { Presence } from './presence.js'
import { Registry } from './registry.js'
import { internalError, Reporting } from './reporting.js'
import type { Settings } from './settings.js'

/**
 * Everything one realtime instance holds, and the {@link ConnectionOwner} its connections call.
 * Applications never see it: `hubOf(realtime)` hands it to adapters. Each field is one module
 * with one job (see `docs/adapters.md` for which module owns which connection field).
 */
export class Hub implements ConnectionOwner {
  readonly registry = new Registry()
  readonly reporting: Reporting
  readonly configs = new ChannelConfigs()
  readonly admission: Admission
  readonly delivery: Delivery
  readonly fanOut: FanOut
  readonly presence: Presence
  readonly membership: Membership
  readonly events: EventHandlers
  readonly expiry: Expiry
  readonly inbound: Inbound
  readonly lifecycle: Lifecycle
  readonly metrics: Metrics
  /** Stops listening to the broker's expired presence entries (at `close`). */
  readonly detachPresence: () => void

  constructor(
    readonly settings: Settings,
    readonly broker: Broker,
    readonly platform: Platform,
    onError: RealtimeOptions<any>['onError'],
    telemetry: TelemetryOptions | undefined,
    schemas?: RealtimeOptions<any>['schemas'],
    reauthenticate?: RealtimeOptions<any>['reauthenticate'],
  ) {
    const metrics = (this.metrics = new Metrics(telemetry, broker))
    this.reporting = new Reporting(onError, (error) => {
      const rejection = REJECTIONS[error.code]
      if (rejection) metrics.rejected(rejection)
    })
    this.events = new EventHandlers(schemas as Record<string, any> | undefined, this.reporting)
    this.presence = new Presence(broker.presence ?? memoryPresence(), broker, this.reporting)
    // Entries of processes that died are announced as leaves in the one process that removed them;
    // entries this process wrote again after it had been taken for dead, as joins.
    const configOf = (channel: string) => this.configs.of(channel)
    const detachExpired = broker.presence?.onExpired?.((expired) => void this.presence.expired(expired, configOf))
    const detachRestored = broker.presence?.onRestored?.((restored) => void this.presence.restored(restored, configOf))
    this.detachPresence = () => {
      detachExpired?.()
      detachRestored?.()
    }
    this.admission = new Admission(settings, this.registry, this.presence.store, this.reporting, (reason) => metrics.refused(reason))
    this.delivery = new Delivery(broker, platform, settings.maxBufferedBytes, this.reporting, metrics)
    this.fanOut = new FanOut(broker, platform, this.registry, this.delivery, this.reporting, metrics)
    this.membership = new Membership(this.registry, this.configs, this.delivery, this.presence, broker, settings.maxChannelsPerConnection, this.reporting)
    this.expiry = new Expiry(reauthenticate, this.configs, this.membership, this.reporting, platform.deadlines)
    this.inbound = new Inbound(settings, this.membership, this.reporting, metrics, this.events, this.expiry)
    this.lifecycle = new Lifecycle(settings, this.registry, this.admission, this.membership, this.delivery, this.reporting, metrics)
  }

  /** Largest inbound message in bytes (`maxMessageBytes`). */
  get maxMessageBytes(): number {
    return this.settings.maxMessageBytes
  }

  /** Interval of SSE heartbeats in ms (0: none): the platform's own when it beats them. */
  get heartbeatInterval(): number {
    return this.platform.sseHeartbeat ?? this.settings.heartbeatMs
  }

  /** Outbound bytes a connection may have queued (`maxBufferedBytes`). */
  get maxBufferedBytes(): number {
    return this.settings.maxBufferedBytes
  }

  /** A client's or server's join (see `Membership.join`). */
  join(connection: Connection<any>, channel: string, trusted: boolean, cursor?: string | Cursor): Promise<boolean> {
    return this.membership.join(connection, channel, trusted, cursor)
  }

  /** Leaves a channel (`onLeave` runs); false when the connection was not a member. */
  leave(connection: Connection<any>, channel: string): boolean {
    return this.membership.leave(connection, channel)
  }

  /** One inbound text message; never throws into the transport. */
  receive(connection: Connection<any>, text: string): void {
    try {
      this.inbound.receive(connection, text)
    } catch (error) {
      this.reporting.report(connection, internalError('receive', error))
    }
  }

  /** The transport of a connection is gone. Never throws into the transport. */
  closed(connection: Connection<any>, code: number, reason: string): void {
    try {
      this.expiry.clear(connection)
      this.lifecycle.closed(connection, code, reason)
    } catch (error) {
      this.reporting.report(connection, internalError('close', error))
    }
  }

  /** Reports an error once (the connection's `onError`, else the instance's, else `console.error`). */
  reportError(connection: Connection<any> | undefined, error: RealtimeError): void {
    this.reporting.report(connection, error)
  }

  /** The connection's id was just made: indexes it for `realtime.connection(id)`. */
  idMade(connection: Connection<any>): void {
    this.registry.indexId(connection)
  }

  /** A direct write left more than `maxBufferedBytes` queued: the one slow-consumer policy. */
  slowConsumer(connection: Connection<any>): void {
    this.delivery.slowConsumer(connection)
  }

  /**
   * Registers a connection that stayed open while the runtime dropped this instance's memory (a
   * hibernated Cloudflare Durable Object), with its user (`connection.userId`) and `channels`.
   * Nothing runs and nothing is sent: no `onOpen`, `authorize`, `onJoin`, presence snapshot or join
   * announcement; memberships and presence entries come back silently.
   */
  restore(connection: Connection<any>, channels: Iterable<string>): Promise<void> {
    return this.lifecycle.restore(connection, channels)
  }
}

/** Reported error codes that mean an inbound message was refused. */
const REJECTIONS: Partial<Record<string, RejectionReason>> = {
  REALTIME_RATE_LIMITED: 'rate_limited',
  REALTIME_MESSAGE_TOO_BIG: 'message_too_big',
  REALTIME_UNSUPPORTED_DATA: 'unsupported_data',
}
