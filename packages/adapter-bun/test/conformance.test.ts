// The conformance suite, unchanged, against the demo served by the real Bun runtime.
import { fileURLToPath } from 'node:url'
import { conformance } from '../../../test/conformance/suite.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
import { spawnServer } from '../../../test/helpers/spawn-server.js'
import { bunBinary } from './bun-binary.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))

conformance('bun', () =>
  spawnServer(bunBinary, ['apps/demo-bun/server.ts'], {
    cwd: root,
    env: { PORT: '0', REALTIME_FIXTURE: JSON.stringify(FIXTURE_SETTINGS) },
  }),
)
