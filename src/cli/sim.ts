/**
 * The simulator (`npm run sim -- --scenario FILE [options]`, docs/simulator.md): runs every backend of a
 * scenario on the same seed and workload with the real role code, prints a summary table and
 * writes CSV, JSON and PNG plots under --out.
 */

import { mkdir } from 'node:fs/promises'
import { availableParallelism, totalmem } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { Worker } from 'node:worker_threads'
import { InvalidConfigurationError } from '../errors.js'
import { checkPackages, PLOT_PACKAGES, SIMULATOR_PACKAGES } from '../sim/packages.js'
import { errorLine, EXIT_USAGE, formatOptions, formatTable, isUsageError, UsageError } from './shared.js'
import type { DiscoveryBackend } from '../config/types.js'
import type { SimulationResult } from '../sim/simulator.js'
import type { SimWorkerData } from '../sim/worker.js'
import type { CliOption } from './shared.js'

const options = {
  scenario: { type: 'string', value: 'file.toml', description: 'Scenario to run, e.g. scenarios/simulation_steadyAt30Perc.toml (required)' },
  nodes: { type: 'string', value: 'n', description: 'Simulated peers (default: the scenario\'s)' },
  ticks: { type: 'string', value: 'n', description: 'Ticks of simulated time (default: the scenario\'s)' },
  seed: { type: 'string', value: 'n', description: 'Seed of every random draw (default: the scenario\'s)' },
  backends: { type: 'string', value: 'a,b,…', description: 'Backends to compare: single-offer, single-offer-full-walk, multi-offer, multi-offer-updates, random, swarm (default: the scenario\'s)' },
  out: { type: 'string', value: 'dir', description: 'Directory for report.json, the CSV files and the plots (default out/sim-<time>)' },
  threads: { type: 'string', value: 'n', description: 'Backends simulated at once, each in its own thread (default: one per core, as many as memory holds)' },
  'no-plots': { type: 'boolean', description: 'Write no PNG plots' },
  quiet: { type: 'boolean', short: 'q', description: 'Print only the summary' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' }
} satisfies Record<string, CliOption>

/** Old-generation heap limit of one backend's thread: 2^20 peers fit in it, and the thread in 16 GB. */
const WORKER_HEAP_MB = 14_336
/** The largest network measured to fit a thread: 2^20 − 1 peers peaked at 13.7 GiB of 14. */
const LARGEST_MEASURED = 2 ** 20
/** Peers from which a network is large for the collector (see `youngGenerationMb`). */
const LARGE_NETWORK = 100_000

/**
 * Young-generation size of a backend's thread: a simulation makes short-lived objects by the
 * billion. 192 MB (64 MB semi-spaces) against the default 48: 50 000 peers × 36 ticks took 42 s,
 * not 55. From `LARGE_NETWORK` peers on, where a scavenge of a heap of gigabytes takes tens of
 * milliseconds whatever it frees, 1 536 MB: 2^20 − 1 peers × 12 ticks took 456 s, against 668 s
 * with 192 MB, 526 s with 768 MB and 474 s (and 2 GB more) with 3 072 MB.
 */
function youngGenerationMb (nodes: number): number {
  return nodes >= LARGE_NETWORK ? 1536 : 192
}

/**
 * The collector's settings for a large network, for every thread of this process. A full
 * collection of the gigabytes of a million peers takes 10-15 s of marking on this 2-core machine,
 * and V8 would start one each time the old generation grew by a few tenths over what survived
 * the last, every ten ticks or so: the old generation may grow to twice what survived
 * (`--heap-growing-percent=100`, within the thread's `WORKER_HEAP_MB`), and no collection runs
 * only to give memory back (`--no-memory-reducer`). 2^20 − 1 peers × 12 ticks: 312 s → 276 s; the
 * whole steady scenario (360 ticks) then took 47 minutes and peaked at 14.7 GB.
 */
function tuneCollector (nodes: number): void {
  if (nodes >= LARGE_NETWORK) {
    setFlagsFromString('--heap-growing-percent=100')
    setFlagsFromString('--no-memory-reducer')
  }
}

/**
 * Memory a backend's thread may need per simulated peer, at most (about 9.5 KB of live heap after
 * two simulated hours, and room for the collector, which lets the heap grow to twice what
 * survives: 2^20 − 1 peers peaked at 14 KB a peer), besides its young generation.
 */
const BYTES_PER_PEER = 16 * 1024
const BYTES_PER_THREAD = 256 * 2 ** 20

/** One thread per core, but no more than three quarters of the machine's memory holds. */
function defaultThreads (nodes: number): number {
  const perThread = nodes * BYTES_PER_PEER + youngGenerationMb(nodes) * 2 ** 20 + BYTES_PER_THREAD
  return Math.min(availableParallelism(), Math.floor(totalmem() * 0.75 / perThread))
}

/** Wall time between two progress lines of a backend. */
const PROGRESS_MS = 30_000

const HELP = `Usage: npm run sim -- --scenario <file.toml> [options]

Simulates a Caravela network running the real supplier, trader and buyer code over a simulated
Kademlia overlay, and compares the discovery backends on the same seed and workload.

Options:
${formatOptions(options)}`

interface Flags {
  scenario?: string
  nodes?: string
  ticks?: string
  seed?: string
  backends?: string
  out?: string
  threads?: number
  'no-plots'?: boolean
  quiet?: boolean
  help?: boolean
}

function positive (value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value == null) {
    return undefined
  }

  const n = Number(value)

  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag}: "${value}" is not a whole number from ${min} to ${max}`)
  }

  return n
}

async function main (flags: Flags): Promise<void> {
  if (flags.help === true) {
    process.stdout.write(HELP)
    return
  }

  if (flags.scenario == null) {
    throw new UsageError('--scenario is required, e.g. --scenario scenarios/simulation_steadyAt30Perc.toml')
  }

  const nodes = positive(flags.nodes, 'nodes', 1, 2 ** 24)
  const ticks = positive(flags.ticks, 'ticks', 1, 1e6)
  const seed = positive(flags.seed, 'seed', 0, 2 ** 31 - 1)
  // loaded only now, so that --help and usage errors answer at once
  const { backends: parseBackends, loadScenario } = await import('../sim/scenario.js')
  const scenario = await loadScenario(flags.scenario)
  const backends = flags.backends == null ? scenario.backends : parseBackends(flags.backends, '--backends')
  const { summaryTable, writeReport } = await import('../sim/report.js')
  // the simulator's own packages, optional peer dependencies of the library: what to install
  // when some are missing is said now, all at once, not after minutes of simulation (the plots
  // load theirs only once the simulation is over, where they cost its memory nothing)
  const plots = flags['no-plots'] !== true
  checkPackages([
    { what: 'the simulator', packages: SIMULATOR_PACKAGES },
    ...(plots ? [{ what: 'the plots', packages: PLOT_PACKAGES, hint: ' (or pass --no-plots)' }] : [])
  ])
  const out = resolve(flags.out ?? `out/sim-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(out, { recursive: true })

  const report = {
    scenario: flags.scenario,
    nodes: nodes ?? scenario.nodes,
    ticks: ticks ?? scenario.ticks,
    seed: seed ?? scenario.seed,
    startedAt: new Date().toISOString(),
    results: [] as SimulationResult[]
  }
  const say = (line: string): void => { if (flags.quiet !== true) process.stdout.write(line) }

  say(`Simulating ${report.nodes} peers for ${report.ticks} ticks (seed ${report.seed}): ${backends.join(', ')}\n`)

  if (report.nodes > LARGEST_MEASURED) {
    process.stderr.write(`caravela-sim: warning: ${report.nodes} peers are more than the 2^20 that fit a backend's thread of ${WORKER_HEAP_MB / 1024} GiB: the run may run out of memory\n`)
  }

  const parallel = Math.max(1, Math.min(backends.length, flags.threads ?? defaultThreads(report.nodes)))
  tuneCollector(report.nodes)
  say(`${parallel} backend${parallel === 1 ? '' : 's'} at a time\n`)
  const started = performance.now()
  const results = await runBackends(backends, parallel, backend => {
    let said = performance.now()

    return simulateInWorker({ scenarioPath: flags.scenario as string, backend, nodes, ticks, seed }, youngGenerationMb(report.nodes), (tick, requests, succeeded) => {
      const now = performance.now()

      // every 120 ticks, or every half minute of a long run
      if ((tick + 1) % 120 === 0 || now - said >= PROGRESS_MS) {
        said = now
        say(`  ${backend}: ${tick + 1} ticks, ${succeeded} of ${requests} placed (${((now - started) / 1000).toFixed(0)} s)\n`)
      }
    })
  })

  for (const result of results) {
    report.results.push(result)
    say(`${result.backend}: done in ${(result.wallTimeMs / 1000).toFixed(1)} s (start-up ${(result.startUpMs / 1000).toFixed(1)} s)\n`)

    if (result.accountingErrors > 0 || result.handlerErrors.length > 0) {
      process.stderr.write(`caravela-sim: warning: ${result.backend}: ${result.accountingErrors} peers' accounting differs, ${result.handlerErrors.length} handler errors (see report.json)\n`)
    }
  }

  const files = await writeReport(report, out)

  if (plots) {
    const { writePlots } = await import('../sim/plots.js')
    files.push(...await writePlots(report, out))
  }

  process.stdout.write('\n' + formatTable(summaryTable(report.results)))
  process.stdout.write(`\nWritten to ${out}: ${files.map(f => f.slice(out.length + 1)).join(', ')}\n`)
}

function parseFlags (argv: string[]): Flags {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true })

  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"`)
  }

  return { ...values, threads: positive(values.threads, 'threads', 1, 64) }
}

/** Simulate the backends, `parallel` at a time; results in the order of `backends`. */
async function runBackends (backends: DiscoveryBackend[], parallel: number, run: (backend: DiscoveryBackend) => Promise<SimulationResult>): Promise<SimulationResult[]> {
  const results: SimulationResult[] = new Array(backends.length)
  let next = 0

  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < backends.length) {
      const index = next++
      results[index] = await run(backends[index])
    }
  }))

  return results
}

/** One backend in a worker thread; rejects with the worker's error. */
async function simulateInWorker (data: SimWorkerData, youngMb: number, onTick: (tick: number, requests: number, succeeded: number) => void): Promise<SimulationResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('../sim/worker.js', import.meta.url), { workerData: data, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: youngMb } })
    let result: SimulationResult | undefined

    worker.on('message', message => {
      if (message.type === 'tick') {
        onTick(message.tick, message.requests, message.succeeded)
      } else if (message.type === 'result') {
        result = message.result
      }
    })
    worker.on('error', (err: Error & { code?: string }) => {
      reject(err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new Error(`the simulation of ${data.backend} ran out of its thread's ${WORKER_HEAP_MB / 1024} GiB heap: simulate fewer peers (2^20 fit)`)
        : err)
    })
    worker.on('exit', code => {
      if (result != null) {
        resolve(result)
      } else {
        reject(new Error(`the simulation of ${data.backend} ended without a result (exit code ${code})`))
      }
    })
  })
}

try {
  await main(parseFlags(process.argv.slice(2)))
} catch (err: any) {
  const message = isUsageError(err)
    ? `${err.message} (see npm run sim -- --help)`
    : err instanceof InvalidConfigurationError ? err.message : String(err?.message ?? err)
  process.stderr.write(errorLine(message, err, process.env).replace(/^caravela:/, 'caravela-sim:'))
  process.exit(isUsageError(err) ? EXIT_USAGE : 1)
}
