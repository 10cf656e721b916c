// A redis-server of the test's own, as a child process on a free loopback port, for faults that
// need the process itself: freeze it (SIGSTOP/SIGCONT), kill it and start it again on the same
// port and data folder (a restart from its last snapshot). Never the shared Redis.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
// @ts-expect-error plain JavaScript script shared with scripts/test.mjs
import { freePort, redisAnswers, redisServerBinary } from '../../../../scripts/ensure-redis.mjs'

export interface OwnRedisServer {
  url: string
  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  freeze(): void
  /** SIGCONT. */
  thaw(): void
  /** Writes a snapshot (`SAVE`): what a restart comes back with. */
  save(): Promise<void>
  /** SIGKILL (no shutdown save), then start again on the same port and folder: back to the last snapshot. */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Starts a redis-server with no automatic persistence (`--save ""`): only `save()` writes a snapshot. */
export async function ownRedisServer(): Promise<OwnRedisServer> {
  const binary = redisServerBinary() as string
  const port = (await freePort()) as number
  const folder = mkdtempSync(join(tmpdir(), 'realtime-redis-faults-'))
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess
  const start = async () => {
    child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        folder,
        '--dbfilename',
        'dump.rdb',
        '--logfile',
        join(folder, 'redis.log'),
      ],
      { stdio: 'ignore' },
    )
    const deadline = Date.now() + 15_000
    while (!(await redisAnswers(url, 500))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 15 s`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await exited
  }
  await start()
  return {
    url,
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    async save() {
      const admin = new Redis(url, { maxRetriesPerRequest: 1 })
      try {
        await admin.save()
      } finally {
        admin.disconnect()
      }
    },
    async restart() {
      await kill()
      await start()
    },
    async stop() {
      await kill()
      rmSync(folder, { recursive: true, force: true })
    },
  }
}
