#!/usr/bin/env node
// The `caravela` command; dist/ is built by `npm install` (the package's prepare script).
import { run } from '../dist/src/cli/caravela.js'

await run()
