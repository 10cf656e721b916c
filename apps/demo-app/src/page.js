// The demo page: live notifications over SSE and a chat room over WebSocket, both through
// @loewen-digital/realtime-client (served by the app as /client.js). No build step, no framework.
export const page = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>realtime demo</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1d2433; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 0; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
  section { border: 1px solid #d5dae3; border-radius: 8px; padding: 1rem; }
  ul { list-style: none; padding: 0; margin: 0; max-height: 18rem; overflow: auto; }
  li { padding: .25rem 0; border-bottom: 1px solid #eef0f4; }
  .state { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; background: #eef0f4; }
  .state.open { background: #d7f5df; } .state.reconnecting { background: #fdf0c8; } .state.closed { background: #fbdada; }
  form { display: flex; gap: .5rem; margin-top: .75rem; } input { flex: 1; padding: .4rem; }
  .problem { color: #b42318; font-size: .85rem; min-height: 1.2em; margin: .25rem 0 0; }
  button { padding: .4rem .8rem; }
  .online { font-size: .9rem; color: #4a5568; margin: 0 0 .5rem; }
  .server { margin-top: 1.5rem; font-size: .9rem; }
</style>
</head>
<body>
<h1>realtime demo</h1>
<p>Signed in as <strong id="user"></strong>. Open this page in two windows to see both sides.</p>
<div class="grid">
  <section>
    <h2>Notifications <span id="sse-state" class="state">connecting</span></h2>
    <form id="notify"><input id="notify-text" placeholder="Send a notification to everyone" autocomplete="off"><button>Broadcast</button></form>
    <ul id="notifications"></ul>
  </section>
  <section>
    <h2>Chat room <span id="ws-state" class="state">connecting</span></h2>
    <p class="online">Online: <span id="online">nobody yet</span></p>
    <ul id="chat"></ul>
    <form id="say"><input id="say-text" placeholder="Say something" autocomplete="off" maxlength="600"><button>Send</button></form>
    <p id="say-problem" class="problem"></p>
  </section>
</div>
<section id="server" class="server">
  <h2>Server</h2>
  <p>Connections: <strong id="stat-connections">–</strong> (SSE <span id="stat-sse">–</span>, WebSocket <span id="stat-websocket">–</span>)
    · deliveries/s: <strong id="stat-rate">–</strong> · refused: <span id="stat-refused">–</span></p>
  <p>Closes by code: <span id="stat-closes">none yet</span></p>
</section>
<script type="module">
  // The realtime client (packages/client), served by this app as /client.js.
  import { connect } from './client.js'

  const user = new URLSearchParams(location.search).get('user') ?? 'guest-' + Math.random().toString(36).slice(2, 6)
  document.getElementById('user').textContent = user
  const base = location.pathname.replace(/\\/$/, '')
  const add = (list, text) => {
    const item = document.createElement('li')
    item.textContent = text
    document.getElementById(list).prepend(item)
  }
  const setState = (id, state) => { const el = document.getElementById(id); el.textContent = state; el.className = 'state ' + state }

  // Notifications over SSE: the client reconnects with backoff and resumes from its cursor, so a
  // notification published while the network was away still arrives, once.
  const notifications = connect(base + '/events?user=' + encodeURIComponent(user))
  notifications.on('realtime:state', ({ state }) => setState('sse-state', state))
  notifications.on('notification', (data) => add('notifications', data.message))
  notifications.on('realtime:gap', () => add('notifications', '(some notifications could not be recovered after a restart)'))

  document.getElementById('notify').addEventListener('submit', async (event) => {
    event.preventDefault()
    const input = document.getElementById('notify-text')
    if (!input.value) return
    await fetch(base + '/publish', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ event: 'notification', data: { message: user + ': ' + input.value } }) })
    input.value = ''
  })

  // Chat over WebSocket, in the 'chat' channel; the client rejoins it after every reconnect. The
  // events of both directions are typed and validated by the app's events.js (ServerEvents,
  // ClientEvents, schemas); a page with a bundler would import them from there.
  const chat = connect(base + '/ws?user=' + encodeURIComponent(user), { transport: 'websocket', channels: ['chat'] })
  chat.on('realtime:state', ({ state }) => setState('ws-state', state))
  chat.on('chat', (data) => add('chat', data.user + ': ' + data.text))
  chat.on('joined', (data) => add('chat', data.user + ' joined'))
  chat.on('left', (data) => add('chat', data.user + ' left'))
  chat.on('realtime:gap', () => add('chat', '(some messages could not be recovered after a restart)'))

  // Who is online: the channel tracks presence; a snapshot on join, then join/leave per user.
  const online = new Map()
  const showOnline = () => {
    const names = [...online.values()].map((member) => member.data?.name ?? 'anonymous')
    document.getElementById('online').textContent = names.length ? names.sort().join(', ') : 'nobody yet'
  }
  chat.on('realtime:presence', (update) => {
    if (update.channel !== 'chat') return
    const key = (member) => member.userId ?? JSON.stringify(member.data)
    if (update.action === 'snapshot') {
      online.clear()
      for (const member of update.members) online.set(key(member), member)
    } else if (update.action === 'join') online.set(key(update.member), update.member)
    else if (update.action === 'leave') online.delete(key(update.member))
    showOnline()
  })
  // Sending is a request: the server answers with the stored message's id, or an error code
  // (REALTIME_INVALID_DATA for an empty or too long text, REALTIME_TIMEOUT, REALTIME_DISCONNECTED).
  // While the connection is away the request waits for it (within its timeout).
  document.getElementById('say').addEventListener('submit', async (event) => {
    event.preventDefault()
    const input = document.getElementById('say-text')
    const problem = document.getElementById('say-problem')
    const text = input.value
    problem.textContent = ''
    try {
      const { id } = await chat.request('send-message', { text }, { timeout: 10000 })
      window.realtimeDemo.sent.push(id)
      if (input.value === text) input.value = ''
    } catch (error) {
      problem.textContent = 'Not sent (' + error.code + '): ' + error.message
    }
  })

  // For the browser tests and for poking around in the console.
  window.realtimeDemo = { notifications, chat, sent: [] }

  // The server's own figures (realtime.stats(), served by the demo as /stats), once a second.
  let lastDelivered
  const showStats = async () => {
    try {
      const stats = await (await fetch(base + '/stats')).json()
      const set = (id, value) => { document.getElementById(id).textContent = String(value) }
      set('stat-connections', stats.connections)
      set('stat-sse', stats.sse)
      set('stat-websocket', stats.websocket)
      set('stat-refused', stats.refused)
      set('stat-rate', lastDelivered === undefined ? 0 : stats.delivered - lastDelivered)
      lastDelivered = stats.delivered
      const closes = Object.entries(stats.closes ?? {}).map(([code, count]) => code + ': ' + count)
      set('stat-closes', closes.length ? closes.join(', ') : 'none yet')
    } catch {}
  }
  showStats()
  setInterval(showStats, 1000)
</script>
</body>
</html>
`
