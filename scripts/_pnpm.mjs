// Runs the pinned pnpm: the one on PATH when it is the right version, else through npx
// (which needs only Node and npm). Shared by setup.mjs and test.mjs.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const pinned = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).packageManager.split('@')[1]

function onPath() {
  const result = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' })
  return result.status === 0 && result.stdout.trim() === pinned
}

const command = onPath() ? ['pnpm'] : ['npx', '--yes', `pnpm@${pinned}`]

/** Runs pnpm with `args`, inheriting stdio; exits the process when it fails. */
export function pnpm(args, options = {}) {
  const result = spawnSync(command[0], [...command.slice(1), ...args], { stdio: 'inherit', ...options })
  if (result.status !== 0) {
    console.error(`pnpm ${args.join(' ')} failed (exit ${result.status ?? result.signal})`)
    process.exit(result.status ?? 1)
  }
}
