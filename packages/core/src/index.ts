export { createRealtime } from './create-realtime.js'
export { Realtime, hubOf } from './realtime.js'
export type { ChannelHandle, CloseOptions, PublishOptions, RealtimeStats, RefusalReason, SseOptions, UpgradeOptions } from './realtime.js'
export type { DeadlineScheduler, Platform, UpgradeContext } from './platform.js'
export type { Hub } from './hub/hub.js'
export type {
  CounterLike,
  HistogramLike,
  InstrumentOptions,
  MessageKind,
  MeterLike,
  MetricAttributes,
  MetricCounters,
  ObservableLike,
  RejectionReason,
  SpanLike,
  TelemetryOptions,
  TracerLike,
} from './hub/metrics.js'
export type { ChannelConfig, EventSchemas, Identify, Identity, PresenceChange, PresenceMember, RealtimeOptions } from './options.js'
export { Connection } from './connection.js'
export type { ConnectionHandlers, ConnectionOwner, Transport } from './connection.js'
export { SseConnection, SSE_HEADERS, heartbeatEvent } from './sse-connection.js'
export { memoryBroker } from './memory-broker.js'
export type { HistoryOptions, MemoryBrokerOptions } from './memory-broker.js'
export type { Broker, BrokerListener, BrokerMessage, ExpiredPresence, HistoryResult, PresenceEntry, PresenceStore, RestoredPresence } from './broker.js'
export { BROADCAST_STREAM, USER_STREAM, cursorKey, formatCursor, formatCursorMap, parseCursor, parseCursorMap, streamName } from './cursor.js'
export type { Cursor } from './cursor.js'
export { CursorMap } from './cursor-map.js'
export { RealtimeError } from './errors.js'
export type { RealtimeErrorCode } from './errors.js'
export { Outbound, toOutbound } from './message.js'
export type { AnyClientEvents, ClientEventData, ClientEventMap, ClientEventResult, EventMap, RealtimeMessage } from './message.js'
export type { StandardSchemaV1 } from './standard-schema.js'
export { encodeSseComment, encodeSseData, encodeSseEvent } from './sse-encoder.js'
export type { SseFields } from './sse-encoder.js'
export { CLIENT_CONTROL, MAX_REQUEST_ID_LENGTH, SERVER_CONTROL, isReservedEvent, isValidChannelName, parseControlFrame } from './protocol.js'
export { assertChannelName, assertUserId, patternBroadcastError } from './validate.js'
export type { ControlFrame } from './protocol.js'
export * as limits from './constants.js'
export { CLOSE_CODES, PROTOCOL_VERSION, RESERVED_PREFIX } from './constants.js'
export type { FetchHandler, ServeOptions, ServedServer } from './serve.js'
