// Cross-origin SSE in headless Chromium: a page on one origin (http://localhost:<page port>, a small
// static server in this test) reads the realtime endpoint on another (the Node demo on
// http://127.0.0.1:<port>), which allows the page's origin in `allowedOrigins`. The platform's
// EventSource with credentials, and the fetch transport with an Authorization header (which makes
// the browser send a preflight), both connect; a page on an origin the server does not allow gets
// nothing.
import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { browserUnavailable, launchChromium } from '../../../test/helpers/chromium.js'
import { eventually } from '../../../test/helpers/clients.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
// @ts-expect-error the bundling script is plain JavaScript
import { bundleBrowser } from '../scripts/bundle.mjs'
// @ts-expect-error the demo server is plain JavaScript
import { start as startDemo } from '../../../apps/demo-node/server.js'
import { publish, type DemoServer } from './_support.js'

const unavailable = browserUnavailable()

/** A page server: `/` (an empty page), `/client.js` (the browser bundle), `/fetch.js` (the fetch entry). */
async function startPageServer(files: Record<string, string>): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    if (path === '/') return response.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>app</title>')
    const file = files[path]
    if (file === undefined) return response.writeHead(404).end()
    response.writeHead(200, { 'Content-Type': 'text/javascript' }).end(file)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

describe.skipIf(unavailable)('cross-origin SSE in headless Chromium', () => {
  let browser: Browser
  let api: DemoServer
  let allowedPage: { server: Server; port: number }
  let otherPage: { server: Server; port: number }
  const pages: Page[] = []

  beforeAll(async () => {
    const fetchEntry = await build({
      entryPoints: [fileURLToPath(new URL('../src/fetch.ts', import.meta.url))],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    })
    const files = { '/client.js': await bundleBrowser(), '/fetch.js': fetchEntry.outputFiles[0]!.text }
    allowedPage = await startPageServer(files)
    otherPage = await startPageServer(files)
    api = await startDemo({ ...FIXTURE_SETTINGS, port: 0, crossOrigins: [`http://localhost:${allowedPage.port}`] })
    browser = await launchChromium()
  })
  afterEach(async () => {
    while (pages.length) await pages.pop()!.close()
  })
  afterAll(async () => {
    await browser?.close()
    await api?.close()
    await Promise.all([allowedPage, otherPage].map((page) => page && new Promise((resolve) => page.server.close(resolve))))
  })

  /** Opens `http://localhost:<port>/` and connects from it to the API's /events. */
  async function openApp(port: number, transport: 'eventsource' | 'fetch', user: string): Promise<Page> {
    const page = await browser.newPage()
    pages.push(page)
    await page.goto(`http://localhost:${port}/`)
    await page.evaluate(`(async () => {
      const { connect } = await import('/client.js')
      const { fetchEventSource } = await import('/fetch.js')
      window.log = []
      const options = ${JSON.stringify(transport)} === 'fetch'
        ? { EventSource: fetchEventSource({ headers: () => ({ Authorization: 'Bearer ${user}' }) }) }
        : { withCredentials: true }
      const url = '${api.url}/events' + (${JSON.stringify(transport)} === 'fetch' ? '' : '?user=${user}')
      window.client = connect(url, { ...options, reconnectDelay: 100, maxReconnectDelay: 500 })
      for (const event of ['tick', 'realtime:connected', 'realtime:state']) window.client.on(event, (data) => window.log.push({ event, data }))
    })()`)
    return page
  }
  const logOf = (page: Page) => page.evaluate('window.log') as Promise<Array<{ event: string; data: any }>>

  it.each(['eventsource', 'fetch'] as const)(
    'over %s: a page on an allowed origin connects and receives its events',
    async (transport) => {
      const user = `cors-${transport}`
      const page = await openApp(allowedPage.port, transport, user)
      await eventually(async () => (await logOf(page)).some((item) => item.event === 'realtime:connected'), 10_000, 'connected')
      await publish(api.url, { user, event: 'tick', data: { n: 1 } })
      await eventually(async () => (await logOf(page)).some((item) => item.event === 'tick' && item.data.n === 1), 10_000, 'the user event')
      expect(await page.evaluate('window.client.state')).toBe('open')
    },
    30_000,
  )

  it.each(['eventsource', 'fetch'] as const)(
    'over %s: a page on an origin the server does not allow gets nothing',
    async (transport) => {
      const page = await openApp(otherPage.port, transport, `other-${transport}`)
      await eventually(
        async () => (await logOf(page)).some((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting'),
        10_000,
        'a failed attempt',
      )
      expect((await logOf(page)).some((item) => item.event === 'realtime:connected')).toBe(false)
      expect(await page.evaluate('window.client.state')).not.toBe('open')
    },
    30_000,
  )
})
