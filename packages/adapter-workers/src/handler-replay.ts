// Handler replay: after hibernation, a connection's handlers come back by running its route again.
import { hubOf, RealtimeError, type Realtime } from '@loewen-digital/realtime-core'
import { registeredApplication, withReplay } from './_registry.js'
import type { ExecutionContextLike } from './_runtime.js'
import type { WorkersWebSocketConnection } from './websocket-connection.js'

/**
 * Runs the application again for a connection restored after hibernation, to get its handlers
 * back: handlers are closures of the route, so the route's `realtime.upgrade()` is replayed and
 * its options taken instead of a new socket (`onOpen` does not run again).
 */
export async function recoverHandlers(
  connection: WorkersWebSocketConnection<any>,
  hub: Realtime<any>,
  instance: string,
  env: Record<string, unknown>,
  context: ExecutionContextLike,
): Promise<void> {
  const application = registeredApplication()
  let recovered = false
  if (application?.fetch) {
    try {
      const response = await withReplay(
        connection.request,
        {
          instance,
          hub,
          restore: (handlers) => {
            // onOpen ran when the connection opened; it does not run again.
            connection.handlers = { ...handlers, onOpen: undefined }
            recovered = true
          },
        },
        (replayed) => Promise.resolve(application.fetch!(replayed, env, context)),
      )
      await response.body?.cancel()
    } catch (error) {
      hubOf(hub).reportError(
        connection,
        new RealtimeError('REALTIME_HANDLER_ERROR', `replaying the route after hibernation threw: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
        }),
      )
      return
    }
  }
  if (!recovered) {
    hubOf(hub).reportError(
      connection,
      new RealtimeError(
        'REALTIME_HANDLER_ERROR',
        'after hibernation the route did not call realtime.upgrade() again (is the Worker wrapped with withRealtime()?): this connection has no handlers',
      ),
    )
  }
}
