import { createRealtime } from '@loewen-digital/realtime/node'

// One instance serves both transports: a broadcast reaches SSE and WebSocket clients alike.
export const realtime = createRealtime({ heartbeat: 5000 })
