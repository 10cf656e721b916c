// Real clients for the tests: `ws`, the `eventsource` package and a raw fetch-based SSE reader
// (for what EventSource hides: comments, `retry:`, headers).
import { EventSource } from 'eventsource'
import WebSocket from 'ws'

/** Collects items and lets a test wait for one that matches. */
export class Inbox<T> {
  readonly items: T[] = []
  private waiters: Array<{ match: (item: T) => boolean; resolve: (item: T) => void }> = []

  push(item: T): void {
    this.items.push(item)
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(item)) return true
      waiter.resolve(item)
      return false
    })
  }

  /** Resolves with the first item (already received or future) that matches; rejects after `timeout` ms. */
  next(match: (item: T) => boolean = () => true, timeout = 5000, what = 'a matching item'): Promise<T> {
    const found = this.items.find(match)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (item: T) => (clearTimeout(timer), resolve(item)) }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((other) => other !== waiter)
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; received ${JSON.stringify(this.items).slice(0, 800)}`))
      }, timeout)
      this.waiters.push(waiter)
    })
  }
}

export interface WsMessage {
  event?: string
  data?: any
  channel?: string
  id?: string
  raw: string
}

/** A `ws` client that records every text frame (parsed when it is JSON). */
/** Closes of the clients opened and not closed yet, so a suite can end what a failed test left open. */
const openClients = new Set<() => void>()

/**
 * Closes every client `openWs` and `openSse` opened that is still open (a test that failed before
 * its own closes): its connections must not fail the tests after it.
 */
export function closeOpenClients(): void {
  for (const close of [...openClients]) close()
  openClients.clear()
}

export async function openWs(url: string, options: WebSocket.ClientOptions = {}) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), options)
  const closeSocket = () => socket.close()
  openClients.add(closeSocket)
  const inbox = new Inbox<WsMessage>()
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => {
      openClients.delete(closeSocket)
      resolve({ code, reason: reason.toString() })
    })
  })
  socket.on('message', (data) => {
    const raw = data.toString()
    let parsed: any = {}
    try {
      parsed = JSON.parse(raw)
    } catch {}
    inbox.push({ ...(parsed && typeof parsed === 'object' ? parsed : {}), raw })
  })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('unexpected-response', (_request, response) =>
      reject(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode, headers: response.headers })),
    )
    socket.once('error', reject)
  })
  return {
    socket,
    inbox,
    closed,
    send: (value: unknown) => socket.send(typeof value === 'string' ? value : JSON.stringify(value)),
    subscribe: async (channel: string) => {
      socket.send(JSON.stringify({ event: 'realtime:subscribe', data: { channel } }))
      return inbox.next(
        (message) => (message.event === 'realtime:subscribed' || message.event === 'realtime:error') && message.data?.channel === channel,
        5000,
        `subscribe answer for ${channel}`,
      )
    },
    close: () => socket.close(),
  }
}

export interface SseEvent {
  event: string
  data: string
  id?: string
}

/** A fetch-based SSE reader that records events, comments, `retry:` and the response. */
export async function openSse(url: string, init: RequestInit = {}) {
  const controller = new AbortController()
  const abort = () => controller.abort()
  openClients.add(abort)
  const response = await fetch(url, { ...init, signal: controller.signal, headers: { Accept: 'text/event-stream', ...(init.headers ?? {}) } }).catch(
    (error: unknown) => {
      openClients.delete(abort)
      throw error
    },
  )
  const inbox = new Inbox<SseEvent>()
  const comments = new Inbox<string>()
  const retries: number[] = []
  let raw = ''
  const done = (async () => {
    if (!response.body || response.status !== 200) {
      openClients.delete(abort)
      return
    }
    const decoder = new TextDecoder()
    let buffer = ''
    let current: { event?: string; data: string[]; id?: string } = { data: [] }
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true })
        raw += text
        buffer += text
        let index: number
        while ((index = buffer.search(/\r\n|\r|\n/)) !== -1) {
          const line = buffer.slice(0, index)
          buffer = buffer.slice(buffer[index] === '\r' && buffer[index + 1] === '\n' ? index + 2 : index + 1)
          if (line === '') {
            if (current.data.length > 0) inbox.push({ event: current.event ?? 'message', data: current.data.join('\n'), id: current.id })
            current = { data: [] }
            continue
          }
          const colon = line.indexOf(':')
          const field = colon === -1 ? line : line.slice(0, colon)
          let value = colon === -1 ? '' : line.slice(colon + 1)
          if (value.startsWith(' ')) value = value.slice(1)
          if (field === '') comments.push(value)
          else if (field === 'event') current.event = value
          else if (field === 'data') current.data.push(value)
          else if (field === 'id') current.id = value
          else if (field === 'retry') retries.push(Number(value))
        }
      }
    } catch {}
    openClients.delete(abort)
  })()
  return {
    response,
    inbox,
    comments,
    retries,
    get raw() {
      return raw
    },
    /** Resolves when the server ends the stream. */
    done,
    close: () => controller.abort(),
  }
}

/** A native-style EventSource (the `eventsource` package), listening to the given event names. */
export function openEventSource(url: string, events: string[]) {
  const source = new EventSource(url)
  const inbox = new Inbox<{ event: string; data: string; lastEventId: string }>()
  for (const name of events) {
    source.addEventListener(name, (event) => inbox.push({ event: name, data: (event as MessageEvent).data, lastEventId: (event as MessageEvent).lastEventId }))
  }
  const opened = new Promise<void>((resolve, reject) => {
    source.onopen = () => resolve()
    source.onerror = (error) => reject(error)
  })
  return { source, inbox, opened, close: () => source.close() }
}

/** POSTs JSON and returns the parsed answer. */
export async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: await response.json().catch(() => undefined) }
}

/** Polls `check` until it returns true; rejects after `timeout` ms. */
export async function eventually(check: () => Promise<boolean> | boolean, timeout = 5000, what = 'condition'): Promise<void> {
  const start = Date.now()
  while (Date.now() - start < timeout) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
