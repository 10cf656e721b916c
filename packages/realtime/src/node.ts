/** The `node` condition and the `./node` subpath: everything from `@loewen-digital/realtime-node`. */
export * from '@loewen-digital/realtime-node'
