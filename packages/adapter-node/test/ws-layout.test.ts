// The Node fast path reads ws internals (`_socket`); a ws that lays its socket out differently is
// refused loudly. The installed ws passes; the packaging test runs the lowest and newest ws of the range.
import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { assertUpgradedSocket, assertWsLayout } from '../src/_ws-layout.js'

describe('ws layout check', () => {
  it('accepts the installed ws', () => {
    expect(() => assertWsLayout()).not.toThrow()
  })

  it('refuses, and terminates, a WebSocket whose _socket is not the upgraded socket', () => {
    const terminate = vi.fn()
    const ws = { _socket: undefined, terminate } as never
    // The message names the range package.json declares.
    const range = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).dependencies.ws as string
    expect(() => assertUpgradedSocket(ws, {})).toThrow(
      expect.objectContaining({ code: 'REALTIME_UPGRADE_UNAVAILABLE', message: expect.stringContaining(`ws ${range}`) }),
    )
    expect(terminate).toHaveBeenCalledOnce()
  })
})
