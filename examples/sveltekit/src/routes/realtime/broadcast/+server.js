import { json } from '@sveltejs/kit'
import { realtime } from '$lib/server/realtime'

export async function POST({ url }) {
  const n = Number(url.searchParams.get('n') ?? 0)
  await realtime.broadcast({ event: 'update', data: { n } })
  return json({ ok: true, n })
}
