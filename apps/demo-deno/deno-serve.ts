// The same demo inside an application's own `Deno.serve` handler, without the serve() helper:
// the shape docs/runtimes/deno.md shows. The conformance suite runs against it too.
// deno run --allow-net=127.0.0.1 --allow-env=PORT,REALTIME_FIXTURE apps/demo-deno/deno-serve.ts
import { createRealtime } from '@loewen-digital/realtime'
import { createDemoApp } from '@loewen-digital/demo-app'

const fixture = Deno.env.get('REALTIME_FIXTURE')
const app = createDemoApp(createRealtime, fixture ? JSON.parse(fixture) : {})

Deno.serve(
  {
    hostname: '127.0.0.1',
    port: Number(Deno.env.get('PORT') ?? 3000),
    onListen: ({ hostname, port }) => console.log(`realtime demo (inside Deno.serve) listening on http://${hostname}:${port}/`),
  },
  // The app's routes call realtime.sse(request), realtime.upgrade(request) and realtime.handle(request).
  (request) => app.fetch(request),
)
