// apps/demo-workers in workerd, bundled by wrangler and served by Miniflare as the conformance suite does
// (packages/adapter-workers/test/workerd.ts); prints its URL. REALTIME_FIXTURE: the demo's settings;
// REALTIME_DO_STORAGE=kv: a key-value-backed object instead of SQLite-backed (history in memory only).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Miniflare } from 'miniflare'
const root = new URL('../..', import.meta.url).pathname
const demo = join(root, 'apps/demo-workers')
const outdir = mkdtempSync(join(tmpdir(), 'realtime-measure-'))
execFileSync(join(root, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir], { cwd: demo, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' }, stdio: 'ignore' })
const config = JSON.parse(readFileSync(join(demo, 'wrangler.jsonc'), 'utf8').replace(/^\s*\/\/.*$/gm, ''))
const mf = new Miniflare({
  modules: true, scriptPath: join(outdir, 'worker.js'), modulesRoot: outdir,
  compatibilityDate: config.compatibility_date, compatibilityFlags: config.compatibility_flags ?? [],
  host: '127.0.0.1', port: 0, cf: false,
  bindings: { ...config.vars, REALTIME_FIXTURE: process.env.REALTIME_FIXTURE },
  durableObjects: { REALTIME: { className: 'RealtimeDurableObject', useSQLite: process.env.REALTIME_DO_STORAGE !== 'kv' } },
})
const url = await mf.ready
console.log(url.origin)
process.on('SIGTERM', () => mf.dispose().then(() => process.exit(0)))
