/**
 * A message as it travels between processes. `topic` is `broadcast`, `user:<id>` or
 * `channel:<name>`; `except` is a connection id that must not receive it.
 */
export interface BrokerMessage {
  topic: string
  event: string
  data: unknown
  except?: string
}

/** Receives every message published through the broker, in every process. */
export type BrokerListener = (message: BrokerMessage) => void

/**
 * Carries published messages to every process that has matching connections. The in-memory
 * broker ({@link memoryBroker}) delivers within one process; `@loewen-digital/realtime-redis`
 * across processes and machines.
 */
export interface Broker {
  /** Publishes a message; resolves once the broker accepted it. */
  publish(message: BrokerMessage): void | Promise<void>
  /** Registers the one listener of this process. Called once by `createRealtime`. */
  subscribe(listener: BrokerListener): void | Promise<void>
  /** This process now has a connection interested in `topic` (lets a broker filter). */
  addTopic?(topic: string): void
  /** This process no longer has a connection interested in `topic`. */
  removeTopic?(topic: string): void
  /** Releases the broker's resources. */
  close(): void | Promise<void>
}

/** The embedded default: delivers synchronously inside this process. No configuration. */
export function memoryBroker(): Broker {
  let listener: BrokerListener | undefined
  return {
    publish(message) {
      listener?.(message)
    },
    subscribe(next) {
      listener = next
    },
    close() {
      listener = undefined
    },
  }
}
