// Headless Chromium (Debian's `chromium`, driven by playwright-core) for browser tests, with the
// flags TOOLCHAIN.md lists for running as root on a machine with no outside network. Playwright's
// launch() gives every browser a fresh temporary profile (--user-data-dir) of its own.
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Why browser tests cannot run here, or undefined when they can. With `REQUIRE_BROWSER=1` a
 * missing browser is an error instead of a reason to skip.
 */
export function browserUnavailable(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined
  const reason = `${CHROMIUM_PATH} is missing (scripts/ensure-chromium.mjs installs Debian's chromium; CHROMIUM_PATH overrides the path)`
  if (process.env.REQUIRE_BROWSER === '1') throw new Error(`REQUIRE_BROWSER=1 but ${reason}`)
  return reason
}

/** Launches headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS })
}
