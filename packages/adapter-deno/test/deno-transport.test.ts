// What is particular to Deno's transport, on the real runtime with real clients: the demo server
// (apps/demo-deno) in a Deno process, driven over the network.
import { connect } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
import { eventually, openWs, post } from '../../../test/helpers/clients.js'
import { spawnServer, type SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { DEMO_PERMISSIONS, DENO, ROOT } from './_deno.js'

describe('Deno transport', () => {
  let server: SpawnedServer
  let base: string
  const stats = async () => (await fetch(`${base}/stats`)).json()

  beforeAll(async () => {
    server = await spawnServer(DENO, ['run', ...DEMO_PERMISSIONS, 'apps/demo-deno/server.ts'], {
      cwd: ROOT,
      env: { PORT: '0', REALTIME_FIXTURE: JSON.stringify(FIXTURE_SETTINGS) },
    })
    base = server.url
  })
  afterAll(async () => {
    await server?.close()
  })
  beforeEach(async () => {
    await eventually(async () => (await stats()).connections === 0, 5000, 'no connections left from the previous test')
    await post(`${base}/errors/clear`, {})
  })

  it('closes a peer that sends a binary frame with 1003 and reports REALTIME_UNSUPPORTED_DATA', async () => {
    const ws = await openWs(`${base}/ws`)
    ws.socket.send(Buffer.from([1, 2, 3]))
    expect((await ws.closed).code).toBe(1003)
    expect((await stats()).errors.map((error: { code: string }) => error.code)).toEqual(['REALTIME_UNSUPPORTED_DATA'])
  })

  it('frees a peer that vanishes without a closing handshake and reports no error, as ws does on Node', async () => {
    const ws = await openWs(`${base}/ws?user=vanishing`)
    await ws.subscribe('orders')
    ws.socket.terminate()
    await eventually(
      async () => {
        const now = await stats()
        return now.connections === 0 && now.users === 0 && now.channels === 0
      },
      5000,
      'the registry to empty',
    )
    expect((await stats()).errors).toEqual([])
  })

  it("closes a peer that misses a heartbeat through Deno's idleTimeout ping: 1001 on the wire, no error", async () => {
    const silent = await openWs(`${base}/ws`, { autoPong: false })
    let pings = 0
    silent.socket.on('ping', () => pings++)
    const closed = await silent.closed
    expect(pings).toBeGreaterThanOrEqual(1)
    expect(closed).toEqual({ code: 1001, reason: 'No response from ping frame.' })
    await eventually(async () => (await stats()).connections === 0)
    expect((await stats()).errors).toEqual([])
  })

  it('answers 400 to an upgrade request Deno cannot complete and registers nothing', async () => {
    const answer = await rawRequest(base, 'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(await stats()).toMatchObject({ connections: 0, errors: [] })
  })

  it('closes a slow consumer with 4001 once Deno has more than maxBufferedBytes queued for it', async () => {
    const slow = await openWs(`${base}/ws?user=slow`)
    slow.socket.pause() // reads nothing from now on, so Deno's send buffer grows
    // Keeps sending: every inbound frame restarts Deno's idle timer, so no heartbeat closes it.
    const talking = setInterval(() => slow.send({ still: 'here' }), FIXTURE_SETTINGS.heartbeat / 2)
    try {
      await flood(
        () => post(`${base}/publish`, { event: 'flood', data: 'x'.repeat(256 * 1024) }),
        async () => (await stats()).users === 0,
      )
    } finally {
      clearInterval(talking)
    }
    slow.socket.resume()
    expect(await slow.closed).toEqual({ code: 4001, reason: 'slow consumer' })
  })

  it('frees a peer that stops reading although Deno cannot finish closing it', async () => {
    const stalled = await openWs(`${base}/ws?user=stalled`)
    stalled.socket.pause() // reads nothing and answers nothing: the closing handshake never completes
    await flood(
      () => post(`${base}/publish`, { event: 'flood', data: 'x'.repeat(256 * 1024) }),
      async () => {
        const now = await stats()
        return now.connections === 0 && now.users === 0
      },
    )
    stalled.socket.terminate()
  })
})

/** Publishes until `done` says so; fails after 15 s. */
async function flood(publish: () => Promise<unknown>, done: () => Promise<boolean>): Promise<void> {
  await eventually(
    async () => {
      if (await done()) return true
      await publish()
      return false
    },
    15_000,
    'the peer to be dropped',
  )
}

/** Sends raw bytes (for requests `fetch` refuses to make) and resolves with the answer's head. */
function rawRequest(base: string, text: string): Promise<string> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(text))
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk.toString()
      if (answer.includes('\r\n\r\n')) {
        socket.destroy()
        resolve(answer)
      }
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
  })
}
