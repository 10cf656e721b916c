// Runs apps/demo-workers in real workerd: wrangler bundles it (so the facade resolves through the
// `workerd` export condition, as it does for users), Miniflare serves the bundle with the
// Durable Object binding and migration of apps/demo-workers/wrangler.jsonc.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Miniflare } from 'miniflare'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const demo = join(root, 'apps/demo-workers')

interface WranglerConfig {
  compatibility_date: string
  compatibility_flags?: string[]
  vars?: Record<string, string>
  durable_objects: { bindings: Array<{ name: string; class_name: string }> }
  migrations: Array<{ new_sqlite_classes?: string[] }>
}

/** apps/demo-workers/wrangler.jsonc, comments removed. */
export function wranglerConfig(): WranglerConfig {
  const text = readFileSync(join(demo, 'wrangler.jsonc'), 'utf8').replace(/^\s*\/\/.*$/gm, '')
  return JSON.parse(text) as WranglerConfig
}

/** Bundles apps/demo-workers with wrangler (no deploy) into a fresh folder; returns it. */
export async function bundleDemo(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'realtime-workers-'))
  await promisify(execFile)(join(root, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: demo,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  })
  return outdir
}

/**
 * Serves the bundled demo in workerd on a free loopback port. `persist`: a folder for the Durable
 * Objects' storage, so a second server started on it (a restart) finds what the first stored;
 * `sqlite: false`: key-value-backed objects, as a `new_classes` migration declares them;
 * `capture`: keep the runtime's output (`output()`).
 */
export async function startWorkerd(
  bindings: Record<string, string> = {},
  { persist, sqlite: useSqlite = true, capture = false }: { persist?: string; sqlite?: boolean; capture?: boolean } = {},
): Promise<{ url: string; miniflare: Miniflare; output(): string; close(): Promise<void> }> {
  const outdir = await bundleDemo()
  const config = wranglerConfig()
  const sqlite = new Set(config.migrations.flatMap((migration) => migration.new_sqlite_classes ?? []))
  let output = ''
  const miniflare = new Miniflare({
    modules: true,
    scriptPath: join(outdir, 'worker.js'),
    modulesRoot: outdir,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    host: '127.0.0.1',
    port: 0,
    cf: false,
    bindings: { ...config.vars, ...bindings },
    ...(persist === undefined ? {} : { durableObjectsPersist: persist }),
    // With `capture`, what the Worker and the object log (console.*) is kept for the test, and still shown.
    ...(capture
      ? {
          handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
            stdout.on('data', (chunk: Buffer) => {
              output += chunk.toString()
              process.stdout.write(chunk)
            })
            stderr.on('data', (chunk: Buffer) => {
              output += chunk.toString()
              process.stderr.write(chunk)
            })
          },
        }
      : {}),
    durableObjects: Object.fromEntries(
      config.durable_objects.bindings.map((binding) => [
        binding.name,
        { className: binding.class_name, useSQLite: useSqlite && sqlite.has(binding.class_name) },
      ]),
    ),
  })
  const url = await miniflare.ready
  return {
    url: url.origin,
    miniflare,
    output: () => output,
    close: async () => {
      await miniflare.dispose()
      rmSync(outdir, { recursive: true, force: true })
    },
  }
}
