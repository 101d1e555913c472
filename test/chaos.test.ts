/**
 * A small chaos run (`scripts/chaos-lib.ts`, what `npm run chaos` runs): 6 peer processes, 2
 * SIGKILLed mid-stream (among those running containers) and 1 of them restarted. After the settle
 * time no container may run twice, none may run unknown to its live buyer, every live buyer's view
 * must match what the suppliers run, every lost container must have been seen lost, and every
 * lost container placed with `--restart always` must run again.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runChaos } from '../scripts/chaos-lib.js'

test('chaos: 6 peers, 2 killed mid-stream, 1 restarted: nothing duplicated, nothing orphaned, every view true', async () => {
  const result = await runChaos({ peers: 6, kill: 2, restart: 1, duration: 20, rate: 2, settle: 40, seed: 3 })
  console.log(`chaos: placed ${result.placed}, failed ${result.failed}, lost ${result.lost} (detected p50 ${result.lostDetectedMs.p50} ms, p99 ${result.lostDetectedMs.p99} ms, ${result.lostDetectedMs.undetected} never), rescheduled ${result.rescheduled} (restart always: ${result.always.runningAgain} of ${result.always.lost}), duplicated ${result.duplicated}, orphaned ${result.orphaned}, wrong states ${result.wrongState}`)
  result.examples.forEach(line => { console.log(`  ${line}`) })

  assert.ok(result.placed > 0, 'containers were placed')
  assert.ok(result.lost > 0, 'the kills hit some containers (else the run shows nothing)')
  assert.is(result.duplicated, 0, 'duplicated')
  assert.is(result.orphaned, 0, 'orphaned')
  assert.is(result.wrongState, 0, 'wrong states')
  assert.is(result.lostDetectedMs.undetected, 0, 'every lost container seen lost')
  assert.ok(result.always.lost > 0, 'some lost containers had restart always')
  assert.is(result.always.runningAgain, result.always.lost, 'every lost container with restart always runs again')
  assert.ok((result.lostDetectedMs.p99 ?? 0) <= 30_000, `lost detected within 30 s (p99 ${result.lostDetectedMs.p99} ms)`)
})

test.run()
