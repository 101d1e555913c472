/**
 * The Caravela libp2p service: the overlay, the wire protocols and the supplier, trader and buyer
 * roles of one peer. An application adds it to its own libp2p `services`, next to a kad-dht
 * configured by `caravelaDHT()` (`caravelaDefaults()` in node.ts gives both, from one configuration).
 */

import { serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { systemClock } from './clock.js'
import { checkAdoptedNetwork, defaultConfig, networkConfigDigest, networkConfigFromJson, networkConfigToJson } from './config/config.js'
import { dhtProtocol, PROTOCOL_PREFIX } from './constants.js'
import { IncompatibleNetworkError, InvalidConfigurationError, JoinFailedError, NotJoinedError, ProtocolStatusError } from './errors.js'
import { addProtocolMetrics, EventLoopMonitor } from './metrics.js'
import { KadOverlay } from './overlay/kad-overlay.js'
import { peerViewOf } from './overlay/peer-view.js'
import { Libp2pCaravelaClient } from './protocols/client.js'
import { MAX_MULTIADDR_BYTES } from './protocols/constants.js'
import { copyHandlers } from './protocols/handlers.js'
import { CaravelaProtocolServer } from './protocols/server.js'
import { ResourceMap } from './resources/resource-map.js'
import { PeerRoles } from './roles/peer-roles.js'
import { NO_RUNTIME } from './runtime/no-runtime.js'
import { DatastoreStore } from './store/datastore-store.js'
import { CPU_CLASS_NAMES } from './types.js'
import type { CaravelaConfig, NetworkConfig, SupplierConfig } from './config/types.js'
import type { PeerMetrics } from './metrics.js'
import type { PeerView } from './overlay/peer-view.js'
import type { CaravelaHandlers } from './protocols/handlers.js'
import type { DockerRuntimeInit } from './runtime/docker-runtime.js'
import type { AbortOptions, ByteTunnel, CaravelaStatus, Clock, ContainerConfig, ContainerInspect, ContainerRuntime, ContainerStatus, ContainerView, HostedView, LogChunk, LogsOptions, NetworkConfiguration, NodeRef, OffersView, Overlay, PeerSummary, PlaceOptions, StopOptions, StopResult } from './types.js'
import type { ComponentLogger, Logger, PeerId, PeerStore, Startable, TypedEventTarget, Libp2pEvents } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { KadDHT, KadDHTInit } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'

/** Time allowed to reach one bootstrap peer and obtain the network's configuration. */
export const DEFAULT_JOIN_TIMEOUT = 20_000
/** Time a joining peer waits for the DHT's first self-query before it carries on anyway. */
export const DEFAULT_SELF_QUERY_TIMEOUT = 10_000
/**
 * Datastore key of the network configuration a peer adopted when it last joined through a
 * bootstrap peer: restarted without one, it carries on in that network.
 */
export const ADOPTED_NETWORK_KEY = '/caravela/network/adopted'

/** What a runtime factory is given once the peer's identity is known (`CaravelaInit.runtime`). */
export interface RuntimeInfo {
  /** the peer's id: the Docker runtime labels the containers it runs with it */
  peerId: PeerId
  /** CPU slices per core of the network in force, read at each call: a joining peer adopts its network's */
  cpuSlices (): number
  /** the node's logger */
  logger: ComponentLogger
}

/** Makes the runtime of a peer when its Caravela service starts. */
export type RuntimeFactory = (info: RuntimeInfo) => ContainerRuntime | Promise<ContainerRuntime>

export interface CaravelaInit {
  /**
   * Configuration of this peer and, until it joins a network, of the network it creates.
   *
   * @default defaultConfig()
   */
  config?: CaravelaConfig
  /**
   * Name of the kad-dht service in the node's `services` map.
   *
   * @default 'dht'
   */
  dhtService?: string
  /** @default 20_000 */
  joinTimeout?: number
  /** @default 10_000 */
  selfQueryTimeout?: number
  /**
   * Where this peer runs containers for others: a runtime, or a factory called when the service
   * starts (`dockerRuntime()`; a runtime needing the peer id or the network's CPU slices). The
   * service closes a runtime its factory made when the node stops; a runtime given as it is stays
   * the caller's. Without one the peer offers nothing, but it still trades and places containers
   * on other peers.
   */
  runtime?: ContainerRuntime | RuntimeFactory
  /**
   * Milliseconds between two checks that the runtime's engine answers: while it does not, the
   * peer withdraws its offers and refuses launches (`CaravelaStatus.runtime`).
   *
   * @default the configuration's `node.runtimeCheckInterval` (5 s)
   */
  runtimeCheckInterval?: number
  /** @default systemClock */
  clock?: Clock
}

export interface CaravelaComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  peerStore: PeerStore
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
  /** where the ledger of the containers this peer runs and placed is kept */
  datastore: Datastore
}

/** The Caravela service as an application sees it (`node.services.caravela`). */
export interface Caravela {
  /** the configuration in force: after `join` its `network` part is the network's */
  readonly config: CaravelaConfig
  readonly resourceMap: ResourceMap
  readonly overlay: Overlay
  readonly client: Libp2pCaravelaClient
  /**
   * Start a new network with this peer as its first member, or, when the datastore kept the
   * configuration of a network this peer joined, carry on in that network (alone until it rejoins).
   */
  create (): Promise<void>
  /**
   * Join a network through the first bootstrap peer that answers and adopt its configuration (and
   * keep it in the datastore). Once the peer runs, its configuration no longer changes: a join then
   * only connects to a peer serving the same configuration.
   */
  join (bootstrap: string[], options?: AbortOptions): Promise<void>
  /**
   * Reconnect through peers this peer remembers, never adopting their configuration: the first
   * that serves the configuration in force is used; one serving another is refused (logged, and
   * named in the `JoinFailedError` when none serves it). A peer not yet running `create`s first.
   */
  rejoin (peers: string[], options?: AbortOptions): Promise<void>
  /**
   * Place containers on peers with room: one status per container, or an error saying why not
   * (`NotJoinedError` before `create` or `join`). `options.stack` names the stack they make up.
   */
  run (containers: ContainerConfig[], options?: PlaceOptions): Promise<ContainerStatus[]>
  /** The containers this peer placed. */
  ps (): ContainerView[]
  /** The containers this peer runs for others. */
  hosted (): HostedView[]
  /** Stop containers this peer placed, by full or unique short id. */
  stopContainers (ids: string[], options?: StopOptions): Promise<StopResult[]>
  /** The output of a container this peer placed, by full or unique short id, from its supplier. */
  logs (id: string, options?: LogsOptions): Promise<AsyncIterable<LogChunk>>
  /**
   * A tunnel to a TCP port of a container this peer placed, by full or unique short id, through
   * its supplier; resolves once the supplier reached the port.
   */
  portForward (id: string, containerPort: number, options?: AbortOptions): Promise<ByteTunnel>
  /** A container this peer placed, by full or unique short id, and what its supplier says of it now. */
  inspect (id: string, options?: AbortOptions): Promise<ContainerInspect>
  /** The offers this peer trades and makes. */
  offers (): OffersView
  metrics (): PeerMetrics
  /** Measure the event loop's delay afresh from now (`PeerMetrics.eventLoopDelay`). */
  resetEventLoopDelay (): void
  status (): CaravelaStatus
  peers (): PeerSummary[]
  /** Replace the handlers of incoming protocol messages (the roles install theirs). */
  setHandlers (handlers: Partial<CaravelaHandlers>): void
}

/**
 * kad-dht for Caravela: our own protocol id, server mode, and LAN/loopback addresses kept. The
 * prefix must be the configuration's `node.protocolPrefix` (the service refuses to start
 * otherwise): `caravelaDefaults()` builds both services from one configuration.
 */
export function caravelaDHT (init: { protocolPrefix?: string } & Partial<KadDHTInit> = {}): ReturnType<typeof kadDHT> {
  const { protocolPrefix, ...rest } = init

  return kadDHT({
    protocol: dhtProtocol(protocolPrefix ?? PROTOCOL_PREFIX),
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    networkDialTimeout: { minTimeout: 1_000, maxTimeout: 10_000 },
    ...rest
  })
}

/**
 * A factory of the Docker runtime for `caravela({ runtime })`: the runtime labels its containers
 * with the peer's id and reads the network's CPU slices (unless `init` says otherwise), and
 * dockerode is loaded only when a peer using it starts.
 */
export function dockerRuntime (init: Omit<DockerRuntimeInit, 'ownerPeerId'> = {}): RuntimeFactory {
  return async ({ peerId, cpuSlices, logger }) => {
    const { DockerRuntime } = await import('./runtime/docker-runtime.js')
    return new DockerRuntime({ ...init, ownerPeerId: peerId.toString(), cpuSlices: init.cpuSlices ?? cpuSlices, logger: init.logger ?? logger })
  }
}

export class CaravelaService implements Startable, Caravela {
  readonly [Symbol.toStringTag] = 'caravela'
  readonly [serviceCapabilities]: string[] = ['@caravela/caravela']
  readonly [serviceDependencies]: string[] = ['@libp2p/identify', '@libp2p/kad-dht']

  config: CaravelaConfig
  resourceMap: ResourceMap
  readonly client: Libp2pCaravelaClient

  private readonly components: CaravelaComponents
  private readonly init: CaravelaInit
  private readonly log: Logger
  private readonly server: CaravelaProtocolServer
  private readonly store: DatastoreStore
  /** the peer store's records in memory: no peer-store write per stream, no read per request */
  private readonly peerView: PeerView
  private kadOverlay?: KadOverlay
  private peerRoles?: PeerRoles
  private dht?: KadDHT
  /** the runtime the init's factory made, closed at stop */
  private ownRuntime?: ContainerRuntime
  private rolesStarted = false
  private startedAt = 0
  /** the event loop's delay, in the metrics: the process's, shared by the peers it holds */
  private readonly eventLoop = new EventLoopMonitor()
  /**
   * this peer as the roles name it: asked on every message, so its addresses are read from the
   * address manager once per change of them, not each time (a system call per listener)
   */
  private selfRef?: NodeRef
  private readonly onSelfUpdate = (): void => { this.selfRef = undefined }
  /** a lost supplier that connects again is asked about its containers at once */
  private readonly onPeerConnect = (event: CustomEvent<PeerId>): void => {
    if (this.rolesStarted) {
      this.peerRoles?.peerConnected(event.detail.toString())
    }
  }

  constructor (components: CaravelaComponents, init: CaravelaInit = {}) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('caravela')
    this.config = init.config ?? defaultConfig()
    this.resourceMap = new ResourceMap(this.config.network.resources)
    this.store = new DatastoreStore(components.datastore, { sync: this.config.storage.sync, log: components.logger.forComponent('caravela:store') })
    // installed before the node starts: from its first stream on
    this.peerView = peerViewOf(components)
    const protocolPrefix = this.config.node.protocolPrefix

    this.client = new Libp2pCaravelaClient(components, {
      protocolPrefix,
      // read at every request: a joining peer adopts the network's
      timeout: () => this.config.network.requestTimeout
    })
    this.server = new CaravelaProtocolServer(components, {
      protocolPrefix,
      allow: this.config.node.allow,
      handlers: {
        obtainConfiguration: async () => this.networkConfiguration()
      }
    })
  }

  get overlay (): Overlay {
    return this.requireOverlay()
  }

  /**
   * Refuse a DHT that is not Caravela's before any service starts: thrown from `start`, the
   * error would stop the node while the DHT is still starting, and its timers would outlive it.
   */
  beforeStart (): void {
    this.dht = this.requireCaravelaDHT()
  }

  async start (): Promise<void> {
    const dht = this.dht ?? this.requireCaravelaDHT()
    const given = this.init.runtime
    this.ownRuntime = typeof given === 'function'
      ? await given({ peerId: this.components.peerId, cpuSlices: () => this.config.network.cpuSlices, logger: this.components.logger })
      : undefined
    const runtime = typeof given === 'function' ? this.ownRuntime : given
    const overlay = this.kadOverlay = new KadOverlay(this.components, {
      dht,
      resourceMap: () => this.resourceMap,
      lookupCount: () => this.config.network.lookupCount
    })
    overlay.start()
    const roles = this.peerRoles = new PeerRoles({
      self: () => {
        this.selfRef ??= { peerId: this.components.peerId.toString(), multiaddrs: this.components.addressManager.getAddresses().map(a => a.toString()) }
        return this.selfRef
      },
      selfKey: overlay.nodeId(),
      overlay,
      client: this.client,
      runtime: runtime ?? NO_RUNTIME,
      clock: this.init.clock ?? systemClock,
      config: () => this.config.network,
      resourceMap: () => this.resourceMap,
      capacity: runtime == null
        ? { cpus: 0, memory: 0, cpuClass: 0 }
        : { cpus: this.config.node.cpus, memory: this.config.node.memory, cpuClass: CPU_CLASS_NAMES.indexOf(this.config.node.cpuClass) },
      logger: this.components.logger,
      store: this.store,
      supplierPolicy: this.config.supplier,
      keptExited: {
        retention: this.config.supplier.exitedRetention,
        perBuyer: this.config.supplier.exitedPerBuyer,
        total: this.config.supplier.exitedTotal
      },
      addressesOf: async peerId => this.announcedAddresses(peerId),
      allow: this.config.node.allow,
      runtimeCheckInterval: runtime == null ? undefined : this.init.runtimeCheckInterval ?? this.config.node.runtimeCheckInterval
    })
    this.setHandlers(roles.handlers)
    await this.server.start()
    this.components.events.addEventListener('peer:connect', this.onPeerConnect)
    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.startedAt = Date.now()
    this.eventLoop.start()
  }

  /**
   * Withdraw our offers and leave the overlay while the node can still tell its peers, so they
   * drop us from their tables and stop handing out our offers.
   */
  async beforeStop (): Promise<void> {
    if (this.rolesStarted) {
      this.rolesStarted = false
      await this.requireRoles().stop()
    }

    await this.kadOverlay?.leave()
  }

  async stop (): Promise<void> {
    this.components.events.removeEventListener('peer:connect', this.onPeerConnect)
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    this.kadOverlay?.stop()
    this.eventLoop.stop()
    await this.server.stop()
    // the idle request streams go with the node: they would otherwise wait for their idle time
    this.client.stop()
    await this.ownRuntime?.close?.()
    this.ownRuntime = undefined
    // the ledger writes still under way (a launch answered before its `running` record was
    // written) reach the datastore before the node closes it
    await this.store.flush()
  }

  /**
   * The node's kad-dht, refused unless it speaks Caravela's DHT protocol: a plain `kadDHT()` would
   * put the peer in the public IPFS DHT, where Caravela's lookups find no Caravela peers.
   */
  private requireCaravelaDHT (): KadDHT {
    const name = this.init.dhtService ?? 'dht'
    // kad-dht's class has the protocol it speaks; its interface does not say so
    const dht = (this.components as unknown as Record<string, unknown>)[name] as (KadDHT & { protocol?: string }) | undefined
    const prefix = this.config.node.protocolPrefix
    const expected = dhtProtocol(prefix)

    if (dht == null) {
      throw new InvalidConfigurationError('services', `Caravela needs a kad-dht service named "${name}": add caravelaDHT() to the node's services`)
    }

    if (dht.protocol !== expected) {
      throw new InvalidConfigurationError(`services.${name}`, `the DHT service speaks ${dht.protocol ?? 'no kad-dht protocol'}, not ${expected}, Caravela's DHT protocol for node.protocolPrefix "${prefix}": make it with caravelaDHT({ protocolPrefix: '${prefix}' }), or take the services of caravelaDefaults()`)
    }

    return dht
  }

  setHandlers (handlers: Partial<CaravelaHandlers>): void {
    this.server.setHandlers({
      obtainConfiguration: async () => this.networkConfiguration(),
      ...copyHandlers(handlers)
    })
  }

  async create (): Promise<void> {
    if (!this.rolesStarted) {
      const kept = await this.keptNetwork()

      if (kept != null) {
        this.log('carrying on in the network it joined before (configuration %s); its own [network] (%s) applies only to a network it creates', networkConfigDigest(kept), networkConfigDigest(this.config.network))
        this.config = { ...this.config, network: kept }
        this.resourceMap = new ResourceMap(kept.resources)
      }

      this.checkPinned(networkConfigDigest(this.config.network), kept == null ? 'This peer\'s own network configuration' : 'The network configuration this peer kept from the network it joined')
    }

    await this.requireOverlay().create()
    await this.startRoles()
  }

  async join (bootstrap: string[], options: AbortOptions = {}): Promise<void> {
    await this.connectThrough(bootstrap, 'adopt', options)
  }

  async rejoin (peers: string[], options: AbortOptions = {}): Promise<void> {
    // the configuration to match is the one `create` settles on: kept from a join, or our own
    if (!this.rolesStarted) {
      await this.create()
    }

    await this.connectThrough(peers, 'match', options)
  }

  /**
   * Connect through the first of `addresses` that answers and serves an acceptable configuration.
   * `adopt` (configured bootstrap peers): a peer not yet running takes the configuration, and a
   * configuration it cannot take ends the join. `match` (remembered peers), and any join of a
   * running peer: the configuration must be the one in force; a peer serving another is skipped.
   */
  private async connectThrough (addresses: string[], mode: 'adopt' | 'match', options: AbortOptions): Promise<void> {
    const overlay = this.requireOverlay()
    const failures: string[] = []

    for (const address of addresses) {
      const peerId = parseBootstrap(address)
      const timeout = AbortSignal.timeout(this.init.joinTimeout ?? DEFAULT_JOIN_TIMEOUT)
      const signal = options.signal == null ? timeout : AbortSignal.any([options.signal, timeout])
      const selfQuery = this.waitForSelfQuery()

      try {
        // a peer refused before is asked again: its configuration may have changed
        overlay.readmit(peerIdFromString(peerId))
        await overlay.join([address], { signal })
        const network = await this.client.obtainConfiguration({ peerId, multiaddrs: [address] }, { signal })

        if (mode === 'adopt' && !this.rolesStarted) {
          await this.adopt(network, address)
        } else {
          this.checkSame(network, address)
        }

        this.log('joined the network through %s', address)
        await selfQuery.promise
        await this.startRoles()
        return
      } catch (err: any) {
        if (err.name === IncompatibleNetworkError.name) {
          await this.refuse(peerId)
        }

        if ((mode === 'adopt' && err.name === IncompatibleNetworkError.name) || options.signal?.aborted === true) {
          throw err
        }

        this.log.error('could not %s through %s - %e', mode === 'adopt' ? 'join' : 'rejoin', address, err)
        failures.push(`${address}: ${describe(err)}`)
      } finally {
        selfQuery.cancel()
      }
    }

    throw new JoinFailedError(`Could not ${mode === 'adopt' ? 'join' : 'rejoin'} the network: ${failures.join('; ')}`)
  }

  status (): CaravelaStatus {
    const overlay = this.requireOverlay()
    const nodeId = overlay.nodeId()
    const slice = this.resourceMap.sliceOf(nodeId)
    // what the supplier really offers: the runtime's or the advertised capacity after overcommit
    // and CPU slicing, and nothing on a peer without a runtime
    const { max } = this.requireRoles().offers().supplying

    return {
      peerId: this.components.peerId.toString(),
      multiaddrs: this.components.addressManager.getAddresses().map(a => a.toString()),
      protocolPrefix: this.config.node.protocolPrefix,
      capacity: { cpus: max.cpus, memory: max.memory, cpuClass: CPU_CLASS_NAMES[max.cpuClass] ?? 'low' },
      routingTableSize: overlay.routingTableSize(),
      networkSize: overlay.networkSize(),
      discoveryBackend: this.config.network.discoveryBackend,
      nodeId: toHex(nodeId),
      slice: { index: slice.index, resources: slice.resources, firstCell: slice.firstCell, endCell: slice.endCell },
      resourceMapDigest: toHex(this.resourceMap.digest()),
      networkConfigDigest: networkConfigDigest(this.config.network),
      supplierPolicy: supplierPolicyView(this.config.supplier),
      uptimeMs: Date.now() - this.startedAt,
      runtime: this.requireRoles().runtimeState()
    }
  }

  peers (): PeerSummary[] {
    const overlay = this.requireOverlay()
    const byId = new Map<string, PeerSummary>()

    for (const { peerId, key } of overlay.knownPeers()) {
      byId.set(peerId.toString(), {
        peerId: peerId.toString(),
        multiaddrs: [],
        connected: false,
        inRoutingTable: true,
        slice: this.resourceMap.sliceOf(key).index
      })
    }

    for (const connection of this.components.connectionManager.getConnections()) {
      const id = connection.remotePeer.toString()
      const summary = byId.get(id) ?? {
        peerId: id,
        multiaddrs: [],
        connected: true,
        inRoutingTable: false,
        slice: this.resourceMap.sliceOf(overlay.keyOf(connection.remotePeer)).index
      }
      summary.connected = true
      summary.multiaddrs.push(connection.remoteAddr.toString())
      byId.set(id, summary)
    }

    return [...byId.values()].sort((a, b) => a.peerId.localeCompare(b.peerId))
  }

  async run (containers: ContainerConfig[], options: PlaceOptions = {}): Promise<ContainerStatus[]> {
    return this.joinedRoles().run(containers, options)
  }

  ps (): ContainerView[] {
    return this.requireRoles().ps()
  }

  hosted (): HostedView[] {
    return this.requireRoles().hosted().map(({ containerId, buyer, requestId, resources, status }) => ({
      containerId,
      buyer,
      requestId,
      resources: { ...resources },
      ...(status == null ? {} : { name: status.name, image: status.image })
    }))
  }

  async stopContainers (ids: string[], options: StopOptions = {}): Promise<StopResult[]> {
    return this.joinedRoles().stopContainers(ids, options)
  }

  async logs (id: string, options: LogsOptions = {}): Promise<AsyncIterable<LogChunk>> {
    return this.requireRoles().logs(id, options)
  }

  async portForward (id: string, containerPort: number, options: AbortOptions = {}): Promise<ByteTunnel> {
    return this.requireRoles().portForward(id, containerPort, options)
  }

  async inspect (id: string, options: AbortOptions = {}): Promise<ContainerInspect> {
    return this.requireRoles().inspect(id, options)
  }

  offers (): OffersView {
    return this.requireRoles().offers()
  }

  resetEventLoopDelay (): void {
    this.eventLoop.reset()
  }

  metrics (): PeerMetrics {
    const stats = this.requireRoles().stats()

    return {
      protocols: addProtocolMetrics(this.server.metrics, this.client.metrics),
      lookups: { ...this.requireOverlay().counters },
      requests: {
        placed: stats.requestsPlaced,
        failed: stats.requestsFailed,
        askingEveryPeer: stats.placementsAskingEveryPeer,
        messages: stats.messagesPerRequest,
        lookups: stats.lookupsPerRequest,
        hops: stats.hopsPerRequest,
        stages: stats.stageMsPerRequest,
        offersCache: stats.offersCache
      },
      eventLoopDelay: this.eventLoop.read(),
      suppliers: stats.suppliers,
      runtime: this.requireRoles().runtimeState(),
      containers: this.requireRoles().containerChecks()
    }
  }

  /**
   * The addresses a peer announced, as the peer store keeps them: those of the peer record it
   * signed, sent through identify, when it sent one, or else every address the store has for it
   * (identify's, and what the DHT learned). Never the address of a connection it made to us, whose
   * port is one its system picked for that connection. Addresses the wire cannot carry are left
   * out; an unknown peer has none.
   */
  private async announcedAddresses (peerId: string): Promise<string[]> {
    let addresses

    try {
      addresses = (await this.peerView.read(peerIdFromString(peerId))).addresses
    } catch (err: any) {
      if (err.name !== 'NotFoundError') {
        this.log('could not read the addresses of %s - %e', peerId, err)
      }

      return []
    }

    const certified = addresses.filter(address => address.isCertified)
    return (certified.length > 0 ? certified : addresses)
      .filter(address => address.multiaddr.bytes.byteLength <= MAX_MULTIADDR_BYTES)
      .map(address => address.multiaddr.toString())
  }

  /** Start the supplier, trader and buyer once the peer knows which network it is in. */
  private async startRoles (): Promise<void> {
    if (this.rolesStarted) {
      return
    }

    this.rolesStarted = true
    await this.requireRoles().start()
  }

  private requireRoles (): PeerRoles {
    if (this.peerRoles == null) {
      throw new Error('The Caravela service has not been started')
    }

    return this.peerRoles
  }

  private networkConfiguration (): NetworkConfiguration {
    // until it runs in a network its configuration may still be replaced by the one it joins or
    // kept: two new LAN peers must not each adopt the other's (mdns.ts)
    if (!this.rolesStarted) {
      throw new ProtocolStatusError('UNAVAILABLE', 'This peer is not in a network yet')
    }

    return {
      json: networkConfigToJson(this.config.network),
      resourceMapDigest: this.resourceMap.digest()
    }
  }

  /**
   * Take the network's configuration from a configured bootstrap peer, refusing one out of the
   * bounds a joiner adopts, one whose resource map we would compute differently and, when the peer
   * is pinned to a digest, any other; then keep it in the datastore for the next start.
   */
  private async adopt (network: NetworkConfiguration, from: string): Promise<void> {
    let config

    try {
      config = networkConfigFromJson(network.json)
      checkAdoptedNetwork(config)
    } catch (err: any) {
      throw new IncompatibleNetworkError(`The network's configuration is not valid here: ${describe(err)}`)
    }

    const map = this.checkResourceMap(config, network)
    const digest = networkConfigDigest(config)
    this.checkPinned(digest, `The network's configuration, from ${from},`)
    const kept = await this.keptNetwork()

    if (kept != null && networkConfigDigest(kept) !== digest) {
      this.log('the configuration of the network joined through %s (%s) replaces the one kept from an earlier join (%s)', from, digest, networkConfigDigest(kept))
    }

    await this.store.put(ADOPTED_NETWORK_KEY, networkConfigToJson(config))
    this.config = { ...this.config, network: config }
    this.resourceMap = map
  }

  /**
   * A peer refused for its network configuration: connected to join, it is hung up on and kept out
   * of the routing table, so that two networks on one LAN (mDNS) do not mix their DHTs.
   */
  private async refuse (peerId: string): Promise<void> {
    const peer = peerIdFromString(peerId)

    try {
      await this.requireOverlay().exclude(peer)
      await this.components.connectionManager.closeConnections(peer)
    } catch (err: any) {
      this.log.error('could not hang up on %s, a peer of another network - %e', peerId, err)
    }
  }

  /**
   * A running peer, or one rejoining through a peer it remembers, never takes another
   * configuration: the peer must serve the one in force, or it is refused.
   */
  private checkSame (network: NetworkConfiguration, from: string): void {
    let digest

    try {
      digest = networkConfigDigest(networkConfigFromJson(network.json))
    } catch (err: any) {
      throw new IncompatibleNetworkError(`${from} serves a network configuration that is not valid: ${describe(err)}`)
    }

    const ours = networkConfigDigest(this.config.network)

    if (digest !== ours) {
      throw new IncompatibleNetworkError(`${from} serves another network configuration (${digest}) than the one this peer runs with (${ours}); to take it, restart the peer with that peer as its bootstrap`)
    }

    this.checkResourceMap(this.config.network, network)
  }

  /** The resource map of `config`, unless the peer that sent `config` computes another. */
  private checkResourceMap (config: NetworkConfig, network: NetworkConfiguration): ResourceMap {
    const map = new ResourceMap(config.resources)

    if (toHex(map.digest()) !== toHex(network.resourceMapDigest)) {
      throw new IncompatibleNetworkError(`The network's resource map (digest ${toHex(network.resourceMapDigest).slice(0, 16)}…) differs from the one this peer computes from the same configuration (${toHex(map.digest()).slice(0, 16)}…): is it running another Caravela version?`)
    }

    return map
  }

  /** Throws `IncompatibleNetworkError` naming both digests unless `digest` is the one pinned. */
  private checkPinned (digest: string, what: string): void {
    const pinned = this.config.node.networkConfig?.toLowerCase()

    if (pinned != null && pinned !== digest) {
      throw new IncompatibleNetworkError(`${what} has digest ${digest}, not ${pinned}, the one this peer is pinned to (node.networkConfig)`)
    }
  }

  /** The configuration adopted at the last join, kept in the datastore; undefined when none is (or it is unreadable). */
  private async keptNetwork (): Promise<NetworkConfig | undefined> {
    const entry = (await this.store.list(ADOPTED_NETWORK_KEY)).find(({ key }) => key === ADOPTED_NETWORK_KEY)

    if (entry == null) {
      return undefined
    }

    try {
      return networkConfigFromJson(entry.value)
    } catch (err: any) {
      this.log.error('ignoring the network configuration kept in the datastore - %e', err)
      return undefined
    }
  }

  /** Resolves after the DHT's first self-query, or after a timeout (the event is not guaranteed). */
  private waitForSelfQuery (): { promise: Promise<void>, cancel (): void } {
    const events = this.components.events as unknown as EventTarget
    let done = (): void => {}
    const promise = new Promise<void>(resolve => { done = resolve })
    const timer = setTimeout(() => { done() }, this.init.selfQueryTimeout ?? DEFAULT_SELF_QUERY_TIMEOUT)
    const listener = (): void => { done() }
    events.addEventListener('kad-dht:query:self', listener, { once: true })

    return {
      promise,
      cancel: () => {
        clearTimeout(timer)
        events.removeEventListener('kad-dht:query:self', listener)
        done()
      }
    }
  }

  /** The roles, for a call that needs the network: they start at `create` or `join`. */
  private joinedRoles (): PeerRoles {
    const roles = this.requireRoles()

    if (!this.rolesStarted) {
      throw new NotJoinedError()
    }

    return roles
  }

  private requireOverlay (): KadOverlay {
    if (this.kadOverlay == null) {
      throw new Error('The Caravela service has not been started')
    }

    return this.kadOverlay
  }
}

/**
 * The Caravela service factory, for a libp2p node's `services` map:
 *
 * ```ts
 * const node = await createLibp2p({ ..., services: { identify: identify(), ping: ping(), dht: caravelaDHT(), caravela: caravela({ runtime: dockerRuntime() }) } })
 * await node.services.caravela.join(['/ip4/192.0.2.1/tcp/7800/p2p/12D3Koo…'])
 * ```
 *
 * `caravelaDefaults()` gives these services, and the transports they need, from one configuration.
 */
export function caravela (init: CaravelaInit = {}): (components: CaravelaComponents) => Caravela {
  return (components) => new CaravelaService(components, init)
}

function parseBootstrap (address: string): string {
  let peerId: string | undefined

  try {
    peerId = multiaddr(address).getComponents().findLast(c => c.name === 'p2p')?.value
  } catch (err: any) {
    throw new InvalidConfigurationError('node.bootstrap', `"${address}" is not a multiaddr: ${describe(err)}`)
  }

  if (peerId == null) {
    throw new InvalidConfigurationError('node.bootstrap', `"${address}" has no /p2p/<peer id> part`)
  }

  return peerId
}

function describe (err: any): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map(describe).join(', ')
  }

  return err?.message ?? String(err)
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** The launch rules of a supplier policy, copied, as `status` shows them. */
function supplierPolicyView (supplier: SupplierConfig): CaravelaStatus['supplierPolicy'] {
  const { allowBuyers, allowImages, allowRegistries, hostPorts, network } = supplier
  return { allowBuyers: [...allowBuyers], allowImages: [...allowImages], allowRegistries: [...allowRegistries], hostPorts: { ...hostPorts }, network }
}
