// The whole conformance suite, unchanged, against the Node (and Bun) demo on the Redis broker: the hub's
// behaviour (resume, gaps, limits, bad input) is the same with Redis underneath. Each server gets a
// fresh key prefix, so the suite's "restart" (a second server) sees a lost history: a new epoch.
import { afterAll } from 'vitest'
import { conformance } from '../../../test/conformance/suite.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
// @ts-expect-error the demo server is plain JavaScript
import { start } from '../../../apps/demo-node/server.js'
import { bunAvailable, startFixture } from './helpers/fixtures.js'
import { deleteKeys, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()
const prefixes: string[] = []
afterAll(async () => {
  if (redis.url) for (const prefix of prefixes) await deleteKeys(redis.url, prefix)
  await redis.stop()
})

if (redis.skip === undefined) {
  conformance('node on the Redis broker', () => {
    const prefix = uniquePrefix('conformance')
    prefixes.push(prefix)
    return start({ port: 0, ...FIXTURE_SETTINGS, redis: { url: redis.url, prefix } })
  })
  // Bun delivers live messages with its native publish, which does not deduplicate per connection:
  // the broker's in-order, hole-free hand-over is what keeps resume exact there.
  if (bunAvailable) {
    conformance('bun on the Redis broker', () => {
      const prefix = uniquePrefix('conformance-bun')
      prefixes.push(prefix)
      return startFixture('bun', { url: redis.url, prefix })
    })
  }
}
