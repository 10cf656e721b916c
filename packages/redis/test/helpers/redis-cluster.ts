// A real local Redis Cluster of the test's own: three primaries, each with one replica, on free
// loopback ports, as child processes in a temporary folder (`redis-server --cluster-enabled yes`,
// then `redis-cli --cluster create`). A primary can be killed (its replica is promoted) and
// started again (it rejoins as a replica). Skipped, with the reason, without redis-server/redis-cli.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
// @ts-expect-error plain JavaScript script shared with scripts/test.mjs
import { freePort, redisAnswers, redisServerBinary } from '../../../../scripts/ensure-redis.mjs'

const run = promisify(execFile)

/** Milliseconds without an answer after which the cluster takes a node for failed. */
export const NODE_TIMEOUT_MS = 1000

export interface TestCluster {
  /** Set when no cluster could be started: why. */
  skip?: string
  /** Every node's URL (`redis://127.0.0.1:<port>`), primaries first. */
  nodes: string[]
  /** URLs of the current primaries. */
  primaries(): Promise<string[]>
  /** The URL of the primary that serves `key`'s slot now. */
  primaryOf(key: string): Promise<string>
  /** SIGKILL one node (no shutdown, no save). */
  kill(url: string): Promise<void>
  /** Starts a killed node again (it rejoins, as a replica if it was failed over). */
  restart(url: string): Promise<void>
  /** Resolves once every running node reports `cluster_state:ok`, every slot served and every node known. */
  waitOk(timeout?: number): Promise<void>
  /** A client of one node, one per node (disconnected by `stop`). */
  admin(url: string): Redis
  stop(): Promise<void>
}

function binary(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder && existsSync(join(folder, name))) return join(folder, name)
  }
  return undefined
}

const skipped = (reason: string): TestCluster => {
  const fail = () => Promise.reject(new Error(reason))
  return {
    skip: reason,
    nodes: [],
    primaries: fail,
    primaryOf: fail,
    kill: fail,
    restart: fail,
    waitOk: fail,
    admin: () => {
      throw new Error(reason)
    },
    stop: async () => {},
  }
}

/** Starts a cluster of `primaries` primaries with one replica each. */
export async function testCluster(primaries = 3): Promise<TestCluster> {
  if (process.env.REALTIME_REDIS_SKIP) return skipped(process.env.REALTIME_REDIS_SKIP)
  const server = redisServerBinary() as string | undefined
  const cli = binary('redis-cli')
  if (!server || !cli)
    return skipped(`a Redis Cluster needs redis-server and redis-cli (missing: ${[!server && 'redis-server', !cli && 'redis-cli'].filter(Boolean).join(', ')})`)
  const folder = mkdtempSync(join(tmpdir(), 'realtime-redis-cluster-'))
  const ports: number[] = []
  while (ports.length < primaries * 2) {
    const port = (await freePort()) as number
    if (!ports.includes(port)) ports.push(port)
  }
  const children = new Map<number, ChildProcess>()
  // Should the test process end without `stop()` (killed, crashed), its nodes end with it.
  const killAll = () => {
    for (const child of children.values()) child.kill('SIGKILL')
  }
  process.once('exit', killAll)
  const admins = new Map<string, Redis>()
  const url = (port: number) => `redis://127.0.0.1:${port}`
  const portOf = (node: string) => Number(new URL(node).port)
  const start = async (port: number) => {
    const dir = join(folder, String(port))
    mkdirSync(dir, { recursive: true })
    const child = spawn(
      server,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(NODE_TIMEOUT_MS),
        '--cluster-replica-validity-factor',
        '0',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        join(dir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    )
    children.set(port, child)
    const deadline = Date.now() + 15_000
    while (!(await redisAnswers(url(port), 500))) {
      if (Date.now() > deadline) throw new Error(`cluster node on port ${port} did not answer within 15 s`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const info = async (node: string, section: string[]) => {
    const { stdout } = await run(cli!, ['-p', String(portOf(node)), ...section], { timeout: 5000 })
    return stdout
  }
  const running = () =>
    ports.filter((port) => {
      const child = children.get(port)
      return child && child.exitCode === null && child.signalCode === null
    })
  const cluster: TestCluster = {
    nodes: ports.map(url),
    async primaries() {
      const lines = (await info(url(running()[0]!), ['cluster', 'nodes'])).trim().split('\n')
      return lines
        .filter((line) => / master /.test(line.replace(/,/g, ' ')) && !/fail/.test(line.split(' ')[2]!))
        .map((line) => url(Number(line.split(' ')[1]!.split('@')[0]!.split(':')[1])))
    },
    async primaryOf(key) {
      const slot = Number((await info(url(running()[0]!), ['cluster', 'keyslot', key])).trim())
      const slots = JSON.parse(JSON.stringify(await cluster.admin(url(running()[0]!)).cluster('SLOTS'))) as Array<[number, number, [string, number]]>
      const range = slots.find(([from, to]) => slot >= from && slot <= to)!
      return url(range[2][1])
    },
    async kill(node) {
      const child = children.get(portOf(node))
      if (!child || child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    },
    restart: (node) => start(portOf(node)),
    async waitOk(timeout = 20_000) {
      const deadline = Date.now() + timeout
      for (;;) {
        const states = await Promise.all(running().map((port) => info(url(port), ['cluster', 'info']).catch(() => '')))
        const ok = (state: string) =>
          state.includes('cluster_state:ok') && state.includes('cluster_slots_ok:16384') && state.includes(`cluster_known_nodes:${ports.length}`)
        if (states.every(ok)) return
        if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok within ${timeout} ms`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
    admin(node) {
      let client = admins.get(node)
      if (!client) {
        client = new Redis(node, { maxRetriesPerRequest: 1, retryStrategy: () => 200 })
        // A killed node: the test asks another one.
        client.on('error', () => {})
        admins.set(node, client)
      }
      return client
    },
    async stop() {
      process.off('exit', killAll)
      for (const client of admins.values()) client.disconnect()
      await Promise.all(ports.map((port) => cluster.kill(url(port))))
      rmSync(folder, { recursive: true, force: true })
    },
  }
  try {
    await Promise.all(ports.map(start))
    await run(cli, ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 })
    await cluster.waitOk()
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}
