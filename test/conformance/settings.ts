/** Settings every runtime's fixture server is started with for the conformance suite. */
export const FIXTURE_SETTINGS = {
  heartbeat: 300,
  maxMessageBytes: 1024,
  limitedMaxConnections: 2,
} as const
