// Every snippet of the realtime module documentation (docs/module.md), run as written (the snippet
// files in ./spec are verbatim copies, checked below), served on a real Node server and reached by
// real clients.
import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createRealtime, serve } from '@loewen-digital/fullstack/realtime'
import { openEventSource, openSse, openWs, eventually } from '../../../test/helpers/clients.js'
import { GET as sseGET, realtime as sseRealtime } from './spec/sse-endpoint.js'
import { GET as wsGET, realtime as wsRealtime } from './spec/websocket-endpoint.js'
import { announce, setUpChannels } from './spec/channels.js'
import { publish } from './spec/publishing.js'

const servers: Array<{ close(): Promise<void> }> = []
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()))
  await Promise.all([sseRealtime.close(), wsRealtime.close()])
})
const start = async (fetch: (request: Request) => Promise<Response>) => {
  const server = await serve({ fetch, port: 0 })
  servers.push(server)
  return server.url
}

describe("spec: the snippets are the documentation's", () => {
  // Each code block of docs/module.md appears, line by line and in order, in one snippet file
  // (which may add an import or a wrapper function for the snippet's free variables). Indentation
  // is not compared: the published page has none.
  const lines = (text: string) =>
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
  const doc = readFileSync(new URL('../../../docs/module.md', import.meta.url), 'utf8')
  const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => lines(match[1]))
  const snippets = ['sse-endpoint', 'publishing', 'websocket-endpoint', 'channels'].map((name) =>
    lines(readFileSync(new URL(`./spec/${name}.ts`, import.meta.url), 'utf8')),
  )
  const inOrder = (block: string[], file: string[]) => {
    let at = 0
    for (const line of file) if (line === block[at]) at++
    return at === block.length
  }

  it('docs/module.md has the five code blocks of the module documentation', () => {
    expect(blocks).toHaveLength(5)
  })

  it.each(blocks.map((block) => [block[0], block]))('the block starting %s is in a snippet file', (_, block) => {
    expect(snippets.some((file) => inOrder(block as string[], file))).toBe(true)
  })
})

describe('spec: Import', () => {
  it('imports createRealtime from @loewen-digital/fullstack/realtime', () => {
    expect(typeof createRealtime).toBe('function')
  })
})

describe('spec: Server-Sent Events (SSE)', () => {
  it('the GET handler streams the notification to a native EventSource', async () => {
    const url = await start(sseGET)
    const source = openEventSource(url, ['notification'])
    try {
      const event = await source.inbox.next()
      expect(JSON.parse(event.data)).toEqual({ message: 'You have a new message' })
    } finally {
      source.close()
    }
  })
})

describe('spec: Publishing to SSE clients', () => {
  it('broadcast reaches everyone, sendTo(userId) only that user', async () => {
    const realtime = createRealtime({ identify: (request) => new URL(request.url).searchParams.get('user') })
    const url = await start(async (request) => realtime.sse(request).response)
    const alice = await openSse(`${url}/?user=alice`)
    const bob = await openSse(`${url}/?user=bob`)
    try {
      await eventually(() => realtime.stats().connections === 2)
      await publish(realtime, { version: 2 }, 'alice', { id: 17 })
      expect(JSON.parse((await alice.inbox.next((event) => event.event === 'update')).data)).toEqual({ version: 2 })
      expect(JSON.parse((await bob.inbox.next((event) => event.event === 'update')).data)).toEqual({ version: 2 })
      expect(JSON.parse((await alice.inbox.next((event) => event.event === 'order-update')).data)).toEqual({ id: 17 })
      await realtime.broadcast({ event: 'marker', data: null })
      await bob.inbox.next((event) => event.event === 'marker')
      expect(bob.inbox.items.some((event) => event.event === 'order-update')).toBe(false)
    } finally {
      alice.close()
      bob.close()
      await realtime.close()
    }
  })
})

describe('spec: WebSocket support and Channels', () => {
  it('echoes parsed JSON, logs on close', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const url = await start(wsGET)
    const ws = await openWs(url)
    ws.send({ hello: 'spec' })
    const echo = await ws.inbox.next((message) => message.raw.includes('echo'))
    expect(JSON.parse(echo.raw)).toEqual({ echo: { hello: 'spec' } })
    ws.close()
    await eventually(() => log.mock.calls.some((call) => call[0] === 'Client disconnected'), 3000, 'onClose to log')
    log.mockRestore()
  })

  it('a client joins "orders" with a message, onJoin sends "connected", toChannel reaches members only', async () => {
    setUpChannels()
    const url = await start(wsGET)
    const member = await openWs(url)
    const outsider = await openWs(url)
    try {
      await member.subscribe('orders')
      const connected = await member.inbox.next((message) => message.event === 'connected')
      expect(connected.data).toEqual({ channel: 'orders' })
      await announce({ id: 99 })
      const order = await member.inbox.next((message) => message.event === 'new-order')
      expect(order.data).toEqual({ id: 99 })
      await wsRealtime.broadcast({ event: 'marker', data: null })
      await outsider.inbox.next((message) => message.event === 'marker')
      expect(outsider.inbox.items.some((message) => message.event === 'new-order')).toBe(false)
    } finally {
      member.close()
      outsider.close()
    }
  })
})

describe('spec: Config options', () => {
  it('accepts driver, heartbeat and maxConnections, with the documented defaults', async () => {
    const realtime = createRealtime({ driver: 'websocket', heartbeat: 15000, maxConnections: 1 })
    expect(realtime.driver).toBe('websocket')
    const url = await start(async (request) => realtime.sse(request).response)
    const first = await openSse(url)
    const second = await fetch(url)
    expect(second.status).toBe(503)
    first.close()
    await realtime.close()
    expect(createRealtime().driver).toBe('sse')
  })

  it('rejects invalid options with REALTIME_INVALID_OPTION', () => {
    expect(() => createRealtime({ driver: 'carrier-pigeon' as 'sse' })).toThrow(expect.objectContaining({ code: 'REALTIME_INVALID_OPTION' }))
    expect(() => createRealtime({ heartbeat: -1 })).toThrow(expect.objectContaining({ code: 'REALTIME_INVALID_OPTION' }))
  })
})
