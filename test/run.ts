/**
 * The test runner behind `npm test` (`node dist/test/run.js [filter]`).
 *
 * Runs every `dist/test/**\/*.test.js` whose path contains `filter`, sorted, one at a time, each
 * in its own Node process (the one running this file), with a time limit per file
 * (`CARAVELA_TEST_TIMEOUT` in seconds, default 300). It streams each file's output, reads uvu's
 * closing `Total` / `Passed` / `Skipped` lines, and counts a file that crashed or timed out
 * without them as one failure. Its last line is `N passed, N failed` (`, N skipped` when any
 * were); the exit code is 1 when anything failed or no test ran.
 */

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Default time limit of one test file. */
const DEFAULT_FILE_TIMEOUT_SECONDS = 300
/** Time a timed-out file gets between SIGTERM and SIGKILL. */
const KILL_GRACE = 5_000

interface FileResult {
  file: string
  passed: number
  failed: number
  skipped: number
  durationMs: number
  /** why the file counts as failed beyond its assertions */
  problem?: string
}

const testDir = dirname(fileURLToPath(import.meta.url))
const rootDir = join(testDir, '..', '..')
const filter = process.argv[2] ?? ''
const timeoutSeconds = Number(process.env.CARAVELA_TEST_TIMEOUT ?? DEFAULT_FILE_TIMEOUT_SECONDS)

if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
  console.error(`CARAVELA_TEST_TIMEOUT must be a positive number of seconds, got "${process.env.CARAVELA_TEST_TIMEOUT}"`)
  process.exit(2)
}

const files = (await findTestFiles(testDir)).filter(file => relative(testDir, file).includes(filter)).sort()
const results: FileResult[] = []

if (files.length === 0) {
  console.log(`no test file matches "${filter}" in ${relative(rootDir, testDir)}`)
}

for (const file of files) {
  console.log(`\n▶ ${relative(rootDir, file)}`)
  results.push(await runFile(file))
}

const total = results.reduce((sum, r) => ({
  passed: sum.passed + r.passed,
  failed: sum.failed + r.failed,
  skipped: sum.skipped + r.skipped
}), { passed: 0, failed: 0, skipped: 0 })

if (results.length > 0) {
  console.log('\nTest files:')
}

for (const r of results) {
  const verdict = r.failed > 0 ? 'FAIL' : 'ok  '
  console.log(`  ${verdict} ${relative(rootDir, r.file)}  ${formatCounts(r)}  (${(r.durationMs / 1000).toFixed(1)} s)${r.problem == null ? '' : `  ${r.problem}`}`)
}

if (total.passed + total.failed === 0) {
  console.log('no test ran')
}

console.log(formatCounts(total))
process.exitCode = total.failed > 0 || total.passed === 0 ? 1 : 0

/** `N passed, N failed`, plus `, N skipped` when any were */
function formatCounts (counts: { passed: number, failed: number, skipped: number }): string {
  return `${counts.passed} passed, ${counts.failed} failed${counts.skipped > 0 ? `, ${counts.skipped} skipped` : ''}`
}

/** Compiled test files whose source still exists (tsc leaves the output of deleted sources). */
async function findTestFiles (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries
    .filter(entry => entry.isFile() && entry.name.endsWith('.test.js'))
    .map(entry => join(entry.parentPath, entry.name))
    .filter(file => existsSync(join(rootDir, relative(join(rootDir, 'dist'), file)).replace(/\.js$/, '.ts')))
}

/** Runs one file in its own process group, so that a timeout also ends the processes it started. */
async function runFile (file: string): Promise<FileResult> {
  const started = Date.now()
  const child = spawn(process.execPath, [file], {
    cwd: rootDir,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let output = ''
  let timedOut = false

  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
    process.stdout.write(chunk)
  })
  child.stderr.on('data', (chunk: Buffer) => { process.stderr.write(chunk) })

  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid ?? 0), signal)
    } catch {
      // the group is gone already
    }
  }
  const onInterrupt = (): void => {
    killGroup('SIGKILL')
    process.exit(130)
  }
  process.once('SIGINT', onInterrupt)
  process.once('SIGTERM', onInterrupt)

  const timer = setTimeout(() => {
    timedOut = true
    killGroup('SIGTERM')
    setTimeout(() => { killGroup('SIGKILL') }, KILL_GRACE).unref()
  }, timeoutSeconds * 1000)

  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => {
    child.on('close', (code, signal) => { resolve([code, signal]) })
  })
  clearTimeout(timer)
  process.off('SIGINT', onInterrupt)
  process.off('SIGTERM', onInterrupt)
  // whatever the file left running (a daemon it failed to stop) goes with it
  killGroup('SIGKILL')

  const summary = parseSummary(output)
  const result: FileResult = {
    file,
    passed: summary?.passed ?? 0,
    failed: summary == null ? 0 : summary.total - summary.passed,
    skipped: summary?.skipped ?? 0,
    durationMs: Date.now() - started
  }

  if (timedOut) {
    result.problem = `timed out after ${timeoutSeconds} s`
  } else if (summary == null) {
    result.problem = `ended without a test summary (exit code ${code ?? signal})`
  } else if (code !== 0) {
    result.problem = `exit code ${code ?? signal}`
  }

  if (result.problem != null) {
    result.failed = Math.max(result.failed, 1)
  }

  return result
}

/** uvu's closing lines, `Total: N`, `Passed: N`, `Skipped: N`, colours stripped. */
function parseSummary (output: string): { total: number, passed: number, skipped: number } | undefined {
  // eslint-disable-next-line no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, '')
  const read = (label: string): number | undefined => {
    const matches = [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, 'gm'))]
    const last = matches.at(-1)
    return last == null ? undefined : Number(last[1])
  }
  const total = read('Total')
  const passed = read('Passed')

  if (total == null || passed == null) {
    return undefined
  }

  return { total, passed, skipped: read('Skipped') ?? 0 }
}
