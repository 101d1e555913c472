/**
 * Churn in the simulator: the `[churn]` table of a scenario, the number of peers live tick by
 * tick, containers lost with crashed suppliers counted exactly, runs reproducible for a seed, and
 * the command line's churn outputs.
 */

import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidConfigurationError } from '../src/errors.js'
import { loadScenario } from '../src/sim/scenario.js'
import { simulate } from '../src/sim/simulator.js'
import { churnSchedule } from '../src/sim/workload.js'
import type { Scenario } from '../src/sim/scenario.js'
import type { SimulationResult } from '../src/sim/simulator.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const SCENARIOS = join(ROOT, 'scenarios')
const STEADY = join(SCENARIOS, 'simulation_steadyAt30Perc.toml')
const STEADY_CHURN = join(SCENARIOS, 'simulation_steadyAt30Perc_churn.toml')
const SIM_CLI = join(ROOT, 'dist', 'src', 'cli', 'sim.js')

/** A small scenario: `nodes` peers of 16 cores and 64 GB, deploys of one 1-core container, and this churn table. */
function smallScenario (nodes: number, ticks: number, deployRates: string, churn: string): string {
  return `nodes = ${nodes}
ticks = ${ticks}
backends = ["multi-offer-updates"]
caravela = "${join(SCENARIOS, 'caravela-sim.toml')}"
seed = 5

[resources]
generator = "static"
static = { cpuClass = 0, cpus = 16, memory = 64000 }

[requests]
deployRates = ${deployRates}
stopRates = [0]
profiles = [{ cpuClass = 0, cpus = 1, memory = 100, percentage = 100 }]

[churn]
${churn}
`
}

async function withScenario<T> (text: string, use: (scenario: Scenario) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-sim-churn-'))

  try {
    const path = join(dir, 'scenario.toml')
    await writeFile(path, text)
    return await use(await loadScenario(path))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** What must be equal between two runs of one seed: everything but wall time and memory. */
function outcome (result: SimulationResult): unknown {
  const { wallTimeMs, startUpMs, peakRssBytes, ...rest } = result
  return rest
}

const Scenarios = suite('sim churn: scenario')

Scenarios('the steady scenario with churn loads: 1 % of the live peers crash and as many join each tick', async () => {
  const scenario = await loadScenario(STEADY_CHURN)

  assert.equal(scenario.churn, { fromTick: 0, join: { rate: 0.01 }, leave: { rate: 0 }, crash: { rate: 0.01 } })
  assert.is(scenario.nodes, 10_000)
  assert.is((await loadScenario(STEADY)).churn, undefined, 'no [churn], no churn')
})

Scenarios('bad churn values are refused, naming the key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-sim-churn-'))

  try {
    const base = (await readFile(STEADY, 'utf8')).replace('caravela = "', `caravela = "${SCENARIOS}/`)
    const cases: Array<[string, string]> = [
      ['[churn]\ncrashRate = 1.5', 'churn.crashRate'],
      ['[churn]\njoinRate = -0.01', 'churn.joinRate'],
      ['[churn]\nleaveRate = "1%"', 'churn.leaveRate'],
      ['[churn]\ncrashes = 2.5', 'churn.crashes'],
      ['[churn]\njoins = -1', 'churn.joins'],
      ['[churn]\ncrashRate = 0.01\ncrashes = 3', 'churn.crashes'],
      ['[churn]\ncrashrate = 0.01', 'churn.crashrate'],
      ['[churn]\nfromTick = -2', 'churn.fromTick'],
      ['[churn]\nrestartPolicy = "sometimes"', 'churn.restartPolicy'],
      ['[churn]\nrestartPolicy = "on-failure:-1"', 'churn.restartPolicy'],
      ['[churn]\nrestartPolicy = ["always"]', 'churn.restartPolicy'],
      ['[churn]\nrestartPolicy = "always"\nrestartShare = 1.5', 'churn.restartShare'],
      ['[churn]\nrestartShare = 0.5', 'churn.restartShare'],
      ['[churn]\nstatusInterval = "0s"', 'churn.statusInterval'],
      ['[churn]\nstatusInterval = 10', 'churn.statusInterval'],
      ['churn = 0.01', 'churn']
    ]

    for (const [table, key] of cases) {
      const path = join(dir, 'scenario.toml')
      await writeFile(path, table.startsWith('[') ? `${base}\n${table}\n` : `${table}\n${base}`)
      const err = await loadScenario(path).then(() => undefined, (err: unknown) => err)
      assert.instance(err, InvalidConfigurationError, key)
      assert.is((err as InvalidConfigurationError).key, key)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

Scenarios('a restart policy and a status interval in [churn]: the deploys\' policy and share, the buyers\' checks', async () => {
  const base = smallScenario(10, 1, '[10]', 'crashes = 1')
  const read = async (keys: string): Promise<Scenario> => withScenario(base + keys, async scenario => scenario)

  const always = await read('restartPolicy = "on-failure:3"\nrestartShare = 0.25\nstatusInterval = "10s"')
  assert.equal(always.churn?.restart, { policy: { name: 'on-failure', maxRetries: 3 }, share: 0.25 })
  assert.is(always.network.statusInterval, 10_000)
  assert.equal((await read('restartPolicy = "always"')).churn?.restart, { policy: { name: 'always' }, share: 1 }, 'every deploy by default')
  const none = await read('restartPolicy = "no"\nrestartShare = 1')
  assert.is(none.churn?.restart, undefined, '"no" is no policy')
  assert.is(none.network.statusInterval, 15 * 60_000, 'the caravela settings\' interval when not given')
})

Scenarios('the schedule: rates of the live peers with their fractions carried, counts, a first tick, and one peer always left', () => {
  // 40 peers, 10 % join and 5 % crash: 4 and 2, then 4.2 and 2.1 of 42, 4.6 (0.2 carried) and 2.3 of 44, 5.2 and 2.6 of 46
  assert.equal(churnSchedule({ fromTick: 0, join: { rate: 0.1 }, leave: { rate: 0 }, crash: { rate: 0.05 } }, 40, 4), [
    { joins: 4, leaves: 0, crashes: 2 },
    { joins: 4, leaves: 0, crashes: 2 },
    { joins: 4, leaves: 0, crashes: 2 },
    { joins: 5, leaves: 0, crashes: 2 }
  ])
  assert.equal(churnSchedule({ fromTick: 2, join: { count: 1 }, leave: { count: 2 }, crash: { count: 3 } }, 10, 4), [
    { joins: 0, leaves: 0, crashes: 0 },
    { joins: 0, leaves: 0, crashes: 0 },
    { joins: 1, leaves: 2, crashes: 3 },
    { joins: 1, leaves: 2, crashes: 3 }
  ])
  // 5 peers and 4 crashes and 4 leaves a tick: 4 crash, none leaves, then the last one stays
  assert.equal(churnSchedule({ fromTick: 0, join: { count: 0 }, leave: { count: 4 }, crash: { count: 4 } }, 5, 2), [
    { joins: 0, leaves: 0, crashes: 4 },
    { joins: 0, leaves: 0, crashes: 0 }
  ])
  assert.equal(churnSchedule(undefined, 5, 2), [{ joins: 0, leaves: 0, crashes: 0 }, { joins: 0, leaves: 0, crashes: 0 }])
})

Scenarios.run()

const Runs = suite('sim churn: runs')

Runs('containers on crashed suppliers are counted lost, exactly', async () => {
  // 20 deploys in tick 0 (50 % of 40 peers), all placed; in tick 1, 39 of the 40 peers crash
  const text = smallScenario(40, 4, '[50, 0, 0, 0]', 'fromTick = 1\ncrashes = 39')

  await withScenario(text, async scenario => {
    const result = await simulate({ scenario, backend: 'multi-offer-updates' })
    const churn = result.churn

    assert.ok(churn != null)
    assert.is(result.requests, 20)
    assert.is(result.succeeded, 20)
    assert.is(churn.crashed, 39)
    assert.equal(churn.ticks.map(t => t.livePeers), [40, 1, 1, 1])
    // what the survivor's supplier runs, by its own count, and what crashed with the others make all 20
    assert.ok(churn.containersLost > 0, 'the crashed suppliers held containers')
    assert.is(churn.containersLost + result.containersRunning, 20, `${churn.containersLost} lost, ${result.containersRunning} running`)
    assert.is(churn.rescheduled, 0)
    assert.is(result.accountingErrors, 0)
    assert.equal(result.handlerErrors, [])
  })
})

Runs('every container placed is lost, left, stopped or still running on a live supplier', async () => {
  // crashes, clean leaves and joins together, with stops: the counts must still add up
  const text = smallScenario(60, 18, '[10, 5]', 'crashRate = 0.05\nleaveRate = 0.03\njoinRate = 0.08').replace('stopRates = [0]', 'stopRates = [0, 3]')

  await withScenario(text, async scenario => {
    const result = await simulate({ scenario, backend: 'multi-offer-updates' })
    const churn = result.churn

    assert.ok(churn != null)
    assert.ok(churn.crashed > 0 && churn.left > 0 && churn.joined > 0)
    assert.ok(churn.containersLost + churn.containersLeft > 0, 'some containers went with their supplier')
    assert.is(result.accountingErrors, 0)
    assert.equal(result.handlerErrors, [])
    // stops ask the buyer's roles, so count the containers placed less those still out there
    assert.ok(result.containersRunning + churn.containersLost + churn.containersLeft <= result.succeeded)
    assert.ok(result.containersRunning > 0)
  })
})

Runs('with a restart policy, buyers place the containers of crashed suppliers again, and every copy is accounted for', async () => {
  // 20 deploys in tick 0 on peers of 2 cores (so they spread), then 2 of the 40 peers crash every
  // tick; buyers check their suppliers every 10 s
  const churn = 'fromTick = 1\ncrashes = 2\nstatusInterval = "10s"'
  const text = (restart: string): string => smallScenario(40, 9, '[50, 0, 0, 0, 0, 0, 0, 0, 0]', `${churn}\n${restart}`).replace('cpus = 16', 'cpus = 2')

  const run = async (restart: string): Promise<SimulationResult> => withScenario(text(restart), async scenario => simulate({ scenario, backend: 'multi-offer-updates' }))
  const restarted = await run('restartPolicy = "always"')
  const plain = await run('')

  for (const [name, result] of [['always', restarted], ['no policy', plain]] as const) {
    const churn = result.churn
    assert.ok(churn != null)
    assert.is(result.succeeded, 20, name)
    assert.ok(churn.containersLost > 0, `${name}: crashed suppliers held containers`)
    // each copy is lost with its supplier or runs on a live one (orphans too), by the suppliers' own count
    assert.is(churn.containersLost + result.containersRunning, result.succeeded + churn.rescheduled, `${name}: ${churn.containersLost} lost, ${result.containersRunning} running, ${churn.rescheduled} rescheduled`)
    assert.is(result.accountingErrors, 0, `${name}: every live supplier's free resources are its capacity less the copies placed on it`)
    assert.equal(result.handlerErrors, [], name)
    assert.ok((result.messagesByName.containerStatus?.messages ?? 0) > 0, `${name}: the status checks ran`)
  }

  assert.ok(restarted.churn != null && restarted.churn.rescheduled > 0, 'lost containers were placed again')
  assert.ok(restarted.containersRunning > plain.containersRunning, `${restarted.containersRunning} running against ${plain.containersRunning}`)
  assert.is(plain.churn?.rescheduled, 0, 'without a policy nothing is placed again')
  assert.is((await run('restartPolicy = "on-failure:0"')).churn?.rescheduled, 0, 'the policy the deploys carry is the one given: no re-placement at all')
})

Runs('the live peers over time follow joins, clean leaves and crashes', async () => {
  // 40 peers; each tick 5 join, 1 leaves and 2 crash: 2 more a tick
  const text = smallScenario(40, 9, '[2]', 'joins = 5\nleaves = 1\ncrashes = 2')

  await withScenario(text, async scenario => {
    const result = await simulate({ scenario, backend: 'multi-offer-updates' })
    const churn = result.churn

    assert.ok(churn != null)
    assert.equal(churn.ticks.map(t => t.livePeers), Array.from({ length: 9 }, (_, t) => 40 + 2 * (t + 1)))
    assert.equal([churn.joined, churn.left, churn.crashed], [45, 9, 18])
    assert.equal(result.series.map(p => p.livePeers), [58])
    assert.is(churn.ticks.reduce((sum, t) => sum + t.requests, 0), result.requests)
    assert.is(churn.ticks.reduce((sum, t) => sum + t.succeeded, 0), result.succeeded)
    assert.is(result.accountingErrors, 0, 'the live suppliers, joiners included, account for what was placed on them')
    assert.equal(result.handlerErrors, [])
  })
})

Runs('a run with churn is a function of its seed', async () => {
  const scenario = await loadScenario(STEADY_CHURN)

  for (const backend of ['multi-offer-updates', 'swarm'] as const) {
    const a = await simulate({ scenario, backend, nodes: 200, ticks: 18, seed: 11 })
    const b = await simulate({ scenario, backend, nodes: 200, ticks: 18, seed: 11 })
    const c = await simulate({ scenario, backend, nodes: 200, ticks: 18, seed: 12 })

    assert.is(a.churn?.crashed, 36, `${backend}: 1 % of 200 peers a tick`)
    assert.is(a.churn?.joined, 36, backend)
    assert.equal(outcome(a), outcome(b), `${backend}: same seed, same run`)
    assert.not.equal(outcome(a), outcome(c), `${backend}: another seed, another run`)
  }
})

Runs.run()

const Cli = suite('sim churn: command line')

Cli('a run with churn writes churn.csv and churn.png and prints what churn did', async () => {
  const out = await mkdtemp(join(tmpdir(), 'caravela-sim-churn-out-'))

  try {
    const result = await new Promise<{ code: number, stdout: string, stderr: string }>(resolve => {
      execFile(process.execPath, [SIM_CLI, '--scenario', STEADY_CHURN, '--nodes', '100', '--ticks', '9', '--backends', 'multi-offer-updates', '--out', out, '--quiet'], { timeout: 120_000 }, (err: any, stdout, stderr) => {
        resolve({ code: err == null ? 0 : err.code, stdout, stderr })
      })
    })
    assert.is(result.code, 0, result.stderr)
    assert.match(result.stdout, /joined\/left\/crashed/)
    assert.match(result.stdout, /9 \/ 0 \/ 9/)
    const files = await readdir(out)
    assert.ok(files.includes('churn.csv') && files.includes('churn.png'), files.join(', '))
    const rows = (await readFile(join(out, 'churn.csv'), 'utf8')).trim().split('\n')
    assert.is(rows[0], 'backend,tick,live_peers,requests,succeeded')
    assert.is(rows.length, 10)
    assert.ok(rows.slice(1).every(row => row.split(',')[2] === '100'), 'as many join as crash')
    const summary = (await readFile(join(out, 'summary.csv'), 'utf8')).trim().split('\n')
    assert.match(summary[0], /,joined,left,crashed,containers_lost,containers_left,containers_orphaned,requests_abandoned,rescheduled,live_peers_end$/)
  } finally {
    await rm(out, { recursive: true, force: true })
  }
})

Cli.run()
