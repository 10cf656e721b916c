export { createRealtime, WorkersRealtime } from './create-realtime.js'
export type { WorkersRealtimeOptions, WorkersRealtimeStats } from './create-realtime.js'
export { withRealtime } from './with-realtime.js'
export { RealtimeDurableObject } from './durable-object.js'
export { WorkersWebSocketConnection } from './websocket-connection.js'
export { WorkersSseConnection } from './sse-connection.js'
export type {
  DurableObjectStateLike,
  DurableObjectNamespaceLike,
  DurableObjectStubLike,
  ExecutionContextLike,
  WorkerHandler,
  WorkersWebSocket,
} from './_runtime.js'
export * from '@loewen-digital/realtime-core'
