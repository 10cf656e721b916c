// The `Response` an accepted Node upgrade answers with: built only if someone reads it.
//
// Node cannot build a 101 `Response`, so `realtime.upgrade()` answers a placeholder that the
// dispatcher (`serve`, `attach`, `routeUpgrades`, the Vite plugin) ignores once the socket is taken.
// Nearly always nobody reads it, yet undici's `Response` (its state, `Headers`, header list) was
// built for every WebSocket connect. A `PlaceholderResponse` is a `Response` to code that checks
// (`instanceof Response`, every getter and method, undici's internal slots: `delegateToResponse`,
// as for the SSE response) and builds the real one, `new Response(null)` (status 200, no body), on
// first use. A probe checks once that this runtime's `Response` works that way; if not, the real
// one is built at once.

import { keepShape } from './_kept-shapes.js'
import { delegateToResponse } from './_lazy-response.js'

/** A `Response` whose real undici object is made on first use. */
class PlaceholderResponse {
  private real: Response | undefined = undefined

  /** The real `Response`, built on first call. */
  materialize(): Response {
    return (this.real ??= new Response(null))
  }

  get [Symbol.toStringTag](): string {
    return 'Response'
  }
}

let placeholdersWork: boolean | undefined

/** True when a {@link PlaceholderResponse} behaves as a `Response` on this runtime (set up and checked once). */
function placeholdersWorkHere(): boolean {
  if (placeholdersWork === undefined) {
    try {
      delegateToResponse(PlaceholderResponse.prototype)
      const probe = new PlaceholderResponse() as unknown as Response
      keepShape(probe)
      probe.headers.set('x-probe', '1')
      placeholdersWork =
        probe instanceof Response &&
        probe.status === 200 &&
        probe.ok &&
        probe.body === null &&
        probe.headers.get('x-probe') === '1' &&
        probe.clone().headers.get('x-probe') === '1' &&
        new Response(probe.body, probe).status === 200
    } catch {
      placeholdersWork = false
    }
  }
  return placeholdersWork
}

/** `new Response(null)`, built on first use where this runtime allows (see the file's header). */
export function placeholderResponse(): Response {
  return placeholdersWorkHere() ? (new PlaceholderResponse() as unknown as Response) : new Response(null)
}
