// The same built client in Deno and Bun (real runtimes from npm): connects to the Node demo over
// SSE and WebSocket with the runtime's own WebSocket and (Deno) EventSource; Bun has no
// EventSource, so it gets the `eventsource` package's, as the docs tell Bun users to do.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type DemoServer } from './_support.js'

const require = createRequire(import.meta.url)
const root = new URL('../../../', import.meta.url)
const script = fileURLToPath(new URL('fixtures/runtime-smoke.mjs', import.meta.url))
const clientUrl = new URL('packages/client/dist/index.js', root).href
const fetchUrl = new URL('packages/client/dist/fetch.js', root).href
const eventSourceUrl = pathToFileURL(require.resolve('eventsource')).href.replace(/index\.cjs$/, 'index.js')

let server: DemoServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

const runtimes = {
  deno: [fileURLToPath(new URL('node_modules/.bin/deno', root)), 'run', '--allow-net', '--allow-env', '--allow-read', script],
  bun: [fileURLToPath(new URL('node_modules/.bin/bun', root)), script],
}

/** Runs a command without blocking this process (the demo server in it must keep answering). */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env, NO_COLOR: '1' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

describe.each(Object.keys(runtimes) as Array<keyof typeof runtimes>)('the built client on %s', (runtime) => {
  it('receives a channel event over SSE and over WebSocket, answers a request, and reads SSE through the fetch transport', async () => {
    const [command, ...args] = runtimes[runtime]
    const result = await run(command!, args, { BASE: server.url, CLIENT_URL: clientUrl, FETCH_URL: fetchUrl, EVENTSOURCE_URL: eventSourceUrl })
    expect(result.status, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1)!)
    expect(report.runtime).toBe(runtime)
    expect(report.nativeEventSource).toBe(runtime === 'deno')
    expect(report.sse).toEqual({ data: { transport: 'sse' }, state: 'closed', channel: null })
    expect(report.websocket).toEqual({ data: { transport: 'websocket' }, state: 'closed', channel: 'runtime' })
    expect(report.answer).toEqual({ waited: 0 })
    expect(report.viaFetch).toEqual({ data: { transport: 'fetch' }, state: 'closed' })
  }, 60_000)
})
