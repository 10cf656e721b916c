/** `@loewen-digital/realtime/vite`: the Vite plugin that routes WebSocket upgrades to your routes in `vite dev` and `vite preview`. */
export { realtime } from '@loewen-digital/realtime-node/vite'
export type { RealtimeViteOptions, RealtimeVitePlugin } from '@loewen-digital/realtime-node/vite'
