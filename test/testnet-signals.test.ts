/**
 * A testnet's peers never outlive the process that started them: however it ends (SIGTERM from
 * the test runner at a timeout, Ctrl-C, even SIGKILL) without calling stop(), its peers go too.
 */

import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'

const HOLDER = 'dist/test/fixtures/testnet-holder.js'
/** Time the holder has to start its testnet. */
const START_TIMEOUT = 30_000
/** Time the peers have to go once their holder is gone. */
const GONE_TIMEOUT = 5_000

const Signals = suite<{ dir: string }>('testnet: signals', { dir: '' })

Signals.before(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-testnet-signals-'))
})

Signals.after(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true })
})

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  Signals(`${signal} to the process running a testnet ends its peers`, async (ctx) => {
    const holder = spawn(process.execPath, [HOLDER, join(ctx.dir, signal)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<NodeJS.Signals | null>(resolve => { holder.once('exit', (_code, signal) => { resolve(signal) }) })
    let stdout = ''
    let stderr = ''
    holder.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    holder.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    let pids: number[] = []

    try {
      const line = await waitFor(() => {
        if (holder.exitCode != null) {
          throw new Error(`the holder exited with ${holder.exitCode}: ${stderr}`)
        }
        return stdout.split('\n').find(line => line.startsWith('['))
      }, { timeout: START_TIMEOUT, message: () => `the peers' pids (stderr: ${stderr})` })
      pids = JSON.parse(line)
      assert.is(pids.length, 2)
      assert.ok(pids.every(isAlive), 'the peers run')

      holder.kill(signal)
      assert.is(await exited, signal, 'the holder died of the signal')
      await waitFor(() => !pids.some(isAlive), { timeout: GONE_TIMEOUT, message: () => `the peers ${pids.filter(isAlive).join(', ')} to exit` })
    } finally {
      holder.kill('SIGKILL')
      pids.filter(isAlive).forEach(pid => { process.kill(pid, 'SIGKILL') })
    }
  })
}

Signals.run()
