// The two ways a WebSocket handshake reaches the platform: at once (no identify, no user: no async
// step) or after identifying the user and checking the per-user cap. Both answer what the platform
// answers, turn a platform failure into a 500 reported once, and leave no handshake pending. The
// platform here is a stand-in: what it answers is exactly what these paths have to handle.
import { describe, expect, it } from 'vitest'
import { hubOf, Realtime, type Platform, type RealtimeError, type UpgradeContext } from '../src/index.js'

const upgradeRequest = () =>
  new Request('http://app.test/?channel=room', {
    headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
  })

function withPlatform(upgrade: (context: UpgradeContext<any>) => Response | Promise<Response>, identify?: () => string) {
  const errors: RealtimeError[] = []
  const contexts: UpgradeContext<any>[] = []
  const platform: Platform = {
    name: 'test',
    upgrade: (context) => {
      contexts.push(context)
      return upgrade(context)
    },
  }
  const realtime = new Realtime({ heartbeat: 0, onError: (error) => void errors.push(error), identify }, platform)
  return { realtime, errors, contexts }
}

describe('a WebSocket handshake', () => {
  it('without identify: the answer the platform gives at once, in a promise, and nothing left pending', async () => {
    const answer = new Response(null, { status: 200 })
    const { realtime, contexts } = withPlatform(() => answer)
    const result = realtime.upgrade(upgradeRequest())
    expect(result).toBeInstanceOf(Promise)
    expect(contexts).toHaveLength(1) // reached the platform within the call
    expect(await result).toBe(answer)
    expect(hubOf(realtime).admission.pending).toBe(0)
    await realtime.close()
  })

  it('without identify: a platform that throws or rejects gives a 500, reported once each', async () => {
    for (const upgrade of [
      () => {
        throw new Error('no socket')
      },
      () => Promise.reject(new Error('no socket')),
    ]) {
      const { realtime, errors } = withPlatform(upgrade)
      const response = await realtime.upgrade(upgradeRequest())
      expect(response.status).toBe(500)
      expect(errors.map((error) => error.message)).toEqual([expect.stringContaining('no socket')])
      expect(hubOf(realtime).admission.pending).toBe(0)
      await realtime.close()
    }
  })

  it('with identify: the platform gets the user, the answer a promise from the platform is passed on', async () => {
    const answer = new Response(null, { status: 200 })
    const { realtime, contexts } = withPlatform(
      () => Promise.resolve(answer),
      () => 'alice',
    )
    expect(await realtime.upgrade(upgradeRequest())).toBe(answer)
    expect(contexts[0]!.userId).toBe('alice')
    expect(hubOf(realtime).admission.pending).toBe(0)
    await realtime.close()
  })

  it('rejects, rather than throws, for something that is not a request', async () => {
    const { realtime } = withPlatform(() => new Response(null))
    const result = realtime.upgrade({} as Request)
    expect(result).toBeInstanceOf(Promise)
    await expect(result).rejects.toBeInstanceOf(TypeError)
    await realtime.close()
  })
})
