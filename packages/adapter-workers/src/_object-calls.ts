// The Worker side of the calls a Worker-side instance makes to its Durable Object: finding the
// object in `env`, handing it a connection request, and the actions (publish, presence, stats,
// close) with their errors mapped back to `RealtimeError`.
import { RealtimeError, toOutbound, type PublishOptions, type RealtimeMessage } from '@loewen-digital/realtime-core'
import { ACTION_HEADER, ACTION_URL, INSTANCE_HEADER, type ObjectAction, type PublishBody } from './_protocol.js'
import { rememberedEnv } from './_registry.js'
import type { DurableObjectNamespaceLike, DurableObjectStubLike } from './_runtime.js'

/** The object of instance `name`, bound as `binding` in the Worker's `env`. */
export class ObjectCalls {
  constructor(
    private readonly name: string,
    private readonly binding: string,
  ) {}

  /** Hands a request to the object, which runs the application for it (`withRealtime`). */
  connect(request: Request): Promise<Response> {
    const headers = new Headers(request.headers)
    headers.set(INSTANCE_HEADER, this.name)
    headers.set(ACTION_HEADER, 'connect')
    return this.stub().fetch(new Request(request.url, { method: request.method, headers }))
  }

  /** Validates `message` (same errors as on every runtime, before any I/O) and has the object publish it. */
  async publish(topic: PublishBody['topic'], target: string | undefined, message: RealtimeMessage<any>, options?: PublishOptions): Promise<void> {
    if (message === null || typeof message !== 'object') throw new RealtimeError('REALTIME_INVALID_MESSAGE', 'a message must be an object { event, data }')
    void toOutbound(message)
    const body: PublishBody = { topic, event: message.event, data: message.data }
    if (target !== undefined) body.target = target
    const except = options?.except
    if (except !== undefined) body.except = typeof except === 'string' ? except : except.id
    await this.call('publish', JSON.stringify(body))
  }

  /** Runs `action` in the object; an error answer becomes the `RealtimeError` the object reported. */
  async call(action: ObjectAction, body: string | null): Promise<Response> {
    const response = await this.stub().fetch(
      new Request(ACTION_URL + action, {
        method: body === null ? 'GET' : 'POST',
        headers: { [INSTANCE_HEADER]: this.name, [ACTION_HEADER]: action, 'Content-Type': 'application/json' },
        body,
      }),
    )
    if (response.ok) return response
    let error: { code?: string; message?: string } = {}
    try {
      error = ((await response.json()) as { error?: typeof error }).error ?? {}
    } catch {
      // not JSON
    }
    throw new RealtimeError((error.code as RealtimeError['code']) ?? 'REALTIME_TRANSPORT_ERROR', error.message ?? `realtime object answered ${response.status}`)
  }

  private stub(): DurableObjectStubLike {
    const env = rememberedEnv()
    const namespace = env?.[this.binding] as DurableObjectNamespaceLike | undefined
    if (!namespace || typeof namespace.idFromName !== 'function') {
      throw new RealtimeError(
        'REALTIME_INVALID_OPTION',
        env
          ? `env has no Durable Object binding '${this.binding}': bind RealtimeDurableObject as ${this.binding} in wrangler.jsonc (see docs/runtimes/workers.md)`
          : 'no Worker env seen yet: wrap the Worker with withRealtime() (export default withRealtime({ fetch }))',
      )
    }
    return namespace.get(namespace.idFromName(this.name))
  }
}
