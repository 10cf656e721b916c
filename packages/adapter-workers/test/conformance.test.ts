// The conformance suite against apps/demo-workers in real workerd (bundled by wrangler, served by
// Miniflare). One declared, printed capability skip: Workers cannot send WebSocket ping frames.
import { conformance } from '../../../test/conformance/suite.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
import { startWorkerd } from './workerd.js'

conformance('workers', () => startWorkerd({ REALTIME_FIXTURE: JSON.stringify(FIXTURE_SETTINGS) }), {
  unsupported: {
    'server-ping':
      'the Workers runtime cannot send WebSocket ping frames; clients send {"event":"realtime:ping"}, which the Durable Object answers by auto-response without waking',
    'sse-socket-release':
      "a Worker cannot close the client's connection, and workerd stops reading a response stream while the client's socket is full: the dropped stream's queue in the Durable Object is freed (erroring it), the socket stays until the client reads or goes",
  },
})
