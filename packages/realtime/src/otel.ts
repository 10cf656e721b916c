/**
 * `@loewen-digital/realtime/otel`: the library's metrics and traces through OpenTelemetry.
 * Needs `@opentelemetry/api` (an optional peer dependency) and, to record anything, a
 * `MeterProvider` / `TracerProvider` your app registers (the OpenTelemetry SDK); without them the
 * API's no-op implementations record nothing.
 */
import { metrics, trace } from '@opentelemetry/api'
import type { TelemetryOptions } from '@loewen-digital/realtime-core'

/** Options of {@link otel}. */
export interface OtelOptions {
  /** Instrumentation scope name of the meter and tracer (default `'@loewen-digital/realtime'`). */
  name?: string
  /** Instrumentation scope version (default: none). */
  version?: string
}

/**
 * The `telemetry` option of `createRealtime` from the global OpenTelemetry API:
 * `createRealtime({ telemetry: otel() })`. Providers registered later are picked up (the API's
 * meters and tracers are proxies).
 */
export function otel(options: OtelOptions = {}): TelemetryOptions {
  const name = options.name ?? '@loewen-digital/realtime'
  return { meter: metrics.getMeter(name, options.version), tracer: trace.getTracer(name, options.version) }
}
