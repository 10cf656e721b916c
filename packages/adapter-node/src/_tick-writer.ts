import type { Socket } from 'node:net'

/** Per-connection state of {@link writeInTick}: the tick of its last write and of its cork. */
export interface TickWriter {
  lastTick: number
  corkedTick: number
}

let tick = 1
let scheduled = false
const corked: Socket[] = []

function endTick(): void {
  scheduled = false
  tick++
  // Uncorking may run handlers that write again: those start the next tick, and a socket they
  // cork is appended here and flushed by this loop (early, never out of order).
  for (let index = 0; index < corked.length; index++) corked[index]!.uncork()
  corked.length = 0
}

/**
 * Writes `bytes` to `socket`, batching per tick. A connection's first write in a tick goes out at
 * once, so a single message costs one write and waits for nothing; its further writes in the same
 * tick (a burst) are corked and leave together as one `writev` when the tick ends. The bytes are
 * not copied: a broadcast hands the same buffer to every socket.
 */
export function writeInTick(writer: TickWriter, socket: Socket, bytes: Uint8Array): void {
  if (writer.lastTick !== tick) {
    writer.lastTick = tick
    if (!scheduled) {
      scheduled = true
      process.nextTick(endTick)
    }
  } else if (writer.corkedTick !== tick) {
    writer.corkedTick = tick
    socket.cork()
    corked.push(socket)
  }
  socket.write(bytes)
}
