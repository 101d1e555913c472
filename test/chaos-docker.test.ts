/**
 * A small chaos run on the Docker runtime (`scripts/chaos-lib.ts`): 5 peer processes running
 * containers on the machine's engine, 2 SIGKILLed mid-stream (their containers outlive them, as
 * on any machine whose peer dies) and 1 of them restarted, which finds its containers again. After
 * the settle time no container may run twice, none may run unknown to its live buyer or to its
 * supplier, every view must match what the suppliers and their engine run, and every container
 * placed with `--restart always` must run. Every container of the run is removed in the end.
 */

import { test } from 'uvu'
import { runChaos } from '../scripts/chaos-lib.js'
import { assertChaosHeld } from './fixtures/chaos.js'

test('chaos on Docker: 5 peers, 2 killed mid-stream, 1 restarted: nothing duplicated, nothing orphaned, every view true', async () => {
  const result = await runChaos({ peers: 5, kill: 2, restart: 1, runtime: 'docker', duration: 30, rate: 1, settle: 40, seed: 3 })
  assertChaosHeld('chaos on Docker', result)
})

test.run()
