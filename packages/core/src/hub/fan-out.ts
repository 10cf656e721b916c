// Fan-out: a published message goes to the broker, and what the broker delivers goes to every local target.
import type { Broker, BrokerMessage } from '../broker.js'
import type { Connection } from '../connection.js'
import { streamName } from '../cursor.js'
import { RealtimeError } from '../errors.js'
import { toOutbound, type Outbound, type RealtimeMessage } from '../message.js'
import type { Platform } from '../platform.js'
import { attachOutbound, type Delivery } from './delivery.js'
import type { MessageKind, Metrics } from './metrics.js'
import type { Registry } from './registry.js'
import { transportError, type Reporting } from './reporting.js'
import { topicKind, topicSubject } from './topics.js'

/**
 * Publishes through the broker (which numbers resumable messages) and delivers what the broker
 * hands back to the local connections of the topic: natively where the platform can
 * (`Platform.publish`), else through {@link Delivery}.
 */
export class FanOut {
  constructor(
    private readonly broker: Broker,
    private readonly platform: Platform,
    private readonly registry: Registry,
    private readonly delivery: Delivery,
    private readonly reporting: Reporting,
    private readonly metrics: Metrics,
  ) {}

  /** Validates and publishes `message` to `topic`; `except` is a connection id that must not get it. */
  async publish(topic: string, message: RealtimeMessage<any>, except: string | undefined): Promise<void> {
    const kind = topicKind(topic) as MessageKind
    const outbound = toOutbound(message, kind === 'broadcast' ? undefined : streamName(topic))
    this.metrics.published(kind)
    if (this.metrics.instruments) published.set(outbound, Date.now())
    const brokerMessage: BrokerMessage = { topic, event: outbound.event, data: message.data }
    if (except !== undefined) brokerMessage.except = except
    await this.broker.publish(attachOutbound(brokerMessage, outbound))
  }

  /** Delivers a message the broker handed over to every local connection of its topic. */
  deliver(message: BrokerMessage): void {
    const topic = message.topic
    let outbound: Outbound
    try {
      outbound = this.delivery.outboundOf(message)
    } catch (error) {
      this.reporting.report(undefined, RealtimeError.isInstance(error) ? error : transportError(error))
      return
    }
    if (outbound.gap !== undefined && outbound.key === undefined) return
    const kind = topicKind(topic)
    let targets: Iterable<Connection<any>> | undefined
    if (kind === 'broadcast') targets = this.registry.all.values()
    else if (kind === 'user') targets = this.registry.users.get(topicSubject(topic))
    else if (kind === 'channel' || kind === 'presence') targets = this.registry.channels.get(topicSubject(topic))
    if (!targets) return
    const except = message.except
    const publish = this.platform.publish
    let native = false
    // Native fan-out knows the stream topics only; presence updates go through the loop.
    if (publish && outbound.gap === undefined && kind !== 'presence') {
      try {
        native = publish.call(this.platform, topic, outbound, except === undefined ? undefined : this.registry.byId.get(except))
      } catch (error) {
        this.reporting.report(undefined, transportError(error))
      }
    }
    const key = outbound.key
    const delivery = this.delivery
    const before = delivery.delivered
    // Bytes only with OpenTelemetry on: off, the loop tests one local boolean more.
    const measure = this.metrics.instruments !== undefined && kind !== 'presence'
    let bytes = 0
    for (const connection of targets) {
      // A connection whose id was never read cannot be the one excepted.
      if (except !== undefined && connection.madeId === except) continue
      const prior = delivery.delivered
      if (native && connection.nativeFanOut && (key === undefined || connection.replaying?.has(key) !== true)) delivery.delivered++
      else delivery.writeTo(connection, outbound)
      if (measure && delivery.delivered > prior) bytes += connection.transport === 'sse' ? outbound.sse.length : outbound.text.length
    }
    if (measure) {
      const at = published.get(outbound)
      this.metrics.delivered(kind as MessageKind, delivery.delivered - before, at === undefined ? undefined : Date.now() - at, bytes)
    }
  }
}

/** When a message was published by this instance (kept only with OpenTelemetry on, for the latency histogram). */
const published = new WeakMap<Outbound, number>()
