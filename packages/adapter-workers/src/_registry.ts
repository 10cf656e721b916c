// Module-level state of one isolate: the realtime instances its module created, the Worker
// handler `withRealtime` wrapped, the last `env` seen, and the requests the object is replaying.
// Isolates share none of this; the object finds what it needs here because it runs the same module.
import { RealtimeError, type Broker, type ConnectionHandlers, type HistoryOptions, type Platform, type Realtime } from '@loewen-digital/realtime-core'
import { ACTION_HEADER, FORWARD_HEADER, INSTANCE_HEADER, REPLAY_HEADER } from './_protocol.js'
import type { WorkerHandler } from './_runtime.js'

/** What the realtime object needs from a Worker-side instance to build its hub. */
export interface RegisteredInstance {
  readonly name: string
  /** Creates the hub that serves this instance inside the object (`broker`: the object's history, if any). */
  createHub(platform: Platform, broker: Broker | undefined): Realtime<any>
  /** The instance's `history` option: the window the object keeps in its storage, or `false`. */
  readonly history: HistoryOptions | false | undefined
  /** Applies the instance's channel configuration (hooks, authorize) to a hub. */
  configureChannels(hub: Realtime<any>): void
  /** Heartbeat interval of SSE streams in ms (0: none). */
  readonly heartbeat: number
  /** Hands a request to the instance's object, which runs the application for it. */
  connect(request: Request): Promise<Response>
}

/** A request the object is running through the application. */
export interface ReplayContext {
  readonly instance: string
  readonly hub: Realtime<any>
  /** Set when replaying to get the handlers of a connection back after hibernation. */
  readonly restore?: (handlers: ConnectionHandlers<any>) => void
}

const instances = new Map<string, RegisteredInstance>()
const hosted = new Map<string, Realtime<any>>()
const replays = new Map<string, ReplayContext>()
let application: WorkerHandler | undefined
let latestEnv: Record<string, unknown> | undefined
let unnamed = 0

/** Registers an instance under its name; returns the name (generated when none is given). */
export function registerInstance(name: string | undefined, create: (name: string) => RegisteredInstance): string {
  const chosen = name ?? (unnamed++ === 0 ? 'realtime' : `realtime-${unnamed}`)
  if (instances.has(chosen)) {
    throw new RealtimeError(
      'REALTIME_INVALID_OPTION',
      `a realtime instance named '${chosen}' already exists: names choose Durable Objects, give each instance its own`,
    )
  }
  instances.set(chosen, create(chosen))
  return chosen
}

export function instanceNamed(name: string): RegisteredInstance | undefined {
  return instances.get(name)
}

/** The object in this isolate that serves `name` sets (or clears) its hub here. */
export function hostHub(name: string, hub: Realtime<any> | undefined): void {
  if (hub) hosted.set(name, hub)
  else hosted.delete(name)
}

/** The hub serving `name`, when its object lives in this isolate. */
export function hostedHub(name: string): Realtime<any> | undefined {
  return hosted.get(name)
}

export function registerApplication(handler: WorkerHandler): void {
  application = handler
}

export function registeredApplication(): WorkerHandler | undefined {
  return application
}

export function rememberEnv(env: unknown): void {
  if (env && typeof env === 'object') latestEnv = env as Record<string, unknown>
}

export function rememberedEnv(): Record<string, unknown> | undefined {
  return latestEnv
}

/** Runs `run` with `request` marked as a replay; the mark is valid only while `run` runs. */
export async function withReplay<T>(request: Request, context: ReplayContext, run: (request: Request) => Promise<T>): Promise<T> {
  const token = crypto.randomUUID()
  const headers = new Headers(request.headers)
  headers.delete(INSTANCE_HEADER)
  headers.delete(ACTION_HEADER)
  headers.set(REPLAY_HEADER, token)
  replays.set(token, context)
  try {
    // The signal aborts when the client goes away (workerd: `enable_request_signal` compatibility flag).
    return await run(new Request(request.url, { method: request.method, headers, signal: request.signal }))
  } finally {
    replays.delete(token)
  }
}

/** The replay `request` belongs to, if the object is running it through the application now. */
export function replayOf(request: Request): ReplayContext | undefined {
  const token = request.headers.get(REPLAY_HEADER)
  return token === null ? undefined : replays.get(token)
}

/** A placeholder response: the Worker replaces it with the object's answer to the request. */
export interface Forward {
  readonly instance: string
}

const forwardsByResponse = new WeakMap<Response, Forward>()
const forwardsByToken = new Map<string, Forward & { created: number }>()

/**
 * A response that stands for "hand this request to the realtime object". `withRealtime` replaces
 * it; anywhere else it explains what is missing.
 */
export function forwardResponse(instance: string): Response {
  const token = crypto.randomUUID()
  const now = Date.now()
  for (const [key, entry] of forwardsByToken) {
    if (now - entry.created < 60_000) break
    forwardsByToken.delete(key)
  }
  forwardsByToken.set(token, { instance, created: now })
  const response = new Response(
    'This realtime route needs the Worker to be wrapped with withRealtime(): export default withRealtime({ fetch }) (see docs/runtimes/workers.md)',
    { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8', [FORWARD_HEADER]: token } },
  )
  forwardsByResponse.set(response, { instance })
  return response
}

/** The forward a response stands for, once (it is forgotten). */
export function takeForward(response: Response): Forward | undefined {
  const direct = forwardsByResponse.get(response)
  const token = response.headers.get(FORWARD_HEADER)
  const byToken = token === null ? undefined : forwardsByToken.get(token)
  if (token !== null) forwardsByToken.delete(token)
  return direct ?? byToken
}
