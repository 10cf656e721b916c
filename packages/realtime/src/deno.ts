/** The `deno` condition and the `./deno` subpath: everything from `@loewen-digital/realtime-deno`. */
export * from '@loewen-digital/realtime-deno'
