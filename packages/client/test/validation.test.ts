// Runtime validation of incoming data with Standard Schema validators (zod, valibot, and a
// hand-written asynchronous one), against the real Node demo server.
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { connect, type StandardSchemaV1 } from '../src/index.js'
import { CONTROL, nodeTransports, publish, record, useDemoServer } from './_support.js'

type Events = {
  order: { id: number; total: number }
  note: { text: string }
}

const demo = useDemoServer()
const { cleanups } = demo

const validators = {
  zod: { order: z.object({ id: z.number(), total: z.number() }), note: z.object({ text: z.string().transform((text) => text.toUpperCase()) }) },
  valibot: {
    order: v.object({ id: v.number(), total: v.number() }),
    note: v.object({
      text: v.pipe(
        v.string(),
        v.transform((text) => text.toUpperCase()),
      ),
    }),
  },
}

describe.each(['sse', 'websocket'] as const)('schemas over %s', (transport) => {
  it.each(Object.keys(validators) as Array<keyof typeof validators>)(
    '%s: delivers valid data (as the schema outputs it) and refuses invalid data with REALTIME_INVALID_DATA',
    async (library) => {
      const client = connect<Events>(`${demo.server.url}${transport === 'sse' ? '/events' : '/ws'}?user=${library}-${transport}`, {
        transport,
        ...nodeTransports,
        schemas: validators[library],
      })
      cleanups.push(() => client.close())
      const inbox = record(client, ['order', 'note', ...CONTROL])
      await inbox.next((item) => item.event === 'realtime:connected')
      await publish(demo.server.url, { event: 'order', data: { id: 1, total: 10 } })
      await publish(demo.server.url, { event: 'order', data: { id: 'two', total: 20 } })
      await publish(demo.server.url, { event: 'note', data: { text: 'hello' } })
      await inbox.next((item) => item.event === 'note')
      expect(inbox.items.filter((item) => item.event === 'order').map((item) => item.data)).toEqual([{ id: 1, total: 10 }])
      expect(inbox.items.find((item) => item.event === 'note')?.data).toEqual({ text: 'HELLO' })
      const error = inbox.items.find((item) => item.event === 'realtime:error')
      expect(error?.data).toMatchObject({ code: 'REALTIME_INVALID_DATA', event: 'order' })
      expect(error?.data.issues.length).toBeGreaterThan(0)
    },
  )
})

describe('an asynchronous schema', () => {
  it('keeps the arrival order of every event, validated or not', async () => {
    let pending = 0
    // A validator that answers later, the first message slowest: order must still hold.
    const slow: StandardSchemaV1<unknown, Events['order']> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) =>
          new Promise((resolve) => {
            pending++
            setTimeout(() => resolve({ value: value as Events['order'] }), pending === 1 ? 100 : 1)
          }),
      },
    }
    const client = connect<Events>(`${demo.server.url}/ws?user=async`, { transport: 'websocket', ...nodeTransports, schemas: { order: slow } })
    cleanups.push(() => client.close())
    const inbox = record(client, ['order', 'note', 'realtime:connected'])
    await inbox.next((item) => item.event === 'realtime:connected')
    await publish(demo.server.url, { event: 'order', data: { id: 1, total: 1 } })
    await publish(demo.server.url, { event: 'note', data: { text: 'between' } })
    await publish(demo.server.url, { event: 'order', data: { id: 2, total: 2 } })
    await inbox.next((item) => item.event === 'order' && item.data.id === 2)
    expect(inbox.items.filter((item) => item.event !== 'realtime:connected').map((item) => item.data.id ?? item.data.text)).toEqual([1, 'between', 2])
  })
})
