// The Bun runtime the tests spawn: the `bun` npm package pinned at the repository root.
import { fileURLToPath } from 'node:url'

export const bunBinary = fileURLToPath(new URL('../../../node_modules/.bin/bun', import.meta.url))
