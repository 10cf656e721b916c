// What hostile SSE clients can hold on one runtime's demo server (issue #24, defects 2 and 3).
// Usage (after pnpm build): node bench/sse-bounds.mjs node|bun|deno|workers   (Linux: reads /proc)
// (1) one socket pipelining 12 SSE GETs: connections registered while it is open, and after it closed;
//     a HEAD to the SSE route: connections it registered;
// (2) three rounds of 12 SSE clients that never read, 64 KB broadcasts until every one is cut as a
//     slow consumer, then 4 s: connections left, server sockets ESTABLISHED (the clients stay
//     connected; one more is this script's own keep-alive fetch), the server's RSS in MB.
// Connections are counted from the baseline before (2). On Workers an idle SSE client that left is
// noticed at the next write (docs/runtimes/workers.md; the heartbeat is 30 s here), so the first
// stream of the pipelining socket is still counted 1.5 s after it closed, and leaves later (-1).
import { spawn, execSync } from 'node:child_process'
import { connect } from 'node:net'
import { readFileSync } from 'node:fs'
const runtime = process.argv[2]
const root = new URL('..', import.meta.url).pathname
const fixture = JSON.stringify({ heartbeat: 30000, sseRetry: 100, limitedMaxConnections: 2 })
const commands = {
  node: ['node', ['apps/demo-node/server.js']],
  bun: ['node_modules/.bin/bun', ['apps/demo-bun/server.ts']],
  deno: ['node_modules/.bin/deno', ['run', '--allow-net=127.0.0.1', '--allow-env', '--allow-read', 'apps/demo-deno/server.ts']],
  workers: ['node', ['bench/lib/workerd-demo.mjs']],
}
const [cmd, args] = commands[runtime]
const child = spawn(cmd, args, { cwd: root, env: { ...process.env, PORT: '0', REALTIME_FIXTURE: fixture }, stdio: ['ignore', 'pipe', 'pipe'] })
let out = ''
child.stderr.on('data', (c) => (out += c))
const base = await new Promise((resolve, reject) => { child.stdout.on('data', (c) => { out += c; const m = /https?:\/\/[^\s/]+/.exec(out); if (m) resolve(m[0]) }); setTimeout(() => reject(new Error(out)), 60000) })
const port = Number(new URL(base).port)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const stats = async () => (await (await fetch(base + '/stats')).json()).connections
// The process that serves: the deepest descendant of the spawned one (npm's bin shims and Miniflare spawn children).
const serverPid = () => {
  let pid = child.pid
  for (;;) {
    let children = ''
    try { children = execSync(`pgrep -P ${pid}`).toString().trim() } catch { return pid }
    if (!children) return pid
    pid = Number(children.split('\n')[0])
  }
}
const rss = () => { const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serverPid()}/status`, 'utf8')); return Math.round(Number(m[1]) / 1024) }
const established = () => readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => { const f = l.trim().split(/\s+/); return f[1] && parseInt(f[1].split(':')[1], 16) === port && f[3] === '01' }).length
const open = async (text, paused) => { const s = connect(port, '127.0.0.1'); s.on('error', () => {}); await new Promise((r) => s.once('connect', r)); if (paused) s.pause(); else s.resume(); s.write(text); return s }
const sse = 'GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n'
const result = { runtime }
// (1)
const pipelined = await open(sse.repeat(12), false)
await sleep(1000)
result.pipelined12_open = await stats()
pipelined.destroy()
await sleep(1500)
result.pipelined12_afterClose = await stats()
const head = await open('HEAD /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n', false)
await sleep(800)
result.head_registered = await stats() - result.pipelined12_afterClose
head.destroy()
await sleep(500)
// (2)
const baseline = await stats()
result.rss_before_MB = rss()
result.established_before = established()
const K = 12
const slow = []
const payload = 'x'.repeat(64 * 1024)
result.rounds = []
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < K; i++) slow.push(await open(sse, true))
  await sleep(500)
  let published = 0
  while ((await stats()) > baseline && published < 600) { await fetch(base + '/publish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: 'bulk', data: payload }) }); published++ }
  await sleep(4000)
  result.rounds.push({ published, connections: (await stats()) - baseline, established: established(), rss_MB: rss() })
}
console.log(JSON.stringify(result))
for (const s of slow) s.destroy()
child.kill('SIGTERM'); await sleep(500); if (child.exitCode === null) child.kill('SIGKILL')
process.exit(0)
