import type { Outbound } from '@loewen-digital/realtime-core'

const CRLF = '\r\n'

/**
 * The Node adapter's encodings of one message, kept in `Outbound.cache` and built on first use,
 * so a broadcast encodes each form once however many connections receive it.
 */
export class NodeEncodings {
  /** The WebSocket text frame (header and payload), unmasked as servers send it. */
  frame: Buffer | undefined = undefined
  /** The SSE event block. */
  sse: Buffer | undefined = undefined
  /** The SSE block as one HTTP/1.1 chunk (size line, block, CRLF), for writes to the socket. */
  sseChunk: Buffer | undefined = undefined
  /** The SSE block with its own-cursor `id:` line (see `Outbound.sseWithOwnCursor`). */
  sseOwnCursor: Buffer | undefined = undefined
  /** The same as one HTTP/1.1 chunk. */
  sseOwnCursorChunk: Buffer | undefined = undefined
}

/** The encodings slot of a message, created on first use. */
export function encodingsOf(outbound: Outbound): NodeEncodings {
  let encodings = outbound.cache as NodeEncodings | undefined
  if (encodings === undefined) {
    encodings = new NodeEncodings()
    outbound.cache = encodings
  }
  return encodings
}

/** A final, unmasked WebSocket text frame carrying `text`. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text)
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81 // FIN, opcode 1 (text)
  if (header === 2) frame[1] = length
  else if (header === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeBigUInt64BE(BigInt(length), 2)
  }
  frame.write(text, header, 'utf8')
  return frame
}

/** `text` as one HTTP/1.1 chunk: hexadecimal size, CRLF, the bytes, CRLF. */
export function httpChunk(text: string): Buffer {
  const length = Buffer.byteLength(text)
  const head = length.toString(16) + CRLF
  const chunk = Buffer.allocUnsafe(head.length + length + 2)
  chunk.write(head, 0, 'latin1')
  chunk.write(text, head.length, 'utf8')
  chunk.write(CRLF, head.length + length, 'latin1')
  return chunk
}

/** Bytes as one HTTP/1.1 chunk. */
export function httpChunkOf(bytes: Uint8Array): Buffer {
  const head = bytes.byteLength.toString(16) + CRLF
  const chunk = Buffer.allocUnsafe(head.length + bytes.byteLength + 2)
  chunk.write(head, 0, 'latin1')
  chunk.set(bytes, head.length)
  chunk.write(CRLF, head.length + bytes.byteLength, 'latin1')
  return chunk
}
