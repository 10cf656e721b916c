export { createRealtime } from './create-realtime.js'
export { serve, attach, toRequest, writeResponse } from './serve.js'
export { NodeWebSocketConnection } from './websocket-connection.js'
export * from '@loewen-digital/realtime-core'
