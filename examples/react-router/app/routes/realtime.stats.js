import { realtime } from '../lib/realtime.server.js'

export async function loader() {
  return Response.json(await realtime.stats())
}
