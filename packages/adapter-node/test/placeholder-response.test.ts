// What realtime.upgrade() answers on Node once it took the socket is a Response built on first
// use (src/_placeholder-response.ts): it must behave as `new Response(null)` for anyone who reads it.
import { describe, expect, it } from 'vitest'
import { placeholderResponse } from '../src/_placeholder-response.js'
import { createRealtime, serve } from '../src/index.js'
import { eventually, openWs } from '../../../test/helpers/clients.js'

describe('the placeholder Response of an accepted upgrade', () => {
  it('is a Response with status 200, no body, and headers that keep what is written to them', async () => {
    const response = placeholderResponse()
    const reference = new Response(null)
    expect(response).toBeInstanceOf(Response)
    expect(Object.prototype.toString.call(response)).toBe('[object Response]')
    expect([response.status, response.ok, response.statusText, response.type, response.redirected, response.body, response.bodyUsed]).toEqual([
      reference.status,
      reference.ok,
      reference.statusText,
      reference.type,
      reference.redirected,
      reference.body,
      reference.bodyUsed,
    ])
    response.headers.append('vary', 'origin')
    expect(response.headers.get('vary')).toBe('origin')
    expect(response.headers).toBeInstanceOf(Headers)
    const copy = new Response(response.body, response)
    expect([copy.status, copy.headers.get('vary')]).toEqual([200, 'origin'])
    expect(response.clone().headers.get('vary')).toBe('origin')
    expect(await response.text()).toBe('')
    expect(response.bodyUsed).toBe(false) // a null body is never "used"
  })

  it('is what the handler gets from realtime.upgrade() on serve()', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    const seen: Response[] = []
    const server = await serve({
      port: 0,
      fetch: async (request) => {
        const response = await realtime.upgrade(request)
        seen.push(response)
        return response
      },
    })
    const client = await openWs(server.url)
    await eventually(() => realtime.stats().connections === 1)
    expect(seen).toHaveLength(1)
    expect(seen[0]).toBeInstanceOf(Response)
    expect(seen[0]!.status).toBe(200)
    client.close()
    await realtime.close({ drainTimeout: 100 })
    await server.close()
  })
})
