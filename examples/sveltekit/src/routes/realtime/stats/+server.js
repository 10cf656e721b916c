import { json } from '@sveltejs/kit'
import { realtime } from '$lib/server/realtime'

export async function GET() {
  return json(await realtime.stats())
}
