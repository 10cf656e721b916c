import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { keepLatestUpgrade } from './_kept-shapes.js'
import { placeholderResponse } from './_placeholder-response.js'
import { LazyRequest } from './lazy-request.js'

/** The raw pieces of a Node `upgrade` event, kept until `realtime.upgrade()` claims them. */
export interface RawUpgrade {
  incoming: IncomingMessage
  socket: Duplex
  head: Buffer
  /** Set once `realtime.upgrade()` took the socket: whatever the handler returns, nothing is written. */
  claimed: boolean
  /** The single-use token the dispatcher set on the request (see {@link UPGRADE_TOKEN_HEADER}). */
  token: string | undefined
}

/**
 * The context of an upgrade a dispatcher handles: every field set from the start (an object
 * given a field later gets a hidden class of its own, which dies with it: see `keepShape`).
 */
export function rawUpgrade(incoming: IncomingMessage, socket: Duplex, head: Buffer): RawUpgrade {
  keepLatestUpgrade(incoming)
  return { incoming, socket, head, claimed: false, token: undefined }
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
  /** Unused since requests carry their upgrade under {@link LINK}; kept so older copies sharing this registry still work. */
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
 * The property under which a `Request` the dispatcher built itself carries its upgrade (found by
 * identity, no header read). A property rather than a `WeakMap` entry: one store per upgrade
 * instead of an ephemeron the garbage collector has to trace. `Symbol.for`, so every copy of this
 * package finds it.
 */
const LINK = Symbol.for('@loewen-digital/realtime-node/upgrade@1')

/** A request as the dispatcher links it to its upgrade. */
type LinkedRequest = Request & { [LINK]?: RawUpgrade | undefined }

/**
 * Removes every token header the client sent from the raw lines, so a client can neither forge nor
 * replay one: only a token made by {@link upgradeToken} names a socket.
 */
export function removeClientTokens(raw: RawUpgrade): void {
  const incoming = raw.incoming
  const lines = incoming.rawHeaders
  for (let index = lines.length - 2; index >= 0; index -= 2) {
    const name = lines[index]!
    if (name.length !== UPGRADE_TOKEN_HEADER.length || name.toLowerCase() !== UPGRADE_TOKEN_HEADER) continue
    // Node builds `headers` and `headersDistinct` from the first N raw lines, N counted by its
    // parser: with lines removed it would read past the end. So both are built (and cached) from
    // the lines as they came, the token is removed from them, and only then from the lines.
    const { headers, headersDistinct } = incoming
    delete headers[UPGRADE_TOKEN_HEADER]
    delete headersDistinct[UPGRADE_TOKEN_HEADER]
    lines.splice(index, 2)
  }
}

/**
 * The upgrade's token, made on first call and registered until {@link revokeUpgrade}. `serve` and
 * `attach` call it only when something reads the token header of the `Request` they built or
 * copies it (a framework, a router): a handler that passes the request itself to
 * `realtime.upgrade()` is found by identity, and no token is made.
 */
export function upgradeToken(raw: RawUpgrade): string {
  if (raw.token !== undefined) return raw.token
  // A random UUID (122 random bits from the CSPRNG): unguessable for a token that lives for one
  // handshake, and much cheaper than `randomBytes` per upgrade (Node draws UUIDs from a batch of
  // entropy; `randomBytes` asks the CSPRNG each time).
  const token = randomUUID().replaceAll('-', '') // 32 characters, as the tokens before
  raw.token = token
  registry.byToken.set(token, raw)
  return token
}

/**
 * Registers an upgrade before the application sees it, for a dispatcher that hands the Node
 * request to a framework, which builds its own `Request` from it (`routeUpgrades`, the Vite
 * plugin): removes any token header the client sent, makes a fresh one and adds it to the Node
 * request's headers. Returns the token; {@link revokeUpgrade} ends its life.
 */
export function issueUpgrade(raw: RawUpgrade): string {
  removeClientTokens(raw)
  const token = upgradeToken(raw)
  const incoming = raw.incoming
  incoming.rawHeaders.push(UPGRADE_TOKEN_HEADER, token)
  // Node builds `headers` and `headersDistinct` from the raw lines on first read and caches them:
  // a listener that ran before this one (Vite's HMR listener does) may already have built them.
  incoming.headers[UPGRADE_TOKEN_HEADER] = token
  incoming.headersDistinct[UPGRADE_TOKEN_HEADER] = [token]
  return token
}

/** Ends the life of an upgrade's token (its dispatch is over, or its socket closed). */
export function revokeUpgrade(raw: RawUpgrade): void {
  if (raw.token !== undefined && registry.byToken.get(raw.token) === raw) registry.byToken.delete(raw.token)
}

/**
 * Links a `Request` the dispatcher built itself to its upgrade (found without reading headers). A
 * `LazyRequest` (the usual) has a field for it: a property added to each request would give them
 * a hidden class that dies with them (see `keepShape`).
 */
export function linkRequest(request: Request, raw: RawUpgrade): void {
  if (request instanceof LazyRequest) request.upgrade = raw
  else (request as LinkedRequest)[LINK] = raw
}

/** Unlinks a request linked with {@link linkRequest}. */
export function unlinkRequest(request: Request): void {
  if (request instanceof LazyRequest) request.upgrade = undefined
  else (request as LinkedRequest)[LINK] = undefined
}

/**
 * Takes the upgrade a request stands for, once: by identity when the dispatcher built this very
 * `Request`, else by its token header (any copy a framework made). Undefined when neither names a
 * pending upgrade: a request that did not come through a dispatcher, or a token already used.
 */
export function takeUpgrade(request: Request): RawUpgrade | undefined {
  let raw = request instanceof LazyRequest ? request.upgrade : (request as LinkedRequest)[LINK]
  if (raw === undefined) {
    const token = request.headers.get(UPGRADE_TOKEN_HEADER)
    if (token === null) return undefined
    raw = registry.byToken.get(token)
    if (raw === undefined) return undefined
  } else unlinkRequest(request)
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
  return placeholderResponse()
}

/** Swallows socket errors while nobody else listens (a reset during the handshake must not crash). */
export function ignoreSocketError(): void {}
