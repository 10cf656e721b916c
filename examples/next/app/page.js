'use client'
import { connect } from '@loewen-digital/realtime-client'
import { useEffect, useRef, useState } from 'react'

export default function Page() {
  const [sseState, setSseState] = useState('connecting')
  const [wsState, setWsState] = useState('connecting')
  const [notifications, setNotifications] = useState([])
  const [chat, setChat] = useState([])
  const [message, setMessage] = useState('')
  const socket = useRef(null)

  useEffect(() => {
    const events = connect('/realtime/sse')
    events.on('realtime:state', ({ state }) => setSseState(state))
    events.on('notification', (data) => setNotifications((items) => [...items, data.message]))
    events.on('update', (data) => setNotifications((items) => [...items, `update ${data.n}`]))

    const ws = connect(`${location.origin.replace(/^http/, 'ws')}/realtime/ws`, { transport: 'websocket' })
    ws.on('realtime:state', ({ state }) => setWsState(state))
    ws.on('update', (data) => setChat((items) => [...items, `update ${data.n}`]))
    // The spec's echo route answers {"echo": ...}, which is no protocol message: it arrives as realtime:raw.
    ws.on('realtime:raw', (raw) => setChat((items) => [...items, `echo: ${JSON.parse(raw).echo.text}`]))
    socket.current = ws
    return () => {
      events.close()
      ws.close()
    }
  }, [])

  const send = (event) => {
    event.preventDefault()
    if (message && socket.current?.send({ text: message })) setMessage('')
  }

  return (
    <main>
      <h1>realtime · Next.js</h1>
      <section>
        <h2>
          Notifications (SSE: <span id="sse-state">{sseState}</span>)
        </h2>
        <ul id="notifications">
          {notifications.map((item, index) => (
            <li key={index}>{item}</li>
          ))}
        </ul>
      </section>
      <section>
        <h2>
          Chat (WebSocket: <span id="ws-state">{wsState}</span>)
        </h2>
        <ul id="chat">
          {chat.map((item, index) => (
            <li key={index}>{item}</li>
          ))}
        </ul>
        <form id="chat-form" onSubmit={send}>
          <input id="message" value={message} onChange={(event) => setMessage(event.target.value)} placeholder="Say something" />
          <button id="send" type="submit">
            Send
          </button>
        </form>
      </section>
    </main>
  )
}
