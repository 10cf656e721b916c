// End to end in headless Chromium: the demo page (served by the Node demo through a TCP proxy the
// test can cut) loads the client bundle from the app's /client.js; what the page's clients receive
// is recorded on `window`. A network blip (the proxy cuts every connection while the server stays
// up) must cost nothing: the page reconnects, rejoins its channels and shows every message
// published meanwhile, once. A server restart (new epoch) must be reported as realtime:gap.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { browserUnavailable, launchChromium } from '../../../test/helpers/chromium.js'
import { eventually } from '../../../test/helpers/clients.js'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcp-proxy.js'
// @ts-expect-error the bundling script is plain JavaScript
import { bundleBrowser } from '../scripts/bundle.mjs'
import { publish, startServer, type DemoServer, type Received } from './_support.js'

const unavailable = browserUnavailable()
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`)

type Transport = 'sse' | 'websocket'
interface Logged extends Received {
  client: string
}

const RECORDED = ['tick', 'realtime:state', 'realtime:connected', 'realtime:subscribed', 'realtime:gap', 'realtime:error']

let users = 0
const nextUser = () => `browser-user-${++users}`

/**
 * Opens the demo page and, in it, one client per transport given, importing the bundle the app
 * serves. Scripts are passed as strings: the page runs them as written (no test-side transforms).
 */
async function openPage(browser: Browser, base: string, clients: Array<{ name: string; transport: Transport; channels: string[] }>): Promise<Page> {
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(String(error)))
  await page.goto(`${base}/?user=${nextUser()}`)
  const setup = clients.map(({ name, transport, channels }) => ({ name, transport, channels, user: nextUser() }))
  await page.evaluate(`(async () => {
    const { connect } = await import('/client.js')
    window.log = []
    window.clients = {}
    for (const { name, transport, channels, user } of ${JSON.stringify(setup)}) {
      const path = transport === 'sse' ? '/events' : '/ws'
      const client = connect(path + '?user=' + user, { transport, channels, reconnectDelay: 50, maxReconnectDelay: 500 })
      for (const event of ${JSON.stringify(RECORDED)}) {
        client.on(event, (data, message) => window.log.push({ client: name, event, data, channel: message.channel }))
      }
      window.clients[name] = { client, user }
    }
  })()`)
  expect(problems).toEqual([])
  return page
}

const logOf = (page: Page) => page.evaluate('window.log') as Promise<Logged[]>
const ticksOf = (log: Logged[], client: string, stream: string) =>
  log.filter((item) => item.client === client && item.event === 'tick' && item.data.stream === stream).map((item) => item.data.n)
const range = (count: number) => Array.from({ length: count }, (_, index) => index + 1)

async function waitFor(page: Page, check: (log: Logged[]) => boolean, what: string, timeout = 10_000): Promise<Logged[]> {
  let log: Logged[] = []
  await eventually(async () => check((log = await logOf(page))), timeout, what).catch((error) => {
    throw new Error(`${error.message}; page log: ${JSON.stringify(log).slice(-1500)}`)
  })
  return log
}

describe.skipIf(unavailable)('the client in headless Chromium', () => {
  let browser: Browser
  let server: DemoServer
  let proxy: TcpProxy
  const pages: Page[] = []

  beforeAll(async () => {
    server = await startServer()
    proxy = await startTcpProxy(server.url)
    browser = await launchChromium()
  })
  afterEach(async () => {
    while (pages.length) await pages.pop()!.close()
  })
  afterAll(async () => {
    await browser?.close()
    await proxy?.close()
    await server?.close()
  })

  it.each(['sse', 'websocket'] as const)(
    'over %s: a network blip costs nothing: the page reconnects, rejoins its channels and shows every message once',
    async (transport) => {
      const page = await openPage(browser, proxy.url, [{ name: 'main', transport, channels: ['blip'] }])
      pages.push(page)
      await waitFor(page, (log) => log.some((item) => item.event === 'realtime:connected'), 'the first connection')
      // A channel joined after connecting must be rejoined too.
      await page.evaluate(`window.clients.main.client.subscribe('late')`)
      await waitFor(page, (log) => log.some((item) => item.event === 'realtime:subscribed' && item.data.channel === 'late'), 'the late subscription')
      const user = (await page.evaluate('window.clients.main.user')) as string
      const count = 20
      const targets = [{ stream: 'broadcast' }, { stream: 'user', user }, { stream: 'blip', channel: 'blip' }, { stream: 'late', channel: 'late' }]
      for (let n = 1; n <= count; n++) {
        if (n === 8) expect(proxy.cut(), 'connections cut').toBeGreaterThan(0)
        for (const { stream, ...target } of targets) await publish(server.url, { ...target, event: 'tick', data: { stream, n } })
      }
      await waitFor(page, (log) => targets.every(({ stream }) => ticksOf(log, 'main', stream).length >= count), 'every tick')
      // One more message on the live connection: a duplicate of anything would have come before it.
      await publish(server.url, { event: 'tick', data: { stream: 'sentinel', n: 1 } })
      const log = await waitFor(page, (entries) => ticksOf(entries, 'main', 'sentinel').length === 1, 'the sentinel')
      for (const { stream } of targets) expect(ticksOf(log, 'main', stream), stream).toEqual(range(count))
      expect(
        log.some((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting'),
        'it lost the connection',
      ).toBe(true)
      expect(log.filter((item) => item.event === 'realtime:connected').length, 'it reconnected').toBeGreaterThanOrEqual(2)
      expect(log.filter((item) => item.event === 'realtime:gap')).toEqual([])
      expect(await page.evaluate('window.clients.main.client.state')).toBe('open')
    },
    60_000,
  )

  it('the app serves the current client bundle at /client.js', async () => {
    const served = await (await fetch(`${server.url}/client.js`)).text()
    expect(served === (await bundleBrowser()), 'apps/demo-app/src/client-bundle.js is stale: run pnpm build').toBe(true)
  })

  it('the demo page itself runs on the client: notifications over SSE, chat over WebSocket', async () => {
    const page = await browser.newPage()
    pages.push(page)
    await page.goto(`${proxy.url}/?user=${nextUser()}`)
    await eventually(
      async () => (await page.textContent('#sse-state')) === 'open' && (await page.textContent('#ws-state')) === 'open',
      10_000,
      'both badges open',
    )
    await publish(server.url, { event: 'notification', data: { message: 'hello from the test' } })
    await eventually(async () => (await page.textContent('#notifications')) === 'hello from the test', 5000, 'the notification on the page')
    await page.fill('#say-text', 'hi there')
    await page.click('#say button')
    await eventually(async () => ((await page.textContent('#chat')) ?? '').includes('hi there'), 5000, 'the chat message on the page')
    // The live server panel reads realtime.stats(): this page's two connections at least.
    await eventually(async () => Number(await page.textContent('#stat-connections')) >= 2, 5000, 'the server panel')
    expect(Number(await page.textContent('#stat-websocket'))).toBeGreaterThanOrEqual(1)
  }, 30_000)

  it("the demo's chat sends by request: across a network blip a request waits for the reconnect, one in flight rejects with REALTIME_DISCONNECTED", async () => {
    const page = await browser.newPage()
    pages.push(page)
    await page.goto(`${proxy.url}/?user=${nextUser()}`)
    await eventually(async () => (await page.textContent('#ws-state')) === 'open', 10_000, 'the chat open')
    await page.fill('#say-text', 'before the blip')
    await page.click('#say button')
    await eventually(async () => ((await page.evaluate('window.realtimeDemo.sent.length')) as number) === 1, 8000, 'the first id')
    // A request in flight when the network drops: the server may or may not have run it.
    // (The statement ends in `0`: page.evaluate would otherwise wait for the promise.)
    await page.evaluate(`window.inFlight = window.realtimeDemo.chat.request('wait', { ms: 2000 }).then(() => 'answered', (error) => error.code); 0`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(proxy.cut(), 'connections cut').toBeGreaterThan(0)
    // Sent while the page reconnects: it waits for the connection and is answered.
    await page.fill('#say-text', 'during the blip')
    await page.click('#say button')
    expect(await page.evaluate('window.inFlight')).toBe('REALTIME_DISCONNECTED')
    await eventually(async () => ((await page.evaluate('window.realtimeDemo.sent.length')) as number) === 2, 10_000, 'the second id')
    const [first, second] = (await page.evaluate('window.realtimeDemo.sent')) as number[]
    expect(second).toBeGreaterThan(first!)
    await eventually(async () => ((await page.textContent('#chat')) ?? '').includes('during the blip'), 8000, 'the message on the page')
    expect(await page.textContent('#say-problem')).toBe('')
    // The server's refusal shows as its code.
    await page.fill('#say-text', ' ')
    await page.click('#say button')
    await eventually(async () => ((await page.textContent('#say-problem')) ?? '').includes('REALTIME_INVALID_DATA'), 8000, 'the refusal on the page')
  }, 60_000)
})

describe.skipIf(unavailable)('the client in headless Chromium with tokens that expire', () => {
  let browser: Browser
  let server: DemoServer
  beforeAll(async () => {
    server = await startServer()
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('keeps both transports connected while tokens expire with the page open: WebSocket renews in place, SSE reconnects and resumes', async () => {
    const page = await browser.newPage()
    const user = nextUser()
    await page.goto(`${server.url}/?user=${user}`)
    // Tokens of 1.5 s: several expire while the page is open.
    await page.evaluate(`(async () => {
      const { connect } = await import('/client.js')
      window.log = []
      window.calls = { websocket: 0, sse: 0 }
      const auth = (transport) => () => (window.calls[transport]++, 'demo:${user}:' + (Date.now() + 1500))
      for (const transport of ['websocket', 'sse']) {
        const client = connect(transport === 'sse' ? '/events' : '/ws', { transport, auth: auth(transport), reconnectDelay: 50, maxReconnectDelay: 500 })
        for (const event of ['tick', 'realtime:connected', 'realtime:authenticated']) client.on(event, (data) => window.log.push({ client: transport, event, data }))
        window[transport] = client
      }
    })()`)
    await waitFor(page, (log) => log.filter((item) => item.event === 'realtime:connected').length >= 2, 'both connected')
    const websocketId = await page.evaluate('window.websocket.id')
    for (let n = 1; n <= 16; n++) {
      await publish(server.url, { user, event: 'tick', data: { stream: 'user', n } })
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const log = await waitFor(page, (entries) => ['websocket', 'sse'].every((client) => ticksOf(entries, client, 'user').length >= 16), 'every tick on both')
    for (const client of ['websocket', 'sse']) expect(ticksOf(log, client, 'user'), client).toEqual(range(16))
    // The WebSocket renewed over the open connection: same connection, several renewals.
    expect(await page.evaluate('window.websocket.id')).toBe(websocketId)
    expect(log.filter((item) => item.client === 'websocket' && item.event === 'realtime:authenticated').length).toBeGreaterThanOrEqual(2)
    // The SSE stream reconnected with fresh tokens.
    expect(log.filter((item) => item.client === 'sse' && item.event === 'realtime:connected').length).toBeGreaterThanOrEqual(2)
    expect(((await page.evaluate('window.calls')) as { sse: number }).sse).toBeGreaterThanOrEqual(2)
    await page.close()
  }, 60_000)
})

describe.skipIf(unavailable)('the client in headless Chromium across a server restart', () => {
  let browser: Browser
  let first: DemoServer
  let second: DemoServer | undefined
  let proxy: TcpProxy

  beforeAll(async () => {
    first = await startServer()
    proxy = await startTcpProxy(first.url)
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await proxy?.close()
    await first?.close().catch(() => {})
    await second?.close()
  })

  it('reconnects to the restarted server and tells the app, per stream, what it could not recover', async () => {
    const page = await openPage(browser, proxy.url, [
      { name: 'sse', transport: 'sse', channels: ['news'] },
      { name: 'websocket', transport: 'websocket', channels: ['news'] },
    ])
    await waitFor(
      page,
      (log) => ['sse', 'websocket'].every((name) => log.some((item) => item.client === name && item.event === 'realtime:connected')),
      'both clients connected',
    )
    await eventually(async () => (await page.textContent('#sse-state')) === 'open', 10_000, 'the demo page connected')
    await publish(first.url, { channel: 'news', event: 'tick', data: { stream: 'news', n: 1 } })
    await waitFor(page, (log) => ['sse', 'websocket'].every((name) => ticksOf(log, name, 'news').length === 1), 'the first tick')
    // The restart: the same address, a new process state (in-memory history: a new epoch).
    await first.close()
    second = await startServer(first.port)
    const restarted = second
    const log = await waitFor(
      page,
      (entries) =>
        ['sse', 'websocket'].every((name) =>
          ['news', 'realtime:broadcast'].every((channel) =>
            entries.some((item) => item.client === name && item.event === 'realtime:gap' && item.data.channel === channel),
          ),
        ),
      'gaps for news and broadcast on both clients',
      30_000,
    )
    for (const gap of log.filter((item) => item.event === 'realtime:gap')) expect(gap.data.reason, JSON.stringify(gap)).toBe('epoch')
    await waitFor(
      page,
      (entries) =>
        ['sse', 'websocket'].every((name) => entries.filter((item) => item.client === name && item.event === 'realtime:state').at(-1)?.data.state === 'open'),
      'both open again',
    )
    await publish(restarted.url, { channel: 'news', event: 'tick', data: { stream: 'news', n: 2 } })
    const after = await waitFor(
      page,
      (entries) => ['sse', 'websocket'].every((name) => ticksOf(entries, name, 'news').includes(2)),
      'a live tick after the restart',
    )
    for (const name of ['sse', 'websocket']) expect(ticksOf(after, name, 'news'), name).toEqual([1, 2])
    // The demo page's own clients tell the person too.
    await eventually(async () => ((await page.textContent('#notifications')) ?? '').includes('could not be recovered'), 30_000, 'the demo page showing the gap')
  }, 90_000)
})
