// The conformance suite against apps/demo-workers in real workerd (bundled by wrangler, served by
// Miniflare). One declared, printed capability skip: Workers cannot send WebSocket ping frames.
import { conformance } from '../../../test/conformance/suite.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
import { startWorkerd } from './workerd.js'

conformance('workers', () => startWorkerd({ REALTIME_FIXTURE: JSON.stringify(FIXTURE_SETTINGS) }), {
  unsupported: {
    'server-ping':
      'the Workers runtime cannot send WebSocket ping frames; clients send {"event":"realtime:ping"}, which the Durable Object answers by auto-response without waking',
  },
})
