/**
 * The partition tree: how the resources a peer may offer are cut into combinations, and the share
 * of peers expected at each. The network's configuration carries one, and the resource map is
 * built from it; it lives here, with the map, so that the configuration can check that a tree
 * fits the map's grid.
 */

export interface MemoryPartition {
  /** memory in MB */
  value: number
  percentage: number
}

export interface CpuCoresPartition {
  /** CPUs */
  value: number
  percentage: number
  memory: MemoryPartition[]
}

export interface CpuClassPartition {
  /** 0 = low, 1 = high */
  value: number
  percentage: number
  cpuCores: CpuCoresPartition[]
}

/** The resource-partition tree: CPU class → CPU cores → memory. Percentages at each level sum to 100. */
export interface PartitionTree {
  cpuClasses: CpuClassPartition[]
}
