import { createRealtime } from '@loewen-digital/realtime'

// One instance serves both transports: a broadcast reaches SSE and WebSocket clients alike. Kept
// on globalThis so every route bundle, and every reload of this module in `next dev`, shares it.
export const realtime = (globalThis.__exampleRealtime ??= createRealtime({ heartbeat: 5000 }))
