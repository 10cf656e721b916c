// Metrics: the counters `stats()` reports, and the same figures through OpenTelemetry when given a meter.
import type { Transport } from '../connection.js'
import type { RefusalReason } from './admission.js'

/** Attribute values as OpenTelemetry takes them. */
export type MetricAttributes = Record<string, string | number | boolean>

/** The part of an OpenTelemetry `Counter` / `UpDownCounter` the library uses. */
export interface CounterLike {
  add(value: number, attributes?: MetricAttributes): void
}

/** The part of an OpenTelemetry `Histogram` the library uses. */
export interface HistogramLike {
  record(value: number, attributes?: MetricAttributes): void
}

/** The part of an OpenTelemetry `ObservableGauge` the library uses. */
export interface ObservableLike {
  addCallback(callback: (result: { observe(value: number, attributes?: MetricAttributes): void }) => void): void
}

/** Instrument options as OpenTelemetry takes them. */
export interface InstrumentOptions {
  description?: string
  unit?: string
}

/** The part of an OpenTelemetry `Meter` the library uses (`metrics.getMeter(...)` from `@opentelemetry/api`). */
export interface MeterLike {
  createCounter(name: string, options?: InstrumentOptions): CounterLike
  createUpDownCounter(name: string, options?: InstrumentOptions): CounterLike
  createHistogram(name: string, options?: InstrumentOptions): HistogramLike
  createObservableGauge?(name: string, options?: InstrumentOptions): ObservableLike
  createObservableCounter?(name: string, options?: InstrumentOptions): ObservableLike
}

/** The part of an OpenTelemetry `Span` the library uses. */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown
  setStatus(status: { code: number; message?: string }): unknown
  end(): void
}

/** The part of an OpenTelemetry `Tracer` the library uses (`trace.getTracer(...)` from `@opentelemetry/api`). */
export interface TracerLike {
  startSpan(name: string, options?: { attributes?: MetricAttributes }): SpanLike
}

/**
 * Where the library records through OpenTelemetry (the `telemetry` option of `createRealtime`).
 * `otel()` from `@loewen-digital/realtime/otel` makes one from `@opentelemetry/api`. Without it
 * nothing is recorded and nothing costs beyond `stats()`'s counters.
 */
export interface TelemetryOptions {
  meter?: MeterLike
  tracer?: TracerLike
}

/** What a published message is addressed to. */
export type MessageKind = 'broadcast' | 'user' | 'channel'

/** Why an inbound message was refused. */
export type RejectionReason = 'rate_limited' | 'message_too_big' | 'unsupported_data' | 'bad_frame'

/** Counters of one instance, as `stats()` reports them (plain numbers: cheap, always on). */
export interface MetricCounters {
  /** Connections closed since start, by close code (`'1000'`, `'4001'`, ...). */
  closes: Record<string, number>
  /** `realtime:gap` events written since start, by reason (`window`, `epoch`, `outage`, `invalid`, `disabled`). */
  gaps: Record<string, number>
  /** Messages replayed to resuming clients since start. */
  replayed: number
  /** Connections cut as slow consumers since start. */
  slowConsumers: number
  /** Inbound WebSocket messages since start. */
  inbound: number
  /** Inbound messages refused since start, by reason. */
  rejected: Record<RejectionReason, number>
  /** Messages published by this instance since start, by kind. */
  published: Record<MessageKind, number>
}

/** OpenTelemetry instruments, made once when a meter is given. */
interface Instruments {
  connections: CounterLike
  duration: HistogramLike
  refused: CounterLike
  closes: CounterLike
  published: CounterLike
  delivered: CounterLike
  gaps: CounterLike
  replayed: CounterLike
  slowConsumers: CounterLike
  inbound: CounterLike
  rejected: CounterLike
  latency: HistogramLike
  bytes: CounterLike
}

/**
 * Records what happens in the hub: plain counters for `stats()`, and, with a meter, the same
 * figures as OpenTelemetry instruments (names and attributes in `docs/observability.md`).
 */
export class Metrics {
  readonly counters: MetricCounters = {
    closes: {},
    gaps: {},
    replayed: 0,
    slowConsumers: 0,
    inbound: 0,
    rejected: { rate_limited: 0, message_too_big: 0, unsupported_data: 0, bad_frame: 0 },
    published: { broadcast: 0, user: 0, channel: 0 },
  }
  /** OpenTelemetry instruments; undefined without a meter (then nothing else is kept). */
  readonly instruments: Instruments | undefined
  readonly tracer: TracerLike | undefined
  /** When each connection opened, for the duration histogram (kept only with a meter). */
  private readonly openedAt = new WeakMap<object, number>()

  constructor(telemetry: TelemetryOptions | undefined, broker: { readonly connected?: boolean; readonly outages?: number }) {
    this.tracer = telemetry?.tracer
    const meter = telemetry?.meter
    if (!meter) return
    const counter = (name: string, description: string, unit = '{message}') => meter.createCounter(name, { description, unit })
    this.instruments = {
      connections: meter.createUpDownCounter('realtime.connections', { description: 'Open connections', unit: '{connection}' }),
      duration: meter.createHistogram('realtime.connection.duration', { description: 'How long connections stayed open', unit: 's' }),
      refused: counter('realtime.handshakes.refused', 'Handshakes refused', '{handshake}'),
      closes: counter('realtime.connections.closed', 'Connections closed', '{connection}'),
      published: counter('realtime.messages.published', 'Messages published by this instance'),
      delivered: counter('realtime.messages.delivered', 'Messages written to connections (a broadcast to N connections counts N)'),
      gaps: counter('realtime.gaps', 'realtime:gap events written', '{gap}'),
      replayed: counter('realtime.messages.replayed', 'Messages replayed to resuming clients'),
      slowConsumers: counter('realtime.slow_consumers', 'Connections cut as slow consumers', '{connection}'),
      inbound: counter('realtime.messages.inbound', 'Inbound WebSocket messages'),
      rejected: counter('realtime.messages.rejected', 'Inbound messages refused'),
      latency: meter.createHistogram('realtime.publish.latency', { description: 'From publish() to the last local write', unit: 'ms' }),
      bytes: meter.createCounter('realtime.bytes.written', {
        description: 'Encoded size of the messages written to connections (UTF-16 code units, SSE id lines not counted)',
        unit: 'By',
      }),
    }
    meter.createObservableGauge?.('realtime.broker.up', { description: '1 while the broker is reachable', unit: '1' }).addCallback((result) => {
      result.observe(broker.connected === false ? 0 : 1)
    })
    meter
      .createObservableCounter?.('realtime.broker.outages', { description: "Outages of the broker's backend (Redis) noticed", unit: '{outage}' })
      .addCallback((result) => {
        result.observe(broker.outages ?? 0)
      })
  }

  /** A connection was registered. */
  opened(connection: object, transport: Transport): void {
    const instruments = this.instruments
    if (!instruments) return
    instruments.connections.add(1, { 'realtime.transport': transport })
    this.openedAt.set(connection, Date.now())
  }

  /** A copy of the counters for `stats()` (the hub keeps counting in its own objects). */
  snapshot(): MetricCounters {
    const counters = this.counters
    return {
      closes: { ...counters.closes },
      gaps: { ...counters.gaps },
      replayed: counters.replayed,
      slowConsumers: counters.slowConsumers,
      inbound: counters.inbound,
      rejected: { ...counters.rejected },
      published: { ...counters.published },
    }
  }

  /** A registered connection closed. */
  closed(connection: object, transport: Transport, code: number, reason: string): void {
    const key = String(code)
    this.counters.closes[key] = (this.counters.closes[key] ?? 0) + 1
    const instruments = this.instruments
    if (!instruments) return
    const attributes = { 'realtime.transport': transport, 'realtime.close.code': code, 'realtime.close.reason': closeReason(code, reason) }
    instruments.connections.add(-1, { 'realtime.transport': transport })
    instruments.closes.add(1, attributes)
    const opened = this.openedAt.get(connection)
    if (opened !== undefined) instruments.duration.record((Date.now() - opened) / 1000, attributes)
  }

  /** A handshake was refused. */
  refused(reason: RefusalReason): void {
    this.instruments?.refused.add(1, { 'realtime.refusal.reason': reason })
  }

  /** This instance published a message. */
  published(kind: MessageKind): void {
    this.counters.published[kind]++
    this.instruments?.published.add(1, { 'realtime.message.kind': kind })
  }

  /**
   * A delivered message reached `count` local connections (`bytes` in all), `latency` ms after it
   * was published here (when it was).
   */
  delivered(kind: MessageKind, count: number, latency: number | undefined, bytes: number): void {
    const instruments = this.instruments
    if (!instruments) return
    if (count > 0) instruments.delivered.add(count, { 'realtime.message.kind': kind })
    if (bytes > 0) instruments.bytes.add(bytes, { 'realtime.message.kind': kind })
    if (latency !== undefined) instruments.latency.record(latency, { 'realtime.message.kind': kind })
  }

  /** A `realtime:gap` was written. */
  gap(reason: string): void {
    this.counters.gaps[reason] = (this.counters.gaps[reason] ?? 0) + 1
    this.instruments?.gaps.add(1, { 'realtime.gap.reason': reason })
  }

  /** `count` messages were replayed to a resuming client. */
  replayed(count: number): void {
    if (count === 0) return
    this.counters.replayed += count
    this.instruments?.replayed.add(count)
  }

  /** A connection was cut as a slow consumer. */
  slowConsumer(): void {
    this.counters.slowConsumers++
    this.instruments?.slowConsumers.add(1)
  }

  /** An inbound WebSocket message arrived. */
  inbound(): void {
    this.counters.inbound++
    this.instruments?.inbound.add(1)
  }

  /** An inbound message was refused. */
  rejected(reason: RejectionReason): void {
    this.counters.rejected[reason]++
    this.instruments?.rejected.add(1, { 'realtime.rejection.reason': reason })
  }
}

/** A close code (and reason) as a low-cardinality attribute value. */
export function closeReason(code: number, reason: string): string {
  switch (code) {
    case 1000:
      return 'normal'
    case 1001:
      return 'going_away'
    case 1002:
      return 'protocol_error'
    case 1003:
      return 'unsupported_data'
    case 1005:
      return 'no_status'
    case 1006:
      return reason === 'heartbeat timeout' ? 'heartbeat_timeout' : 'abnormal'
    case 1007:
      return 'invalid_payload'
    case 1008:
      return reason === 'rate limit exceeded' ? 'rate_limited' : 'policy_violation'
    case 1009:
      return 'message_too_big'
    case 1011:
      return 'internal_error'
    case 1012:
      return 'service_restart'
    case 1013:
      return 'try_again_later'
    case 4000:
      return 'heartbeat_timeout'
    case 4001:
      return 'slow_consumer'
    default:
      return code >= 4000 && code < 5000 ? 'application' : 'other'
  }
}

/** OpenTelemetry's `SpanStatusCode.ERROR`. */
export const SPAN_ERROR = 2

/** Ends a handshake span with the HTTP status it was answered with (an error status for 4xx/5xx). */
export function endHandshakeSpan(span: SpanLike | undefined, status: number): void {
  if (!span) return
  span.setAttribute('http.response.status_code', status)
  if (status >= 400) span.setStatus({ code: SPAN_ERROR, message: `refused with ${status}` })
  span.end()
}
