// Starts a fixture server in a child process (Bun, Deno, workerd, another Node) and waits for the
// line that says where it listens: the first `http://…` URL it prints.
import { spawn, type ChildProcess } from 'node:child_process'

/**
 * Servers still running: killed when this test process exits, so a test that gave up before it
 * could close its server (a timeout while the server was still starting) leaves no process behind.
 */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

export interface SpawnedServer {
  url: string
  /** Everything the process printed so far. */
  output(): string
  /** The child's process id (to kill it without a clean shutdown). */
  pid: number
  close(): Promise<void>
}

/**
 * Spawns `command args` with `env` added to this process's environment; resolves once it prints a
 * URL. Rejects (with its output) if it exits first or prints nothing within `timeout` ms.
 */
export function spawnServer(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeout?: number } = {},
): Promise<SpawnedServer> {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  running.add(child)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child)
      resolve()
    }),
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} printed no URL within ${options.timeout ?? 30_000} ms:\n${output}`))
    }, options.timeout ?? 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /https?:\/\/[^\s/]+/.exec(output)
      if (match) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        child.stdout.on('data', (more: Buffer) => (output += more.toString()))
        resolve({
          url: match[0],
          output: () => output,
          pid: child.pid!,
          close: async () => {
            if (child.exitCode === null) child.kill('SIGTERM')
            await Promise.race([exited, new Promise((done) => setTimeout(done, 3000))])
            if (child.exitCode === null) child.kill('SIGKILL')
          },
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited with ${code} before listening:\n${output}`))
    })
  })
}
