// Type-checked with @cloudflare/workers-types (tsconfig.workers.json, not published): the small
// structural interfaces of the adapter accept the runtime's real objects, and the exports fit
// where the runtime expects them.
import {
  createRealtime,
  RealtimeDurableObject,
  withRealtime,
  type DurableObjectNamespaceLike,
  type DurableObjectStateLike,
  type DurableObjectStubLike,
  type ExecutionContextLike,
  type WorkersWebSocket,
} from '../../src/index.js'

declare const state: DurableObjectState
declare const namespace: DurableObjectNamespace
declare const stub: DurableObjectStub
declare const socket: WebSocket
declare const context: ExecutionContext

export const stateFits: DurableObjectStateLike = state
export const namespaceFits: DurableObjectNamespaceLike = namespace
export const stubFits: DurableObjectStubLike = stub
export const socketFits: WorkersWebSocket = socket
export const contextFits: ExecutionContextLike = context

// The exported class is constructed by the runtime with its state and env.
export const object = new RealtimeDurableObject(state, {})
export const objectHandlesFetch: (request: Request) => Promise<Response> = (request) => object.fetch(request)
export const objectHandlesMessages: (ws: WebSocket, message: string | ArrayBuffer) => Promise<void> = (ws, message) => object.webSocketMessage(ws, message)

// withRealtime takes and returns a Worker's handler object.
interface Env {
  REALTIME: DurableObjectNamespace
}
const realtime = createRealtime<{ update: { n: number } }>()
export const handler: ExportedHandler<Env> = withRealtime<ExportedHandler<Env>>({
  fetch: async (request) => realtime.handle(request),
  scheduled: async () => realtime.broadcast({ event: 'update', data: { n: 1 } }),
})
