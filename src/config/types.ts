/**
 * Configuration types. `NetworkConfig` is shared by every peer of one network: a joining peer
 * takes it from the peer it joins (`obtainConfiguration`). `NodeConfig` belongs to this peer only.
 * Durations are milliseconds; memory is MB; CPUs are in CPU-slice units.
 */

import type { PartitionTree } from '../resources/partition-tree.js'

// the partition tree is the resource map's input and part of the network's configuration
export type { CpuClassPartition, CpuCoresPartition, MemoryPartition, PartitionTree } from '../resources/partition-tree.js'

export type SchedulingPolicy = 'binpack' | 'spread'
export type DiscoveryBackend = 'single-offer' | 'single-offer-full-walk' | 'multi-offer' | 'multi-offer-updates' | 'random' | 'swarm'

export interface NetworkConfig {
  cpuSlices: number
  cpuOvercommit: number
  memoryOvercommit: number
  schedulingPolicy: SchedulingPolicy
  discoveryBackend: DiscoveryBackend
  supplyingInterval: number
  spreadOffersInterval: number
  refreshesCheckInterval: number
  refreshingInterval: number
  refreshMissedTimeout: number
  maxRefreshesFailed: number
  maxRefreshesMissed: number
  maxPartitionsSearch: number
  spreadOffers: boolean
  randBackendMaxRetries: number
  /** timeout of one peer-to-peer request (the original's APITimeout) */
  requestTimeout: number
  /**
   * how long a buyer keeps asking a supplier for the answer of a launch (it may be pulling the
   * image) before it cancels the launch; each asking waits `requestTimeout`
   */
  launchTimeout: number
  /** peers returned by one overlay lookup (the original's Chord NumSuccessors) */
  lookupCount: number
  /**
   * traders of a slice per anchor: offers and searches of a slice go to the traders nearest one
   * of its anchors, one anchor per this many traders the slice is estimated to have (0: to the
   * traders nearest a random key of the slice, every trader alike)
   */
  tradersPerAnchor: number
  resources: PartitionTree
}

export interface NodeConfig {
  /** protocol ids are `/<protocolPrefix>/<name>/<version>`; the DHT is `/<protocolPrefix>/kad/1.0.0` */
  protocolPrefix: string
  /** multiaddrs to listen on */
  listen: string[]
  /** multiaddrs to announce instead of the listen addresses (empty: announce what we listen on) */
  announce: string[]
  /** multiaddrs (with /p2p/<id>) of peers to join through; empty creates a new network */
  bootstrap: string[]
  /** host of the local control API; must be a loopback address */
  apiHost: string
  /** port of the local control API (0: any free port) */
  apiPort: number
  /** advertised CPUs (undefined: the runtime's) */
  cpus?: number
  /** advertised memory in MB (undefined: the runtime's) */
  memory?: number
  /** advertised CPU class */
  cpuClass: 'low' | 'high'
  /**
   * networks (`/ip4/<address>/ipcidr/<prefix>`, libp2p's allow-list form) whose peers are limited
   * per peer only: libp2p's per-host connection limits, and this peer's caps on the offers and
   * requests of one host or subnet, do not apply to them. A testnet of many peers on one machine
   * allows `/ip4/127.0.0.0/ipcidr/8`; empty, every address is limited
   */
  allow: string[]
}

export interface CaravelaConfig {
  network: NetworkConfig
  node: NodeConfig
}
