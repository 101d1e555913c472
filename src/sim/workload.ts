/**
 * The simulator's workload models, as the original simulator generates them (`docs/simulator.md`):
 * node capacities drawn from the partition tree ("partition-fit") or all alike ("static"), and
 * the random request feeder: per tick, deploy and stop requests as a percentage of the nodes, the
 * rates changing in phases of equal length, each deploy one spread container of a profile drawn by
 * its percentage and issued at a random node, each stop the newest container of a profile drawn
 * the same way; a tick's deploys come first, then its stops. Percentages are drawn as the
 * original draws them (`SimRandom.percentage`: Go's `Intn(101)` against the cumulative
 * percentages). Draws come from the workload streams only, never from what happened in the run,
 * so every backend of a run faces the same requests.
 */

import type { PartitionTree } from '../resources/partition-tree.js'
import type { Resources } from '../types.js'
import type { SimRandom } from './random.js'
import type { Churn, ChurnAmount, Scenario } from './scenario.js'

/** One request of a tick. */
export type WorkloadEvent =
  | { kind: 'deploy', profile: number, node: number }
  | { kind: 'stop', profile: number }

/** Node capacities (cores before slicing, MB, class) of a scenario. */
export function capacities (scenario: Scenario, nodes: number, random: SimRandom): Resources[] {
  const resources = scenario.resources

  if (resources.generator === 'static') {
    return Array.from({ length: nodes }, () => ({ ...resources.capacity }))
  }

  return Array.from({ length: nodes }, () => partitionFit(scenario.network.resources, random))
}

/** A capacity that is exactly one leaf of the tree, drawn class, then cores, then memory. */
function partitionFit (tree: PartitionTree, random: SimRandom): Resources {
  const cpuClass = tree.cpuClasses[random.percentage(tree.cpuClasses.map(c => c.percentage))]
  const cores = cpuClass.cpuCores[random.percentage(cpuClass.cpuCores.map(c => c.percentage))]
  const memory = cores.memory[random.percentage(cores.memory.map(m => m.percentage))]

  return { cpuClass: cpuClass.value, cpus: cores.value, memory: memory.value }
}

/** The rate in force at `tick`: each entry lasts ⌈ticks / entries⌉ ticks. */
export function rateAt (rates: number[], tick: number, ticks: number): number {
  const phase = Math.floor(tick / Math.ceil(ticks / rates.length))
  return rates[Math.min(phase, rates.length - 1)] ?? 0
}

/**
 * The requests of one tick, in the order they arrive: ⌊nodes × rate / 100⌋ deploys at random
 * nodes, then ⌊nodes × stop rate / 100⌋ stops (each stops the newest container of its profile),
 * every profile drawn by its percentage.
 */
export function tickEvents (scenario: Scenario, nodes: number, ticks: number, tick: number, random: SimRandom): WorkloadEvent[] {
  const deploys = Math.floor(nodes * rateAt(scenario.deployRates, tick, ticks) / 100)
  const stops = Math.floor(nodes * rateAt(scenario.stopRates, tick, ticks) / 100)
  const percentages = scenario.profiles.map(p => p.percentage)
  const events: WorkloadEvent[] = []

  for (let i = 0; i < deploys; i++) {
    events.push({ kind: 'deploy', profile: random.percentage(percentages), node: random.int(nodes) })
  }

  for (let i = 0; i < stops; i++) {
    events.push({ kind: 'stop', profile: random.percentage(percentages) })
  }

  return events
}

/** Peers that join, leave and crash in one tick. */
export interface TickChurn {
  joins: number
  leaves: number
  crashes: number
}

/**
 * How many peers join, leave and crash in each tick, from the scenario's churn and the number of
 * peers live at each tick's start. A rate's fractions carry over from tick to tick, so that
 * 1 % of 4 095 peers is 40 or 41 peers a tick and 40.95 on average. At least one peer stays live
 * (the swarm master never goes). Ticks before `fromTick` have none. The numbers depend on the scenario alone, not on what happened
 * in the run: the simulator knows before it starts how many peers will ever join.
 */
export function churnSchedule (churn: Churn | undefined, nodes: number, ticks: number): TickChurn[] {
  const schedule: TickChurn[] = []
  const due = { join: 0, leave: 0, crash: 0 }
  let live = nodes
  const take = (amount: ChurnAmount, kind: keyof typeof due): number => {
    if ('count' in amount) {
      return amount.count
    }

    due[kind] += amount.rate * live
    const n = Math.floor(due[kind] + 1e-9)
    due[kind] -= n
    return n
  }

  for (let tick = 0; tick < ticks; tick++) {
    if (churn == null || tick < churn.fromTick) {
      schedule.push({ joins: 0, leaves: 0, crashes: 0 })
      continue
    }

    const joins = take(churn.join, 'join')
    let leaves = take(churn.leave, 'leave')
    let crashes = take(churn.crash, 'crash')
    // departures within the tick come from the peers live at its start, less the one that stays
    crashes = Math.min(crashes, live - 1)
    leaves = Math.min(leaves, live - 1 - crashes)
    schedule.push({ joins, leaves, crashes })
    live += joins - leaves - crashes
  }

  return schedule
}
