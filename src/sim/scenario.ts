/**
 * Scenario files of the simulator (`scenarios/*.toml`): the network size and length of a run, the
 * backends to compare, the caravela settings, node capacities and the request workload, after the
 * original simulator's configuration and scenario files (`docs/simulator.md`). Mistakes are reported as
 * `InvalidConfigurationError`s naming the key, e.g. `requests.profiles[2].percentage`.
 */

import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parse as parseToml, TomlError } from 'smol-toml'
import { DISCOVERY_BACKENDS, loadConfigFile, parseDuration } from '../config/config.js'
import { InvalidConfigurationError } from '../errors.js'
import { InvalidRestartPolicyError, parseRestartPolicy } from '../stacks/restart.js'
import type { DiscoveryBackend, NetworkConfig } from '../config/types.js'
import type { Resources, RestartPolicy } from '../types.js'

/** A request profile: one spread container of these resources, drawn with this percentage. */
export interface RequestProfile extends Resources {
  percentage: number
}

/** A loaded scenario. */
export interface Scenario {
  /** the file it came from */
  path: string
  nodes: number
  ticks: number
  /** milliseconds of simulated time per tick */
  tickInterval: number
  backends: DiscoveryBackend[]
  seed: number
  /** the caravela settings (`network` of the file named by `caravela`) */
  network: NetworkConfig
  resources: { generator: 'partition-fit' } | { generator: 'static', capacity: Resources }
  /** deploy requests per tick, as a percentage of the nodes, one entry per phase of equal length */
  deployRates: number[]
  /** stop requests per tick, likewise */
  stopRates: number[]
  profiles: RequestProfile[]
  /** peers joining, leaving and crashing per tick; absent when the file has no `[churn]` table */
  churn?: Churn
}

/** The restart policy deploys carry (`churn.restartPolicy`), and the share of deploys that carry it. */
export interface ScenarioRestart {
  policy: RestartPolicy
  /** 0 to 1: deploy n carries it when ⌊(n + 1) × share⌋ > ⌊n × share⌋, so a share of 0.5 is every other deploy */
  share: number
}

/**
 * How many peers of one kind of churn a tick sees: `rate`, a fraction of the peers live at the
 * tick's start, or `count` peers, every tick.
 */
export type ChurnAmount = { rate: number } | { count: number }

/**
 * Churn per tick (`[churn]` of a scenario): peers that join (each a fresh supplier and trader),
 * peers that leave cleanly (they withdraw their offers, then leave the overlay) and peers that
 * crash (they vanish without a word; the containers they ran are lost).
 */
export interface Churn {
  /** the first tick with churn (0, the first, by default) */
  fromTick: number
  join: ChurnAmount
  leave: ChurnAmount
  crash: ChurnAmount
  /** the restart policy the deploys carry; absent (or `no`), none does and nothing is re-placed */
  restart?: ScenarioRestart
}

const TOP_KEYS = ['nodes', 'ticks', 'tickInterval', 'backends', 'caravela', 'seed', 'resources', 'requests', 'churn']
/** The keys of `[churn]`: each kind as a rate or as a count, never both. */
const CHURN_KEYS = { join: ['joinRate', 'joins'], leave: ['leaveRate', 'leaves'], crash: ['crashRate', 'crashes'] } as const

/** Read and check a scenario file; the caravela settings are read from the file it names. */
export async function loadScenario (path: string): Promise<Scenario> {
  let text: string

  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new InvalidConfigurationError(path, err.code === 'ENOENT' ? 'scenario file not found' : `cannot read the scenario: ${err.message}`)
  }

  let doc: Record<string, unknown>

  try {
    doc = parseToml(text)
  } catch (err: any) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : ''
    throw new InvalidConfigurationError(path, `TOML syntax error${where}: ${String(err.message).split('\n')[0]}`)
  }

  if (doc.network != null && doc.caravela == null) {
    throw new InvalidConfigurationError(path, 'this is a caravela settings file, not a scenario: a scenario names it with caravela = "<file>" (see scenarios/)')
  }

  try {
    return await readScenario(path, doc)
  } catch (err) {
    throw inFile(err, path)
  }
}

/** Errors that already name their file. */
const placed = new WeakSet<object>()

/** The error, saying which file it is in (a run reads two: the scenario and its caravela settings). */
function inFile (err: unknown, file: string): unknown {
  if (!(err instanceof InvalidConfigurationError) || placed.has(err)) {
    return err
  }

  const named = err.key === file ? err : new InvalidConfigurationError(err.key, `${err.message.slice(err.key.length + 2)} (in ${file})`)
  placed.add(named)
  return named
}

async function readScenario (path: string, doc: Record<string, unknown>): Promise<Scenario> {
  unknownKeys(doc, TOP_KEYS, '')
  const caravela = fileName(doc.caravela, 'caravela')
  const caravelaPath = resolve(dirname(path), caravela)
  const network = (await loadConfigFile(caravelaPath).catch(err => { throw inFile(err, caravelaPath) })).network
  const resources = table(doc.resources ?? { generator: 'partition-fit' }, 'resources')
  unknownKeys(resources, ['generator', 'static'], 'resources.')
  const requests = table(doc.requests, 'requests')
  unknownKeys(requests, ['deployRates', 'stopRates', 'profiles'], 'requests.')
  const generator = resources.generator ?? 'partition-fit'

  if (generator !== 'partition-fit' && generator !== 'static') {
    throw new InvalidConfigurationError('resources.generator', 'must be "partition-fit" or "static"')
  }

  const profiles = list(requests.profiles, 'requests.profiles').map((p, i) => {
    const key = `requests.profiles[${i}]`
    const profile = table(p, key)
    unknownKeys(profile, ['cpuClass', 'cpus', 'memory', 'percentage'], `${key}.`)
    return { ...resourcesOf(profile, key), percentage: number(profile.percentage, `${key}.percentage`, 0, 100) }
  })

  if (profiles.length === 0 || Math.abs(profiles.reduce((sum, p) => sum + p.percentage, 0) - 100) > 1e-9) {
    throw new InvalidConfigurationError('requests.profiles', 'the percentages must add up to 100')
  }

  const deployRates = list(requests.deployRates, 'requests.deployRates').map((r, i) => number(r, `requests.deployRates[${i}]`, 0, 100))
  const stopRates = list(requests.stopRates ?? [0], 'requests.stopRates').map((r, i) => number(r, `requests.stopRates[${i}]`, 0, 100))

  if (deployRates.length === 0) {
    throw new InvalidConfigurationError('requests.deployRates', 'give at least one rate')
  }

  const churn = doc.churn == null ? undefined : table(doc.churn, 'churn')
  // the buyers' status checks find the lost containers that restart policies place again
  const statusInterval = churn?.statusInterval == null ? undefined : positiveDuration(churn.statusInterval, 'churn.statusInterval')

  return {
    path,
    nodes: integer(doc.nodes, 'nodes', 1, 2 ** 24),
    ticks: integer(doc.ticks, 'ticks', 1, 1e6),
    tickInterval: doc.tickInterval == null ? 20_000 : positiveDuration(doc.tickInterval, 'tickInterval'),
    backends: backends(doc.backends ?? DISCOVERY_BACKENDS, 'backends'),
    seed: doc.seed == null ? 1 : integer(doc.seed, 'seed', 0, 2 ** 31 - 1),
    network: statusInterval == null ? network : { ...network, statusInterval },
    resources: generator === 'static'
      ? { generator, capacity: resourcesOf(table(resources.static, 'resources.static'), 'resources.static') }
      : { generator },
    deployRates,
    stopRates,
    profiles,
    ...(churn == null ? {} : { churn: churnOf(churn) })
  }
}

/**
 * The `[churn]` table: `joinRate` or `joins`, `leaveRate` or `leaves`, `crashRate` or `crashes`,
 * each 0 when absent, from tick `fromTick` on; the deploys' `restartPolicy` and `restartShare`;
 * `statusInterval` (read into the network settings).
 */
function churnOf (t: Record<string, unknown>): Churn {
  unknownKeys(t, ['fromTick', ...Object.values(CHURN_KEYS).flat(), 'restartPolicy', 'restartShare', 'statusInterval'], 'churn.')
  const amount = ([rateKey, countKey]: readonly [string, string]): ChurnAmount => {
    if (t[rateKey] != null && t[countKey] != null) {
      throw new InvalidConfigurationError(`churn.${countKey}`, `give ${rateKey} or ${countKey}, not both`)
    }

    return t[countKey] != null
      ? { count: integer(t[countKey], `churn.${countKey}`, 0, 2 ** 24) }
      : { rate: number(t[rateKey] ?? 0, `churn.${rateKey}`, 0, 1) }
  }

  return {
    fromTick: integer(t.fromTick ?? 0, 'churn.fromTick', 0, 1e6),
    join: amount(CHURN_KEYS.join),
    leave: amount(CHURN_KEYS.leave),
    crash: amount(CHURN_KEYS.crash),
    ...restartOf(t)
  }
}

/** `restartPolicy` as `--restart` takes it (`no`, `on-failure[:N]`, `always`), and `restartShare` (0 to 1, default 1). */
function restartOf (t: Record<string, unknown>): { restart?: ScenarioRestart } {
  if (t.restartPolicy == null) {
    if (t.restartShare != null) {
      throw new InvalidConfigurationError('churn.restartShare', 'give restartPolicy too: the share of deploys that carry it')
    }

    return {}
  }

  if (typeof t.restartPolicy !== 'string') {
    throw new InvalidConfigurationError('churn.restartPolicy', 'must be a policy such as "always" or "on-failure:3"')
  }

  let policy: RestartPolicy

  try {
    policy = parseRestartPolicy(t.restartPolicy)
  } catch (err) {
    if (err instanceof InvalidRestartPolicyError) {
      throw new InvalidConfigurationError('churn.restartPolicy', err.message)
    }

    throw err
  }

  const share = number(t.restartShare ?? 1, 'churn.restartShare', 0, 1)
  return policy.name === 'no' || share === 0 ? {} : { restart: { policy, share } }
}

/** Backend names, from a list or from a comma-separated string (`--backends`). */
export function backends (value: unknown, key: string): DiscoveryBackend[] {
  const names = typeof value === 'string' ? value.split(',').map(s => s.trim()).filter(s => s !== '') : list(value, key)

  if (names.length === 0) {
    throw new InvalidConfigurationError(key, `name at least one of ${DISCOVERY_BACKENDS.join(', ')}`)
  }

  return names.map((name, i) => {
    if (!(DISCOVERY_BACKENDS as readonly unknown[]).includes(name)) {
      throw new InvalidConfigurationError(`${key}[${i}]`, `unknown backend ${JSON.stringify(name)}: use ${DISCOVERY_BACKENDS.join(', ')}`)
    }

    return name as DiscoveryBackend
  }).filter((name, i, all) => all.indexOf(name) === i)
}

function resourcesOf (t: Record<string, unknown>, key: string): Resources {
  return {
    cpuClass: integer(t.cpuClass ?? 0, `${key}.cpuClass`, 0, 1),
    cpus: integer(t.cpus, `${key}.cpus`, 1, 1e6),
    memory: integer(t.memory, `${key}.memory`, 1, 1e9)
  }
}

function unknownKeys (t: Record<string, unknown>, known: string[], prefix: string): void {
  for (const key of Object.keys(t)) {
    if (!known.includes(key)) {
      throw new InvalidConfigurationError(`${prefix}${key}`, `unknown key (known: ${known.join(', ')})`)
    }
  }
}

function table (value: unknown, key: string): Record<string, unknown> {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidConfigurationError(key, 'must be a table')
  }

  return value as Record<string, unknown>
}

function list (value: unknown, key: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new InvalidConfigurationError(key, 'must be an array')
  }

  return value
}

function fileName (value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidConfigurationError(key, 'must be a file name')
  }

  return value
}

function number (value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidConfigurationError(key, `must be a number from ${min} to ${max}`)
  }

  return value
}

function integer (value: unknown, key: string, min: number, max: number): number {
  const n = typeof value === 'bigint' ? Number(value) : value

  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new InvalidConfigurationError(key, `must be a whole number from ${min} to ${max}`)
  }

  return n
}

function positiveDuration (value: unknown, key: string): number {
  const ms = typeof value === 'string' ? parseDuration(value, key) : NaN

  if (!(ms > 0)) {
    throw new InvalidConfigurationError(key, 'must be a duration such as "20s"')
  }

  return ms
}
