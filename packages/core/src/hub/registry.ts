// Registry: the indexes of local connections (all, by id, by user, by channel). No I/O, no hooks.
import type { Connection } from '../connection.js'

/**
 * Which local connections exist and where each belongs. Owns `Connection.userId` and
 * `Connection.channelSet` (the hub changes them only through here). Every method is synchronous
 * and cannot fail, so the registry is always in step with what the connections say.
 */
export class Registry<Connected extends Connection<any> = Connection<any>> {
  /** Every registered connection. */
  readonly all = new Set<Connected>()
  /** Registered connections whose id was read (an id nobody read cannot be looked up). */
  readonly byId = new Map<string, Connected>()
  /** Local connections per user. */
  readonly users = new Map<string, Set<Connected>>()
  /** Local members per channel. */
  readonly channels = new Map<string, Set<Connected>>()
  /** Registered SSE connections. */
  sseCount = 0

  /** Adds a connection (indexed by id if its id was made). */
  add(connection: Connected): void {
    this.all.add(connection)
    const id = connection.madeId
    if (id !== undefined) this.byId.set(id, connection)
    if (connection.transport === 'sse') this.sseCount++
  }

  /** Removes a connection from `all` and the id index; false when it was not registered. */
  remove(connection: Connected): boolean {
    if (!this.all.delete(connection)) return false
    const id = connection.madeId
    if (id !== undefined && this.byId.get(id) === connection) this.byId.delete(id)
    if (connection.transport === 'sse') this.sseCount--
    return true
  }

  /** True while `connection` is registered. */
  has(connection: Connected): boolean {
    return this.all.has(connection)
  }

  /** Indexes a registered connection whose id was just made. */
  indexId(connection: Connected): void {
    if (this.all.has(connection)) this.byId.set(connection.id, connection)
  }

  /**
   * Moves a connection to another user (or none): sets `connection.userId` and the user index.
   * `left`: the previous user has no local connection any more; `arrived`: the new one had none.
   */
  setUser(connection: Connected, userId: string | undefined): { left: boolean; arrived: boolean } {
    const previous = connection.userId
    let left = false
    let arrived = false
    if (previous !== undefined) {
      const set = this.users.get(previous)
      set?.delete(connection)
      if (set?.size === 0) {
        this.users.delete(previous)
        left = true
      }
    }
    connection.userId = userId
    if (userId !== undefined) {
      let set = this.users.get(userId)
      if (!set) {
        set = new Set()
        this.users.set(userId, set)
        arrived = true
      }
      set.add(connection)
    }
    return { left, arrived }
  }

  /** Local connections of a user. */
  userCount(userId: string): number {
    return this.users.get(userId)?.size ?? 0
  }

  /** Adds a member to a channel. Returns true when the channel had no local member before. */
  addMember(connection: Connected, channel: string): boolean {
    let members = this.channels.get(channel)
    const created = members === undefined
    if (!members) {
      members = new Set()
      this.channels.set(channel, members)
    }
    members.add(connection)
    ;(connection.channelSet ??= new Set()).add(channel)
    return created
  }

  /**
   * Removes a member from a channel. Returns `undefined` when it was not a member, else whether the
   * channel has no local member left.
   */
  removeMember(connection: Connected, channel: string): boolean | undefined {
    const joined = connection.channelSet
    if (joined === undefined || !joined.delete(channel)) return undefined
    if (joined.size === 0) connection.channelSet = undefined
    const members = this.channels.get(channel)
    if (!members) return true
    members.delete(connection)
    if (members.size > 0) return false
    this.channels.delete(channel)
    return true
  }
}
