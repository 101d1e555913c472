#!/usr/bin/env node
/**
 * Makes the headless browser of the dashboard's test available, idempotently
 * (`node scripts/browser-setup.mjs [--check]`): Debian's `chromium`, which the test drives with
 * puppeteer-core. Plain Node ESM with no dependency, run by `npm test` before anything is built.
 *
 * A chromium on the PATH ($CARAVELA_CHROMIUM names another): done. Else, as root on a Debian-like
 * system, `apt-get install -y chromium` (`apt-get update` first when apt knows no candidate).
 * On failure it prints what the user must do and exits 1. `--check` only reports.
 */

import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

const PACKAGE = 'chromium'
const checkOnly = process.argv.includes('--check')

function step (message) {
  console.log(`browser-setup: ${message}`)
}

function fail (message, todo) {
  console.error(`browser-setup: FAILED: ${message}`)
  console.error(`browser-setup: to fix: ${todo}`)
  process.exit(1)
}

/** Absolute path of an executable, or undefined. */
function which (name) {
  if (name.includes('/')) {
    try {
      accessSync(name, constants.X_OK)
      return name
    } catch {
      return undefined
    }
  }

  for (const dir of [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin']) {
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch {}
  }

  return undefined
}

function run (command, args) {
  step(`running: ${command} ${args.join(' ')}`)
  return spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0
}

const wanted = process.env.CARAVELA_CHROMIUM ?? 'chromium'
const found = which(wanted)

if (found != null) {
  step(`${found} is installed`)
  process.exit(0)
}

if (checkOnly) {
  step(`${wanted} is not installed; run \`node scripts/browser-setup.mjs\` as root to install it`)
  process.exit(1)
}

if (process.env.CARAVELA_CHROMIUM != null) {
  fail(`CARAVELA_CHROMIUM=${wanted} is not an executable`, 'point CARAVELA_CHROMIUM to a Chromium or Chrome binary, or unset it to use Debian\'s chromium')
}

if (which('apt-get') == null) {
  fail('chromium is missing and this is not a Debian-like system (no apt-get)', 'install Chromium or Chrome and set CARAVELA_CHROMIUM to its path')
}

if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  fail('chromium is missing', `install it as root: sudo apt-get install -y ${PACKAGE} (or sudo node scripts/browser-setup.mjs)`)
}

step(`${PACKAGE} is not installed: installing it`)
const policy = spawnSync('apt-cache', ['policy', PACKAGE], { encoding: 'utf8' })

if (!/Candidate: (?!\(none\))/.test(policy.stdout ?? '') && !run('apt-get', ['update'])) {
  fail('apt-get update failed', `check the apt sources and the network, then run: apt-get update && apt-get install -y ${PACKAGE}`)
}

if (!run('apt-get', ['install', '-y', '--no-install-recommends', PACKAGE]) || which(PACKAGE) == null) {
  fail(`apt-get install ${PACKAGE} failed`, `run as root: apt-get update && apt-get install -y ${PACKAGE}`)
}

step(`${which(PACKAGE)} installed`)
