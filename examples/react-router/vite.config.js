import { reactRouter } from '@react-router/dev/vite'
import { realtime } from '@loewen-digital/realtime/vite'
import { defineConfig } from 'vite'

const port = Number(process.env.PORT ?? 5173)

export default defineConfig({
  // realtime() routes WebSocket upgrades (except Vite's HMR socket) to the app's routes in dev.
  plugins: [reactRouter(), realtime()],
  server: { host: '127.0.0.1', port, strictPort: true },
})
