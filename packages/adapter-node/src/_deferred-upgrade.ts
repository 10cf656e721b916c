import type { UpgradeContext } from '@loewen-digital/realtime-core'

/**
 * An upgrade that another library completes (crossws, in Nitro): `realtime.upgrade()` runs its
 * checks (origin, capacity, identify, per-user cap, channels, resume) and hands the platform its
 * context, which is kept here until the other library has opened the socket.
 */
export interface DeferredUpgrade {
  /** Set by the Node platform when `realtime.upgrade()` accepted the request. */
  context: UpgradeContext<any> | undefined
}

/**
 * By the `Request` the bridge built itself and passed to `realtime.upgrade()` (found by identity:
 * nothing a client sends can name one). On `globalThis` under a `Symbol.for` key, so the bridge and
 * the instance may come from different copies of this package.
 */
const REGISTRY_KEY = Symbol.for('@loewen-digital/realtime-node/deferred-upgrades@1')

const deferred: WeakMap<Request, DeferredUpgrade> = ((globalThis as { [REGISTRY_KEY]?: WeakMap<Request, DeferredUpgrade> })[REGISTRY_KEY] ??= new WeakMap())

/** Marks `request` as an upgrade whose socket someone else opens later. */
export function deferUpgrade(request: Request): DeferredUpgrade {
  const slot: DeferredUpgrade = { context: undefined }
  deferred.set(request, slot)
  return slot
}

/** Takes the deferred upgrade `request` stands for, once. */
export function takeDeferredUpgrade(request: Request): DeferredUpgrade | undefined {
  const slot = deferred.get(request)
  if (slot !== undefined) deferred.delete(request)
  return slot
}
