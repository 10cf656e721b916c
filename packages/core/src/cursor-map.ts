import type { Cursor } from './cursor.js'

/**
 * A connection's cursors, one per stream it follows (key `b`, `u`, `c.<name>`). It reads and writes
 * like a `Map`, but holds its few entries in one flat array (`key, cursor, key, cursor, ...`):
 * a connection follows two or three streams, and a `Map`'s hash table costs about 200 bytes
 * more per connection than that array. Lookups scan at most a handful of keys.
 */
export class CursorMap {
  /** Keys at even, cursors at odd indices; undefined until the first entry. */
  private slots: (string | Cursor)[] | undefined = undefined

  /** Number of streams with a cursor. */
  get size(): number {
    return this.slots === undefined ? 0 : this.slots.length >> 1
  }

  /** The cursor of `key` (the same object on every call: writers may update it in place). */
  get(key: string): Cursor | undefined {
    const slots = this.slots
    if (slots === undefined) return undefined
    for (let index = 0; index < slots.length; index += 2) if (slots[index] === key) return slots[index + 1] as Cursor
    return undefined
  }

  /** True when `key` has a cursor. */
  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  /** Sets the cursor of `key`; an existing key keeps its place in iteration order, as in a `Map`. */
  set(key: string, cursor: Cursor): this {
    const slots = this.slots
    if (slots === undefined) {
      this.slots = [key, cursor]
      return this
    }
    for (let index = 0; index < slots.length; index += 2) {
      if (slots[index] === key) {
        slots[index + 1] = cursor
        return this
      }
    }
    // A new array of the exact size (a push would reserve room for 16 more entries per connection).
    this.slots = slots.concat(key, cursor)
    return this
  }

  /** Removes the cursor of `key`; true when there was one. */
  delete(key: string): boolean {
    const slots = this.slots
    if (slots === undefined) return false
    for (let index = 0; index < slots.length; index += 2) {
      if (slots[index] === key) {
        this.slots = slots.length === 2 ? undefined : slots.slice(0, index).concat(slots.slice(index + 2))
        return true
      }
    }
    return false
  }

  /** Removes every cursor. */
  clear(): void {
    this.slots = undefined
  }

  /** The map in its SSE `id` form, `key=epoch:offset` joined by `,` (see `formatCursorMap`). */
  format(): string {
    const slots = this.slots
    if (slots === undefined) return ''
    let text = ''
    for (let index = 0; index < slots.length; index += 2) {
      const cursor = slots[index + 1] as Cursor
      text += (index === 0 ? '' : ',') + (slots[index] as string) + '=' + cursor.epoch + ':' + cursor.offset
    }
    return text
  }

  /** Calls `callback` for each entry, in insertion order. */
  forEach(callback: (cursor: Cursor, key: string, map: CursorMap) => void, thisArg?: unknown): void {
    for (const [key, cursor] of this) callback.call(thisArg, cursor, key, this)
  }

  /** `[key, cursor]` pairs in insertion order (a snapshot: changes made while iterating are not seen). */
  *entries(): IterableIterator<[string, Cursor]> {
    const slots = this.slots === undefined ? [] : this.slots.slice()
    for (let index = 0; index < slots.length; index += 2) yield [slots[index] as string, slots[index + 1] as Cursor]
  }

  /** The keys in insertion order. */
  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key
  }

  /** The cursors in insertion order. */
  *values(): IterableIterator<Cursor> {
    for (const [, cursor] of this.entries()) yield cursor
  }

  /** Same as {@link CursorMap.entries}. */
  [Symbol.iterator](): IterableIterator<[string, Cursor]> {
    return this.entries()
  }

  get [Symbol.toStringTag](): string {
    return 'CursorMap'
  }
}
