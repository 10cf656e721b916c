import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/** The raw pieces of a Node `upgrade` event, kept until `realtime.upgrade()` claims them. */
export interface RawUpgrade {
  incoming: IncomingMessage
  socket: Duplex
  head: Buffer
  /** Set once `realtime.upgrade()` took the socket: whatever the handler returns, nothing is written. */
  claimed: boolean
  /** The single-use token the dispatcher set on the request (see {@link UPGRADE_TOKEN_HEADER}). */
  token?: string
}

/**
 * The header a dispatcher (`serve`, `attach`, `routeUpgrades`, the Vite plugin) sets on an upgrade
 * request before the application sees it: a single-use, unguessable token naming the socket.
 * Frameworks rebuild the `Request` they hand to a route (SvelteKit, Astro, React Router do), so the
 * `Request` object is not the one the dispatcher built; its headers survive the copy. Any copy a
 * client sent is removed first, so a client can neither forge nor replay one.
 */
export const UPGRADE_TOKEN_HEADER = 'x-realtime-upgrade-token'

interface UpgradeRegistry {
  /** Requests built by the dispatcher itself (`serve`, `attach`): found by identity, no header read. */
  readonly byRequest: WeakMap<Request, RawUpgrade>
  /** Upgrades waiting for a route, by token. An entry lives only while its dispatch runs. */
  readonly byToken: Map<string, RawUpgrade>
}

/**
 * Kept on `globalThis` under a `Symbol.for` key, so every copy of this package in the process
 * shares it: a dev server (Vite's SSR loader) may load the copy a route uses apart from the copy
 * the server hook (the Vite plugin, `routeUpgrades`) uses.
 */
const REGISTRY_KEY = Symbol.for('@loewen-digital/realtime-node/upgrade-registry@1')

const registry: UpgradeRegistry = ((globalThis as { [REGISTRY_KEY]?: UpgradeRegistry })[REGISTRY_KEY] ??= {
  byRequest: new WeakMap(),
  byToken: new Map(),
})

/**
 * Registers an upgrade before the application sees it: removes any token header the client sent
 * from the raw lines, then makes a fresh one. With `intoIncoming` (a dispatcher that hands the Node
 * request to a framework, which builds its own `Request` from it) the token is added to the
 * Node request's headers; without (`serve`, `attach`: the dispatcher builds the `Request` itself
 * and appends the token there) the Node request is left as it is, which spares building Node's
 * two header objects on every upgrade. Returns the token; {@link revokeUpgrade} ends its life.
 */
export function issueUpgrade(raw: RawUpgrade, intoIncoming = true): string {
  const incoming = raw.incoming
  const lines = incoming.rawHeaders
  for (let index = lines.length - 2; index >= 0; index -= 2) {
    const name = lines[index]!
    if (name.length === UPGRADE_TOKEN_HEADER.length && name.toLowerCase() === UPGRADE_TOKEN_HEADER) lines.splice(index, 2)
  }
  // A random UUID (122 random bits from the CSPRNG): unguessable for a token that lives for one
  // handshake, and much cheaper than `randomBytes` per upgrade (Node draws UUIDs from a batch of
  // entropy; `randomBytes` asks the CSPRNG each time).
  const token = randomUUID().replaceAll('-', '') // 32 characters, as the tokens before
  if (intoIncoming) {
    lines.push(UPGRADE_TOKEN_HEADER, token)
    // Node builds `headers` and `headersDistinct` from the raw lines on first read and caches them:
    // a listener that ran before this one (Vite's HMR listener does) may already have built them.
    incoming.headers[UPGRADE_TOKEN_HEADER] = token
    incoming.headersDistinct[UPGRADE_TOKEN_HEADER] = [token]
  }
  raw.token = token
  registry.byToken.set(token, raw)
  return token
}

/** Ends the life of an upgrade's token (its dispatch is over, or its socket closed). */
export function revokeUpgrade(raw: RawUpgrade): void {
  if (raw.token !== undefined && registry.byToken.get(raw.token) === raw) registry.byToken.delete(raw.token)
}

/** Links a `Request` the dispatcher built itself to its upgrade (found without reading headers). */
export function linkRequest(request: Request, raw: RawUpgrade): void {
  registry.byRequest.set(request, raw)
}

/** Unlinks a request linked with {@link linkRequest}. */
export function unlinkRequest(request: Request): void {
  registry.byRequest.delete(request)
}

/**
 * Takes the upgrade a request stands for, once: by identity when the dispatcher built this very
 * `Request`, else by its token header (any copy a framework made). Undefined when neither names a
 * pending upgrade: a request that did not come through a dispatcher, or a token already used.
 */
export function takeUpgrade(request: Request): RawUpgrade | undefined {
  let raw = registry.byRequest.get(request)
  if (raw === undefined) {
    const token = request.headers.get(UPGRADE_TOKEN_HEADER)
    if (token === null) return undefined
    raw = registry.byToken.get(token)
    if (raw === undefined) return undefined
  } else registry.byRequest.delete(request)
  revokeUpgrade(raw)
  if (raw.claimed) return undefined
  return raw
}

/**
 * What `realtime.upgrade()` answers once it took the socket (Node cannot build a 101 Response).
 * `serve`/`attach` write nothing for a claimed socket, whatever response the handler returns, so
 * a framework that copies or replaces the response does not break the upgrade.
 */
export function upgradeHandled(): Response {
  return new Response(null)
}

/** Swallows socket errors while nobody else listens (a reset during the handshake must not crash). */
export function ignoreSocketError(): void {}
