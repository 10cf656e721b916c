/**
 * The `bun` condition and the `./bun` subpath: everything from `@loewen-digital/realtime-bun`,
 * including `websocket` and `withServer` for plugging into an existing `Bun.serve` call.
 */
export * from '@loewen-digital/realtime-bun'
