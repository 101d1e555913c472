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
  /**
   * how often a buyer asks the suppliers of the containers it placed about them; a supplier that
   * misses two answers in a row is taken for lost, and so are its containers
   */
  statusInterval: number
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
   * sha256 (64 hex digits) of the canonical JSON of the only network configuration this peer
   * runs with (`networkConfigDigest`): it refuses to adopt, keep or create any other
   */
  networkConfig?: string
  /**
   * networks (`/ip4/<address>/ipcidr/<prefix>`, libp2p's allow-list form) whose peers are limited
   * per peer only: libp2p's per-host connection limits, and this peer's caps on the offers and
   * requests of one host or subnet, do not apply to them. A testnet of many peers on one machine
   * allows `/ip4/127.0.0.0/ipcidr/8`; empty, every address is limited
   */
  allow: string[]
  /**
   * milliseconds between two checks that the container engine answers: while it does not, the
   * peer offers nothing and refuses launches; when it answers again it reconciles and offers
   */
  runtimeCheckInterval: number
  /**
   * LAN discovery over mDNS: find the peers of this network (same protocol prefix and network
   * key) on the local network without bootstrap addresses. Undefined: on when the peer listens on
   * a private address (RFC 1918, link-local, IPv6 unique-local; a wildcard address counts when the
   * host has one), off otherwise (public or loopback addresses only)
   */
  mdns?: boolean
}

/** A container network a supplier gives its containers. */
export type ContainerNetwork = 'bridge' | 'none'

/**
 * What this peer lets others run on it: who may launch, which images from which registries,
 * which host ports, and the limits of every container beyond CPU and memory. A launch outside
 * the policy is refused (REFUSED, with the reason) and the buyer tries another offer.
 */
export interface SupplierConfig {
  /** peer ids that may launch containers here; empty: any peer that can connect */
  allowBuyers: string[]
  /**
   * images that may run here, `[registry/]repository[:tag|@sha256:digest]` with `*` globs;
   * empty: any image
   */
  allowImages: string[]
  /**
   * registries images may come from (`docker.io`, `ghcr.io`, `host:port`); empty: any registry
   * but those on this machine or its private networks, which must be named to be allowed
   */
  allowRegistries: string[]
  /** the host ports containers may publish, both ends included; port 0 (engine-chosen) always may */
  hostPorts: { min: number, max: number }
  /** `bridge` (Docker's default network) or `none` (no network, so no ports) */
  network: ContainerNetwork
  /** most processes (threads included) of one container */
  pidsLimit: number
  /** most open files of one container */
  openFilesLimit: number
  /** MB of one json-file log file of a container... */
  logMaxSize: number
  /** ...and how many it keeps */
  logMaxFiles: number
  /** containers get a read-only root filesystem (and a small tmpfs on /tmp and /run) */
  readOnlyRootfs: boolean
  /** MB of a container's writable layer, where the storage driver has quotas (undefined: no quota) */
  diskQuota?: number
  /**
   * time between two sweeps that remove the images this peer pulled and no container has used
   * for `imageGracePeriod` (0: no sweeps; a low disk still removes idle ones)
   */
  imageCleanupInterval: number
  /** how long an image this peer pulled stays once no container uses it */
  imageGracePeriod: number
  /**
   * how long a container that exited is kept stopped, for its buyer to read its output (0: removed
   * at once); its resources are free from its exit
   */
  exitedRetention: number
  /** most exited containers kept for one buyer; its oldest goes first */
  exitedPerBuyer: number
  /** most exited containers kept in all; the oldest goes first */
  exitedTotal: number
}

/**
 * How this peer gets through NATs and firewalls (`[nat]`): libp2p's circuit relay v2, AutoNAT,
 * DCUtR hole punching and UPnP port mapping. The defaults suit a volunteer peer: one behind a
 * home router reserves a relay slot and maps its port, one with a public address relays for
 * others (`docs/configuration.md`).
 */
export interface NatConfig {
  /**
   * Reserve a slot on a relay peer and announce the `/p2p-circuit` address it gives, so that
   * peers that cannot dial this one reach it through the relay. Such a peer is a DHT client
   * (never a trader) while it has no public address. Undefined: on when the peer listens on
   * private addresses only (the rule of `node.mdns`), off for public and loopback addresses
   */
  relay?: boolean
  /**
   * Offer limited relay service to peers behind NATs. Undefined: on when the peer listens on or
   * announces a public address (neither private nor loopback), off otherwise
   */
  relayServer?: boolean
  /** relay slots this peer hands out at once, when it relays */
  relayMaxReservations: number
  /** MB one relayed connection may carry (both directions together) before the relay resets it */
  relayDataLimit: number
  /** milliseconds one relayed connection may stay open before the relay resets it */
  relayDurationLimit: number
  /** DCUtR: turn a relayed connection into a direct one by hole punching */
  holePunching: boolean
  /** AutoNAT: ask peers to dial this peer's addresses back, and answer their asking */
  autoNat: boolean
  /**
   * Map the listen port on the home router over UPnP. Undefined: on when the peer listens on
   * private addresses (as `relay`), off otherwise; a network without a UPnP router only logs
   */
  upnp?: boolean
}

/** How this peer keeps its ledger (`[storage]`). */
export interface StorageConfig {
  /**
   * Sync every ledger write to disk (LevelDB `sync: true`) before it counts as done: a record
   * written before an answer then survives a power loss, not only the process being killed.
   * Writes are group-committed, so one sync covers every write of a burst
   */
  sync: boolean
}

export interface CaravelaConfig {
  network: NetworkConfig
  node: NodeConfig
  supplier: SupplierConfig
  nat: NatConfig
  storage: StorageConfig
  /**
   * The network key file of a closed network (`[network] keyFile` in TOML; `--network-key`
   * overrides it). This peer's own: it is no part of `NetworkConfig`, so it is never sent to a
   * joining peer nor taken from the peer this one joins.
   */
  networkKeyFile?: string
}
