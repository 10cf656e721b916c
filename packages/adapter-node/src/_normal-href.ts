// An absolute URL that the WHATWG URL parser would return unchanged, recognized without parsing it.

/**
 * Characters a path or query may hold and that the URL parser keeps as they are (it percent-encodes
 * space, `"`, `#`, `<`, `>`, `'`, `` ` ``, `{`, `}`, `|`, `^`, `[`, `]` and non-ASCII, turns `\` into
 * `/`, strips tabs and newlines): letters, digits and `-._~!$&()*+,;=:@/?%`.
 */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/

/** A host name in lower case (no IDNA to apply) whose last label is not a number, and an optional port. */
const PLAIN_NAME = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?$/

/** A dotted-quad IPv4 address, each part 0-255 without leading zeros. */
const PLAIN_IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/

/**
 * `protocol://authority` + `target` when the URL parser would return exactly that string, else
 * undefined (then the caller parses it). Conservative: anything it is unsure of (dot segments,
 * `%2e`, a default or zero-padded port, upper case, a numeric last label that is not a dotted quad,
 * punycode, credentials, characters the parser encodes) is left to the parser.
 */
export function normalHref(protocol: 'http' | 'https', authority: string, target: string): string | undefined {
  if (target.charCodeAt(1) === 47 /* '//' */ || !PLAIN_TARGET.test(target)) return undefined
  const query = target.indexOf('?')
  const path = query === -1 ? target : target.slice(0, query)
  if (path.includes('/.') || path.includes('%2e') || path.includes('%2E')) return undefined
  let host = authority
  const colon = authority.lastIndexOf(':')
  if (colon !== -1) {
    const port = authority.slice(colon + 1)
    // 1-65535 without a leading zero, and not the scheme's default (the parser drops that).
    if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65_535) return undefined
    if ((protocol === 'http' && port === '80') || (protocol === 'https' && port === '443')) return undefined
    host = authority.slice(0, colon)
  }
  if (host.includes('xn--')) return undefined
  const lastLabel = host.endsWith('.') ? host.slice(0, -1).split('.').pop()! : host.slice(host.lastIndexOf('.') + 1)
  const numeric = lastLabel.length > 0 && lastLabel.charCodeAt(0) >= 48 && lastLabel.charCodeAt(0) <= 57
  if (numeric ? !PLAIN_IPV4.test(host) : !PLAIN_NAME.test(host)) return undefined
  return `${protocol}://${authority}${target}`
}
