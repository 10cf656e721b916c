// Measures the browser bundle (minified, then gzip level 9) and fails above the budget.
// `node scripts/size.mjs` prints the sizes; packages/client/test/size.test.ts runs it in CI.
import { gzipSync } from 'node:zlib'
import { bundleBrowser } from './bundle.mjs'

/** The budget: 5 kB min+gzip. */
export const LIMIT_BYTES = 5 * 1024

const code = await bundleBrowser()
const minified = Buffer.byteLength(code)
const gzipped = gzipSync(code, { level: 9 }).byteLength
console.log(JSON.stringify({ minified, gzipped, limit: LIMIT_BYTES }))
if (gzipped > LIMIT_BYTES) {
  console.error(`the browser bundle is ${gzipped} bytes min+gzip, over the ${LIMIT_BYTES}-byte budget`)
  process.exit(1)
}
