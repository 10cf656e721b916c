// Prints which build of `@loewen-digital/realtime` Deno resolved and whether it, and the spec's
// import path `@loewen-digital/fullstack/realtime`, are the Deno adapter.
// packages/adapter-deno/test/facade-condition.test.ts runs it; it needs no permission.
import * as facade from '@loewen-digital/realtime'
import * as fullstack from '@loewen-digital/fullstack/realtime'
import * as adapter from '@loewen-digital/realtime-deno'

console.log(
  JSON.stringify({
    resolved: import.meta.resolve('@loewen-digital/realtime'),
    facade: facade.createRealtime === adapter.createRealtime && facade.serve === adapter.serve,
    fullstack: fullstack.createRealtime === adapter.createRealtime,
  }),
)
