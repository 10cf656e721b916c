import type { ServerResponse } from 'node:http'

/** What the adapter attaches to a Node response, behind one shared 'close' listener. */
export interface ResponseWatch {
  /**
   * The request's abort controller, aborted when the response closes before it finished. Held
   * weakly: the request holds it (see `toRequest`), so it lives exactly as long as something can
   * observe its signal, and an idle SSE stream whose request is gone does not keep it.
   */
  controller: WeakRef<AbortController> | undefined
  /** The SSE connection written to this response: told when it closes. */
  connection: { transportClosed(code: number, reason: string): void } | undefined
}

const WATCH = Symbol('realtime-response-watch')
type Watched = ServerResponse & { [WATCH]?: ResponseWatch }

/** The watch of `response`; the first call registers the 'close' listener (one function for all). */
export function watchResponse(response: ServerResponse): ResponseWatch {
  let watch = (response as Watched)[WATCH]
  if (watch === undefined) {
    watch = { controller: undefined, connection: undefined }
    ;(response as Watched)[WATCH] = watch
    response.on('close', onResponseClose)
  }
  return watch
}

function onResponseClose(this: Watched): void {
  const watch = this[WATCH]!
  if (!this.writableFinished) watch.controller?.deref()?.abort()
  watch.connection?.transportClosed(1001, 'client went away')
}
