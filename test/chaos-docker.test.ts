/**
 * A small chaos run on the Docker runtime (`scripts/chaos-lib.ts`): 5 peer processes running
 * containers on the machine's engine, 2 SIGKILLed mid-stream (their containers outlive them, as
 * on any machine whose peer dies) and 1 of them restarted, which finds its containers again. After
 * the settle time no container may run twice, none may run unknown to its live buyer or to its
 * supplier, every view must match what the suppliers and their engine run, and every container
 * placed with `--restart always` must run. Every container of the run is removed in the end.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runChaos } from '../scripts/chaos-lib.js'

test('chaos on Docker: 5 peers, 2 killed mid-stream, 1 restarted: nothing duplicated, nothing orphaned, every view true', async () => {
  const result = await runChaos({ peers: 5, kill: 2, restart: 1, runtime: 'docker', duration: 30, rate: 1, settle: 40, seed: 3 })
  console.log(`chaos on Docker: placed ${result.placed}, failed ${result.failed}, lost ${result.lost} (detected p50 ${result.lostDetectedMs.p50} ms, p99 ${result.lostDetectedMs.p99} ms, ${result.lostDetectedMs.undetected} never), rescheduled ${result.rescheduled} (restart always: ${result.always.runningAgain} of ${result.always.lost}), duplicated ${result.duplicated}, orphaned ${result.orphaned}, wrong states ${result.wrongState}`)
  result.examples.forEach(line => { console.log(`  ${line}`) })

  assert.ok(result.placed > 0, 'containers were placed')
  assert.ok(result.lost > 0, 'the kills hit some containers')
  assert.is(result.duplicated, 0, 'duplicated')
  assert.is(result.orphaned, 0, 'orphaned')
  assert.is(result.wrongState, 0, 'wrong states')
  assert.is(result.lostDetectedMs.undetected, 0, 'every container that stopped was seen lost')
  assert.ok(result.always.lost > 0, 'some lost containers had restart always')
  assert.is(result.always.runningAgain, result.always.lost, 'every container with restart always runs')
})

test.run()
