/**
 * Arithmetic and wording of resource combinations, shared by the roles.
 */

import type { ContainerConfig, Resources } from '../types.js'

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
