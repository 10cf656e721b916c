// Channel configurations: exact names and prefix patterns, the most specific deciding.
import { RealtimeError } from '../errors.js'
import type { ChannelConfig } from '../options.js'
import { isValidChannelName } from '../protocol.js'

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
