// The demo on Cloudflare Workers, and the workerd fixture of the conformance suite.
// `createRealtime` comes from the facade, which resolves to the Workers adapter through the
// `workerd` export condition under wrangler's bundler.
import { env } from 'cloudflare:workers'
import { createRealtime } from '@loewen-digital/realtime'
import { withRealtime } from '@loewen-digital/realtime/workers'
import { createDemoApp } from '@loewen-digital/demo-app'

// The realtime Durable Object class must be exported from the Worker's main module.
export { RealtimeDurableObject } from '@loewen-digital/realtime/workers'

// Instances are created at module scope: the object finds them again by name after hibernating.
const settings = JSON.parse((env as { REALTIME_FIXTURE?: string }).REALTIME_FIXTURE || '{}')
const app = createDemoApp(createRealtime, settings)

export default withRealtime({
  fetch: (request: Request) => app.fetch(request),
})
