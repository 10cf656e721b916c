// `wrangler dev --local` serves apps/demo-workers as documented: the page, SSE, the spec's echo
// handler and a broadcast that crosses from one request to the connections of others.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSse, openWs, post } from '../../../test/helpers/clients.js'
import { spawnServer, type SpawnedServer } from '../../../test/helpers/spawn-server.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))

describe('workers: wrangler dev --local serves apps/demo-workers', () => {
  let server: SpawnedServer
  const state = mkdtempSync(join(tmpdir(), 'realtime-wrangler-'))

  beforeAll(async () => {
    server = await spawnServer(
      join(root, 'node_modules/.bin/wrangler'),
      ['dev', '--local', '--ip', '127.0.0.1', '--port', '0', '--persist-to', state, '--show-interactive-dev-session=false'],
      {
        cwd: join(root, 'apps/demo-workers'),
        env: { WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: 'true' },
        timeout: 60_000,
      },
    )
  }, 90_000)
  afterAll(async () => {
    await server?.close()
    rmSync(state, { recursive: true, force: true })
  })

  it('serves the page, SSE and WebSocket, and fans out across requests', async () => {
    const page = await fetch(`${server.url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<html')
    const sse = await openSse(`${server.url}/events?greeting=hello`)
    expect(JSON.parse((await sse.inbox.next((event) => event.event === 'notification')).data)).toEqual({ message: 'hello' })
    const ws = await openWs(`${server.url}/ws?user=alice`)
    ws.send(JSON.stringify({ hello: 'world' }))
    expect(JSON.parse((await ws.inbox.next((message) => message.raw.includes('echo'))).raw)).toEqual({ echo: { hello: 'world' } })
    expect((await post(`${server.url}/publish`, { event: 'update', data: { n: 1 } })).status).toBe(200)
    await sse.inbox.next((event) => event.event === 'update')
    await ws.inbox.next((message) => message.event === 'update')
    sse.close()
    ws.close()
  })
})
