/**
 * The simulator: scenario files, determinism per seed, the roles' own accounting against the
 * simulator's, every backend placing requests, and the `npm run sim` command line.
 */

import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DISCOVERY_BACKENDS } from '../src/config/config.js'
import { InvalidConfigurationError } from '../src/errors.js'
import { SimClock, settle } from '../src/sim/clock.js'
import { SimRandom } from '../src/sim/random.js'
import { loadScenario } from '../src/sim/scenario.js'
import { simulate } from '../src/sim/simulator.js'
import { tickEvents } from '../src/sim/workload.js'
import type { SimulationResult } from '../src/sim/simulator.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const SCENARIOS = join(ROOT, 'scenarios')
const STEADY = join(SCENARIOS, 'simulation_steadyAt30Perc.toml')
const SIM_CLI = join(ROOT, 'dist', 'src', 'cli', 'sim.js')

/** What must be equal between two runs of one seed: everything but wall time and memory. */
function outcome (result: SimulationResult): unknown {
  const { wallTimeMs, startUpMs, peakRssBytes, ...rest } = result
  return rest
}

const Scenarios = suite('sim: scenario files')

Scenarios('the three scenarios of the original load with their node counts, rates and profiles', async () => {
  const files = ['simulation.toml', 'simulation_regular.toml', 'simulation_steadyAt30Perc.toml']
  const loaded = await Promise.all(files.map(async file => loadScenario(join(SCENARIOS, file))))

  assert.equal(loaded.map(s => s.nodes), [65_535, 16_383, 10_000])
  assert.equal(loaded.map(s => s.ticks), [360, 360, 360])
  assert.equal(loaded[2].tickInterval, 20_000)
  assert.equal(loaded[2].deployRates.length, 17)
  assert.equal(loaded[2].profiles.length, 9)
  assert.equal(loaded[2].profiles[8], { cpuClass: 1, cpus: 6, memory: 5000, percentage: 5 })
  assert.equal(loaded[1].backends, ['single-offer', 'random', 'swarm'])
  // the original simulator's caravela settings (`caravela-sim.toml`)
  assert.equal(loaded[0].network.maxPartitionsSearch, 1)
  assert.equal(loaded[0].network.spreadOffers, false)
  assert.equal(loaded[0].network.refreshingInterval, 15 * 60_000)
  assert.equal(loaded[0].network.resources.cpuClasses.map(c => c.percentage), [65, 35])
})

Scenarios('mistakes name the key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-sim-'))

  try {
    const base = await readFile(STEADY, 'utf8')
    const cases: Array<[string, string]> = [
      [base.replace('percentage = 5 }', 'percentage = 6 }'), 'requests.profiles'],
      [base.replace('nodes = 10000', 'nodes = -3'), 'nodes'],
      [base.replace('"multi-offer-updates", "random"', '"chord", "random"'), 'backends[0]'],
      [base.replace('tickInterval = "20s"', 'tickInterval = "soon"'), 'tickInterval'],
      [base.replace('deployRates = [', 'deployRate = ['), 'requests.deployRate'],
      [base.replace('caravela-sim.toml', 'missing.toml'), join(SCENARIOS, 'missing.toml')]
    ]

    for (const [text, key] of cases) {
      const path = join(dir, 'scenario.toml')
      await writeFile(path, text.replace('caravela = "', `caravela = "${SCENARIOS}/`))
      const err = await loadScenario(path).then(() => undefined, (err: unknown) => err)
      assert.instance(err, InvalidConfigurationError, key)
      assert.is((err as InvalidConfigurationError).key, key)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

Scenarios('the workload of a tick depends on the seed only', async () => {
  const scenario = await loadScenario(STEADY)
  const a = tickEvents(scenario, 1000, 360, 0, new SimRandom(7, 3))
  const b = tickEvents(scenario, 1000, 360, 0, new SimRandom(7, 3))
  const c = tickEvents(scenario, 1000, 360, 0, new SimRandom(8, 3))

  assert.equal(a, b)
  assert.not.equal(a, c)
  assert.is(a.filter(e => e.kind === 'deploy').length, 30, '3 % of 1000 nodes deploy in the first phase')
  assert.is(a.filter(e => e.kind === 'stop').length, 2, '0.25 % stop')
})

Scenarios('the workload is the original\'s: deploys before stops, profiles of both drawn with Go\'s Intn(101) against the percentages', async () => {
  const scenario = await loadScenario(STEADY)
  const random = new SimRandom(11, 3)
  const counts = { deploy: new Array(scenario.profiles.length).fill(0), stop: new Array(scenario.profiles.length).fill(0) }

  // tick 300 is in a phase of 2.5 % deploys and 1.5 % stops: 200 000 deploys and 120 000 stops,
  // enough to tell Go's draw from exact percentages (15.84 % against 15 % for the first profile)
  for (let round = 0; round < 2000; round++) {
    const events = tickEvents(scenario, 4000, 360, 300, random)
    const firstStop = events.findIndex(e => e.kind === 'stop')
    assert.ok(firstStop > 0 && events.slice(firstStop).every(e => e.kind === 'stop'), 'every deploy comes before every stop')
    events.forEach(e => { counts[e.kind][e.profile]++ })
  }

  // the first profile gets (p + 1) / 101, the others p / 101: with 15 % first, 15.84 % against 14.85 % for a later 15 %
  for (const kind of ['deploy', 'stop'] as const) {
    const total = counts[kind].reduce((a, b) => a + b, 0)
    scenario.profiles.forEach((profile, i) => {
      const expected = (profile.percentage + (i === 0 ? 1 : 0)) / 101
      const observed = counts[kind][i] / total
      assert.ok(Math.abs(observed - expected) < 3 * Math.sqrt(expected * (1 - expected) / total), `${kind} profile ${i}: ${(observed * 100).toFixed(2)} %, expected ${(expected * 100).toFixed(2)} %`)
    })
  }

  assert.ok(counts.stop[0] / counts.stop.reduce((a, b) => a + b, 0) > 0.15, 'stops are not uniform over the 9 profiles')
})

Scenarios.run()

const Runs = suite('sim: runs')

Runs('every backend places requests, and the suppliers\' accounting matches the placements', async () => {
  const scenario = await loadScenario(STEADY)

  for (const backend of DISCOVERY_BACKENDS) {
    const result = await simulate({ scenario, backend, nodes: 300, ticks: 45, seed: 3 })

    assert.ok(result.requests > 300, `${backend}: ${result.requests} requests`)
    assert.ok(result.successRatio > 0.2, `${backend}: success ratio ${result.successRatio}`)
    assert.is(result.accountingErrors, 0, `${backend}: accounting`)
    assert.equal(result.handlerErrors, [], `${backend}: handler errors`)
    assert.is(result.series.length, 5, `${backend}: one point per 9 ticks`)
    // the submission always counts; a launch too, unless the buyer places on itself (the swarm master often does)
    assert.ok(result.messagesPerRequest.mean >= (backend === 'swarm' ? 1 : 1 + result.successRatio) - 1e-9, `${backend}: ${result.messagesPerRequest.mean} messages per request`)
    assert.ok(result.totalMessages > result.requests, backend)
  }
})

Runs('a run is a function of its seed', async () => {
  const scenario = await loadScenario(STEADY)

  for (const backend of ['multi-offer-updates', 'swarm'] as const) {
    const a = await simulate({ scenario, backend, nodes: 200, ticks: 27, seed: 11 })
    const b = await simulate({ scenario, backend, nodes: 200, ticks: 27, seed: 11 })
    const c = await simulate({ scenario, backend, nodes: 200, ticks: 27, seed: 12 })

    assert.equal(outcome(a), outcome(b), `${backend}: same seed, same run`)
    assert.not.equal(outcome(a), outcome(c), `${backend}: another seed, another run`)
  }
})

Runs('settle returns once every promise chain is done, also chains started by the chains and by timers', async () => {
  const clock = new SimClock()
  const done: string[] = []
  const chain = async (name: string, hops: number): Promise<void> => {
    for (let i = 0; i < hops; i++) {
      await Promise.resolve()
    }

    done.push(name)
  }

  // started synchronously and within a microtask, deep, and spawning more
  void chain('deep', 5000)
  void Promise.resolve().then(async () => { await chain('spawner', 10); void chain('spawned', 2000) })
  await settle()
  assert.equal(done.sort(), ['deep', 'spawned', 'spawner'])

  // a timer's work, and a timer armed by it at the same instant, are done when runUntil returns
  clock.setTimeout(() => { void chain('timer', 1000).then(() => { clock.setTimeout(() => { void chain('rearmed', 1000) }, 0) }) }, 10)
  await clock.runUntil(10)
  assert.equal(done.slice(3), ['timer', 'rearmed'])
})

Runs.run()

const Cli = suite('sim: command line')

async function sim (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [SIM_CLI, ...args], { timeout: 120_000 }, (err: any, stdout, stderr) => {
      resolve({ code: err == null ? 0 : err.code, stdout, stderr })
    })
  })
}

Cli('bad flags and files get one clear line and exit code 2 or 1', async () => {
  const cases: Array<[string[], number, RegExp]> = [
    [[], 2, /--scenario is required/],
    [['--scenario', STEADY, '--nodes', 'many'], 2, /--nodes: "many" is not a whole number/],
    [['--scenario', STEADY, '--backends', 'chord'], 1, /--backends\[0\]: unknown backend "chord"/],
    [['--scenario', '/nonexistent.toml'], 1, /scenario file not found/],
    [['--frobnicate'], 2, /frobnicate/]
  ]

  for (const [args, code, message] of cases) {
    const result = await sim(args)
    assert.is(result.code, code, args.join(' '))
    assert.match(result.stderr, message)
    assert.not.match(result.stderr, /\n\s+at /, 'no stack trace')
  }
})

Cli('a small run prints the summary and writes the report, CSV files and plots', async () => {
  const out = await mkdtemp(join(tmpdir(), 'caravela-sim-out-'))

  try {
    const result = await sim(['--scenario', STEADY, '--nodes', '150', '--ticks', '18', '--backends', 'multi-offer-updates,swarm', '--out', out, '--quiet'])
    assert.is(result.code, 0, result.stderr)
    assert.match(result.stdout, /multi-offer-updates\s+\d+\s+0\.\d{3}/)
    assert.match(result.stdout, /swarm\s+\d+/)
    const files = (await readdir(out)).sort()
    assert.equal(files, ['messages-over-time.png', 'messages-per-request.png', 'peer-load.png', 'peer-load.csv', 'report.json', 'series.csv', 'success-ratio.png', 'summary.csv', 'used-resources.png'].sort())
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'))
    assert.equal(report.results.map((r: any) => r.backend), ['multi-offer-updates', 'swarm'])
    const summary = (await readFile(join(out, 'summary.csv'), 'utf8')).trim().split('\n')
    assert.is(summary.length, 3)
    assert.match(summary[0], /^backend,nodes,ticks,seed,requests,succeeded,success_ratio,/)
  } finally {
    await rm(out, { recursive: true, force: true })
  }
})

Cli.run()
