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
import type { Scenario } from './scenario.js'

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
