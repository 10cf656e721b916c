/**
 * `@loewen-digital/fullstack/realtime`: the import path of the realtime module documentation.
 * Resolves to the facade `@loewen-digital/realtime`, which picks the adapter of the runtime.
 */
export * from '@loewen-digital/realtime'
