// Objects kept so that V8 keeps the hidden classes of what every connect makes and drops: one
// instance of each stand-in class, and the latest upgrade's Node request.

const kept: object[] = []

/**
 * Keeps `instance` for the life of the process. At a full GC, V8 drops the hidden classes (maps)
 * that no live object has any more, and deoptimizes the optimized code that embedded them
 * ("weak objects"). Every connect makes and drops a lazy `Request` (and, for SSE, a lazy
 * `Response`): once a full GC found none alive, the connect path ran unoptimized again until V8
 * had compiled it anew. One instance of each class, made by its probe with the same fields in the
 * same order, keeps its hidden classes alive.
 */
export function keepShape(instance: object): void {
  kept.push(instance)
}

/** The latest upgrade request a dispatcher handled (see {@link keepLatestUpgrade}). */
const latest: { upgrade: object | undefined } = { upgrade: undefined }

/**
 * Keeps the Node request of the latest upgrade, in place of the one before. Once upgraded, no
 * request of a WebSocket connection stays referenced (the connection lets go of it when set up),
 * so in a server that only upgrades, a full GC found no Node request left: V8 dropped the hidden
 * classes Node gives them as it parses, and deoptimized every function of the upgrade path that
 * had handled one (Node's and this adapter's). One request, a few kilobytes, keeps them alive.
 */
export function keepLatestUpgrade(incoming: object): void {
  latest.upgrade = incoming
}

/** The instances {@link keepShape} keeps (for tests). */
export function keptInstances(): readonly object[] {
  return kept
}

/** The upgrade request {@link keepLatestUpgrade} keeps (for tests). */
export function latestUpgrade(): object | undefined {
  return latest.upgrade
}
