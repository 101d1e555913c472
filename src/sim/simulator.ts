/**
 * The simulator's engine: one backend of one scenario. It builds `nodes` simulated peers, each
 * running the real `PeerRoles` (supplier, trader, buyer, containers and user managers) over the
 * simulated network and overlay, the memory runtime and the virtual clock, then feeds the
 * scenario's requests tick by tick and measures what the original simulator measured
 * (`docs/simulator.md`).
 *
 * Requests of a tick arrive one after another, evenly spread over the tick; a request's messages
 * are function calls, so it completes before the next one arrives, while the roles' timers
 * (publication of changed offers, refreshes) fire in between on the virtual clock.
 */

import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { PeerIdCache } from '../protocols/peer-id-cache.js'
import { pointOf, ResourceMap } from '../resources/resource-map.js'
import { SWARM_MASTER_KEY } from '../roles/index.js'
import { PeerRoles } from '../roles/peer-roles.js'
import { MemoryRuntime } from '../runtime/memory-runtime.js'
import { SimClock, settle } from './clock.js'
import { SimKademlia } from './kademlia.js'
import { SimNetwork } from './network.js'
import { SimRandom, STREAMS } from './random.js'
import { capacities, tickEvents } from './workload.js'
import type { DiscoveryBackend, NetworkConfig } from '../config/types.js'
import type { ContainerConfig, Resources } from '../types.js'
import type { BackendResult, Summary, WindowPoint } from './report-types.js'
import type { Scenario } from './scenario.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'

/** Ticks per metrics window: 3 simulated minutes of 20 s ticks, as the original's snapshots. */
export const WINDOW_TICKS = 9
/** Simulated time before the first tick, for the suppliers' first offers. */
export const WARM_UP_MS = 60_000
/** Peers started at once. */
const START_WAVE = 1000
/**
 * Simulated time over which the waves of peers start, the first half of the warm-up: peers join
 * over time, as in a real network, and a million first publications never run all at once.
 */
const JOIN_MS = WARM_UP_MS / 2
/** Bytes of an Ed25519 public key. */
const KEY_BYTES = 32

/** What to simulate. */
export interface SimulateOptions {
  scenario: Scenario
  backend: DiscoveryBackend
  /** @default scenario.nodes */
  nodes?: number
  /** @default scenario.ticks */
  ticks?: number
  /** @default scenario.seed */
  seed?: number
  /** called after every tick, for progress output */
  onTick?: (tick: number, requests: number, succeeded: number) => void
}

/** A backend's result and the simulator's own checks of the run. */
export interface SimulationResult extends BackendResult {
  /** peers whose supplier's free resources differ from what the simulator placed on them (0 in a correct run) */
  accountingErrors: number
  /** handler errors that were not a protocol status (bugs; 0 in a correct run) */
  handlerErrors: string[]
  /** timers the virtual clock fired */
  timersFired: number
  /** messages and bytes per message name, FIND_NODE included */
  messagesByName: Record<string, { messages: number, bytes: number }>
}

/** The cost of one request, as its buyer spent it. */
interface RequestCost {
  messages: number
  lookups: number
  hops: number
}

/** A container the simulator placed, for stops and accounting. */
interface Placed {
  buyer: number
  supplier: number
  containerId: string
  resources: Resources
}

/**
 * Peer ids of simulated peers, and their points: those of Ed25519 public keys whose 32 bytes are drawn from the seed.
 * Simulated peers never sign, so the keys need no private half (and making a million real key
 * pairs would take minutes).
 */
export function simulatedPeers (nodes: number, random: SimRandom): { peerIds: string[], points: Uint8Array[] } {
  const peerIds: string[] = new Array(nodes)
  const points: Uint8Array[] = new Array(nodes)

  for (let i = 0; i < nodes; i++) {
    const id = peerIdFromPublicKey(publicKeyFromRaw(random.bytes(KEY_BYTES)))
    peerIds[i] = id.toString()
    // the point from the multihash itself: `keyOfPeerId` would decode the base58 text again
    points[i] = pointOf(id.toMultihash().bytes)
  }

  return { peerIds, points }
}

/** Simulate one backend of a scenario. */
export async function simulate (options: SimulateOptions): Promise<SimulationResult> {
  const { scenario, backend } = options
  const nodes = options.nodes ?? scenario.nodes
  const ticks = options.ticks ?? scenario.ticks
  const seed = options.seed ?? scenario.seed
  const started = performance.now()
  let peakRss = process.memoryUsage.rss()
  const sampleMemory = (): void => { peakRss = Math.max(peakRss, process.memoryUsage.rss()) }

  const network: NetworkConfig = { ...scenario.network, discoveryBackend: backend }
  const map = new ResourceMap(network.resources)
  const { peerIds, points } = simulatedPeers(nodes, new SimRandom(seed, STREAMS.identities))
  const overlayRandom = new SimRandom(seed, STREAMS.overlay)
  const kademlia = new SimKademlia(points, { random: () => overlayRandom.uniform() })

  // the request each buyer is placing, to charge its messages to
  const active = new Map<number, RequestCost>()
  const net = new SimNetwork({
    peerIds,
    kademlia,
    resourceMap: map,
    lookupCount: network.lookupCount,
    // every peer of the network: each id is converted once, and the records that name a peer share one string
    peerIdCache: new PeerIdCache(nodes),
    tap: {
      message: from => {
        const cost = active.get(from)

        if (cost != null) {
          cost.messages++
        }
      },
      lookup: (from, rpcs, hops) => {
        const cost = active.get(from)

        if (cost != null) {
          cost.lookups++
          cost.hops += hops
          cost.messages += rpcs
        }
      }
    }
  })

  const clock = new SimClock()
  const rolesRandom = new SimRandom(seed, STREAMS.roles).source()
  const log = sharedLogger()
  const machines = capacities(scenario, nodes, new SimRandom(seed, STREAMS.capacities))
  const roles: PeerRoles[] = new Array(nodes)
  // shared by every peer: a closure each would cost a million closures
  const config = (): NetworkConfig => network
  const resourceMap = (): ResourceMap => map

  for (let i = 0; i < nodes; i++) {
    const node = net.nodes[i]
    roles[i] = new PeerRoles({
      self: () => node,
      selfKey: points[i],
      overlay: net.overlay(i),
      client: net.client(i),
      runtime: new MemoryRuntime({ cpus: machines[i].cpus, memory: machines[i].memory, random: rolesRandom }),
      clock,
      config,
      resourceMap,
      capacity: machines[i],
      logger: log,
      keyOf: net.keyOf,
      random: rolesRandom
    })
    net.serve(i, roles[i].handlers)
  }

  const waves = Math.ceil(nodes / START_WAVE)

  for (let wave = 0; wave < waves; wave++) {
    await clock.runUntil(Math.floor(wave * JOIN_MS / waves))
    await Promise.all(roles.slice(wave * START_WAVE, (wave + 1) * START_WAVE).map(async r => { await r.start() }))
  }

  sampleMemory()
  await clock.runUntil(WARM_UP_MS)
  const startUpMs = performance.now() - started

  const master = backend === 'swarm' ? swarmMaster(kademlia, map) : -1
  const maxCpus = Float64Array.from(machines, m => m.cpus * network.cpuSlices * network.cpuOvercommit / 100)
  const maxMemory = Float64Array.from(machines, m => m.memory * network.memoryOvercommit / 100)
  const usedCpus = new Float64Array(nodes)
  const usedMemory = new Float64Array(nodes)
  const placed: Placed[][] = scenario.profiles.map(() => [])
  const workload = new SimRandom(seed, STREAMS.workload)
  const costs: number[] = []
  const lookups: number[] = []
  const hops: number[] = []
  const series: WindowPoint[] = []
  let requests = 0
  let succeeded = 0
  let requested = { cpus: 0, memory: 0 }
  let allocated = { cpus: 0, memory: 0 }
  let windowRequests = 0
  let windowMessages = 0
  let containerNumber = 0
  const inFlight = new Set<Promise<void>>()
  const track = (promise: Promise<void>): void => {
    inFlight.add(promise)
    void promise.finally(() => inFlight.delete(promise))
  }

  const deploy = (profileIndex: number, node: number): void => {
    const buyer = master >= 0 ? master : node
    const profile = scenario.profiles[profileIndex]
    const resources: Resources = { cpuClass: profile.cpuClass, cpus: profile.cpus, memory: profile.memory }
    const container: ContainerConfig = { name: `c${containerNumber++}`, image: 'sim', args: [], portMappings: [], resources, groupPolicy: 'spread' }
    const cost: RequestCost = { messages: 1, lookups: 0, hops: 0 }
    active.set(buyer, cost)
    requested = { cpus: requested.cpus + resources.cpus, memory: requested.memory + resources.memory }

    track(roles[buyer].run([container]).then(statuses => {
      const supplier = net.indexOf(statuses[0].supplier.peerId)
      placed[profileIndex].push({ buyer, supplier, containerId: statuses[0].containerId, resources })
      usedCpus[supplier] += resources.cpus
      usedMemory[supplier] += resources.memory
      allocated = { cpus: allocated.cpus + resources.cpus, memory: allocated.memory + resources.memory }
      succeeded++
    }, () => {}).finally(() => {
      if (active.get(buyer) === cost) {
        active.delete(buyer)
      }

      requests++
      windowRequests++
      windowMessages += cost.messages
      costs.push(cost.messages)
      lookups.push(cost.lookups)
      hops.push(cost.hops)
    }))
  }

  const stop = (profileIndex: number): void => {
    const container = placed[profileIndex].pop()

    if (container == null) {
      return
    }

    track(roles[container.buyer].stopContainers([container.containerId]).then(([result]) => {
      if (result?.stopped === true) {
        usedCpus[container.supplier] -= container.resources.cpus
        usedMemory[container.supplier] -= container.resources.memory
      }
    }))
  }

  for (let tick = 0; tick < ticks; tick++) {
    const tickStart = WARM_UP_MS + tick * scenario.tickInterval
    const events = tickEvents(scenario, nodes, ticks, tick, workload)

    for (const [i, event] of events.entries()) {
      await clock.runUntil(tickStart + Math.floor((i + 0.5) * scenario.tickInterval / events.length))

      if (event.kind === 'deploy') {
        deploy(event.profile, event.node)
      } else {
        stop(event.profile)
      }
    }

    await clock.runUntil(tickStart + scenario.tickInterval)
    options.onTick?.(tick, requests, succeeded)

    if ((tick + 1) % WINDOW_TICKS === 0 || tick === ticks - 1) {
      sampleMemory()
      series.push({
        tick,
        minutes: (tick + 1) * scenario.tickInterval / 60_000,
        requests,
        succeeded,
        successRatio: requests > 0 ? succeeded / requests : 0,
        windowRequests,
        usedResourceRatio: usedRatio(maxCpus, maxMemory, usedCpus, usedMemory),
        messagesPerRequest: windowRequests > 0 ? windowMessages / windowRequests : 0
      })
      windowRequests = 0
      windowMessages = 0
    }
  }

  await Promise.all(inFlight)
  await settle()
  const accountingErrors = checkAccounting(roles, maxCpus, maxMemory, usedCpus, usedMemory)
  const received = Array.from(net.messagesReceived).sort((a, b) => a - b)
  const bytes = Array.from(net.bytesReceived).sort((a, b) => a - b)
  const totalMessages = received.reduce((sum, n) => sum + n, 0)
  const totalBytes = bytes.reduce((sum, n) => sum + n, 0)
  const busiest = received[received.length - 1] ?? 0
  sampleMemory()

  // the roles are not stopped: their timers stay on a clock nobody moves any more, and stopping
  // would withdraw every offer, millions of messages that measure nothing
  return {
    backend,
    nodes,
    ticks,
    seed,
    requests,
    succeeded,
    successRatio: requests > 0 ? succeeded / requests : 0,
    messagesPerRequest: summarize(costs),
    lookupsPerRequest: summarize(lookups),
    hopsPerRequest: summarize(hops),
    allocationEfficiency: requested.cpus > 0 ? (allocated.cpus / requested.cpus + allocated.memory / requested.memory) / 2 : 0,
    peerMessagesReceived: summarizeSorted(received),
    peerBytesReceived: summarizeSorted(bytes),
    busiestPeerShare: totalMessages > 0 ? busiest / totalMessages : 0,
    busiestPeerMessages: busiest,
    totalMessages,
    totalBytes,
    wallTimeMs: performance.now() - started,
    startUpMs,
    peakRssBytes: peakRss,
    series,
    messagesHistogram: histogram(costs),
    peerLoadQuantiles: Array.from({ length: 101 }, (_, i) => ({
      q: i / 100,
      messages: quantileSorted(received, i / 100),
      bytes: quantileSorted(bytes, i / 100)
    })),
    accountingErrors,
    handlerErrors: net.bugs.slice(0, 10).map(err => err.stack ?? err.message),
    timersFired: clock.fired,
    messagesByName: net.totals
  }
}

/** The swarm master: the peer every worker's lookup of `SWARM_MASTER_KEY` returns first. */
function swarmMaster (kademlia: SimKademlia, map: ResourceMap): number {
  const point = pointOf(SWARM_MASTER_KEY)
  const [master] = kademlia.closest(point, 1, map.sliceOf(point))
  return master ?? kademlia.closest(point, 1)[0]
}

/** Mean over peers of their used share; a peer without free CPUs or memory counts as fully used, as the original's. */
function usedRatio (maxCpus: Float64Array, maxMemory: Float64Array, usedCpus: Float64Array, usedMemory: Float64Array): number {
  let sum = 0

  for (let i = 0; i < maxCpus.length; i++) {
    sum += usedCpus[i] >= maxCpus[i] || usedMemory[i] >= maxMemory[i]
      ? 1
      : (usedCpus[i] / maxCpus[i] + usedMemory[i] / maxMemory[i]) / 2
  }

  return maxCpus.length > 0 ? sum / maxCpus.length : 0
}

/** Peers whose supplier's free resources are not its capacity less what the simulator placed there. */
function checkAccounting (roles: PeerRoles[], maxCpus: Float64Array, maxMemory: Float64Array, usedCpus: Float64Array, usedMemory: Float64Array): number {
  let errors = 0

  roles.forEach((r, i) => {
    const { available } = r.offers().supplying

    if (available.cpus !== Math.max(0, maxCpus[i] - usedCpus[i]) || available.memory !== Math.max(0, maxMemory[i] - usedMemory[i])) {
      errors++
    }
  })

  return errors
}

/** A ComponentLogger that makes one logger per component for all peers (a million peers, five components). */
function sharedLogger (): ComponentLogger {
  const loggers = new Map<string, Logger>()

  return {
    forComponent (name: string): Logger {
      let log = loggers.get(name)

      if (log == null) {
        log = logger(name.replace(/^caravela:/, 'caravela:sim:'))
        loggers.set(name, log)
      }

      return log
    }
  }
}

function summarize (values: number[]): Summary {
  return summarizeSorted(Float64Array.from(values).sort())
}

function summarizeSorted (sorted: ArrayLike<number>): Summary {
  let sum = 0

  for (let i = 0; i < sorted.length; i++) {
    sum += sorted[i]
  }

  return {
    count: sorted.length,
    mean: sorted.length > 0 ? sum / sorted.length : 0,
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : 0
  }
}

/** Nearest-rank quantile of sorted values (0 for none). */
function quantileSorted (sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) {
    return 0
  }

  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

function histogram (values: number[]): Array<{ messages: number, requests: number }> {
  const counts = new Map<number, number>()

  for (const v of values) {
    counts.set(v, (counts.get(v) ?? 0) + 1)
  }

  return [...counts].sort((a, b) => a[0] - b[0]).map(([messages, requests]) => ({ messages, requests }))
}
