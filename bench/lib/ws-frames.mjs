// WebSocket frames (RFC 6455) as the benchmark's raw-socket clients speak them: masked text frames
// out; server frames in, text handed to the client and pings answered. Shared by load.mjs and
// storm-load.mjs.

/** A masked client text frame (mask key 0, so the payload is sent as is). */
export function textFrame(text) {
  const payload = Buffer.from(text)
  const header =
    payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255, 0, 0, 0, 0])
  return Buffer.concat([header, payload])
}

const PONG_EMPTY = Buffer.from([0x8a, 0x80, 0, 0, 0, 0])

/**
 * Reads the complete server frames in `buffer` from `offset`: a text frame's payload bounds go to
 * `client.frameText(buffer, start, end)`, a ping is answered on `client.socket` with its pong, other
 * frames are skipped. Returns the offset of the first incomplete frame (`buffer.length` if none).
 *
 * @param {Buffer} buffer
 * @param {number} offset
 * @param {{ socket: import('node:net').Socket, frameText(buffer: Buffer, start: number, end: number): void }} client
 */
export function readFrames(buffer, offset, client) {
  const length = buffer.length
  while (length - offset >= 2) {
    const first = buffer[offset]
    let size = buffer[offset + 1] & 0x7f
    let start = offset + 2
    if (size === 126) {
      if (length - offset < 4) break
      size = buffer.readUInt16BE(offset + 2)
      start = offset + 4
    } else if (size === 127) {
      if (length - offset < 10) break
      size = Number(buffer.readBigUInt64BE(offset + 2))
      start = offset + 10
    }
    const end = start + size
    if (end > length) break
    const opcode = first & 0x0f
    if (opcode === 1) client.frameText(buffer, start, end)
    else if (opcode === 9) client.socket.write(size === 0 ? PONG_EMPTY : Buffer.concat([Buffer.from([0x8a, 0x80 | size, 0, 0, 0, 0]), buffer.subarray(start, end)]))
    offset = end
  }
  return offset
}
