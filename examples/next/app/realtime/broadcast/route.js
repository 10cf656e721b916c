import { realtime } from '../../../lib/realtime.js'

export async function POST(request) {
  const n = Number(new URL(request.url).searchParams.get('n') ?? 0)
  await realtime.broadcast({ event: 'update', data: { n } })
  return Response.json({ ok: true, n })
}
