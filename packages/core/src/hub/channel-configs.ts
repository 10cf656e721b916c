// Channel configurations: exact names and prefix patterns, the most specific deciding.
import { RealtimeError } from '../errors.js'
import type { ChannelConfig } from '../options.js'
import type { ChannelHandle } from '../api-types.js'
import type { Connection } from '../connection.js'
import { isValidChannelName } from '../protocol.js'
import { patternBroadcastError } from '../validate.js'

/**
 * What `realtime.channel(name, config)` registered. A channel's own name wins over every pattern;
 * among patterns (`'orders:*'`, `'*'`) the longest prefix wins, whatever the order of
 * registration. Registering a name or a pattern again replaces it.
 */
export class ChannelConfigs {
  private readonly exact = new Map<string, ChannelConfig<any>>()
  /** Longest prefix first: `of` takes the first match. */
  private readonly patterns: Array<[prefix: string, config: ChannelConfig<any>]> = []

  /** Registers `name` (or a pattern ending in `*`); throws `REALTIME_INVALID_OPTION` for a bad name. Returns the pattern's prefix, or undefined for a name. */
  set(name: string, config: ChannelConfig<any>): string | undefined {
    if (typeof name === 'string' && name.endsWith('*')) {
      const prefix = name.slice(0, -1)
      if (prefix !== '' && !isValidChannelName(prefix)) throw new RealtimeError('REALTIME_INVALID_OPTION', `invalid channel pattern ${JSON.stringify(name)}`)
      const index = this.patterns.findIndex(([known]) => known === prefix)
      if (index >= 0) this.patterns[index] = [prefix, config]
      else {
        this.patterns.push([prefix, config])
        this.patterns.sort((a, b) => b[0].length - a[0].length)
      }
      return prefix
    }
    if (!isValidChannelName(name)) throw new RealtimeError('REALTIME_INVALID_OPTION', `invalid channel name ${JSON.stringify(name)}`)
    this.exact.set(name, config)
    return undefined
  }

  /** The configuration that decides for `channel`, if any (none: the channel is open). */
  of(channel: string): ChannelConfig<any> | undefined {
    const exact = this.exact.get(channel)
    if (exact || this.patterns.length === 0) return exact
    for (const [prefix, config] of this.patterns) if (channel.startsWith(prefix)) return config
    return undefined
  }
}

/**
 * The handle `channel('prefix*')` returns: counts and lists the local members of every channel the
 * pattern matches; `broadcast` rejects (`REALTIME_INVALID_CHANNEL`: publish to one channel).
 */
export function patternHandle<Connected extends Connection<any>>(channels: Map<string, Set<Connected>>, pattern: string, prefix: string): ChannelHandle<any> {
  const members = (): Set<Connected> => {
    const found = new Set<Connected>()
    for (const [channel, connections] of channels) if (channel.startsWith(prefix)) for (const connection of connections) found.add(connection)
    return found
  }
  return {
    name: pattern,
    get size() {
      return members().size
    },
    broadcast: () => Promise.reject(patternBroadcastError(pattern)),
    connections: () => members().values(),
  }
}
