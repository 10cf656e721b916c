// A Redis for the tests: the one at REDIS_URL (default redis://127.0.0.1:6379) when it answers,
// else a redis-server started here on a free port (no persistence, loopback only), stopped by
// `stop()`. Used by scripts/test.mjs (which exports REDIS_URL for the whole vitest run) and by the
// Redis tests themselves when run alone. When no redis-server exists, test.mjs has it install
// Debian's (root with apt-get only). Run directly, it prints the URL of a Redis that answers.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

/** Resolves true when a Redis at `url` answers PING within `timeout` ms. */
export function redisAnswers(url, timeout = 1000) {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname || '127.0.0.1', port: Number(port || 6379) })
    let reply = ''
    const done = (answer) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => done(false), timeout)
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString()
      // +PONG, or -NOAUTH when a password is needed: either way a Redis answers.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'))
    })
    socket.on('error', () => done(false))
  })
}

/** The path of the redis-server binary, or undefined when none is installed. */
export function redisServerBinary() {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(folder, 'redis-server')
    if (folder && existsSync(candidate)) return candidate
  }
  return undefined
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts a daemonized redis-server on `port` (default: a free one): `{ url, stop() }`. No
 * persistence, so a restart loses everything (as the fault tests want).
 */
export async function startRedisServer(binary = redisServerBinary(), port = undefined) {
  if (!binary) throw new Error('redis-server is not installed (apt-get install -y redis-server)')
  port ??= await freePort()
  const folder = mkdtempSync(join(tmpdir(), 'realtime-redis-'))
  const pidfile = join(folder, 'redis.pid')
  execFileSync(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidfile, '--dir', folder, '--logfile', join(folder, 'redis.log')])
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  while (!(await redisAnswers(url, 500))) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    async stop() {
      try {
        process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGTERM')
      } catch {}
      const until = Date.now() + 5000
      while (Date.now() < until && (await redisAnswers(url, 200))) await new Promise((resolve) => setTimeout(resolve, 50))
      rmSync(folder, { recursive: true, force: true })
    },
  }
}

/**
 * Installs Debian's redis-server (`apt-get install -y redis-server`) when apt-get exists and we are
 * root. Returns why it could not, or undefined.
 */
function installRedisServer() {
  if (!existsSync('/usr/bin/apt-get')) return 'apt-get is not available on this machine'
  if (process.getuid?.() !== 0) return 'installing needs root (run: apt-get install -y redis-server)'
  const environment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const apt = (...args) => spawnSync('apt-get', args, { stdio: 'inherit', env: environment }).status === 0
  console.log('[ensure-redis] no redis-server: installing Debian\'s redis-server for the Redis tests')
  // A fresh machine may have no package lists yet: update once when the first try fails.
  if (!apt('install', '-y', '-q', 'redis-server') && !(apt('update', '-q') && apt('install', '-y', '-q', 'redis-server'))) {
    return 'apt-get install -y redis-server failed'
  }
  return redisServerBinary() ? undefined : 'apt-get installed redis-server but it is not on PATH'
}

/**
 * A Redis that answers: `{ url, stop }` (stop is a no-op for one that was already running), or
 * `{ skip: reason }` when none answers and no redis-server binary exists (with `install`, after
 * trying to install Debian's).
 */
export async function ensureRedis(url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL, { install = false } = {}) {
  if (await redisAnswers(url)) return { url, started: false, stop: async () => {} }
  let binary = redisServerBinary()
  if (!binary && install) {
    const reason = installRedisServer()
    if (reason) return { skip: `no Redis answers at ${url} and no redis-server binary is installed (${reason})` }
    binary = redisServerBinary()
    // The package may have started one on the default port.
    if (await redisAnswers(url)) return { url, started: false, stop: async () => {} }
  }
  if (!binary) return { skip: `no Redis answers at ${url} and no redis-server binary is installed` }
  const server = await startRedisServer(binary)
  return { url: server.url, started: true, stop: server.stop }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const redis = await ensureRedis()
  if (redis.skip) console.log(`skip: ${redis.skip}`)
  else console.log(redis.url + (redis.started ? ' (started here; stop it with redis-cli -u ' + redis.url + ' shutdown nosave)' : ''))
}
