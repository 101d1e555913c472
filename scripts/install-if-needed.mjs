#!/usr/bin/env node
/**
 * Installs the project's dependencies (`npm ci`) when the installed ones are not those of
 * `package-lock.json`, so that `npm start` and `npm test` work on a fresh clone and after a pull
 * that changed the dependencies (`node scripts/install-if-needed.mjs`). Plain Node ESM with no
 * dependency: it runs on the system Node, before Node 22 is installed with the rest.
 *
 * The install is npm's own record of it, `node_modules/.package-lock.json`. It is stale when a
 * package the lock requires is missing from it or there at another version; optional packages
 * (other platforms' binaries) are not required.
 */

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The `packages` of a lockfile, or undefined when there is none. */
function packagesOf (file) {
  try {
    return JSON.parse(readFileSync(join(root, file), 'utf8')).packages
  } catch {
    return undefined
  }
}

/** Why the installed dependencies are not those of the lock, or undefined when they are. */
function staleness () {
  const wanted = packagesOf('package-lock.json') ?? {}
  const installed = packagesOf('node_modules/.package-lock.json')

  if (installed == null) {
    return 'not installed yet'
  }

  for (const [path, entry] of Object.entries(wanted)) {
    if (path !== '' && entry.optional !== true && installed[path]?.version !== entry.version) {
      return `${path.replace(/^.*node_modules\//, '')} ${entry.version} is not installed`
    }
  }

  return undefined
}

const reason = staleness()

if (reason != null) {
  console.info(`caravela: installing dependencies (npm ci): ${reason}`)

  try {
    execFileSync('npm', ['ci'], { cwd: root, stdio: 'inherit' })
  } catch {
    console.error('caravela: `npm ci` failed (see above); fix that, then run the command again')
    process.exit(1)
  }
}
