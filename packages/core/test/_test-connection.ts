import { Connection, type ConnectionOwner, type Outbound } from '../src/index.js'

/** The smallest connection: writes nothing, closes at once. For unit tests without a server. */
export class TestConnection extends Connection {
  get bufferedAmount(): number {
    return 0
  }
  write(_outbound: Outbound): void {}
  writeText(_text: string): void {}
  heartbeat(): void {}
  protected closeTransport(code: number, reason: string): void {
    this.transportClosed(code, reason)
  }
}

/** An owner that accepts everything and remembers nothing. */
export const idleOwner: ConnectionOwner = {
  maxMessageBytes: 1,
  maxBufferedBytes: 1,
  join: async () => true,
  leave: () => false,
  receive: () => {},
  closed: () => {},
  reportError: () => {},
}
