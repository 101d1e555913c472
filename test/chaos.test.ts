/**
 * A small chaos run (`scripts/chaos-lib.ts`, what `npm run chaos` runs): 6 peer processes, 2
 * SIGKILLed mid-stream (among those running containers) and 1 of them restarted. After the settle
 * time no container may run twice, none may run unknown to its live buyer, every live buyer's view
 * must match what the suppliers run, every lost container must have been seen lost, and every
 * lost container placed with `--restart always` must run again.
 */

import { test } from 'uvu'
import { runChaos } from '../scripts/chaos-lib.js'
import { assertChaosHeld } from './fixtures/chaos.js'

test('chaos: 6 peers, 2 killed mid-stream, 1 restarted: nothing duplicated, nothing orphaned, every view true', async () => {
  const result = await runChaos({ peers: 6, kill: 2, restart: 1, duration: 20, rate: 2, settle: 40, seed: 3 })
  assertChaosHeld('chaos', result)
})

test.run()
