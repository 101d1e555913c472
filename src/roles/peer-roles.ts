/**
 * The roles of one peer wired together: supplier, containers manager, trader, buyer and user
 * manager, over the `Overlay`, `CaravelaClient`, `ContainerRuntime` and `Clock` interfaces only, so
 * the same code runs in a libp2p peer, in in-process networks and in the simulator.
 */

import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { DISCOVERY_BACKENDS } from '../config/config.js'
import { ProtocolStatusError } from '../errors.js'
import { AddressGroups } from '../protocols/address.js'
import { pointOf } from '../resources/resource-map.js'
import { MemoryStore } from '../store/store.js'
import { Buyer } from './buyer.js'
import { ContainersManager, DEFAULT_KEPT_EXITED } from './containers-manager.js'
import { UnsupportedBackendError } from './errors.js'
import { LaunchPolicy } from './launch-policy.js'
import { Ledger } from './ledger.js'
import { resumingLogs } from './logs-follow.js'
import { LoopbackClient } from './loopback-client.js'
import { cryptoRandom } from './random.js'
import { Reputation } from './reputation.js'
import { clampToPeerBound, describeResources, peerResourceBound, sameResources } from './resources.js'
import { isRuntimeUnavailable, RuntimeHealth } from './runtime-health.js'
import { computeCapacity, PUBLISH_DELAY, Supplier } from './supplier.js'
import { Trader } from './trader.js'
import { UserManager } from './user-manager.js'
import type { NetworkConfig } from '../config/types.js'
import type { LogsRequest, PortForwardRequest } from '../protocols/codec.js'
import type { RequestContext } from '../protocols/handlers.js'
import type { ResourceMap } from '../resources/resource-map.js'
import type { Store } from '../store/store.js'
import type {
  AbortOptions, AvailableOffer, ByteTunnel, CaravelaClient, CreateOfferResult, Clock, ContainerConfig, ContainerExitEvents, ContainerInspect, ContainerRuntime, ContainerStatus,
  ContainerView, LogChunk, LogsOptions, NodeRef, Offer, OffersView, Overlay, PlaceOptions, RemoteContainerState, Resources, RuntimeHealthState, StopOptions, StopResult, StopTarget
} from '../types.js'
import type { RunOptions } from './buyer.js'
import type { HostedContainer, KeptExited } from './containers-manager.js'
import type { LaunchPolicyConfig } from './launch-policy.js'
import type { RoleHandlers } from './loopback-client.js'
import type { RandomSource } from './random.js'
import type { RoleStats } from './stats.js'
import type { ContainerCheckStats } from './user-manager.js'
import type { ComponentLogger } from '@libp2p/interface'

/** What the roles of a peer work with: interfaces only. */
export interface PeerRolesInit {
  /** this peer: its peer id and current multiaddrs */
  self: () => NodeRef
  /** this peer's point (`overlay.nodeId()`) */
  selfKey: Uint8Array
  overlay: Overlay
  client: CaravelaClient
  runtime: ContainerRuntime
  clock: Clock
  /** may change once, when the peer adopts a network's configuration before `start` */
  config: () => NetworkConfig
  resourceMap: () => ResourceMap
  /**
   * Advertised capacity before overcommit and slicing: cores, MB and CPU class. A missing
   * number is the runtime's (`getCpuAndRam`).
   */
  capacity: { cpus?: number, memory?: number, cpuClass: number }
  /** namespaces caravela:supplier, caravela:trader, caravela:buyer, … */
  logger: ComponentLogger
  /**
   * The point of a peer id, `sha256(peer id multihash)`.
   *
   * @default decodes the base58btc peer id
   */
  keyOf?: (peerId: string) => Uint8Array
  /** called when a container this peer runs for a buyer exits on its own */
  onContainerExit?: (container: HostedContainer) => void
  /** called when a container this peer placed is placed again for its restart policy */
  onContainerReplaced?: (old: ContainerView, replacement: ContainerView) => void
  /**
   * Who may launch what on this peer (`SupplierConfig`); a launch outside it is refused.
   *
   * @default the built-in supplier policy (`defaultSupplierConfig`)
   */
  supplierPolicy?: LaunchPolicyConfig
  /**
   * What this peer keeps of the containers it ran that exited, for their buyers' `logs`; the
   * retention also bounds how long it lists, as a buyer, the exited copies its restarts replaced.
   *
   * @default DEFAULT_KEPT_EXITED
   */
  keptExited?: KeptExited
  /**
   * Where the ledger of the containers this peer runs and placed lives: a peer's datastore
   * (`DatastoreStore`), so that a restart loses nothing.
   *
   * @default a MemoryStore: nothing outlives the object, nothing costs I/O
   */
  store?: Store
  /**
   * Random bytes for keys, request ids and ranking ties; a seeded source makes a local network or
   * a simulation reproducible.
   *
   * @default crypto.randomBytes
   */
  random?: RandomSource
  /**
   * Milliseconds the supplier lets changes of its free resources gather before it publishes them
   * (0 in tests on a manual clock).
   *
   * @default PUBLISH_DELAY
   */
  publishDelay?: number
  /**
   * The addresses a peer announced, which the trader hands to buyers with its offers
   * (`TraderInit.addressesOf`): a libp2p peer's reads its peer store.
   *
   * @default none: the address a request came from, as in-process transports give it
   */
  addressesOf?: (peerId: string) => Promise<string[]>
  /**
   * Networks whose peers the trader limits per peer only, not per host and subnet
   * (`AddressGroups`), e.g. `/ip4/127.0.0.0/ipcidr/8` for a testnet on one machine.
   *
   * @default []
   */
  allow?: readonly string[]
  /**
   * Milliseconds between two checks that the container engine answers (`RuntimeHealth`): while
   * it does not, the peer withdraws its offers and refuses launches; when it answers again its
   * containers are reconciled with it and it offers again. A peer that runs no containers has
   * nothing to check.
   *
   * @default no checks: the runtime is taken to answer (the simulator's, an in-memory one)
   */
  runtimeCheckInterval?: number
  /** milliseconds a check waits for the engine @default RUNTIME_CHECK_TIMEOUT */
  runtimeCheckTimeout?: number
}

/** The point of a base58btc peer id: sha256 of its multihash, as kad-dht computes it. */
export function keyOfPeerId (peerId: string): Uint8Array {
  return pointOf(uint8ArrayFromString(peerId, 'base58btc'))
}

/** Supplier, containers manager, trader, buyer and user manager of one peer. */
export class PeerRoles {
  /** the handlers of incoming messages, for the protocol server */
  readonly handlers: RoleHandlers

  // what `start` needs of the init, not the whole of it (a simulated network holds a million)
  private readonly config: () => NetworkConfig
  private readonly runtime: ContainerRuntime
  private readonly capacity: PeerRolesInit['capacity']
  /** shared by every peer: a log is made only when there is something to say */
  private readonly logger: ComponentLogger
  private readonly supplier: Supplier
  private readonly containers: ContainersManager
  private readonly trader: Trader
  private readonly buyer: Buyer
  private readonly users: UserManager
  /** reaches the suppliers (and this peer itself) */
  private readonly client: CaravelaClient
  /** watches the container engine, when `runtimeCheckInterval` is set */
  private readonly health?: RuntimeHealth
  /**
   * What the supplier offers, once read: not before the engine first answers, when it did not
   * at the start (`start`)
   */
  private offered?: Resources
  /** when the roles were made: the runtime is taken to answer since then while nothing checks it */
  private readonly createdAt: number
  private unsubscribeExits?: () => void
  private running = false
  /** the wait between the openings of a followed output that broke off */
  private readonly clock: Clock

  constructor (init: PeerRolesInit) {
    const { self, selfKey, overlay, clock, config, resourceMap, logger, runtime } = init
    this.config = config
    this.runtime = runtime
    this.capacity = init.capacity
    this.logger = logger
    this.createdAt = clock.now()
    this.clock = clock

    const handlers = new PeerHandlers(config)
    this.handlers = handlers
    const client = this.client = new LoopbackClient(init.client, self, this.handlers)
    const ledger = new Ledger(init.store ?? new MemoryStore(), logger.forComponent('caravela:ledger'))
    const common = { self, overlay, client, clock, config, resourceMap, random: init.random ?? cryptoRandom }
    const keptExited = init.keptExited ?? DEFAULT_KEPT_EXITED

    this.supplier = new Supplier({
      ...common,
      log: logger.forComponent('caravela:supplier'),
      publishDelay: init.publishDelay ?? PUBLISH_DELAY
    })
    const interval = init.runtimeCheckInterval

    if (interval != null && interval > 0) {
      this.health = new RuntimeHealth({
        runtime,
        clock,
        interval,
        timeout: init.runtimeCheckTimeout,
        log: logger.forComponent('caravela:runtime'),
        onDown: async reason => { await this.supplier.suspend(reason) },
        // an engine that did not answer at the start answers for the first time: what the start
        // skipped (the capacity, the containers recovered) comes now
        reconcile: async () => {
          if (this.running) {
            await (this.offered == null ? this.prepareSupplier() : this.containers.reconcile())
          }
        },
        onUp: () => { this.offer() }
      })
    }

    this.containers = new ContainersManager({
      self,
      runtime: this.health?.observe(runtime) ?? runtime,
      supplier: this.supplier,
      ledger,
      client,
      clock,
      log: logger.forComponent('caravela:containers'),
      onContainerExit: init.onContainerExit,
      // a buyer asks about what it placed right after the launch: twice its patience is ample
      claimTimeout: () => 2 * config().launchTimeout,
      policy: init.supplierPolicy == null ? undefined : new LaunchPolicy(init.supplierPolicy),
      keptExited: () => keptExited
    })
    this.trader = new Trader({
      ...common,
      selfKey,
      keyOf: init.keyOf ?? keyOfPeerId,
      log: logger.forComponent('caravela:trader'),
      addressesOf: init.addressesOf,
      addressGroups: init.allow == null || init.allow.length === 0 ? undefined : new AddressGroups(init.allow)
    })
    // the buyer marks suppliers whose launches fail, the user manager those that lost a container
    const reputation = new Reputation(clock, () => self().peerId)
    this.buyer = new Buyer({
      ...common,
      reputation,
      log: logger.forComponent('caravela:buyer'),
      cancelLater: (supplier, launchId, until) => { this.users.cancelLater(supplier, launchId, until) }
    })
    this.users = new UserManager({
      client,
      clock,
      ledger,
      reputation,
      log: logger.forComponent('caravela:user'),
      statusInterval: () => config().statusInterval,
      replace: async (containers, avoid) => this.buyer.run(containers, { avoid }),
      onReplaced: init.onContainerReplaced,
      replacedRetention: () => keptExited.retention
    })
    handlers.supplier = this.supplier
    handlers.containers = this.containers
    handlers.trader = this.trader
    handlers.users = this.users
    handlers.health = this.health
  }

  /**
   * Compute the capacity; the first time, reconcile the ledger with the runtime (containers
   * still running hold their resources again); then start the timers and publish the offers.
   *
   * A peer whose container engine does not answer at the start (a Docker engine not up yet, or
   * gone) still starts when its engine is watched (`runtimeCheckInterval`): it trades and places
   * containers, reports the runtime unavailable and offers nothing. Its capacity (the engine's,
   * unless both CPUs and memory are given) and its containers are read when the engine first
   * answers, and it offers from then on. Without the watch such a start fails, as nothing would
   * ever find the engine back.
   *
   * @throws {UnsupportedBackendError} when the network's discovery backend is none the roles know
   */
  async start (): Promise<void> {
    if (this.running) {
      return
    }

    const { config, runtime } = this
    const backend = config().discoveryBackend

    if (!(DISCOVERY_BACKENDS as readonly string[]).includes(backend)) {
      throw new UnsupportedBackendError(backend)
    }

    let unavailable = await this.health?.probe()
    this.running = true

    if (hasExitEvents(runtime)) {
      this.unsubscribeExits = runtime.onExit(exit => { this.containers.containerExited(exit) })
    }

    try {
      // placed containers first: a supplier may tell its own buyer that a container exited
      await this.users.load()

      unavailable ??= await this.prepareSupplier().then(() => undefined, (err: unknown) => {
        // the engine stopped between the probe and now
        if (this.health == null || !isRuntimeUnavailable(err)) {
          throw err
        }
        return (err as Error).message
      })

      this.users.startChecks()
    } catch (err) {
      await this.stop()
      throw err
    }

    // under random nobody trades: no trader timers
    if (backend !== 'random') {
      this.trader.start()
    }

    if (unavailable == null) {
      this.offer()
    }

    this.health?.start(unavailable)
  }

  /** Stop the timers and withdraw every offer from its trader; running containers keep running. */
  async stop (): Promise<void> {
    if (!this.running) {
      return
    }

    this.running = false
    this.health?.stop()
    this.trader.stop()
    await this.supplier.stop()
    this.unsubscribeExits?.()
    this.unsubscribeExits = undefined
    this.containers.stop()
    this.users.stopChecks()
    this.buyer.stop()
  }

  /**
   * Place containers (`caravela run`, a stack): one status per container, in order. The
   * containers are recorded with `options.stack`, when given; `options.onProgress` hears of each
   * search, launch and placement as it happens.
   *
   * @throws {InvalidContainerRequestError | MalformedMessageError | NoOffersError | AllOffersRejectedError | RequestRolledBackError}
   */
  async run (containers: ContainerConfig[], options: RunOptions & PlaceOptions = {}): Promise<ContainerStatus[]> {
    const { statuses } = await this.buyer.run(containers, {
      ...options,
      record: async ({ requestId, statuses }) => { await this.users.add(statuses, requestId, options.stack, containers) }
    })
    return statuses
  }

  /** A peer connected to this one (a lost supplier back is asked about its containers at once). */
  peerConnected (peerId: string): void {
    this.users.supplierSeen(peerId)
  }

  /** The containers this peer placed. */
  ps (): ContainerView[] {
    return this.users.list()
  }

  /**
   * Ask the suppliers of the containers this peer placed about them now, as the status checks do
   * every `statusInterval`.
   */
  async checkContainers (): Promise<void> {
    await this.users.check()
  }

  /**
   * What the status checks of the containers this peer placed found, and how many containers
   * this peer, as a supplier, removed because their buyer never claimed them.
   */
  containerChecks (): ContainerCheckStats & { unclaimedRemoved: number } {
    return { ...this.users.checkStats(), unclaimedRemoved: this.containers.unclaimedRemoved }
  }

  /** Stop containers this peer placed, by full or unique short id: one result per id. */
  async stopContainers (ids: string[], options: StopOptions = {}): Promise<StopResult[]> {
    return this.users.stop(ids, options)
  }

  /**
   * The output of a container this peer placed, by full or unique short id, streamed from its
   * supplier (`LogsOptions`). A follow whose stream breaks off is opened again (`resumingLogs`).
   *
   * @throws {ContainerNotPlacedError} when the id names no container this peer placed
   * @throws {RemoteRequestError} when its supplier refuses (e.g. NOT_FOUND: the container is gone)
   */
  async logs (id: string, options: LogsOptions = {}): Promise<AsyncIterable<LogChunk>> {
    const { supplier, containerId } = this.users.find(id)
    const open = async (asked: LogsOptions): Promise<AsyncIterable<LogChunk>> => this.client.containerLogs(supplier, containerId, asked)
    const first = await open(options)

    if (options.follow !== true) {
      return first
    }

    const ended = async ({ signal }: LogsOptions): Promise<boolean> => {
      const [remote] = await this.client.containerStatus(supplier, [containerId], { signal })
      return remote?.state !== 'running'
    }

    return resumingLogs(first, open, options, { clock: this.clock, log: this.logger.forComponent('caravela:logs'), containerId, supplier: supplier.peerId, ended })
  }

  /**
   * A tunnel to a TCP port of a container this peer placed, by full or unique short id: resolves
   * once its supplier reached the port (`options.signal` bounds only that wait).
   *
   * @throws {ContainerNotPlacedError} when the id names no container this peer placed
   * @throws {RemoteRequestError} when its supplier refuses (e.g. NOT_FOUND: no such port published)
   */
  async portForward (id: string, containerPort: number, options: AbortOptions = {}): Promise<ByteTunnel> {
    const container = this.users.find(id)
    return this.client.portForward(container.supplier, container.containerId, containerPort, options)
  }

  /**
   * A container this peer placed, by full or unique short id: its record and what its supplier
   * says of it now (`remoteError` when it does not answer).
   *
   * @throws {ContainerNotPlacedError} when the id names no container this peer placed
   */
  async inspect (id: string, options: AbortOptions = {}): Promise<ContainerInspect> {
    const container = this.users.find(id)

    try {
      const [remote] = await this.client.containerStatus(container.supplier, [container.containerId], options)
      return { ...container, remote }
    } catch (err: any) {
      return { ...container, remoteError: err?.message ?? String(err) }
    }
  }

  /** What this peer trades (the offers it keeps for its slice) and offers (as a supplier). */
  offers (): OffersView {
    const trading = this.trader.view()
    const supplying = this.supplier.view()
    const { maxResources: max } = supplying

    return {
      trading: {
        slice: trading.slice,
        offers: trading.offers.map(offer => ({
          id: offer.id,
          peerId: offer.supplier.peerId,
          free: offer.freeResources,
          used: offer.usedResources,
          containersRunning: offer.containersRunning
        }))
      },
      supplying: {
        max,
        available: supplying.availableResources,
        offers: supplying.offers.map(offer => ({
          id: offer.id,
          peerId: offer.trader.peerId,
          free: offer.free,
          used: { cpuClass: max.cpuClass, cpus: max.cpus - offer.free.cpus, memory: max.memory - offer.free.memory },
          containersRunning: supplying.containersRunning
        }))
      }
    }
  }

  /** Whether the container engine answers, as the last check or runtime call found it. */
  runtimeState (): RuntimeHealthState {
    return this.health?.state ?? { state: 'ok', since: this.createdAt, outages: 0 }
  }

  /** Check the container engine now (a test, or an operator who knows it is back); settles once the state it leads to is reached. */
  async checkRuntime (): Promise<void> {
    await this.health?.check()
  }

  /** Requests placed and failed, and what they cost. */
  stats (): RoleStats {
    return this.buyer.stats()
  }

  /** The containers this peer runs for others. */
  hosted (): HostedContainer[] {
    return this.containers.list()
  }

  /**
   * The capacity the supplier offers: the machine's, cut down to what one peer may offer on the
   * network (`peerResourceBound`), which traders would refuse. A peer on a larger machine than the
   * bound still starts, as its user expects, and offers the bound; it says so in its log.
   */
  private withinBound (capacity: Resources): Resources {
    const within = clampToPeerBound(capacity, peerResourceBound(this.config()))

    if (!sameResources(within, capacity)) {
      this.logger.forComponent('caravela:roles').error('this peer has %s, more than one peer may offer on this network: it offers %s', describeResources(capacity), describeResources(within))
    }

    return within
  }

  /**
   * What the supplier needs of the engine before it offers: the capacity, and the containers the
   * engine still runs recovered (they hold their resources again).
   */
  private async prepareSupplier (): Promise<void> {
    const capacity = this.withinBound(computeCapacity(await this.machine(), this.config()))
    await this.containers.start()
    this.offered = capacity
  }

  /** Offer: the first time with the capacity read, after an outage again. Not once stopped. */
  private offer (): void {
    if (!this.running || this.offered == null) {
      return
    }

    this.supplier.start(this.offered)
    this.supplier.resume()
  }

  /** Cores and MB before overcommit: the advertised ones, or the runtime's. */
  private async machine (): Promise<{ cpus: number, memory: number, cpuClass: number }> {
    const { capacity, runtime } = this

    if (capacity.cpus != null && capacity.memory != null) {
      return { cpus: capacity.cpus, memory: capacity.memory, cpuClass: capacity.cpuClass }
    }

    const engine = await runtime.getCpuAndRam()
    return { cpus: capacity.cpus ?? engine.cpus, memory: capacity.memory ?? engine.memory, cpuClass: capacity.cpuClass }
  }
}

/**
 * The handlers of a peer's incoming messages, as methods of one object rather than nine closures:
 * a simulated network holds a million of them. The roles are set right after construction, before
 * any message can arrive.
 */
class PeerHandlers implements RoleHandlers {
  supplier!: Supplier
  containers!: ContainersManager
  trader!: Trader
  users!: UserManager
  health?: RuntimeHealth
  private readonly config: () => NetworkConfig

  constructor (config: () => NetworkConfig) {
    this.config = config
  }

  async createOffer (ctx: RequestContext, offer: Offer, emptySlices?: readonly number[]): Promise<CreateOfferResult> {
    return this.trader.createOffer(ctx, offer, emptySlices)
  }

  async updateOffer (ctx: RequestContext, offer: Offer): Promise<boolean> {
    return this.trader.updateOffer(ctx, offer)
  }

  async removeOffer (ctx: RequestContext, offerId: number): Promise<void> {
    this.trader.removeOffer(ctx, offerId)
  }

  /**
   * The offers the trader keeps, or, when asked for its `own` or under `random` (no
   * traders, every peer answers for its own supplier), this peer's free resources
   */
  async getOffers (ctx: RequestContext, relay: boolean, needed?: Resources, own?: boolean): Promise<AvailableOffer[]> {
    return own === true || this.config().discoveryBackend === 'random'
      ? this.supplier.standingOffers(needed)
      : this.trader.getOffers(ctx, relay, needed)
  }

  async advertiseOffersNeighbor (ctx: RequestContext, traderOffering: NodeRef): Promise<void> {
    this.trader.advertiseOffersNeighbor(ctx, traderOffering)
  }

  async refreshOffer (ctx: RequestContext, offerId: number): Promise<boolean> {
    return this.supplier.refreshOffer(ctx, offerId)
  }

  /** Launches are refused while the container engine does not answer: the buyer tries another supplier. */
  async launchContainer (ctx: RequestContext, offerId: number, requestId: string, containers: ContainerConfig[], deadlineMs?: number): Promise<ContainerStatus[]> {
    const unavailable = this.health?.unavailableReason

    if (unavailable != null) {
      throw new ProtocolStatusError('UNAVAILABLE', unavailable)
    }

    return this.containers.launch(ctx, offerId, requestId, containers, deadlineMs)
  }

  async containerStatus (ctx: RequestContext, containerIds: string[]): Promise<RemoteContainerState[]> {
    return this.containers.status(ctx, containerIds)
  }

  /**
   * Stops too are refused while the container engine does not answer: the container cannot be
   * removed, and a buyer told it was stopped would stop looking after one that may still run.
   */
  async stopLocalContainer (ctx: RequestContext, target: StopTarget): Promise<void> {
    const unavailable = this.health?.unavailableReason

    if (unavailable != null) {
      throw new ProtocolStatusError('UNAVAILABLE', unavailable)
    }

    await ('requestId' in target ? this.containers.cancelLaunch(ctx, target.requestId) : this.containers.stopContainer(ctx, target.containerId))
  }

  async containerExited (ctx: RequestContext, containerId: string, exitCode: number | undefined, reason: string): Promise<void> {
    await this.users.containerExited(ctx.from.peerId, containerId, exitCode, reason)
  }

  async containerLogs (ctx: RequestContext, request: LogsRequest): Promise<AsyncIterable<LogChunk>> {
    const unavailable = this.health?.unavailableReason

    if (unavailable != null) {
      throw new ProtocolStatusError('UNAVAILABLE', unavailable)
    }

    return this.containers.logs(ctx, request)
  }

  /** Tunnels too are refused while the container engine does not answer. */
  async portForward (ctx: RequestContext, request: PortForwardRequest): Promise<ByteTunnel> {
    const unavailable = this.health?.unavailableReason

    if (unavailable != null) {
      throw new ProtocolStatusError('UNAVAILABLE', unavailable)
    }

    return this.containers.portForward(ctx, request)
  }
}

function hasExitEvents (runtime: ContainerRuntime): runtime is ContainerRuntime & ContainerExitEvents {
  return typeof (runtime as Partial<ContainerExitEvents>).onExit === 'function'
}
