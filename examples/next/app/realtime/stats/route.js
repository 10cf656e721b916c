import { realtime } from '../../../lib/realtime.js'

export const dynamic = 'force-dynamic'

export async function GET() {
  return Response.json(await realtime.stats())
}
