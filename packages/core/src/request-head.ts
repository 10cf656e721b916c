// Request heads: what an idle connection keeps of its opening request, and the request rebuilt from it.

/** What a compacted request is rebuilt from when its header list is kept by reference. */
export class RequestHead {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headerLines: readonly string[],
  ) {}
}

/** Headers of the WebSocket handshake, which a compacted request leaves out. */
const HANDSHAKE_HEADERS = new Set(['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions'])

/** True for a header of the WebSocket handshake (any case); lower-cases only names of their lengths. */
function isHandshakeHeader(name: string): boolean {
  const length = name.length
  return (length === 7 || length === 10 || length === 17 || length === 21 || length === 24) && HANDSHAKE_HEADERS.has(name.toLowerCase())
}

/**
 * The compact form of `request`: its method, URL and header lines (without the WebSocket handshake
 * headers) in one flat string, or a {@link RequestHead} that keeps `headerLines` by reference when
 * `keepList`.
 */
export function compactRequest(request: Request, headerLines: readonly string[] | undefined, keepList: boolean): string | RequestHead {
  if (keepList && headerLines !== undefined) return new RequestHead(request.method, request.url, headerLines)
  // Joined rather than concatenated (`+=` allocates a rope node per piece): V8's `join` makes one
  // flat string; JavaScriptCore's does not (see `Connection.keptString`).
  const parts = [request.method, request.url]
  if (headerLines !== undefined) {
    for (let index = 0; index + 1 < headerLines.length; index += 2) {
      const name = headerLines[index]!
      if (!isHandshakeHeader(name)) parts.push(name, headerLines[index + 1]!)
    }
  } else {
    request.headers.forEach((value, name) => {
      if (!isHandshakeHeader(name)) parts.push(name, value)
    })
  }
  return parts.join('\n')
}

/** Builds an equal request from `method\nurl\nname\nvalue...` or a kept header list. */
export function rebuildRequest(held: string | RequestHead, signal: AbortSignal): Request {
  let method: string
  let url: string
  let lines: readonly string[]
  let first: number
  if (typeof held === 'string') {
    lines = held.split('\n')
    method = lines[0]!
    url = lines[1]!
    first = 2
  } else {
    ;({ method, url } = held)
    lines = held.headerLines
    first = 0
  }
  const headers = new Headers()
  for (let index = first; index + 1 < lines.length; index += 2) {
    if (lines[index]!.charCodeAt(0) !== 58 /* ':' pseudo-header */) headers.append(lines[index]!, lines[index + 1]!)
  }
  return new Request(url, { method, headers, signal })
}

/**
 * A random UUID as one flat string. V8's `crypto.randomUUID()` returns a rope of 14 pieces (about
 * 500 bytes of heap) rather than one string of 36 characters; ids live as long as connections.
 */
export function flatUuid(): string {
  return flatString(crypto.randomUUID())
}

/** A flat copy of `text` (not a rope of the pieces it was concatenated from). */
function flatString(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string
}
