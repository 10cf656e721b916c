export { connect, RequestError } from './client.js'
export type { RealtimeClient } from './client.js'
export type {
  ClientError,
  ClientEvents,
  ClientOptions,
  ConnectionState,
  ControlEvents,
  EventSchemas,
  EventSourceConstructor,
  EventSourceLike,
  GapNotice,
  Handler,
  ReceivedMessage,
  RequestOptions,
  StateChange,
  Transport,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js'
export type { StandardSchemaV1 } from './standard-schema.js'
export type { ClientEventMap, EventMap, RealtimeMessage } from '@loewen-digital/realtime-core'
