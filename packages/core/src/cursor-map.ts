import type { Cursor } from './cursor.js'

/**
 * A connection's cursors, one per stream it follows (key `b`, `u`, `c.<name>`). It reads and writes
 * like a `Map`, but holds its first entry in two fields and the others in one flat array
 * (`key, cursor, key, cursor, ...`): a connection follows one to three streams, and a `Map`'s hash
 * table costs about 200 bytes more per connection. Lookups scan at most a handful of keys.
 */
export class CursorMap {
  // The first entry lives in two fields (most connections follow one stream: no array at all);
  // the others, if any, in `more` as `key, cursor, key, cursor, ...`.
  private firstKey: string | undefined = undefined
  private firstCursor: Cursor | undefined = undefined
  private more: (string | Cursor)[] | undefined = undefined

  /** Number of streams with a cursor. */
  get size(): number {
    return this.firstKey === undefined ? 0 : 1 + (this.more === undefined ? 0 : this.more.length >> 1)
  }

  /** The cursor of `key` (the same object on every call: writers may update it in place). */
  get(key: string): Cursor | undefined {
    if (this.firstKey === key) return this.firstCursor
    const more = this.more
    if (more === undefined) return undefined
    for (let index = 0; index < more.length; index += 2) if (more[index] === key) return more[index + 1] as Cursor
    return undefined
  }

  /** True when `key` has a cursor. */
  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  /** Sets the cursor of `key`; an existing key keeps its place in iteration order, as in a `Map`. */
  set(key: string, cursor: Cursor): this {
    if (this.firstKey === undefined || this.firstKey === key) {
      this.firstKey = key
      this.firstCursor = cursor
      return this
    }
    const more = this.more
    if (more === undefined) {
      this.more = [key, cursor]
      return this
    }
    for (let index = 0; index < more.length; index += 2) {
      if (more[index] === key) {
        more[index + 1] = cursor
        return this
      }
    }
    // A new array of the exact size (a push would reserve room for 16 more entries per connection).
    this.more = more.concat(key, cursor)
    return this
  }

  /** Removes the cursor of `key`; true when there was one. */
  delete(key: string): boolean {
    const more = this.more
    if (this.firstKey === key) {
      // The next entry moves up, so iteration order stays insertion order.
      this.firstKey = more === undefined ? undefined : (more[0] as string)
      this.firstCursor = more === undefined ? undefined : (more[1] as Cursor)
      this.more = more === undefined || more.length === 2 ? undefined : more.slice(2)
      return true
    }
    if (more === undefined) return false
    for (let index = 0; index < more.length; index += 2) {
      if (more[index] === key) {
        this.more = more.length === 2 ? undefined : more.slice(0, index).concat(more.slice(index + 2))
        return true
      }
    }
    return false
  }

  /** Removes every cursor. */
  clear(): void {
    this.firstKey = undefined
    this.firstCursor = undefined
    this.more = undefined
  }

  /** The map in its SSE `id` form, `key=epoch:offset` joined by `,` (see `formatCursorMap`). */
  format(): string {
    const first = this.firstCursor
    if (first === undefined) return ''
    let text = (this.firstKey as string) + '=' + first.epoch + ':' + first.offset
    const more = this.more
    if (more === undefined) return text
    for (let index = 0; index < more.length; index += 2) {
      const cursor = more[index + 1] as Cursor
      text += ',' + (more[index] as string) + '=' + cursor.epoch + ':' + cursor.offset
    }
    return text
  }

  /** Calls `callback` for each entry, in insertion order. */
  forEach(callback: (cursor: Cursor, key: string, map: CursorMap) => void, thisArg?: unknown): void {
    for (const [key, cursor] of this) callback.call(thisArg, cursor, key, this)
  }

  /** `[key, cursor]` pairs in insertion order (a snapshot: changes made while iterating are not seen). */
  *entries(): IterableIterator<[string, Cursor]> {
    if (this.firstKey === undefined) return
    const slots: (string | Cursor)[] = [this.firstKey, this.firstCursor as Cursor]
    if (this.more !== undefined) slots.push(...this.more)
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
