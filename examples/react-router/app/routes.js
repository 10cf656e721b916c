import { index, route } from '@react-router/dev/routes'

export default [
  index('routes/home.jsx'),
  route('realtime/sse', 'routes/realtime.sse.js'),
  route('realtime/ws', 'routes/realtime.ws.js'),
  route('realtime/broadcast', 'routes/realtime.broadcast.js'),
  route('realtime/stats', 'routes/realtime.stats.js'),
]
