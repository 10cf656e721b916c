import { useEffect, useRef, useState } from 'react'
import { connect } from '@loewen-digital/realtime-client'

export default function Home() {
  const [notifications, setNotifications] = useState([])
  const [chat, setChat] = useState([])
  const [sseState, setSseState] = useState('connecting')
  const [wsState, setWsState] = useState('connecting')
  const [text, setText] = useState('')
  const socket = useRef(undefined)

  useEffect(() => {
    const events = connect('/realtime/sse')
    events.on('realtime:state', ({ state }) => setSseState(state))
    events.on('notification', (data) => setNotifications((items) => [...items, data.message]))
    events.on('update', (data) => setNotifications((items) => [...items, `update ${data.n}`]))

    const ws = connect(`${location.origin.replace(/^http/, 'ws')}/realtime/ws`, { transport: 'websocket' })
    socket.current = ws
    ws.on('realtime:state', ({ state }) => setWsState(state))
    ws.on('update', (data) => setChat((items) => [...items, `update ${data.n}`]))
    // The spec's echo route answers {"echo": ...}, which is no protocol message: it arrives as realtime:raw.
    ws.on('realtime:raw', (raw) => {
      const { echo } = JSON.parse(raw)
      setChat((items) => [...items, `echo: ${echo.text}`])
    })
    return () => {
      events.close()
      ws.close()
    }
  }, [])

  function send(event) {
    event.preventDefault()
    if (text && socket.current?.send({ text })) setText('')
  }

  return (
    <main>
      <h1>realtime · React Router</h1>
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
        <form onSubmit={send}>
          <input id="message" value={text} onChange={(event) => setText(event.target.value)} placeholder="Say something" />
          <button id="send" type="submit">
            Send
          </button>
        </form>
      </section>
    </main>
  )
}
