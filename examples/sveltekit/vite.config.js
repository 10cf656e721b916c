import { sveltekit } from '@sveltejs/kit/vite'
import { realtime } from '@loewen-digital/realtime/vite'
import { defineConfig } from 'vite'

const port = Number(process.env.PORT ?? 5173)

export default defineConfig({
  // realtime() routes WebSocket upgrades (except Vite's HMR socket) to the app's routes in
  // `vite dev` and `vite preview`.
  plugins: [sveltekit(), realtime()],
  server: { host: '127.0.0.1', port, strictPort: true },
  preview: { host: '127.0.0.1', port, strictPort: true },
})
