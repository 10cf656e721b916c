// Makes Debian's chromium available for the browser tests (packages/client/test/browser.test.ts),
// idempotently: nothing to do when it is installed; else `apt-get install -y chromium` when
// apt-get exists and we are root. When it cannot be installed, says why: the browser tests are
// then skipped with that reason printed (or fail, with REQUIRE_BROWSER=1). Called by scripts/test.mjs.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

function install() {
  if (!existsSync('/usr/bin/apt-get')) return 'apt-get is not available on this machine'
  if (process.getuid?.() !== 0) return 'installing needs root (run: apt-get install -y chromium)'
  const environment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const apt = (...args) => spawnSync('apt-get', args, { stdio: 'inherit', env: environment }).status === 0
  console.log(`[ensure-chromium] ${chromium} is missing: installing Debian's chromium for the browser tests`)
  // A fresh machine may have no package lists yet: update once when the first try fails.
  if (!apt('install', '-y', '-q', 'chromium') && !(apt('update', '-q') && apt('install', '-y', '-q', 'chromium'))) {
    return 'apt-get install -y chromium failed'
  }
  return existsSync(chromium) ? undefined : `apt-get installed chromium but ${chromium} is still missing`
}

if (!existsSync(chromium)) {
  const reason = install()
  if (reason) console.warn(`[ensure-chromium] no chromium: ${reason}. The browser tests will be skipped.`)
}
