#!/usr/bin/env node
/**
 * Installs the project's dependencies (`npm ci`) when they are not installed yet, so that
 * `npm start` and `npm test` work on a fresh clone (`node scripts/install-once.mjs`). Plain Node
 * ESM with no dependency: it runs on the system Node, before Node 22 is installed with the rest.
 *
 * "Installed" means npm's own record of an install, `node_modules/.package-lock.json`, exists.
 */

import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.info('caravela: installing dependencies (npm ci), once')

  try {
    execFileSync('npm', ['ci'], { cwd: root, stdio: 'inherit' })
  } catch {
    console.error('caravela: `npm ci` failed (see above); fix that, then run the command again')
    process.exit(1)
  }
}
