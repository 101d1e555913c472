/**
 * Arithmetic and wording of resource combinations, shared by the roles.
 */

import { CPU_CLASS_NAMES } from '../types.js'
import type { NetworkConfig } from '../config/types.js'
import type { ContainerConfig, Offer, Resources } from '../types.js'

/**
 * Cores of the largest machine one peer may be: a hardware bound (today's largest servers have a
 * few hundred cores), not a partition of the tree, which only says how requests are sorted.
 */
export const MAX_PEER_CORES = 1024
/** Memory of the largest machine one peer may be, in MB: 16 TiB. */
export const MAX_PEER_MEMORY_MB = 16 * 1024 * 1024

/** Percent: overcommit values are percentages of the real capacity. */
const PERCENT = 100

/** What one peer may offer at most: CPUs and memory, and the containers it may run. */
export interface PeerBound {
  /** CPU units (cores × cpuSlices, overcommitted) */
  cpus: number
  /** MB, overcommitted */
  memory: number
  /** containers running at once: each holds at least one CPU unit */
  containers: number
}

/**
 * The most one peer may offer under a network's configuration: `MAX_PEER_CORES` cores cut in
 * `cpuSlices` units and overcommitted by `cpuOvercommit`, and `MAX_PEER_MEMORY_MB` overcommitted
 * by `memoryOvercommit`, as the supplier computes its own capacity (`computeCapacity`); and as many
 * running containers as CPU units, since every container holds at least one.
 *
 * The bound is a machine's, scaled by the configuration, and not the largest partition of the
 * tree: the top slice legitimately holds machines larger than its partition (an 8-core volunteer
 * on the default tree, whose largest partition has 2 cores), so a partition would refuse honest
 * peers. What it refuses is the offer no machine can back, such as 2^32 - 1 CPUs, which would
 * otherwise rank first everywhere and capture every placement.
 */
export function peerResourceBound (network: Pick<NetworkConfig, 'cpuSlices' | 'cpuOvercommit' | 'memoryOvercommit'>): PeerBound {
  const cpus = Math.floor(MAX_PEER_CORES * network.cpuOvercommit / PERCENT) * network.cpuSlices
  return { cpus, memory: Math.floor(MAX_PEER_MEMORY_MB * network.memoryOvercommit / PERCENT), containers: cpus }
}

/**
 * Why an offer is beyond what one peer may offer (`peerResourceBound`): free or used resources,
 * or both together, above the bound, an unknown CPU class, or more running containers than the
 * bound; undefined when it is within it.
 */
export function beyondPeerBound (offer: Pick<Offer, 'freeResources' | 'usedResources' | 'containersRunning'>, bound: PeerBound): string | undefined {
  const { freeResources: free, usedResources: used } = offer

  for (const [name, r] of [['free', free], ['used', used]] as const) {
    if (!Number.isInteger(r.cpuClass) || r.cpuClass < 0 || r.cpuClass >= CPU_CLASS_NAMES.length) {
      return `its ${name} resources have CPU class ${r.cpuClass}, not one of 0 (low) and 1 (high)`
    }

    if (!isCount(r.cpus) || !isCount(r.memory)) {
      return `its ${name} resources are not whole non-negative numbers of CPUs and MB`
    }
  }

  const together = { cpuClass: 0, cpus: free.cpus + used.cpus, memory: free.memory + used.memory }

  for (const [name, r] of [['free resources', free], ['used resources', used], ['free and used resources together', together]] as const) {
    if (r.cpus > bound.cpus || r.memory > bound.memory) {
      return `its ${name}, ${describeResources(r)}, exceed what one peer may offer on this network, ${describeResources({ cpuClass: 0, ...bound })}`
    }
  }

  if (!isCount(offer.containersRunning) || offer.containersRunning > bound.containers) {
    return `it claims ${offer.containersRunning} running containers, more than one peer may run on this network (${bound.containers})`
  }

  return undefined
}

/** Within what one peer may offer: `resources` cut down to `bound` where they exceed it. */
export function clampToPeerBound (resources: Resources, bound: PeerBound): Resources {
  return { cpuClass: resources.cpuClass, cpus: Math.min(resources.cpus, bound.cpus), memory: Math.min(resources.memory, bound.memory) }
}

function isCount (n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}

/** `2 CPUs and 1024 MB` (with the class when it is not the lowest). */
export function describeResources (r: Resources): string {
  const cpuClass = r.cpuClass > 0 ? ` of class ${r.cpuClass === 1 ? 'high' : r.cpuClass}` : ''
  return `${r.cpus} CPU${r.cpus === 1 ? '' : 's'}${cpuClass} and ${r.memory} MB`
}

/** Same CPU class, CPUs and memory. */
export function sameResources (a: Resources, b: Resources): boolean {
  return a.cpuClass === b.cpuClass && a.cpus === b.cpus && a.memory === b.memory
}

/**
 * What containers launched together need: CPUs and memory added, the highest CPU class (the
 * original took the last container's).
 */
export function totalResources (containers: Array<Pick<ContainerConfig, 'resources'>>): Resources {
  return containers.reduce((sum, c) => ({
    cpuClass: Math.max(sum.cpuClass, c.resources.cpuClass),
    cpus: sum.cpus + c.resources.cpus,
    memory: sum.memory + c.resources.memory
  }), { cpuClass: 0, cpus: 0, memory: 0 })
}
