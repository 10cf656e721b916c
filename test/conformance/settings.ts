/** Settings every runtime's fixture server is started with for the conformance suite. */
export const FIXTURE_SETTINGS = {
  heartbeat: 300,
  maxMessageBytes: 1024,
  limitedMaxConnections: 2,
  maxConnectionsPerUser: 4,
  /** Small enough to reach in a test, large enough that long names meet the cursor-map bound first. */
  maxChannelsPerConnection: 30,
  rateLimit: { messages: 40, interval: 1000 },
  /** Short reconnect delay so resume tests do not wait the default 2 s. */
  sseRetry: 100,
  /** A small history window, so the window can be exceeded in a test. */
  history: { size: 50, ttl: 60_000 },
  /** An origin allowed cross-origin (SSE CORS, WebSocket), besides same-origin pages. */
  crossOrigins: ['http://app.test'],
} as const
