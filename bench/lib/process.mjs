// Starting a benchmark process (a server or the load generator), optionally pinned to one core with
// `taskset`, and talking to it in JSON lines over stdin/stdout (see bench/README.md).
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'

/** True when `taskset` works here (Linux with util-linux). */
export function canPin() {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0
}

/**
 * Starts `command` (an argv array), pinned to `core` when given. The handle's `call(cmd, args)`
 * resolves with the first reply to that command; after `expect`, `final` holds the second.
 */
export function start(command, { core, cwd, env = {} } = {}) {
  const [file, ...args] = core !== undefined ? ['taskset', '-c', String(core), ...command] : command
  const child = spawn(file, args, { cwd, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  const waiting = new Map()
  let nextId = 1
  let readyResolve
  let finalResolve
  const handle = {
    ready: new Promise((resolve) => (readyResolve = resolve)),
    call(cmd, args = {}) {
      const id = nextId++
      if (cmd === 'expect') handle.final = new Promise((resolve) => (finalResolve = resolve))
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        child.stdin.write(JSON.stringify({ id, cmd, ...args }) + '\n')
      })
    },
    final: undefined,
    kill: () => child.kill('SIGKILL'),
    pid: child.pid,
    /** Closes the process's stdin: a server-control process exits by itself. */
    end: () => child.stdin.end(),
  }
  createInterface({ input: child.stdout }).on('line', (line) => {
    let message
    try {
      message = JSON.parse(line)
    } catch {
      console.error(`[${command.at(-1)}] ${line}`)
      return
    }
    if (message.ready) return readyResolve(message)
    if (message.final) return finalResolve(message)
    const pending = waiting.get(message.id)
    if (!pending) return
    waiting.delete(message.id)
    if (message.error) pending.reject(new Error(message.error))
    else pending.resolve(message)
  })
  child.on('exit', (code) => {
    for (const pending of waiting.values()) pending.reject(new Error(`${command.at(-1)} exited with ${code}`))
    waiting.clear()
  })
  return handle
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` every 50 ms until it is true; rejects after `timeout` ms naming `what`. */
export async function waitFor(check, timeout, what) {
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** `--key value`, `--key=value` and bare `--flag` (true) from a command line, by key. */
export function parseArguments(argv) {
  const parsed = {}
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]
    if (!word.startsWith('--')) continue
    // Split at the first '=' only: a value may hold more (`--node-flags=--interrupt-budget=8192`).
    const equals = word.indexOf('=')
    const key = equals === -1 ? word.slice(2) : word.slice(2, equals)
    if (equals !== -1) parsed[key] = word.slice(equals + 1)
    else if (argv[index + 1] !== undefined && !argv[index + 1].startsWith('--')) parsed[key] = argv[++index]
    else parsed[key] = true
  }
  return parsed
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}
