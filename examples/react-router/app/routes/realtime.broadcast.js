import { realtime } from '../lib/realtime.server.js'

export async function action({ request }) {
  const n = Number(new URL(request.url).searchParams.get('n') ?? 0)
  await realtime.broadcast({ event: 'update', data: { n } })
  return Response.json({ ok: true, n })
}
