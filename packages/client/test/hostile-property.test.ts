// Property-based: a real local server (fixtures/hostile-server.mjs) sends the client generated
// WebSocket frames and generated SSE streams (valid, malformed and hostile fields mixed), then one
// valid message. Whatever came before, the client must not throw (nothing reaches the process),
// must still deliver that last message, must stay connected (one request, no reconnect) and must
// report what it dropped through realtime:error only.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type RealtimeClient } from '../src/index.js'
import { nodeTransports } from './_support.js'
// @ts-expect-error plain JavaScript
import { startHostileServer } from './fixtures/hostile-server.mjs'

let server: any
beforeAll(async () => {
  server = await startHostileServer()
})
afterAll(async () => {
  await server?.close()
})

const CONTROL = ['connected', 'subscribed', 'unsubscribed', 'gap', 'error', 'reconnect', 'pong', 'presence', 'state', 'raw', 'ping', 'constructor', '__proto__']
/** Event names generated (and listened to); `sentinel`, the last valid message, is never generated. */
const LISTENED = ['tick', 'boom', ...CONTROL.map((name) => 'realtime:' + name)]

// Cursors and cursor maps, valid and not: the offsets that broke the client (1e400), other
// numbers, wrong types, lone surrogates.
const cursor = fc.oneof(
  fc.tuple(fc.stringMatching(/^[a-c]{1,3}$/), fc.nat()).map(([epoch, offset]) => `${epoch}:${offset}`),
  fc.constantFrom('e:1e400', 'e:-1', 'e:Infinity', 'e:NaN', 'e:9007199254740993', 'e:1.5', 'e:0x10', ':1', 'e:', `${'e'.repeat(65)}:1`),
  fc.string({ unit: 'binary', maxLength: 20 }),
)
const cursorMap = fc.oneof(
  fc
    .array(fc.tuple(fc.constantFrom('b', 'u', 'c.news', 'c.', 'x', ''), cursor), { maxLength: 4 })
    .map((entries) => entries.map(([key, value]) => `${key}=${value}`).join(',')),
  fc.string({ unit: 'binary', maxLength: 30 }),
)
const anyCursor = fc.oneof(cursor, cursorMap, fc.jsonValue({ maxDepth: 2 }))
const channel = fc.oneof(
  fc.constantFrom('news', 'realtime:user', 'realtime:broadcast', '\ud800', 'a\udc00b', ''),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.jsonValue({ maxDepth: 1 }),
)
const event = fc.oneof(fc.constantFrom(...LISTENED), fc.string({ maxLength: 12 }))
const data = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.record(
    {
      id: fc.oneof(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })),
      channel,
      cursor: anyCursor,
      code: fc.oneof(fc.constant('REALTIME_FORBIDDEN'), fc.jsonValue({ maxDepth: 1 })),
      message: fc.jsonValue({ maxDepth: 1 }),
      reason: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  ),
)
const BIG = 'y'.repeat(5000) // over the maxMessageBytes of these clients
const frame = fc.oneof(
  { weight: 6, arbitrary: fc.record({ event, data, channel, id: anyCursor }, { requiredKeys: ['event'] }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(`{"event":"tick","data":"${BIG}"}`, Buffer.from([0, 1, 2]) as unknown as string) },
)
const sseLine = fc.oneof(
  cursorMap.map((value) => `id: ${value}`),
  event.map((value) => `event: ${value}`),
  fc
    .oneof(
      data.map((value) => JSON.stringify(value) ?? ''),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.constant(BIG),
    )
    .map((value) => `data: ${value}`),
  fc.oneof(fc.nat().map(String), fc.string({ maxLength: 8 })).map((value) => `retry: ${value}`),
  fc.string({ maxLength: 10 }).map((value) => `:${value}`),
  fc.string({ unit: 'binary', maxLength: 30 }),
)
const sseStream = fc
  .array(
    fc.array(sseLine, { maxLength: 5 }).map((lines) => lines.join('\n') + '\n\n'),
    { maxLength: 10 },
  )
  .map((blocks) => blocks.join(''))

let runs = 0

/** Connects to script `name`, waits for the sentinel; returns what happened. */
async function drive(transport: 'sse' | 'websocket', name: string) {
  const escaped: unknown[] = []
  const logged: unknown[] = []
  const onEscape = (error: unknown) => escaped.push(error)
  process.on('uncaughtException', onEscape)
  process.on('unhandledRejection', onEscape)
  const consoleError = console.error
  console.error = (...parts: unknown[]) => logged.push(parts)
  let client: RealtimeClient | undefined
  try {
    client = connect(`${server.url}/script/${name}`, { transport, ...nodeTransports, pingInterval: 0, maxMessageBytes: 4096 })
    const errors: string[] = []
    let throwing = 0
    for (const listened of LISTENED) {
      client.on(
        listened as never,
        (() => {
          // Handlers that throw, including realtime:error ones: reported, never thrown further.
          if (listened === 'boom' || (listened === 'realtime:error' && throwing++ % 2)) throw new Error('from a handler')
        }) as never,
      )
    }
    client.on('realtime:error', (error) => void errors.push(error.code))
    const delivered = new Promise<unknown>((resolve) => client!.on('sentinel' as never, ((value: unknown) => resolve(value)) as never))
    const sentinel = await Promise.race([delivered, new Promise((resolve) => setTimeout(() => resolve('timed out'), 8000))])
    return { sentinel, state: client.state, errors, escaped, logged, requests: server.requests(`/script/${name}`) }
  } finally {
    client?.close()
    console.error = consoleError
    process.off('uncaughtException', onEscape)
    process.off('unhandledRejection', onEscape)
  }
}

function check(result: Awaited<ReturnType<typeof drive>>, n: number) {
  expect(result.escaped).toEqual([])
  expect(result.sentinel).toEqual({ n })
  expect(result.state).toBe('open')
  expect(result.requests, 'one connection, no reconnect').toBe(1)
  // Errors arrive as realtime:error with a code (the client's, or a well-formed one the server sent).
  for (const code of result.errors) expect(typeof code).toBe('string')
}

describe('the client against generated server output (fast-check)', () => {
  it('over WebSocket: any frames, then a valid message that arrives', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 12 }), async (frames) => {
        const n = ++runs
        const name = `ws-${n}`
        server.script(name, {
          websocket: [
            '{"event":"realtime:connected","data":{"id":"p","cursor":""}}',
            ...frames,
            JSON.stringify({ event: 'sentinel', data: { n }, id: `sentinel${n}:1` }),
          ],
        })
        check(await drive('websocket', name), n)
      }),
      { numRuns: 150 },
    )
  }, 120_000)

  it('over SSE: any stream of fields, then a valid event that arrives', async () => {
    await fc.assert(
      fc.asyncProperty(sseStream, async (text) => {
        const n = ++runs
        const name = `sse-${n}`
        server.script(name, {
          sse: `event: realtime:connected\ndata: {"id":"p","cursor":""}\n\n${text}\n\nevent: sentinel\ndata: ${JSON.stringify({ n })}\n\n`,
        })
        check(await drive('sse', name), n)
      }),
      { numRuns: 150 },
    )
  }, 120_000)
})
