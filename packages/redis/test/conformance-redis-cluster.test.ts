// The whole conformance suite, unchanged, against the Node demo on the Redis broker on a Redis
// Cluster of the test's own (three primaries, one replica each): resume, gaps, limits, presence and
// bad input behave as on one Redis. Each server gets a fresh key prefix.
import { afterAll } from 'vitest'
import { conformance } from '../../../test/conformance/suite.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
// @ts-expect-error the demo server is plain JavaScript
import { start } from '../../../apps/demo-node/server.js'
import { testCluster, type TestCluster } from './helpers/redis-cluster.js'
import { uniquePrefix } from './helpers/redis.js'

const cluster: TestCluster = await testCluster()
if (cluster.skip) console.log(`[conformance-redis-cluster.test] skipped: ${cluster.skip}`)
afterAll(() => cluster.stop())

if (cluster.skip === undefined) {
  conformance('node on the Redis broker on a Redis Cluster', () =>
    start({ port: 0, ...FIXTURE_SETTINGS, redis: { cluster: cluster.nodes, prefix: uniquePrefix('conformance-cluster') } }),
  )
}
