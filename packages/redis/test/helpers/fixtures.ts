// Fixture servers (the demo app) in separate processes, on the Redis broker: one on Node, one on
// Bun (the Bun adapter's demo), or two on Node where Bun is not there.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { FIXTURE_SETTINGS } from '../../../../test/conformance/settings.js'
import { spawnServer, type SpawnedServer } from '../../../../test/helpers/spawn-server.js'

const root = fileURLToPath(new URL('../../../../', import.meta.url))
const bun = `${root}node_modules/.bin/bun`

/** True when the Bun runtime and its demo are there to run the second process on. */
export const bunAvailable = existsSync(bun) && existsSync(`${root}apps/demo-bun/server.ts`) && existsSync(`${root}packages/adapter-bun/dist/index.js`)

/** Starts the demo on `runtime` with the Redis broker at `url` under `prefix`. */
export function startFixture(runtime: 'node' | 'bun', redis: Record<string, unknown>, settings: Record<string, unknown> = {}): Promise<SpawnedServer> {
  const env = { PORT: '0', REALTIME_FIXTURE: JSON.stringify({ ...FIXTURE_SETTINGS, ...settings, redis }) }
  return runtime === 'bun'
    ? spawnServer(bun, ['apps/demo-bun/server.ts'], { cwd: root, env })
    : spawnServer(process.execPath, ['apps/demo-node/server.js'], { cwd: root, env })
}

/** Cursor-map key of a WebSocket frame's stream (docs/protocol.md). */
export function keyOf(channel: string | undefined): string {
  if (channel === undefined) return 'b'
  if (channel === 'realtime:user') return 'u'
  return 'c.' + encodeURIComponent(channel)
}
