import { realtime } from '../../utils/realtime.js'

export default defineEventHandler(async (event) => {
  const n = Number(getQuery(event).n ?? 0)
  await realtime.broadcast({ event: 'update', data: { n } })
  return { ok: true, n }
})
