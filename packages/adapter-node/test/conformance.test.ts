import { conformance } from '../../../test/conformance/suite.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
// @ts-expect-error the demo server is plain JavaScript
import { start } from '../../../apps/demo-node/server.js'

conformance('node', () => start({ port: 0, ...FIXTURE_SETTINGS }))
