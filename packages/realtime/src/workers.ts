/**
 * The `workerd` / `worker` conditions and the `./workers` subpath: everything from
 * `@loewen-digital/realtime-workers` (createRealtime, withRealtime, RealtimeDurableObject).
 */
export * from '@loewen-digital/realtime-workers'
