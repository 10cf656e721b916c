// The demo application, written once for every runtime: each runtime's demo server
// (apps/demo-node, apps/demo-bun, ...) passes its adapter's createRealtime and serves `fetch`.
// The conformance suite (test/conformance) drives these same routes, so the demo is the fixture.
import { memoryBroker, RealtimeError } from '@loewen-digital/realtime-core'
import { clientBundle } from './client-bundle.js'
import { schemas } from './events.js'
import { page } from './page.js'

/**
 * The demo's tokens: `demo:<user>:<expires at, ms since the epoch>`. A real app verifies a signed
 * token (a JWT, say) here; the demo trusts what it reads, and refuses an expired or malformed one.
 */
function readToken(token) {
  const [kind, user, expires] = token.split(':')
  const expiresAt = Number(expires)
  if (kind !== 'demo' || !user || !Number.isFinite(expiresAt) || expiresAt <= Date.now()) return undefined
  return { userId: user, expiresAt }
}

/**
 * @param {(options?: object) => any} createRealtime the adapter's createRealtime
 * @param {{ crossOrigins?: string[], heartbeat?: number, maxConnections?: number, maxMessageBytes?: number, sseRetry?: number, history?: { size?: number, ttl?: number } | false, broker?: object, limitedMaxConnections?: number }} [settings]
 */
export function createDemoApp(createRealtime, settings = {}) {
  /** Errors reported through onError, for tests and for the demo's /stats. */
  const errors = []
  const onError = (error) => {
    errors.push({ code: error.code, message: error.message })
    if (errors.length > 100) errors.shift()
  }
  // Who the user is: a bearer token (the fetch transport's Authorization header), the `user` query
  // parameter or cookie. A real app would verify a token or a session; here the token is the name.
  const identify = (request) => {
    // An expiring token (the client's `auth` callback sends it as the `token` parameter).
    const token = new URL(request.url).searchParams.get('token')
    if (token !== null) return readToken(token)
    const authorization = request.headers.get('authorization')
    if (authorization?.startsWith('Bearer ')) return authorization.slice(7)
    const fromQuery = new URL(request.url).searchParams.get('user')
    if (fromQuery) return fromQuery
    const cookie = request.headers.get('cookie') ?? ''
    return /(?:^|;\s*)user=([^;]+)/.exec(cookie)?.[1]
  }
  // Pages on other origins that may use the endpoints (`crossOrigins` setting: SSE CORS and
  // WebSocket upgrades), besides same-origin pages and non-browser clients.
  const crossOrigins = settings.crossOrigins ?? []
  const allowedOrigins = (origin, request) => {
    if (crossOrigins.includes(origin)) return true
    const host = request.headers.get('host')
    return origin === new URL(request.url).origin || origin === `http://${host}` || origin === `https://${host}`
  }
  // One broker for both instances below, as one Redis broker (`settings.broker`) would be: each
  // instance keeps to its own messages through its name. (Workers ignores it: each instance has its
  // own Durable Object.)
  const broker = settings.broker ?? memoryBroker({ history: settings.history })
  const realtime = createRealtime({
    allowedOrigins,
    // A fresh token sent over the open WebSocket (after realtime:refresh) extends the connection.
    reauthenticate: (token) => readToken(token),
    heartbeat: settings.heartbeat,
    maxConnections: settings.maxConnections,
    maxMessageBytes: settings.maxMessageBytes,
    maxConnectionsPerUser: settings.maxConnectionsPerUser,
    maxChannelsPerConnection: settings.maxChannelsPerConnection,
    rateLimit: settings.rateLimit,
    sseRetry: settings.sseRetry,
    history: settings.history,
    // A broker shared by several processes (e.g. @loewen-digital/realtime-redis); default in-memory.
    // No `name`: the default, the driver ('sse').
    broker,
    identify,
    onError,
    // Validators of the chat's events, shared with the page (src/events.js).
    schemas,
  })
  // A second instance with a tiny cap, so capacity can be shown without 10,000 sockets.
  // Its heartbeat follows the settings (default none): on Workers a vanished SSE client is noticed
  // only when something is written to its stream.
  // On the same broker, under its own name: nothing published to one instance reaches the other's clients.
  const limited = createRealtime({ name: 'limited', broker, allowedOrigins, maxConnections: settings.limitedMaxConnections ?? 2, heartbeat: settings.heartbeat ?? 0, identify, onError })

  // The spec's channel snippet, as written.
  realtime.channel('orders', {
    onJoin: async (socket, userId) => {
      await realtime.sendTo(socket, { event: 'connected', data: { channel: 'orders' } })
    },
  })
  // The chat room of the demo page: everyone may join; joins and leaves are announced.
  realtime.channel('chat', {
    // Who is online: every member gets a snapshot on join and join/leave updates after.
    presence: { data: (socket, userId) => ({ name: userId ?? 'anonymous' }) },
    onJoin: (socket, userId) => realtime.toChannel('chat').broadcast({ event: 'joined', data: { user: userId ?? 'anonymous' } }, { except: socket }),
    onLeave: (socket, userId) => realtime.toChannel('chat').broadcast({ event: 'left', data: { user: userId ?? 'anonymous' } }),
  })
  // Every other channel is open to everyone; registered before the narrower patterns below on
  // purpose: the most specific configuration decides, not the order of registration.
  realtime.channel('*', {})
  // Private channels: only the user named after the colon may join (`private:alice`).
  realtime.channel('private:*', {
    authorize: (socket, userId, channel) => userId !== undefined && channel === `private:${userId}`,
  })
  // The club: members whose membership was revoked (POST /revoke) are refused, and removed when
  // their token is next renewed.
  const revoked = new Set()
  realtime.channel('club', { authorize: (socket, userId) => userId !== undefined && !revoked.has(userId) })
  // Admin channels: nobody joins them from a client (server code may still `socket.join()`).
  realtime.channel('admin:*', { authorize: () => false })

  // Events the page sends (typed in src/events.js). `send-message` is a request: the page gets
  // the stored message's id back, or the error the server answered with.
  let messages = 0
  realtime.on('send-message', async ({ text }, socket) => {
    const id = ++messages
    await realtime.toChannel('chat').broadcast({ event: 'chat', data: { id, user: socket.userId ?? 'anonymous', text } })
    return { id }
  })
  realtime.on('typing', (data, socket) => realtime.toChannel('chat').broadcast({ event: 'typing', data: { user: socket.userId ?? 'anonymous' } }, { except: socket }))
  // For the conformance suite: a slow answer, a refusal with a code, and a handler that fails.
  realtime.on('wait', ({ ms }) => new Promise((resolve) => setTimeout(() => resolve({ waited: ms }), ms)))
  realtime.on('refuse', () => {
    throw new RealtimeError('REALTIME_FORBIDDEN', 'not allowed to do that')
  })
  realtime.on('crash', () => {
    throw new Error('internal detail that must not reach the client')
  })

  const json = (value, status = 200) => new Response(JSON.stringify(value), { status, headers: { 'Content-Type': 'application/json' } })

  async function fetch(request) {
    const url = new URL(request.url)
    const instance = url.pathname.startsWith('/limited/') ? limited : realtime
    const path = url.pathname.replace(/^\/limited/, '')
    try {
      switch (`${request.method} ${path}`) {
        case 'GET /':
          return new Response(page, { headers: { 'Content-Type': 'text/html; charset=utf-8' } })
        case 'GET /client.js':
          // The browser build of @loewen-digital/realtime-client, which the page imports.
          return new Response(clientBundle, { headers: { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' } })
        case 'OPTIONS /events':
          return instance.preflight(request)
        case 'HEAD /events': // frameworks answer HEAD with the GET handler; so does the demo
        case 'GET /events': {
          const { response, stream } = instance.sse(request)
          const greeting = url.searchParams.get('greeting')
          if (greeting !== null) stream.send({ event: 'notification', data: { message: greeting } })
          const raw = url.searchParams.get('raw')
          if (raw !== null) stream.send(raw)
          return response
        }
        case 'GET /ws':
          return instance.upgrade(request, {
            onMessage: async (socket, message) => {
              // The spec's echo handler, plus the demo's chat.
              const data = JSON.parse(message)
              if (data && data.chat !== undefined) {
                await realtime.toChannel('chat').broadcast({ event: 'chat', data: { user: socket.userId ?? 'anonymous', text: String(data.chat) } })
                return
              }
              if (data && data.whoami !== undefined) {
                // What the connection knows of its handshake request (kept compact once set up).
                const { request } = socket
                await socket.send(JSON.stringify({ whoami: { path: new URL(request.url).pathname, team: request.headers.get('x-team'), aborted: request.signal.aborted } }))
                return
              }
              await socket.send(JSON.stringify({ echo: data }))
            },
          })
        case 'GET /realtime':
          return instance.handle(request)
        case 'POST /publish': {
          const body = await request.json()
          const message = { event: body.event, data: body.data }
          if (body.channel !== undefined) await instance.toChannel(body.channel).broadcast(message)
          else if (body.user !== undefined) await instance.sendTo(body.user, message)
          else await instance.broadcast(message)
          return json({ ok: true })
        }
        case 'POST /revoke': {
          const body = await request.json()
          revoked.add(String(body.user))
          return json({ ok: true })
        }
        case 'GET /presence':
          return json(await instance.presence(url.searchParams.get('channel') ?? 'chat'))
        case 'GET /stats':
          // `await`: on Workers the counters come from the Durable Object (a promise); elsewhere a plain value.
          return json({ ...(await instance.stats()), errors })
        case 'POST /errors/clear':
          errors.length = 0
          return json({ ok: true })
        default:
          return new Response('Not Found', { status: 404 })
      }
    } catch (error) {
      if (error && typeof error.code === 'string' && error.code.startsWith('REALTIME_')) {
        return json({ error: { code: error.code, message: error.message } }, 400)
      }
      throw error
    }
  }

  return { realtime, limited, fetch, errors, close: () => Promise.all([realtime.close(), limited.close()]) }
}
