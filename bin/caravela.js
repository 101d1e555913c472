#!/usr/bin/env node
// The `caravela` command; dist/ is built by `npm install` (the package's prepare script).
// CommonJS (bin/package.json): Node starts a CommonJS entry some 5 ms sooner than an ES module,
// whose loader it would set up for this one file.
'use strict'

const { enableCompileCache } = require('node:module')
const { statSync } = require('node:fs')
const { join } = require('node:path')

// cache compiled code between runs: a command starts in about half the time (Node ≥ 22.1)
enableCompileCache?.()

const dist = join(__dirname, '..', 'dist')
const bundle = join(dist, 'src', 'cli', 'caravela.cjs')
const mtime = file => statSync(file, { throwIfNoEntry: false })?.mtimeMs

// the command bundled in one file (scripts/bundle-cli.mjs) starts sooner; the ES modules it is
// made of, when it is missing or older than the last compilation (`tsc -b` run alone)
const bundled = mtime(bundle) != null && mtime(bundle) >= (mtime(join(dist, 'tsconfig.tsbuildinfo')) ?? 0)
const command = bundled ? Promise.resolve(require(bundle)) : import('../dist/src/cli/caravela.js')

command.then(async ({ run }) => { await run() })
