// A local Redis Cluster of the benchmark's own: `primaries` primaries, no replicas (nothing fails
// over in a benchmark), each a redis-server child process on a loopback port in a temporary folder
// (`redis-server --cluster-enabled yes`, then `redis-cli --cluster create`; a single primary, which
// `--cluster create` refuses, is given every slot with `CLUSTER ADDSLOTSRANGE`), as
// packages/redis/test/helpers/redis-cluster.ts starts the tests' cluster. `stop()` kills the nodes
// and removes the folder.
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { redisAnswers, redisServerBinary } from '../../scripts/ensure-redis.mjs'
import { redisCommand } from './redis-info.mjs'

const run = promisify(execFile)

function binary(name) {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder && existsSync(join(folder, name))) return join(folder, name)
  }
  return undefined
}

/** Resolves true when nothing answers on `port` (nor on its cluster bus port, `port + 10000`). */
async function portFree(port) {
  return !(await redisAnswers(`redis://127.0.0.1:${port}`, 200)) && !(await redisAnswers(`redis://127.0.0.1:${port + 10000}`, 200))
}

/**
 * Starts the cluster on the first free ports from `firstPort` on (default 7200, at most 100 tried):
 * `{ nodes, stop() }`, where `nodes` are the primaries' URLs, each serving a third of the slots.
 */
export async function startRedisCluster({ primaries = 3, firstPort = 7200 } = {}) {
  const server = redisServerBinary()
  const cli = binary('redis-cli')
  if (!server || !cli) throw new Error(`a Redis Cluster needs redis-server and redis-cli (missing: ${[!server && 'redis-server', !cli && 'redis-cli'].filter(Boolean).join(', ')})`)
  const ports = []
  for (let port = firstPort; ports.length < primaries && port < firstPort + 100; port++) {
    if (await portFree(port)) ports.push(port)
  }
  if (ports.length < primaries) throw new Error(`no ${primaries} free ports from ${firstPort} on`)
  const folder = mkdtempSync(join(tmpdir(), 'realtime-bench-cluster-'))
  const children = []
  const killAll = () => {
    for (const child of children) child.kill('SIGKILL')
  }
  process.once('exit', killAll)
  const nodes = ports.map((port) => `redis://127.0.0.1:${port}`)
  const stop = async () => {
    process.off('exit', killAll)
    await Promise.all(
      children.map((child) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolve) => {
        child.once('exit', resolve)
        child.kill('SIGKILL')
      }))),
    )
    rmSync(folder, { recursive: true, force: true })
  }
  try {
    for (const port of ports) {
      const dir = join(folder, String(port))
      mkdirSync(dir, { recursive: true })
      children.push(spawn(server, ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--cluster-config-file', 'nodes.conf', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log')], { stdio: 'ignore' }))
    }
    for (const node of nodes) {
      const deadline = Date.now() + 15_000
      while (!(await redisAnswers(node, 500))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${node} did not answer within 15 s`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    if (primaries === 1) await redisCommand(nodes[0], ['CLUSTER', 'ADDSLOTSRANGE', '0', '16383'])
    else await run(cli, ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 })
    const deadline = Date.now() + 20_000
    for (;;) {
      const states = await Promise.all(nodes.map((node) => redisCommand(node, ['CLUSTER', 'INFO']).catch(() => '')))
      if (states.every((state) => state.includes('cluster_state:ok') && state.includes('cluster_slots_ok:16384') && state.includes(`cluster_known_nodes:${primaries}`))) break
      if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok within 20 s')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { nodes, stop }
}
