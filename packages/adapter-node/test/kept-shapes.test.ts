// The stand-ins every connect makes and drops keep their hidden classes (src/_kept-shapes.ts):
// one instance of each is kept, and it must have the same hidden class (V8 "map") as the ones
// requests get, or V8 drops theirs at a full GC and deoptimizes the connect path after every one.
// V8's own `%HaveSameMap` checks it (natives syntax, enabled for the functions compiled below).
import { setFlagsFromString } from 'node:v8'
import { describe, expect, it } from 'vitest'
import { keptInstances, latestUpgrade } from '../src/_kept-shapes.js'
import { LazySseResponse } from '../src/_lazy-response.js'
import { rawUpgrade } from '../src/_upgrade-context.js'
import { createRealtime, serve } from '../src/index.js'
import { LazyRequest } from '../src/lazy-request.js'
import { eventually, openSse, openWs } from '../../../test/helpers/clients.js'

setFlagsFromString('--allow-natives-syntax')
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean

describe('the stand-ins a connect makes', () => {
  it('have the hidden class of the instance kept for them (SSE and WebSocket requests, the SSE response, the upgrade context)', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    const requests: Request[] = []
    const responses: Response[] = []
    const server = await serve({
      port: 0,
      fetch: async (request) => {
        requests.push(request)
        const response = await realtime.handle(request)
        responses.push(response)
        return response
      },
    })
    const stream = await openSse(server.url)
    const socket = await openWs(server.url)
    await eventually(() => realtime.stats().connections === 2)
    const keptRequest = keptInstances().find((kept) => kept instanceof LazyRequest)!
    const keptResponse = keptInstances().find((kept) => kept instanceof LazySseResponse)!
    expect(keptRequest).toBeDefined()
    expect(keptResponse).toBeDefined()
    expect(requests).toHaveLength(2)
    for (const request of requests) {
      expect(request).toBeInstanceOf(LazyRequest)
      expect(sameMap(request, keptRequest)).toBe(true)
    }
    const sseResponse = responses.find((response) => response instanceof LazySseResponse)!
    expect(sseResponse).toBeDefined()
    expect(sameMap(sseResponse, keptResponse)).toBe(true)
    // The upgrade's Node request is the one kept.
    expect(latestUpgrade()).toBeDefined()
    expect((latestUpgrade() as { headers: Record<string, string> }).headers.upgrade).toBe('websocket')
    // A context whose token was issued keeps the hidden class of a fresh one.
    const fresh = rawUpgrade(latestUpgrade() as never, {} as never, Buffer.alloc(0))
    const issued = rawUpgrade(latestUpgrade() as never, {} as never, Buffer.alloc(0))
    issued.token = 'token'
    expect(sameMap(fresh, issued)).toBe(true)
    stream.close()
    socket.close()
    await realtime.close({ drainTimeout: 100 })
    await server.close()
  })
})
