// What this process hands its own hub without Redis (a publish Redis did not take, or whose outcome
// is unknown), kept in the order it published in: a message delivered here without Redis must not
// overtake an earlier publish of the same topic that Redis did take but whose copy this process has
// not handed over yet (its topic is paused or syncing, for example while a cluster fails over).
import type { BrokerListener, BrokerMessage } from '@loewen-digital/realtime-core'
import { originOf } from './_codec.js'
import type { TopicState } from './_topic-state.js'

/** Bound of the origins remembered and of the publishes kept per topic. */
const MAX_TRACKED = 10_000

/** One of this process's publishes that Redis took, as it was handed to the broker. */
export interface OwnPublish {
  message: BrokerMessage
  origin: string
}

export class LocalDelivery {
  /**
   * Messages of this process handed to the hub without their cursor, by origin: when Redis has
   * them after all, the stream's copy is not handed over again.
   */
  readonly delivered = new Map<string, string>()

  constructor(private readonly listener: () => BrokerListener | undefined) {}

  /** Remembers that the message published as `origin` reached the hub without Redis. */
  remember(origin: string, topic: string): void {
    this.delivered.set(origin, topic)
    if (this.delivered.size > MAX_TRACKED) this.delivered.delete(this.delivered.keys().next().value!)
  }

  /** True (once) when `message` is the stream's copy of one this process already handed over. */
  handedOver(message: BrokerMessage): boolean {
    if (this.delivered.size === 0) return false
    const origin = originOf(message)
    return origin !== undefined && this.delivered.delete(origin)
  }

  /**
   * A publish of this process that Redis took (`message` carries its position): kept on its topic's
   * state until the topic's sync hands its copy over, unless that happened already.
   */
  published(state: TopicState | undefined, message: BrokerMessage, origin: string): void {
    if (!state) return
    if (state.pending === undefined && state.epoch === message.epoch && message.offset! <= state.last) return
    state.own ??= []
    if (state.own.length >= MAX_TRACKED) state.own.shift()
    state.own.push({ message, origin })
  }

  /** Forgets the publishes of a topic whose copies the sync has handed over (or that its new epoch lost). */
  prune(state: TopicState): void {
    const own = state.own
    if (own === undefined || state.epoch === undefined) return
    let handed = 0
    while (handed < own.length && (own[handed]!.message.epoch !== state.epoch || own[handed]!.message.offset! <= state.last)) handed++
    if (handed === own.length) state.own = undefined
    else if (handed > 0) own.splice(0, handed)
  }

  /**
   * Hands `message` to the hub without Redis, after the topic's earlier publishes that Redis took
   * but whose copies are still on their way (without their cursors: the sync hands the cursors out
   * in order; their copies are then dropped).
   */
  deliver(state: TopicState | undefined, message: BrokerMessage): void {
    const listener = this.listener()
    if (state?.own !== undefined) {
      this.prune(state)
      for (const { message: earlier, origin } of state.own ?? []) {
        const copy = Object.assign({}, earlier)
        copy.epoch = undefined
        copy.offset = undefined
        this.remember(origin, earlier.topic)
        listener?.(copy)
      }
      state.own = undefined
    }
    listener?.(message)
  }
}
