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
import { PeerClock, SimClock, settle } from './clock.js'
import { SimKademlia } from './kademlia.js'
import { SimNetwork } from './network.js'
import { SimRandom, STREAMS } from './random.js'
import { capacities, churnSchedule, tickEvents } from './workload.js'
import type { DiscoveryBackend, NetworkConfig } from '../config/types.js'
import type { Clock, ContainerConfig, ContainerView, Resources } from '../types.js'
import type { BackendResult, ChurnResult, Summary, WindowPoint } from './report-types.js'
import type { Scenario } from './scenario.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'

/** Ticks per metrics window: 3 simulated minutes of 20 s ticks, as the original's snapshots. */
export const WINDOW_TICKS = 9
/** Simulated time before the first tick, for the suppliers' first offers. */
export const WARM_UP_MS = 60_000
/** Simulated time after the last tick in which requests still in flight may end. */
const DRAIN_MS = 10 * 60_000
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
  /** containers the live peers' suppliers run at the end, by their own count */
  containersRunning: number
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
  /** index of its request profile */
  profile: number
  resources: Resources
  /** stopped by a stop request */
  stopped: boolean
  /** gone with its supplier (crashed or left) */
  lost: boolean
  /** its buyer crashed or left */
  orphaned: boolean
  /** its buyer placed it again for its restart policy: the new copy is another `Placed` */
  replaced: boolean
}

/** Whether a stop request may still take a container: one churn took away, or its buyer replaced, is out of reach. */
function stoppable (container: Placed): boolean {
  return !container.stopped && !container.lost && !container.orphaned && !container.replaced
}

/** One thing that happens within a tick. */
interface TickAction {
  /** milliseconds after the tick's start */
  at: number
  kind: 'request' | 'join' | 'leave' | 'crash'
  /** index of the request in the tick's workload */
  index: number
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
  // every peer that will ever join gets its identity and capacity now, after the first `nodes`
  // peers' (so a run without churn draws exactly what it drew before churn existed)
  const schedule = churnSchedule(scenario.churn, nodes, ticks)
  const churning = scenario.churn != null
  const total = nodes + schedule.reduce((sum, t) => sum + t.joins, 0)
  const { peerIds, points } = simulatedPeers(total, new SimRandom(seed, STREAMS.identities))
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
    peerIdCache: new PeerIdCache(total),
    tap: {
      message: (from, name) => {
        // a buyer's status checks of what it placed run on their own timer: no deploy's cost
        const cost = name === 'containerStatus' ? undefined : active.get(from)

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
  const machines = capacities(scenario, total, new SimRandom(seed, STREAMS.capacities))
  const roles: PeerRoles[] = new Array(total)
  // with churn, each peer's own view of the clock, stopped when it crashes
  const clocks: PeerClock[] = churning ? new Array(total) : []
  // shared by every peer: a closure each would cost a million closures
  const config = (): NetworkConfig => network
  const resourceMap = (): ResourceMap => map
  const maxCpus = Float64Array.from(machines, m => m.cpus * network.cpuSlices * network.cpuOvercommit / 100)
  const maxMemory = Float64Array.from(machines, m => m.memory * network.memoryOvercommit / 100)
  const usedCpus = new Float64Array(total)
  const usedMemory = new Float64Array(total)
  const placed: Placed[][] = scenario.profiles.map(() => [])
  // with churn, the containers each peer hosts and each peer placed
  const hostedBy = new Map<number, Placed[]>()
  const placedBy = new Map<number, Placed[]>()
  const churned: ChurnResult = { joined: 0, left: 0, crashed: 0, containersLost: 0, containersLeft: 0, containersOrphaned: 0, requestsAbandoned: 0, rescheduled: 0, ticks: [] }
  // with restart policies, the containers by id, for their buyers to re-place
  const restart = scenario.churn?.restart
  const byId = restart == null ? undefined : new Map<string, Placed>()

  /** A container placed: it uses resources on its supplier, and churn may take it or its buyer. */
  const account = (profile: number, buyer: number, containerId: string, supplierId: string, resources: Resources): void => {
    const supplier = net.indexOf(supplierId)
    const container: Placed = { buyer, supplier, containerId, profile, resources, stopped: false, lost: false, orphaned: false, replaced: false }
    placed[profile].push(container)
    byId?.set(containerId, container)
    usedCpus[supplier] += resources.cpus
    usedMemory[supplier] += resources.memory

    if (churning) {
      listOf(hostedBy, supplier).push(container)
      listOf(placedBy, buyer).push(container)

      // placed on a supplier that has crashed or left meanwhile
      if (!net.isAlive(supplier)) {
        container.lost = true
        churned.containersLost++
      }
    }
  }

  /**
   * A buyer placed a container again for its restart policy (`onContainerReplaced`, one function
   * for every peer): the new copy is accounted as a deploy's, the old one is out of reach.
   */
  const replaced = (old: ContainerView, replacement: ContainerView): void => {
    const before = byId?.get(old.containerId)

    if (before == null) {
      return
    }

    byId?.delete(old.containerId)
    before.replaced = true

    // not lost to the simulator: its live supplier no longer ran it, and holds nothing for it
    if (!before.lost && !before.stopped) {
      usedCpus[before.supplier] -= before.resources.cpus
      usedMemory[before.supplier] -= before.resources.memory
    }

    account(before.profile, before.buyer, replacement.containerId, replacement.supplier.peerId, before.resources)
    churned.rescheduled++
  }

  const makePeer = (i: number): void => {
    const node = net.nodes[i]
    let peerClock: Clock = clock

    if (churning) {
      clocks[i] = new PeerClock(clock)
      peerClock = clocks[i]
    }

    roles[i] = new PeerRoles({
      self: () => node,
      selfKey: points[i],
      overlay: net.overlay(i),
      client: net.client(i),
      runtime: new MemoryRuntime({ cpus: machines[i].cpus, memory: machines[i].memory, random: rolesRandom }),
      clock: peerClock,
      config,
      resourceMap,
      capacity: machines[i],
      logger: log,
      keyOf: net.keyOf,
      random: rolesRandom,
      onContainerReplaced: byId == null ? undefined : replaced,
      // nobody reads a simulated container's output: what exits is removed at once, as a million peers' memory needs
      keptExited: { retention: 0, perBuyer: 0, total: 0 }
    })
    net.serve(i, roles[i].handlers)
  }

  for (let i = 0; i < nodes; i++) {
    makePeer(i)
  }

  // the peers that join later are not in the network yet
  for (let i = nodes; i < total; i++) {
    net.kill(i)
  }

  const waves = Math.ceil(nodes / START_WAVE)

  for (let wave = 0; wave < waves; wave++) {
    await clock.runUntil(Math.floor(wave * JOIN_MS / waves))
    await Promise.all(roles.slice(wave * START_WAVE, Math.min(nodes, (wave + 1) * START_WAVE)).map(async r => { await r.start() }))
  }

  sampleMemory()
  await clock.runUntil(WARM_UP_MS)
  const startUpMs = performance.now() - started

  // under swarm, the peer every lookup of the master's key finds: with churn, a joining peer may take its place
  let master = backend === 'swarm' ? swarmMaster(kademlia, map) : -1
  // the live peers, in an order requests are drawn from (0..nodes-1 until churn moves them), and
  // each peer's place in it (-1 when not live)
  const live: number[] = Array.from({ length: nodes }, (_, i) => i)
  const liveAt = new Int32Array(total).fill(-1)
  live.forEach((peer, i) => { liveAt[peer] = i })
  const churnRandom = new SimRandom(seed, STREAMS.churn)
  let nextJoiner = nodes
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
  // requests in flight, with the peer that made them and what to do when it crashes: a crashed
  // peer's timers never fire again, so what it was waiting for never comes
  const inFlight = new Map<Promise<void>, { peer: number, abandon?: () => void }>()
  const track = (promise: Promise<void>, peer: number, abandon?: () => void): void => {
    inFlight.set(promise, { peer, abandon })
    void promise.finally(() => inFlight.delete(promise))
  }

  const deploy = (profileIndex: number, node: number): void => {
    // a node drawn from 0..nodes-1, as without churn, taken to the same share of the live peers
    const buyer = master >= 0 ? master : live[Math.floor(node * live.length / nodes)]
    const profile = scenario.profiles[profileIndex]
    const resources: Resources = { cpuClass: profile.cpuClass, cpus: profile.cpus, memory: profile.memory }
    const number = containerNumber++
    const container: ContainerConfig = { name: `c${number}`, image: 'sim', args: [], portMappings: [], resources, groupPolicy: 'spread' }

    // deploys carry the policy evenly spread: ⌊share × deploys⌋ of them, no random draw
    if (restart != null && Math.floor((number + 1) * restart.share) > Math.floor(number * restart.share)) {
      container.restart = { ...restart.policy }
    }

    const cost: RequestCost = { messages: 1, lookups: 0, hops: 0 }
    active.set(buyer, cost)
    requested = { cpus: requested.cpus + resources.cpus, memory: requested.memory + resources.memory }

    let done = false
    // a request ends when the buyer's run settles, or, failed, when the buyer crashes during it
    const finish = (): void => {
      if (done) {
        return
      }

      done = true

      if (active.get(buyer) === cost) {
        active.delete(buyer)
      }

      requests++
      windowRequests++
      windowMessages += cost.messages
      costs.push(cost.messages)
      lookups.push(cost.lookups)
      hops.push(cost.hops)
    }

    track(roles[buyer].run([container]).then(statuses => {
      if (done) {
        return
      }

      account(profileIndex, buyer, statuses[0].containerId, statuses[0].supplier.peerId, resources)
      allocated = { cpus: allocated.cpus + resources.cpus, memory: allocated.memory + resources.memory }
      succeeded++
    }, () => {}).finally(finish), buyer, () => {
      churned.requestsAbandoned++
      finish()
    })
  }

  const stop = (profileIndex: number): void => {
    let container = placed[profileIndex].pop()

    // skip the containers churn took away
    while (container != null && !stoppable(container)) {
      container = placed[profileIndex].pop()
    }

    if (container == null) {
      return
    }

    container.stopped = true

    track(roles[container.buyer].stopContainers([container.containerId]).then(([result]) => {
      if (result?.stopped === true) {
        byId?.delete(container.containerId)
        usedCpus[container.supplier] -= container.resources.cpus
        usedMemory[container.supplier] -= container.resources.memory
      }
    }), container.buyer)
  }

  /** A live peer other than the swarm master, drawn from the churn stream. */
  const victim = (): number => {
    let peer = live[churnRandom.int(live.length)]

    while (peer === master) {
      peer = live[churnRandom.int(live.length)]
    }

    return peer
  }

  const dropLive = (peer: number): void => {
    const at = liveAt[peer]
    const last = live.pop() as number

    if (last !== peer) {
      live[at] = last
      liveAt[last] = at
    }

    liveAt[peer] = -1
  }

  /** The containers `peer` hosted go with it (orphans too), those it placed lose their owner. */
  const dropContainers = (peer: number, hosted: 'containersLost' | 'containersLeft'): void => {
    for (const container of hostedBy.get(peer) ?? []) {
      if (!container.stopped && !container.lost && !container.replaced) {
        container.lost = true
        churned[hosted]++
      }
    }

    for (const container of placedBy.get(peer) ?? []) {
      // nobody will place it again
      byId?.delete(container.containerId)

      if (stoppable(container)) {
        container.orphaned = true
        churned.containersOrphaned++
      }
    }

    hostedBy.delete(peer)
    placedBy.delete(peer)
  }

  const crash = (): void => {
    const peer = victim()
    dropLive(peer)
    clocks[peer].stop()
    net.kill(peer)
    dropContainers(peer, 'containersLost')
    churned.crashed++

    for (const [promise, { peer: owner, abandon }] of inFlight) {
      if (owner === peer) {
        inFlight.delete(promise)
        abandon?.()
      }
    }
  }

  const leave = async (): Promise<void> => {
    const peer = victim()
    dropLive(peer)
    // the clean way out: withdraw the offers, then leave the overlay
    await roles[peer].stop()
    net.kill(peer)
    dropContainers(peer, 'containersLeft')
    churned.left++
  }

  const join = async (): Promise<void> => {
    const peer = nextJoiner++
    makePeer(peer)
    net.revive(peer)
    liveAt[peer] = live.length
    live.push(peer)
    await roles[peer].start()
    churned.joined++
  }

  for (let tick = 0; tick < ticks; tick++) {
    const tickStart = WARM_UP_MS + tick * scenario.tickInterval
    const events = tickEvents(scenario, nodes, ticks, tick, workload)
    const requestsBefore = requests
    const succeededBefore = succeeded
    const at = (i: number, count: number): number => Math.floor((i + 0.5) * scenario.tickInterval / count)
    const actions: TickAction[] = events.map((_, i) => ({ at: at(i, events.length), kind: 'request', index: i }))

    // each kind of churn spread evenly over the tick, among the requests
    for (const [kind, count] of [['crash', schedule[tick].crashes], ['leave', schedule[tick].leaves], ['join', schedule[tick].joins]] as const) {
      for (let i = 0; i < count; i++) {
        actions.push({ at: at(i, count), kind, index: -1 })
      }
    }

    if (churning) {
      // stable: requests keep their order, and churn at the same instant goes first
      actions.sort((a, b) => a.at - b.at || (a.kind === 'request' ? 1 : 0) - (b.kind === 'request' ? 1 : 0))
    }

    for (const action of actions) {
      await clock.runUntil(tickStart + action.at)

      if (action.kind === 'request') {
        const event = events[action.index]

        if (event.kind === 'deploy') {
          deploy(event.profile, event.node)
        } else {
          stop(event.profile)
        }
      } else if (action.kind === 'crash') {
        crash()
      } else if (action.kind === 'leave') {
        await leave()
      } else {
        await join()
      }

      if (churning && backend === 'swarm' && action.kind !== 'request') {
        master = swarmMaster(kademlia, map)
      }
    }

    await clock.runUntil(tickStart + scenario.tickInterval)
    options.onTick?.(tick, requests, succeeded)

    if (churning) {
      churned.ticks.push({ tick, livePeers: live.length, requests: requests - requestsBefore, succeeded: succeeded - succeededBefore })
    }

    if ((tick + 1) % WINDOW_TICKS === 0 || tick === ticks - 1) {
      sampleMemory()
      series.push({
        tick,
        minutes: (tick + 1) * scenario.tickInterval / 60_000,
        requests,
        succeeded,
        successRatio: requests > 0 ? succeeded / requests : 0,
        windowRequests,
        usedResourceRatio: usedRatio(live, maxCpus, maxMemory, usedCpus, usedMemory),
        messagesPerRequest: windowRequests > 0 ? windowMessages / windowRequests : 0,
        livePeers: live.length
      })
      windowRequests = 0
      windowMessages = 0
    }
  }

  // requests still waiting on the clock (a launch asked again of a supplier that does not answer)
  // end as the clock moves on; the roles' timers fire meanwhile, but no new request arrives
  const drainUntil = clock.now() + DRAIN_MS

  while (inFlight.size > 0 && clock.now() < drainUntil) {
    await clock.runUntil(Math.min(drainUntil, clock.now() + scenario.tickInterval))
  }

  for (const { abandon } of inFlight.values()) {
    abandon?.()
  }

  await settle()
  const accountingErrors = checkAccounting(roles, live, maxCpus, maxMemory, usedCpus, usedMemory)
  const containersRunning = live.reduce((sum, i) => sum + roles[i].hosted().length, 0)
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
    containersRunning,
    handlerErrors: net.bugs.slice(0, 10).map(err => err.stack ?? err.message),
    timersFired: clock.fired,
    messagesByName: net.totals,
    ...(churning ? { churn: churned } : {})
  }
}

/** The swarm master: the peer every worker's lookup of `SWARM_MASTER_KEY` returns first. */
function swarmMaster (kademlia: SimKademlia, map: ResourceMap): number {
  const point = pointOf(SWARM_MASTER_KEY)
  const [master] = kademlia.closest(point, 1, map.sliceOf(point))
  return master ?? kademlia.closest(point, 1)[0]
}

/** Mean over live peers of their used share; a peer without free CPUs or memory counts as fully used, as the original's. */
function usedRatio (live: number[], maxCpus: Float64Array, maxMemory: Float64Array, usedCpus: Float64Array, usedMemory: Float64Array): number {
  let sum = 0

  for (const i of live) {
    sum += usedCpus[i] >= maxCpus[i] || usedMemory[i] >= maxMemory[i]
      ? 1
      : (usedCpus[i] / maxCpus[i] + usedMemory[i] / maxMemory[i]) / 2
  }

  return live.length > 0 ? sum / live.length : 0
}

/** Live peers whose supplier's free resources are not its capacity less what the simulator placed there. */
function checkAccounting (roles: PeerRoles[], live: number[], maxCpus: Float64Array, maxMemory: Float64Array, usedCpus: Float64Array, usedMemory: Float64Array): number {
  let errors = 0

  for (const i of live) {
    const { available } = roles[i].offers().supplying

    if (available.cpus !== Math.max(0, maxCpus[i] - usedCpus[i]) || available.memory !== Math.max(0, maxMemory[i] - usedMemory[i])) {
      errors++
    }
  }

  return errors
}

/** The list of `key`, made empty on first use. */
function listOf<T> (lists: Map<number, T[]>, key: number): T[] {
  let list = lists.get(key)

  if (list == null) {
    list = []
    lists.set(key, list)
  }

  return list
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
