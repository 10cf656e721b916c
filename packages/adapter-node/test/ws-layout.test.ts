// The Node fast path reads ws internals (`_socket`); a ws that lays its socket out differently is
// refused loudly. The installed ws passes; the packaging test runs the lowest and newest ws of the range.
import { describe, expect, it, vi } from 'vitest'
import { assertUpgradedSocket, assertWsLayout } from '../src/_ws-layout.js'

describe('ws layout check', () => {
  it('accepts the installed ws', () => {
    expect(() => assertWsLayout()).not.toThrow()
  })

  it('refuses, and terminates, a WebSocket whose _socket is not the upgraded socket', () => {
    const terminate = vi.fn()
    const ws = { _socket: undefined, terminate } as never
    expect(() => assertUpgradedSocket(ws, {})).toThrow(expect.objectContaining({ code: 'REALTIME_UPGRADE_UNAVAILABLE', message: expect.stringContaining('ws ^8.17.1') }))
    expect(terminate).toHaveBeenCalledOnce()
  })
})
