// How the tests run Deno: the real executable of the `deno` npm package (2.9.6), with exactly the
// permissions docs/runtimes/deno.md documents for the demo.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * The Deno executable. Not `node_modules/.bin/deno`: that shim runs the executable under a Node
 * wrapper (`bin.cjs`), and the SIGTERM that stops a fixture would stop only the wrapper.
 */
export const DENO: string = createRequire(import.meta.url)('deno/install_api.cjs').runInstall()

/** The repository root; Deno runs there so `apps/demo-deno` resolves its packages from node_modules. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Every permission the demo asks for: listen (net) and read its two settings (env). */
export const DEMO_PERMISSIONS = ['--allow-net=127.0.0.1', '--allow-env=PORT,REALTIME_FIXTURE']

/** Runs `deno args` to completion in the repository root. */
export function runDeno(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(DENO, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}
