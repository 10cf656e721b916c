export { createRealtime } from './create-realtime.js'
export { serve } from './serve.js'
export { DenoWebSocketConnection } from './websocket-connection.js'
export * from '@loewen-digital/realtime-core'
