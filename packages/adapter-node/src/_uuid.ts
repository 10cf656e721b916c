// Connection ids on Node: random UUIDs (version 4) made as one flat string each.
//
// The core's default id is `crypto.randomUUID()` copied into a flat string through JSON (V8 builds
// the UUID as a rope of 14 pieces). Here the 36 characters are written into a buffer from a pool
// of random bytes (Node's own `randomUUID` keeps such a pool too) and read out as one string:
// one allocation instead of the rope, its JSON text and the copy.
import { randomFillSync } from 'node:crypto'

/**
 * Random bytes for 32 ids, refilled from the system's CSPRNG once used up. Small on purpose: the
 * refill runs early enough that V8 has seen it when it optimizes `flatRandomUuid` (with a pool of
 * 256 ids the first refill came after, and deoptimized it on a fresh server).
 */
const pool = Buffer.allocUnsafeSlow(16 * 32)
let offset = pool.length
/** Where the characters of one id are written. */
const characters = Buffer.allocUnsafeSlow(36)
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')
const DASH = 45

/** A random UUID (version 4, RFC 9562) as one flat string: the format of `crypto.randomUUID()`. */
export function flatRandomUuid(): string {
  if (offset === pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  let position = 0
  for (let index = 0; index < 16; index++) {
    let byte = pool[offset + index]!
    if (index === 6)
      byte = (byte & 0x0f) | 0x40 // version 4
    else if (index === 8) byte = (byte & 0x3f) | 0x80 // variant 10
    characters[position++] = HEX_DIGITS[byte >> 4]!
    characters[position++] = HEX_DIGITS[byte & 15]!
    if (index === 3 || index === 5 || index === 7 || index === 9) characters[position++] = DASH
  }
  offset += 16
  return characters.toString('latin1', 0, 36)
}
