// The conformance suite on the real Deno runtime: the demo server (apps/demo-deno) in a Deno process.
import { conformance } from '../../../test/conformance/suite.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
import { spawnServer } from '../../../test/helpers/spawn-server.js'
import { DEMO_PERMISSIONS, DENO, ROOT } from './_deno.js'

/** What Deno cannot do, with what is done instead (printed when the test is skipped). */
const unsupported = {
  'sse-socket-release':
    "Deno.serve offers no way to close a connection from the handler, and stops reading a response stream while the client's socket is full: the dropped stream's queue is freed (erroring it), the socket stays until the client reads or goes",
} as const

conformance(
  'deno',
  () =>
    spawnServer(DENO, ['run', ...DEMO_PERMISSIONS, 'apps/demo-deno/server.ts'], {
      cwd: ROOT,
      env: { PORT: '0', REALTIME_FIXTURE: JSON.stringify(FIXTURE_SETTINGS) },
    }),
  { unsupported },
)

// The same suite against the demo inside a plain Deno.serve handler (no serve() helper).
conformance(
  'deno (inside Deno.serve)',
  () =>
    spawnServer(DENO, ['run', ...DEMO_PERMISSIONS, 'apps/demo-deno/deno-serve.ts'], {
      cwd: ROOT,
      env: { PORT: '0', REALTIME_FIXTURE: JSON.stringify(FIXTURE_SETTINGS) },
    }),
  { unsupported },
)
