// What this process knows of one topic it follows: interest, position, buffered messages while syncing.
import type { BrokerMessage } from '@loewen-digital/realtime-core'
import type { OwnPublish } from './_local-delivery.js'

/** One followed topic's state (see `Topics`). */
export interface TopicState {
  readonly topic: string
  readonly channel: string
  /** Local interest (addTopic minus removeTopic). */
  interest: number
  /** Epoch and offset of the last message handed to the listener (the baseline before any). */
  epoch: string | undefined
  last: number
  /** Messages received while the topic is being synchronized with its stream; undefined when live. */
  pending: BrokerMessage[] | undefined
  syncing: boolean
  /**
   * This process's publishes to the topic that Redis took and whose copies the sync has not handed
   * over yet (undefined: none), in the order published: see `LocalDelivery`.
   */
  own: OwnPublish[] | undefined
  /** A sync was asked for while one ran: run another before going live. */
  again: boolean
  /**
   * A connection started following the topic before it had a baseline (Redis unreachable): it has
   * no position, so the baseline comes with an `outage` notice.
   */
  blind: boolean
  /** Set while the topic has no local interest: it is unsubscribed when this fires. */
  linger: ReturnType<typeof setTimeout> | undefined
  /** History reads waiting for this process to have handed over the stream up to an offset. */
  waiters: Array<{ epoch: string; offset: number; resolve(): void }>
  /** Resolves once the topic has a baseline (subscribed, then positioned). */
  readonly ready: Promise<void>
  resolveReady(): void
}
