import { realtime } from '../../lib/realtime.js'

export async function GET() {
  return Response.json(await realtime.stats())
}
