/**
 * The contract of Caravela in TypeScript, after the original's Go interfaces (`Overlay`, the
 * remote `Caravela` client, `DockerClient`) and reshaped for libp2p (`docs/architecture.md`).
 *
 * Roles (supplier, trader, buyer) are written against these interfaces only, never against
 * libp2p or dockerode, so the same role code runs in a real peer, in in-process tests and in
 * the simulator. Peer ids travel as strings (base58btc) and keys as 32-byte points of the
 * hashed key space (`sha256(preimage)`).
 */

export interface AbortOptions {
  signal?: AbortSignal
}

/** Options of `CaravelaClient.getOffers`. */
export interface GetOffersOptions extends AbortOptions {
  /**
   * What the buyer needs: the trader answers only offers whose free resources contain it, so that
   * a trader keeping many offers spends its answer on those that can serve the request
   */
  needed?: Resources
  /**
   * Ask the peer for its own free resources, as a supplier, instead of the offers it keeps as a
   * trader: a buyer that knows every peer of a small network asks them all this way
   */
  own?: boolean
}

/** Options of `CaravelaClient.createOffer`. */
export interface CreateOfferOptions extends AbortOptions {
  /**
   * Indices of the slices the supplier found without a trader: the offer serves requests that
   * are searched, for that reason, in the trader's slice rather than in their own
   */
  emptySlices?: readonly number[]
}

/** CPU class of a partition or a node: 0 = "low", 1 = "high". Higher classes can serve lower requests. */
export type CpuClass = number

export const CPU_CLASS_NAMES = ['low', 'high'] as const

/** A resource combination: CPU class, CPUs (in CPU-slice units) and memory (MB). */
export interface Resources {
  cpuClass: CpuClass
  cpus: number
  memory: number
}

/** A peer as seen on the wire: its peer id and the multiaddrs it can be reached at. */
export interface NodeRef {
  peerId: string
  multiaddrs: string[]
}

/** A peer found through the overlay: a `NodeRef` plus its position (32-byte Kademlia key). */
export interface OverlayNode extends NodeRef {
  /** `sha256(peerId multihash)`, the peer's point in the hashed key space */
  key: Uint8Array
}

/** What one `Overlay.lookup` cost, reported through `LookupOptions.onStats`. */
export interface LookupStats {
  /** where the answer came from */
  source: 'local' | 'network'
  /** FIND_NODE requests sent (0 for a local answer) */
  rpcs: number
  /** the longest chain of peers the walk followed to reach its answer (0 for a local answer) */
  hops: number
  /** wall time in milliseconds */
  durationMs: number
  /** true when a peer inside the target slice was found */
  inSlice: boolean
}

export interface LookupOptions extends AbortOptions {
  /** how many peers to return at most (default: the configuration's `lookupCount`) */
  count?: number
  /** ignore the routing table and the cache and ask the network (e.g. after a local answer failed) */
  fresh?: boolean
  /**
   * the peers of the key's slice XOR-closest to its point in the whole network, not the first
   * ones found: what two peers looking up the same key must agree on (a slice's anchors). A walk
   * then goes on until it converges, unless this peer knows the whole network.
   */
  closest?: boolean
  onStats?: (stats: LookupStats) => void
}

/**
 * The overlay (the original's `Overlay`, there Chord): Kademlia over libp2p. Keys passed to
 * `lookup` are preimages; their point is `sha256(key)`, as kad-dht hashes every key.
 */
export interface Overlay {
  /** Start a new overlay with this peer as its first member. */
  create (options?: AbortOptions): Promise<void>
  /** Join an existing overlay through one of the given bootstrap multiaddrs (each with /p2p/<id>). */
  join (bootstrap: string[], options?: AbortOptions): Promise<void>
  /**
   * Peers near `sha256(key)`, closest first. When the key's slice holds any known peer, the
   * result holds only peers of that slice; otherwise the closest peers found (callers filter).
   */
  lookup (key: Uint8Array, options?: LookupOptions): Promise<OverlayNode[]>
  /** Peers nearest to `nodeId` in our routing table that share its slice, lower keys first. */
  neighbors (nodeId: Uint8Array, options?: AbortOptions): Promise<OverlayNode[]>
  /**
   * Every other peer this peer knows, when they are no more than `max`, and undefined otherwise.
   * A routing table keeps every peer it hears of until its buckets fill, so in a network of a
   * few dozen peers this is the whole network: a buyer can then ask every peer directly.
   */
  allPeers (max: number, options?: AbortOptions): Promise<OverlayNode[] | undefined>
  /**
   * An estimate of the number of peers in the network: exact when this peer knows fewer than
   * Kademlia's k others, otherwise k over the share of the key space between its point and its
   * k-th closest peer's.
   */
  networkSize (): number
  /**
   * Call `listener` once, as soon as a peer of one of `slices` (slice indices of the resource
   * map) joins this peer's view of the network, as its routing table learns of it. Returns a
   * function that cancels the call.
   */
  watchSlices (slices: readonly number[], listener: () => void): () => void
  /** This peer's point: `sha256(peerId multihash)`. */
  nodeId (): Uint8Array
  /** Leave the overlay. */
  leave (options?: AbortOptions): Promise<void>
}

/** An offer of free resources made by a supplier to a trader. */
export interface Offer {
  /** supplier-local offer id */
  id: number
  amount: number
  freeResources: Resources
  usedResources: Resources
  containersRunning: number
}

/** An offer as returned by a trader to a buyer. */
export interface AvailableOffer extends Offer {
  supplier: NodeRef
}

export type GroupPolicy = 'spread' | 'co-location'

export const GROUP_POLICIES: readonly GroupPolicy[] = ['spread', 'co-location']

export interface PortMapping {
  /** 0 lets the engine choose */
  hostPort: number
  containerPort: number
  protocol: 'tcp' | 'udp'
}

/**
 * What the buyer does when a container it placed ends or its supplier is lost, as Docker's
 * `--restart`: `no` never; `on-failure` when it exits with a code other than 0 (or an unknown
 * one) or its supplier is lost; `always` whenever it exits or is lost. The buyer re-places it
 * through discovery, on any supplier with room, under the same name, stack and group policy.
 */
export interface RestartPolicy {
  name: RestartPolicyName
  /** re-placements at most; absent, no limit */
  maxRetries?: number
}

export type RestartPolicyName = 'no' | 'on-failure' | 'always'

export const RESTART_POLICY_NAMES: readonly RestartPolicyName[] = ['no', 'on-failure', 'always']

export interface ContainerConfig {
  name: string
  image: string
  args: string[]
  portMappings: PortMapping[]
  resources: Resources
  groupPolicy: GroupPolicy
  /** kept by the buyer, never sent to a supplier @default { name: 'no' } */
  restart?: RestartPolicy
}

/**
 * What a StopLocalContainer names: one container, or a launch by its request id, whose containers
 * are stopped, also those it is still starting (a buyer cancels a launch whose answer never came).
 */
export type StopTarget = { containerId: string } | { requestId: string }

/**
 * What a supplier says of a container its asker placed (`containerStatus`): running, exited (with
 * its exit code when known), or unknown: not there, or not the asker's.
 */
export interface RemoteContainerState {
  containerId: string
  state: 'running' | 'exited' | 'unknown'
  /** when exited, and the code is known */
  exitCode?: number
}

/** Options of a launch. */
export interface LaunchOptions extends AbortOptions {
  /**
   * Milliseconds the buyer still waits for the answer: the supplier starts nothing after them,
   * and undoes a launch that ends later. Absent: no deadline.
   */
  deadlineMs?: number
}

export interface ContainerStatus extends ContainerConfig {
  supplier: NodeRef
  containerId: string
  state: string
}

/** Result of `createOffer`: a trader says whether it keeps the offer and why not (the original's did not). */
export interface CreateOfferResult {
  accepted: boolean
  reason?: string
}

/**
 * The configuration a joining peer takes from the network (`obtainConfiguration`): the shared
 * configuration as canonical JSON and the digest of the resource map computed from it.
 */
export interface NetworkConfiguration {
  /** canonical JSON of the shared configuration */
  json: string
  /** sha256 of the resource map's cell layout */
  resourceMapDigest: Uint8Array
}

/**
 * The remote API of a peer: the original's remote `Caravela` interface, plus `cancelLaunch` and
 * `containerExited`. The sender of every message is the local peer: the receiver takes the
 * sender's identity from the connection.
 */
export interface CaravelaClient {
  /** supplier → trader */
  createOffer (toTrader: NodeRef, offer: Offer, options?: CreateOfferOptions): Promise<CreateOfferResult>
  /** trader → supplier; true when the supplier still holds the offer with us as its trader */
  refreshOffer (toSupplier: NodeRef, offerId: number, options?: AbortOptions): Promise<boolean>
  /** supplier → trader: new free/used resources for an offer the trader keeps */
  updateOffer (toTrader: NodeRef, offer: Offer, options?: AbortOptions): Promise<boolean>
  /** supplier → trader */
  removeOffer (toTrader: NodeRef, offerId: number, options?: AbortOptions): Promise<void>
  /** buyer → trader, or trader → neighbour trader (relay = false); with `options.needed`, only offers that hold it */
  getOffers (toTrader: NodeRef, relay: boolean, options?: GetOffersOptions): Promise<AvailableOffer[]>
  /** trader → same-slice neighbour trader: `traderOffering` has offers */
  advertiseOffersNeighbor (toNeighbor: NodeRef, traderOffering: NodeRef, options?: AbortOptions): Promise<void>
  /** buyer → supplier; `requestId` makes a retried launch idempotent */
  launchContainer (toSupplier: NodeRef, offerId: number, requestId: string, containers: ContainerConfig[], options?: LaunchOptions): Promise<ContainerStatus[]>
  /**
   * buyer → supplier: the state of containers it placed there, one per id, in order (at most
   * `MAX_STATUS_IDS`); asking claims them, so that the supplier keeps them running
   */
  containerStatus (toSupplier: NodeRef, containerIds: string[], options?: AbortOptions): Promise<RemoteContainerState[]>
  /** buyer → supplier */
  stopLocalContainer (toSupplier: NodeRef, containerId: string, options?: AbortOptions): Promise<void>
  /**
   * buyer → supplier: stop every container of the launch `requestId`, also those still starting;
   * for a launch whose answer never came. Nothing of the launch at the supplier is not an error.
   */
  cancelLaunch (toSupplier: NodeRef, requestId: string, options?: AbortOptions): Promise<void>
  /** supplier → buyer: a container it placed ended on its own; `exitCode` undefined when unknown */
  containerExited (toBuyer: NodeRef, containerId: string, exitCode: number | undefined, reason: string, options?: AbortOptions): Promise<void>
  /** joining peer → any member */
  obtainConfiguration (node: NodeRef, options?: AbortOptions): Promise<NetworkConfiguration>
  /**
   * buyer → supplier: the output of a container it placed there, as it comes (`LogsOptions`).
   * Resolves once the supplier accepted; the chunks end when the output does (with `follow`, when
   * the container ends)
   */
  containerLogs (toSupplier: NodeRef, containerId: string, options?: LogsOptions): Promise<AsyncIterable<LogChunk>>
  /**
   * buyer → supplier: a byte tunnel to a TCP port a container it placed there publishes.
   * Resolves once the supplier connected to the port; `options.signal` bounds only that wait
   */
  portForward (toSupplier: NodeRef, containerId: string, containerPort: number, options?: AbortOptions): Promise<ByteTunnel>
}

/**
 * A two-way byte pipe (a TCP connection, a libp2p stream), either side of which may stop sending
 * first while the other goes on: a port-forward's tunnel.
 */
export interface ByteTunnel {
  /** the bytes from the far end, read as they are taken (backpressure), until it stops sending */
  readonly source: AsyncIterable<Uint8Array>
  /**
   * Sends `source` to the far end, each chunk once the one before was taken, then tells it that
   * nothing more comes (a half-close); rejects when the tunnel breaks
   */
  sink (source: AsyncIterable<Uint8Array>): Promise<void>
  /** Tears both directions down at once; the far end sees an error, not an end. */
  abort (err: Error): void
}

/** Which output of a container a log chunk comes from. */
export type LogStreamName = 'stdout' | 'stderr'

/** A piece of a container's output. */
export interface LogChunk {
  stream: LogStreamName
  data: Uint8Array
  /**
   * when the container wrote it, in ms since the epoch, when its runtime says: a follow that
   * resumes after a dropped stream asks from the last time it got and skips what it already had
   */
  time?: number
}

/** What part of a container's output to read, as `docker logs`. */
export interface LogsOptions extends AbortOptions {
  /** go on with the output as it is written, until the container ends (or the signal aborts) */
  follow?: boolean
  /** only the last `tail` lines written so far; absent, all of them */
  tail?: number
  /** only the output written from this time on, in milliseconds since the epoch */
  since?: number
}

/** Where a container runs (the original's `DockerClient`). The Docker and memory runtimes implement it. */
export interface ContainerRuntime {
  /** total CPUs (cores) and memory (MB) of the engine */
  getCpuAndRam (options?: AbortOptions): Promise<{ cpus: number, memory: number }>
  checkContainerStatus (containerId: string, options?: AbortOptions): Promise<string>
  runContainer (config: ContainerConfig, labels: Record<string, string>, options?: AbortOptions): Promise<{ containerId: string, portMappings: PortMapping[] }>
  removeContainer (containerId: string, options?: AbortOptions): Promise<void>
  /**
   * A container's output: stdout and stderr chunks in the order written. Without `follow` it ends
   * with the output written so far; with it, when the container ends or is removed. Throws
   * `ContainerNotFoundError` for a container the runtime does not have.
   */
  logs (containerId: string, options?: LogsOptions): AsyncIterable<LogChunk>
  /**
   * A TCP connection to a port the container publishes (`mapping`, as `runContainer` returned
   * it), made on the host side: to the host port the engine published. Without it the runtime
   * runs no processes whose ports could be reached.
   */
  connectPort? (containerId: string, mapping: PortMapping, options?: AbortOptions): Promise<ByteTunnel>
  /**
   * The containers labelled with this peer's id (`caravela.supplier`), running or not, for the
   * reconciliation of a restarted peer. A runtime shared by several peers may list theirs too:
   * the roles keep only their own. Without it a restarted peer trusts its ledger alone.
   */
  listOwned? (options?: AbortOptions): Promise<OwnedContainer[]>
  /**
   * A cheap call that resolves when the engine answers and throws when it does not (Docker's
   * version endpoint). A peer asks it periodically, so that it stops offering its resources while
   * its engine is gone. Without it the peer asks `getCpuAndRam`.
   */
  health? (options?: AbortOptions): Promise<void>
  /** Release what the runtime holds open (the Docker event stream); running containers stay. */
  close? (): Promise<void>
}

/** A container as `ContainerRuntime.listOwned` lists it. */
export interface OwnedContainer {
  containerId: string
  /** e.g. created, running, paused, restarting, exited, dead */
  state: string
  labels: Record<string, string>
  /** the exit code of a container that ended, when the runtime knows it */
  exitCode?: number
  /** the host ports the runtime assigned, when it knows them */
  portMappings?: PortMapping[]
}

/** Timers, so that roles run on real time and on the simulator's virtual time alike. */
export interface Clock {
  now (): number
  setTimeout (fn: () => void, ms: number): { cancel (): void }
  setInterval (fn: () => void, ms: number): { cancel (): void }
}

/** What `caravela node` shows: this peer's identity, addresses, capacity and place in the key space. */
export interface CaravelaStatus {
  peerId: string
  multiaddrs: string[]
  protocolPrefix: string
  /** what the supplier offers: its capacity after overcommit and CPU slicing (0 without a runtime) */
  capacity: { cpus: number, memory: number, cpuClass: 'low' | 'high' }
  routingTableSize: number
  /** this peer's estimate of the number of peers in the network (`Overlay.networkSize`) */
  networkSize: number
  /** the network's discovery backend */
  discoveryBackend: string
  /** hex of this peer's point, sha256(peerId multihash) */
  nodeId: string
  /** the slice this peer trades for (the slice its own point falls in) */
  slice: { index: number, resources: Resources, firstCell: number, endCell: number }
  /** hex digest of the resource map this peer uses */
  resourceMapDigest: string
  /**
   * sha256 of the canonical JSON of the network configuration in force (`networkConfigDigest`):
   * what `node.networkConfig` (`--network-config`) pins a joining peer to
   */
  networkConfigDigest: string
  /** who may launch what here (the `[supplier]` policy; empty lists allow any) */
  supplierPolicy: {
    allowBuyers: string[]
    allowImages: string[]
    allowRegistries: string[]
    hostPorts: { min: number, max: number }
    network: string
  }
  /** milliseconds since the peer started */
  uptimeMs: number
  /**
   * whether the container engine answers: while it is `unavailable` the peer offers nothing and
   * refuses launches (UNAVAILABLE); `since` is when it entered that state (ms since the epoch),
   * `reason` why the engine is taken to be gone
   */
  runtime: RuntimeHealthState
}

/** What a peer knows of its container engine (`CaravelaStatus.runtime`). */
export interface RuntimeHealthState {
  state: 'ok' | 'unavailable'
  /** milliseconds since the epoch (the roles' clock) at which the state began */
  since: number
  /** why the engine is taken to be unavailable; absent while it is ok */
  reason?: string
  /** times the engine was found unavailable since the peer started */
  outages: number
}

/** One connected or known peer, as `caravela peers` shows it. */
export interface PeerSummary {
  peerId: string
  multiaddrs: string[]
  connected: boolean
  inRoutingTable: boolean
  /** index of the slice the peer's point falls in */
  slice: number
}

/** A container that ended on its own (Docker's `die` event, `MemoryRuntime.kill`). */
export interface ContainerExit {
  containerId: string
  exitCode?: number
}

export type ContainerExitListener = (exit: ContainerExit) => void

/**
 * A `ContainerRuntime` that reports containers ending on their own, so that the supplier
 * releases their resources. Roles subscribe when the runtime has `onExit`.
 */
export interface ContainerExitEvents {
  /** returns a function that unsubscribes */
  onExit (listener: ContainerExitListener): () => void
}

/** A container this peer placed, as `caravela ps` shows it. */
export interface ContainerView {
  containerId: string
  name: string
  image: string
  args: string[]
  supplier: NodeRef
  /** e.g. running, exited, unknown */
  state: string
  resources: Resources
  /** with the host ports the supplier assigned */
  portMappings: PortMapping[]
  requestId: string
  /** milliseconds since the epoch */
  createdAt: number
  /** the stack (`caravela deploy`) the container belongs to, if any */
  stack?: string
  /** its restart policy, when not `no` */
  restart?: RestartPolicy
  /** of an exited container: its exit code, when known */
  exitCode?: number
  /** of an exited container: when this peer heard that it ended, in milliseconds since the epoch */
  finishedAt?: number
  /** times the buyer re-placed it (the containers it replaced, one after the other) */
  restartCount?: number
  /** how it was placed: the containers of a co-located request are re-placed together */
  groupPolicy?: GroupPolicy
  /** the ports as asked (host port 0: any), which a re-placement asks for again */
  requestedPorts?: PortMapping[]
  /**
   * the container that replaced this one: this copy's supplier could not be reached when it was
   * re-placed, so it is `stopping`, and stopped when its supplier answers again; or it exited, and
   * is kept (not listed) while its supplier may keep its output, so that `logs` of its id still reads it
   */
  replacedBy?: string
  /** the container this one replaced */
  replaces?: string
}

/**
 * A container this peer placed, as `caravela inspect` shows it: its record, and what its supplier
 * says of it now (absent when the supplier did not answer: `remoteError` says why).
 */
export interface ContainerInspect extends ContainerView {
  remote?: RemoteContainerState
  remoteError?: string
}

/** A container this peer runs for a buyer, as `GET /v1/hosted` shows it. */
export interface HostedView {
  containerId: string
  /** peer id of the buyer that launched it */
  buyer: string
  requestId: string
  resources: Resources
  /** absent when its record was rebuilt from the runtime's labels after a restart */
  name?: string
  image?: string
}

/** Options of placing containers (`run`). */
export interface PlaceOptions extends AbortOptions {
  /** name of the stack the containers make up, recorded with each of them */
  stack?: string
  /** called as the placement goes on: searches, launches, placed containers, rejections */
  onProgress?: (event: PlacementProgress) => void
}

/**
 * One step of placing a request, as it happens. Containers are named by their name, or their
 * image when they have none; suppliers by their peer id.
 *
 * - `searching`: discovery of offers for a placement (co-located containers, or one spread
 *   container) begins
 * - `launching`: LaunchContainer is sent to a supplier, which pulls the image if it lacks it, then
 *   starts the containers
 * - `still-launching`: no answer to LaunchContainer yet, `seconds` after it was sent: after 1 s,
 *   then every 5 s (the supplier is pulling the image, most often; it says nothing until the
 *   containers run, so this is all the buyer knows); only for a request that listens to progress
 * - `placed`: the supplier started them
 * - `rejected`: a supplier refused or did not answer; the next offer is tried
 * - `rolling-back`: the request failed part way, what was placed for it is being stopped
 */
export type PlacementProgress =
  | { type: 'searching', containers: string[], resources: Resources }
  | { type: 'launching', containers: string[], supplier: string }
  | { type: 'still-launching', containers: string[], supplier: string, seconds: number }
  | { type: 'placed', statuses: ContainerStatus[] }
  | { type: 'rejected', supplier: string, reason: string }
  | { type: 'rolling-back', reason: string }

/** The result of stopping one container id. */
export interface StopResult {
  /** the id as given */
  id: string
  stopped: boolean
  /**
   * its supplier cannot be reached: the stop is recorded, the container shows `stopping`, and it
   * is stopped when the supplier answers again
   */
  pending?: boolean
  /** forgotten (`force`) without its supplier hearing of it: it may still run there */
  forgotten?: boolean
  error?: string
}

/** Options of stopping containers. */
export interface StopOptions extends AbortOptions {
  /**
   * Forget a container whose supplier cannot be reached instead of waiting for it (`stop --force`):
   * for a supplier that is gone for good
   */
  force?: boolean
}

/** One offer as `caravela offers` shows it, from the trader's or the supplier's side. */
export interface OfferView {
  id: number
  /** the supplier (trader side) or the trader (supplier side) */
  peerId: string
  free: Resources
  used: Resources
  containersRunning: number
}

/** What this peer trades (as the trader of its slice) and offers (as a supplier). */
export interface OffersView {
  trading: {
    slice: { index: number, resources: Resources }
    offers: OfferView[]
  }
  supplying: {
    /** capacity after overcommit and CPU slicing */
    max: Resources
    available: Resources
    offers: OfferView[]
  }
}
