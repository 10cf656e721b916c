// The client against a hostile (or buggy) server (fixtures/hostile-server.mjs: plain node:http + ws)
// in every runtime it runs in: Node with `ws` (in this process) and with undici's WebSocket, Bun,
// Deno (the built client in a child process, which records any exception that escapes) and
// headless Chromium. The same scenarios everywhere (fixtures/hostile-client.mjs): malformed frames
// and SSE fields, a handler that throws, the default error handler, a 2 MiB message; then servers
// that refuse or drop every connection, where the client must back off, not hammer them.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserUnavailable, launchChromium } from '../../../test/helpers/chromium.js'
import { connect, type StateChange } from '../src/index.js'
import { nodeTransports } from './_support.js'
// @ts-expect-error plain JavaScript, shared with the child processes and the page
import { rateScenarios, runHostile } from './fixtures/hostile-client.mjs'
// @ts-expect-error plain JavaScript
import { startHostileServer } from './fixtures/hostile-server.mjs'
// @ts-expect-error the bundling script is plain JavaScript
import { bundleBrowser } from '../scripts/bundle.mjs'

const require = createRequire(import.meta.url)
const root = new URL('../../../', import.meta.url)
const entry = fileURLToPath(new URL('fixtures/hostile-entry.mjs', import.meta.url))
const bin = (name: string) => fileURLToPath(new URL(`node_modules/.bin/${name}`, root))

type Runtime = 'node-ws' | 'node-undici' | 'bun' | 'deno' | 'chromium'
interface Scenario {
  states: Array<{ state: string; delay?: number; status?: number; code?: number }>
  errors: Array<{ code: string; status?: number; message: string }>
  final: string
}

let server: any
beforeAll(async () => {
  server = await startHostileServer()
})
afterAll(async () => {
  await server?.close()
})

/** What every runtime must show. `statusVisible`: the runtime's WebSocket reveals a refused handshake's status (only `ws`). */
function checkReport(report: any, tag: string, statusVisible: boolean) {
  for (const transport of ['sse', 'websocket'] as const) {
    const { bad, defaultHandler, rates } = report[transport]
    const label = `${tag} ${transport}`
    // Every malformed frame reported once, dropped; every valid one delivered; still open.
    expect(bad.sentinel, `${label}: the sentinel after the bad frames`).toBe(true)
    expect(bad.state, label).toBe('open')
    expect(bad.states, `${label}: never lost the connection`).toEqual(['open', 'closed'])
    expect(bad.ticks, label).toEqual(transport === 'websocket' ? ['after subscribed', 'after 1e400', 'sentinel'] : ['bad id', 'sentinel'])
    const codes = bad.errors.map((error: { code: string }) => error.code)
    expect(codes.filter((code: string) => code === 'REALTIME_BAD_FRAME').length, `${label}: ${JSON.stringify(bad.errors)}`).toBe(
      transport === 'websocket' ? 11 : 7,
    )
    expect(codes.filter((code: string) => code === 'REALTIME_HANDLER_ERROR').length, label).toBe(1)
    expect(codes.filter((code: string) => code === 'REALTIME_MESSAGE_TOO_BIG').length, label).toBe(1)
    expect(codes.length, label).toBe(transport === 'websocket' ? 13 : 9)
    // With no error handler: the same frames go to console.error, and nothing throws.
    expect(defaultHandler.sentinel, label).toBe(true)
    // (SSE: without a realtime:state handler the client does not listen to a server's realtime:state.)
    expect(defaultHandler.logged, label).toBe(transport === 'websocket' ? 12 : 7)

    const paths: Record<string, string> = rateScenarios(transport, tag)
    const requests = (name: string) => server.requests(paths[name]!.split('?')[0])
    const reconnects = (name: string) => (rates[name] as Scenario).states.filter((state) => state.state === 'reconnecting')
    // Refused "later" with Retry-After: 0, or dropped right after realtime:connected: the backoff
    // grows (equal jitter: each delay is at least the one before) within the floor and the cap.
    for (const name of ['503-retry-after-0', '429-retry-after-0', 'drop']) {
      const delays = reconnects(name).map((state) => state.delay!)
      expect(requests(name), `${label} ${name}: requests in 3 s`).toBeLessThan(20)
      expect(requests(name), `${label} ${name}: it kept trying`).toBeGreaterThanOrEqual(3)
      // (Three attempts take at least 100 + 100 ms; the 3 s window never reaches the 5000 cap.)
      expect(delays.length, `${label} ${name}`).toBeGreaterThanOrEqual(3)
      for (const [index, delay] of delays.entries()) {
        expect(delay, `${label} ${name}: ${delays}`).toBeGreaterThanOrEqual(Math.max(100, delays[index - 1] ?? 0))
        expect(delay, `${label} ${name}`).toBeLessThanOrEqual(5000)
      }
      expect(delays.at(-1), `${label} ${name}: it grew: ${delays}`).toBeGreaterThan(delays[0]!)
    }
    // Retry-After: 3000000 s is capped by maxReconnectDelay (5000 here), not overflowed to 1 ms.
    const huge = reconnects('503-retry-after-huge')
    expect(requests('503-retry-after-huge'), label).toBeLessThan(20)
    for (const state of huge) expect(state.delay, label).toBeLessThanOrEqual(5000)
    if (transport === 'sse' || statusVisible) expect(huge.map((state) => state.delay)).toEqual([5000])
    // Permanent refusals stop with a clear error where the status is visible; elsewhere the
    // client cannot tell them from a network error and backs off (bounded).
    for (const name of ['401', '302']) {
      const scenario: Scenario = rates[name]
      if (transport === 'sse' || statusVisible) {
        expect(scenario.final, `${label} ${name}`).toBe('closed')
        expect(scenario.errors, `${label} ${name}`).toEqual([expect.objectContaining({ code: 'REALTIME_REFUSED' })])
        if (name === '401' || tag !== 'chromium') expect(scenario.errors[0]!.status, `${label} ${name}`).toBe(Number(name))
        // SSE: EventSource, then the one request that learns the status. In a redirect loop both
        // follow as many redirects as the runtime's fetch does (20 in browsers and Node, more in Bun), once.
        expect(requests(name), `${label} ${name}`).toBeLessThan(name === '302' ? 300 : 3)
      } else {
        expect(requests(name), `${label} ${name}`).toBeLessThan(20)
      }
    }
  }
}

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

describe('against a hostile server, on Node with ws (in this process)', () => {
  it('reports and drops every bad frame, survives a throwing handler, and backs off from refusals and drops', async () => {
    const escaped: unknown[] = []
    const onEscape = (error: unknown) => escaped.push(error)
    process.on('uncaughtException', onEscape)
    process.on('unhandledRejection', onEscape)
    try {
      const report = await runHostile({ connect, base: server.url, ...nodeTransports, tag: 'node-ws' })
      checkReport(report, 'node-ws', true)
    } finally {
      process.off('uncaughtException', onEscape)
      process.off('unhandledRejection', onEscape)
    }
    expect(escaped).toEqual([])
  }, 40_000)
})

describe('refusals on Node', () => {
  it('WebSocket with ws: honours the Retry-After of a refused handshake', async () => {
    const client = connect(`${server.url}/status/503/ws-retry-after?retryAfter=2`, {
      transport: 'websocket',
      WebSocket: nodeTransports.WebSocket,
      reconnectDelay: 100,
    })
    const state = await new Promise<StateChange>((resolve) => client.on('realtime:state', (change) => change.state === 'reconnecting' && resolve(change)))
    client.close()
    expect(state).toMatchObject({ status: 503 })
    // Retry-After: 2 plus up to half again as jitter (the backoff alone would be 100 ms).
    expect(state.delay).toBeGreaterThanOrEqual(2000)
    expect(state.delay).toBeLessThanOrEqual(3000)
  })

  it('SSE: a redirect to an overloaded server is followed, and the client keeps trying later instead of stopping', async () => {
    const client = connect(`${server.url}/status/307/sse-redirect?to=${encodeURIComponent('/status/503/sse-redirect-target?retryAfter=1')}`, {
      EventSource: nodeTransports.EventSource,
      reconnectDelay: 100,
    })
    const state = await new Promise<StateChange>((resolve) => client.on('realtime:state', (change) => resolve(change)))
    client.close()
    expect(state).toMatchObject({ state: 'reconnecting', status: 503 })
    expect(state.delay).toBeGreaterThanOrEqual(1000)
    // EventSource followed the redirect; so did the one request that learned the status.
    expect(server.requests('/status/503/sse-redirect-target')).toBe(2)
  })
})

describe('maxMessageBytes on Node', () => {
  // 1015 characters, 2015 bytes of UTF-8: under a 2000 limit counted in characters, over it in bytes.
  const wide = JSON.stringify({ event: 'tick', data: 'é'.repeat(1000) })
  const small = JSON.stringify({ event: 'tick', data: 'small' })

  it.each(['sse', 'websocket'] as const)('over %s: drops a message over the limit in UTF-8 bytes, reports it, and delivers the next', async (transport) => {
    server.script(`wide-${transport}`, {
      websocket: ['{"event":"realtime:connected","data":{"id":"w","cursor":""}}', wide, small],
      sse: `event: realtime:connected\ndata: {"id":"w","cursor":""}\n\nevent: tick\ndata: ${JSON.stringify('é'.repeat(1000))}\n\nevent: tick\ndata: "small"\n\n`,
    })
    for (const [limit, expected] of [
      [2000, ['small']],
      [0, ['é'.repeat(1000), 'small']],
    ] as const) {
      const client = connect(`${server.url}/script/wide-${transport}`, { transport, ...nodeTransports, maxMessageBytes: limit })
      const ticks: string[] = []
      const errors: string[] = []
      client.on('realtime:error', (error) => void errors.push(error.code))
      await new Promise<void>((resolve) => client.on('tick' as never, ((data: string) => (ticks.push(data), data === 'small' && resolve())) as never))
      client.close()
      expect(ticks, `limit ${limit}`).toEqual(expected)
      expect(errors, `limit ${limit}`).toEqual(limit ? ['REALTIME_MESSAGE_TOO_BIG'] : [])
    }
  })
})

describe('options that would break the client', () => {
  it('ignores a saved cursor map that does not parse, instead of storing a bad position', () => {
    const client = connect(`${server.url}/script/bad/saved-cursor`, { ...nodeTransports, lastEventId: 'b=e:1e400,c.news=e:1' })
    expect(client.cursor).toBe('')
    client.close()
  })

  it('refuses a channel name that cannot be percent-encoded (a lone surrogate) where it is given', () => {
    expect(() => connect(`${server.url}/script/bad/surrogate`, { ...nodeTransports, channels: ['\ud800'] })).toThrow(TypeError)
    const client = connect(`${server.url}/script/bad/surrogate`, { ...nodeTransports })
    expect(() => client.subscribe('a\udc00')).toThrow(TypeError)
    expect(client.channels).toEqual([])
    client.close()
  })

  it('falls back to the defaults for numeric options that are not non-negative numbers (NaN would mean a 1 ms timer)', async () => {
    const client = connect(`${server.url}/status/503/nan-options?retryAfter=0`, { ...nodeTransports, reconnectDelay: Number.NaN, maxReconnectDelay: -1 })
    const state = await new Promise<StateChange>((resolve) => client.on('realtime:state', (change) => resolve(change)))
    client.close()
    // The default first delay: 1000 ms with equal jitter.
    expect(state.delay).toBeGreaterThanOrEqual(500)
    expect(state.delay).toBeLessThanOrEqual(1000)
  })
})

describe('the default error handler on Node', () => {
  it('never throws, even when console.error does, and the connection goes on', async () => {
    const consoleError = console.error
    let calls = 0
    console.error = () => {
      calls++
      throw new Error('a console that throws')
    }
    const escaped: unknown[] = []
    const onEscape = (error: unknown) => escaped.push(error)
    process.on('uncaughtException', onEscape)
    try {
      const client = connect(`${server.url}/script/bad/default-handler`, { transport: 'websocket', WebSocket: nodeTransports.WebSocket, pingInterval: 0 })
      const sentinel = await new Promise((resolve) => client.on('tick' as never, ((data: { n: string }) => data.n === 'sentinel' && resolve(true)) as never))
      expect(sentinel).toBe(true)
      expect(client.state).toBe('open')
      client.close()
    } finally {
      console.error = consoleError
      process.off('uncaughtException', onEscape)
    }
    expect(calls, 'every bad frame went to console.error').toBe(12)
    expect(escaped).toEqual([])
  })
})

const children: Record<Exclude<Runtime, 'node-ws' | 'chromium'>, [string, string[]]> = {
  // Node 20's WebSocket behind the flag is undici's.
  'node-undici': [process.execPath, ['--experimental-websocket', entry]],
  bun: [bin('bun'), [entry]],
  deno: [bin('deno'), ['run', '--allow-net', '--allow-env', '--allow-read', entry]],
}

describe.each(Object.keys(children) as Array<keyof typeof children>)('against a hostile server, the built client on %s', (runtime) => {
  it('does not crash, reports and drops every bad frame, and backs off from refusals and drops', async () => {
    const [command, args] = children[runtime]
    const result = await run(command, args, {
      BASE: server.url,
      TAG: runtime,
      CLIENT_URL: new URL('packages/client/dist/index.js', root).href,
      EVENTSOURCE_URL: pathToFileURL(require.resolve('eventsource')).href.replace(/index\.cjs$/, 'index.js'),
      WS_URL: pathToFileURL(require.resolve('ws')).href.replace(/index\.js$/, 'wrapper.mjs'),
    })
    expect(result.status, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1)!)
    expect(report.runtime).toBe(runtime === 'node-undici' ? 'node' : runtime)
    expect(report.nativeWebSocket, "the runtime's own (undici on Node) WebSocket").toBe(true)
    expect(report.escaped, 'nothing escaped to the runtime').toEqual([])
    checkReport(report, runtime, false)
  }, 60_000)
})

const unavailable = browserUnavailable()
describe.skipIf(unavailable)('against a hostile server, the client in headless Chromium', () => {
  it('raises no page error, reports and drops every bad frame, and backs off from refusals and drops', async () => {
    server.clientCode = await bundleBrowser()
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const problems: string[] = []
      page.on('pageerror', (error) => problems.push(String(error)))
      // A page of the hostile server itself: same origin, loopback (no local-network-access block).
      await page.goto(`${server.url}/page`)
      const report = await page.evaluate(`(async () => {
        const { connect } = await import('/client.js')
        const { runHostile } = await import('/fixtures/hostile-client.mjs')
        return runHostile({ connect, base: location.origin, tag: 'chromium' })
      })()`)
      expect(problems).toEqual([])
      checkReport(report, 'chromium', false)
    } finally {
      await browser.close()
    }
  }, 60_000)
})
