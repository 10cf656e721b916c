// The demo page: live notifications over SSE (the browser's own EventSource) and a chat room
// over WebSocket (the browser's own WebSocket). No build step, no framework.
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
  .state.open { background: #d7f5df; } .state.closed { background: #fbdada; }
  form { display: flex; gap: .5rem; margin-top: .75rem; } input { flex: 1; padding: .4rem; }
  button { padding: .4rem .8rem; }
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
    <ul id="chat"></ul>
    <form id="say"><input id="say-text" placeholder="Say something" autocomplete="off"><button>Send</button></form>
  </section>
</div>
<script type="module">
  const user = new URLSearchParams(location.search).get('user') ?? 'guest-' + Math.random().toString(36).slice(2, 6)
  document.getElementById('user').textContent = user
  const base = location.pathname.replace(/\\/$/, '')
  const add = (list, text) => {
    const item = document.createElement('li')
    item.textContent = text
    document.getElementById(list).prepend(item)
  }
  const setState = (id, state) => { const el = document.getElementById(id); el.textContent = state; el.className = 'state ' + state }

  // Notifications: plain EventSource; it reconnects by itself.
  const events = new EventSource(base + '/events?user=' + encodeURIComponent(user))
  events.onopen = () => setState('sse-state', 'open')
  events.onerror = () => setState('sse-state', events.readyState === 2 ? 'closed' : 'connecting')
  events.addEventListener('notification', (event) => add('notifications', JSON.parse(event.data).message))

  document.getElementById('notify').addEventListener('submit', async (event) => {
    event.preventDefault()
    const input = document.getElementById('notify-text')
    if (!input.value) return
    await fetch(base + '/publish', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ event: 'notification', data: { message: user + ': ' + input.value } }) })
    input.value = ''
  })

  // Chat: plain WebSocket; joins the 'chat' channel with a protocol frame.
  let socket
  function connect() {
    socket = new WebSocket(location.origin.replace(/^http/, 'ws') + base + '/ws?user=' + encodeURIComponent(user))
    socket.onopen = () => {
      setState('ws-state', 'open')
      socket.send(JSON.stringify({ event: 'realtime:subscribe', data: { channel: 'chat' } }))
    }
    socket.onclose = () => { setState('ws-state', 'closed'); setTimeout(connect, 1000 + Math.random() * 1000) }
    socket.onmessage = (message) => {
      const { event, data } = JSON.parse(message.data)
      if (event === 'chat') add('chat', data.user + ': ' + data.text)
      else if (event === 'joined') add('chat', data.user + ' joined')
      else if (event === 'left') add('chat', data.user + ' left')
    }
  }
  connect()
  document.getElementById('say').addEventListener('submit', (event) => {
    event.preventDefault()
    const input = document.getElementById('say-text')
    if (!input.value || socket.readyState !== 1) return
    socket.send(JSON.stringify({ chat: input.value }))
    input.value = ''
  })
</script>
</body>
</html>
`
