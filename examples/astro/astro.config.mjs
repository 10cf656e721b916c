import node from '@astrojs/node'
import { realtime } from '@loewen-digital/realtime/vite'
import { defineConfig } from 'astro/config'

export default defineConfig({
  output: 'server',
  // Standalone: dist/server/entry.mjs exports `handler` (static files, then the app). server.js
  // serves it with ASTRO_NODE_AUTOSTART=disabled and routes WebSocket upgrades to it too.
  adapter: node({ mode: 'standalone' }),
  server: { host: '127.0.0.1', port: Number(process.env.PORT ?? 4321) },
  devToolbar: { enabled: false },
  // realtime() routes WebSocket upgrades (except Vite's HMR socket) to the endpoints in `astro dev`.
  vite: { plugins: [realtime()] },
})
