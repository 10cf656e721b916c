// Installs dependencies (with the pinned pnpm, fetched through npx when missing) and builds every
// package. Used by `npm run demo` and `npm test`; needs only Node 20 and npm.
import { pnpm } from './_pnpm.mjs'

process.env.TURBO_TELEMETRY_DISABLED = '1'
pnpm(['install', ...(process.env.CI ? ['--frozen-lockfile'] : [])])
pnpm(['run', 'build'])
