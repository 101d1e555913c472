/**
 * The simulator's network: simulated peers whose messages are function calls, over a simulated
 * Kademlia overlay. Every request and response goes through the wire codecs, so messages are
 * validated and measured in protobuf bytes as on the wire; lookups are answered from the global
 * sorted view of `SimKademlia` and charged the FIND_NODE requests a Kademlia walk would send. All
 * state is indexed by peer number in flat arrays, so that a million peers fit in memory.
 *
 * Role code cannot tell it from a libp2p network: it sees a `CaravelaClient` and an `Overlay`.
 */

import { RemoteRequestError } from '../errors.js'
import { createCodecs } from '../protocols/codec.js'
import { MessageClient } from '../protocols/message-client.js'
import { SIZE_ESTIMATE_PEERS, estimateNetworkSize, pointOf } from '../resources/resource-map.js'
import { answer } from './answer.js'
import type { Codecs, Requests, Results } from '../protocols/codec.js'
import type { CaravelaHandlers, RequestContext } from '../protocols/handlers.js'
import type { MessageName } from '../protocols/ids.js'
import type { PeerIdCache } from '../protocols/peer-id-cache.js'
import type { ResourceMap } from '../resources/resource-map.js'
import type { AbortOptions, CaravelaClient, LookupOptions, NodeRef, Overlay, OverlayNode } from '../types.js'
import type { SimKademlia } from './kademlia.js'

/**
 * Bytes of a kad-dht FIND_NODE request: message type, a 32-byte key and the field tags
 * (`@libp2p/kad-dht` Message protobuf).
 */
export const FIND_NODE_REQUEST_BYTES = 40
/**
 * Bytes of a FIND_NODE response: k = 20 closer peers of about 56 bytes each (a 38-byte Ed25519
 * peer id, one IPv4/TCP multiaddr, tags).
 */
export const FIND_NODE_RESPONSE_BYTES = 1124

/** What the network tells the simulator about the traffic of a peer (to charge it to a request). */
export interface TrafficTap {
  /** peer `from` sent a Caravela request */
  message?: (from: number, name: MessageName) => void
  /** peer `from` ran a lookup */
  lookup?: (from: number, rpcs: number, hops: number) => void
}

export interface SimNetworkInit {
  /** base58btc peer ids of peers 0..n-1 */
  peerIds: string[]
  kademlia: SimKademlia
  resourceMap: ResourceMap
  /** peers a lookup returns when the caller does not say */
  lookupCount: number
  tap?: TrafficTap
  /**
   * What the network's codecs convert peer ids through: one that holds every peer converts each id
   * once, and the records that name a peer share one string (without it, every id is converted)
   */
  peerIdCache?: PeerIdCache
}

/** The target of a message is not running (never started, killed, or gone mid-request). */
export class UnreachableError extends Error {
  static override name = 'UnreachableError'

  constructor (message: string) {
    super(message)
    this.name = 'UnreachableError'
  }
}

/** Messages and bytes per message name, for the whole network. */
export type MessageTotals = Record<string, { messages: number, bytes: number }>

/** Simulated peers, their handlers and their traffic. */
export class SimNetwork {
  readonly size: number
  readonly peerIds: string[]
  readonly nodes: NodeRef[]
  /** messages received per peer: requests at the target, responses at the caller */
  readonly messagesReceived: Float64Array
  readonly bytesReceived: Float64Array
  /** errors handlers threw that were not a protocol status: a correct run has none */
  readonly bugs: Error[] = []
  readonly totals: MessageTotals = {}

  private readonly kademlia: SimKademlia
  private readonly resourceMap: ResourceMap
  private readonly lookupCount: number
  private readonly index = new Map<string, number>()
  private readonly handlers: Array<Partial<CaravelaHandlers> | undefined>
  private readonly alive: Uint8Array
  private readonly signal = new AbortController().signal
  private readonly tap?: TrafficTap
  private readonly codecs: Codecs
  /** each peer's network-size estimate, 0 until first asked */
  private readonly sizeEstimates: Float64Array

  constructor (init: SimNetworkInit) {
    this.size = init.peerIds.length
    this.peerIds = init.peerIds
    this.kademlia = init.kademlia
    this.resourceMap = init.resourceMap
    this.lookupCount = init.lookupCount
    this.tap = init.tap
    this.codecs = createCodecs({ peerIdCache: init.peerIdCache })
    this.nodes = init.peerIds.map(peerId => ({ peerId, multiaddrs: [] }))
    this.handlers = new Array(this.size)
    this.alive = new Uint8Array(this.size).fill(1)
    this.messagesReceived = new Float64Array(this.size)
    this.bytesReceived = new Float64Array(this.size)
    this.sizeEstimates = new Float64Array(this.size)
    init.peerIds.forEach((peerId, i) => {
      this.index.set(peerId, i)
    })
  }

  /** Peer number of a peer id of this network. */
  indexOf (peerId: string): number {
    const i = this.index.get(peerId)

    if (i == null) {
      throw new Error(`No peer ${peerId} in this simulation`)
    }

    return i
  }

  pointOf (index: number): Uint8Array {
    return this.kademlia.pointOf(index)
  }

  /** The point of a peer id of this network (the roles' `keyOf`). */
  keyOf = (peerId: string): Uint8Array => this.kademlia.pointOf(this.indexOf(peerId))

  serve (index: number, handlers: Partial<CaravelaHandlers>): void {
    this.handlers[index] = handlers
  }

  /**
   * Stop a peer without warning: it leaves the overlay, messages to it fail, and so does anything
   * it still tries to send (a crashed peer's work in flight goes nowhere).
   */
  kill (index: number): void {
    this.alive[index] = 0
    this.kademlia.setLive(index, false)
  }

  /** Put a peer (back) into the overlay: a peer joining the network. */
  revive (index: number): void {
    this.alive[index] = 1
    this.kademlia.setLive(index, true)
  }

  /** Whether a peer is in the network (not killed, or revived since). */
  isAlive (index: number): boolean {
    return this.alive[index] === 1
  }

  client (index: number): CaravelaClient {
    return new SimClient(this, index)
  }

  overlay (index: number): Overlay {
    return new SimOverlay(this, index)
  }

  /** One request and its response, through the codecs. */
  async request<N extends MessageName> (name: N, from: number, to: NodeRef, request: Requests[N]): Promise<Results[N]> {
    const codec = this.codecs[name]
    const requestBytes = codec.encodeRequest(request)
    const target = this.index.get(to?.peerId)

    if (this.alive[from] !== 1) {
      throw new UnreachableError(`peer ${from} is not in the network: it cannot send`)
    }

    this.tap?.message?.(from, name)
    this.count(name, requestBytes.byteLength)

    if (target == null || this.alive[target] !== 1) {
      throw new UnreachableError(`${to?.peerId} is unreachable`)
    }

    this.messagesReceived[target]++
    this.bytesReceived[target] += requestBytes.byteLength
    const ctx: RequestContext = { from: this.nodes[from], signal: this.signal }
    const response = await answer(name, this.handlers[target], ctx, codec.decodeRequest(requestBytes), err => { this.bugs.push(err) }, this.codecs)
    this.messagesReceived[from]++
    this.bytesReceived[from] += response.byteLength
    this.count(name, response.byteLength)
    const decoded = codec.decodeResponse(response)

    if (decoded.status !== 'OK') {
      throw new RemoteRequestError(decoded.status, decoded.message)
    }

    return decoded.result
  }

  /**
   * Peers near `sha256(key)`: the `count` XOR-closest live peers of the point's slice, or of the
   * whole network when the slice has none, as the Kademlia overlay answers. Charged the FIND_NODE
   * requests of the walk that would find them (none when the caller's own routing table knows a
   * peer of the slice).
   */
  lookup (from: number, key: Uint8Array, options: LookupOptions = {}): OverlayNode[] {
    if (this.alive[from] !== 1) {
      throw new UnreachableError(`peer ${from} is not in the network: it cannot look up`)
    }

    const point = pointOf(key)
    const slice = this.resourceMap.sliceOf(point)
    const count = options.count ?? this.lookupCount
    let found = this.kademlia.closest(point, count, slice)
    const inSlice = found.length > 0

    if (!inSlice) {
      found = this.kademlia.closest(point, count)
    }

    // a lookup of the closest peers walks until it has learnt a peer of the closest one's grid
    // cell (the closest itself below some 65 000 peers, when a cell holds one peer or none; a
    // hop short of it at a million), any other until it learns a peer of the slice
    const walk = this.kademlia.walk(from, point, options.closest === true && inSlice ? cellOf(this.kademlia.pointOf(found[0])) : slice)

    for (const queried of walk.queried) {
      this.messagesReceived[queried]++
      this.bytesReceived[queried] += FIND_NODE_REQUEST_BYTES
    }

    this.messagesReceived[from] += walk.rpcs
    this.bytesReceived[from] += walk.rpcs * FIND_NODE_RESPONSE_BYTES
    this.count('findNode', walk.rpcs * (FIND_NODE_REQUEST_BYTES + FIND_NODE_RESPONSE_BYTES), 2 * walk.rpcs)
    this.tap?.lookup?.(from, walk.rpcs, walk.hops)
    options.onStats?.({ source: walk.hops === 0 ? 'local' : 'network', rpcs: walk.rpcs, hops: walk.hops, durationMs: 0, inSlice })

    return found.map(i => this.overlayNode(i))
  }

  /** The nearest `count` same-slice peers below and above `point`, lower first. */
  neighbors (point: Uint8Array, count = 1): OverlayNode[] {
    return this.kademlia.neighbors(point, count, this.resourceMap.sliceOf(point)).map(i => this.overlayNode(i))
  }

  /**
   * `Overlay.networkSize` of peer `from`, from its exact k-th closest live peer (the network is
   * fixed once it has started, so each peer's estimate is made once)
   */
  networkSize (from: number): number {
    let estimate = this.sizeEstimates[from]

    if (estimate === 0) {
      const point = this.kademlia.pointOf(from)
      const closest = this.kademlia.closest(point, SIZE_ESTIMATE_PEERS + 1).filter(i => i !== from)
      const kth = closest.length < SIZE_ESTIMATE_PEERS ? undefined : this.kademlia.pointOf(closest[SIZE_ESTIMATE_PEERS - 1])
      estimate = estimateNetworkSize(point, kth, closest.length)
      this.sizeEstimates[from] = estimate
    }

    return estimate
  }

  /** Every other live peer, when they are at most `max` (a simulated peer knows a small network whole). */
  allPeers (from: number, max: number): OverlayNode[] | undefined {
    const others: number[] = []

    for (let i = 0; i < this.alive.length && others.length <= max; i++) {
      if (i !== from && this.alive[i] === 1) {
        others.push(i)
      }
    }

    return others.length > max ? undefined : others.map(i => this.overlayNode(i))
  }

  private overlayNode (index: number): OverlayNode {
    return { peerId: this.peerIds[index], multiaddrs: [], key: this.kademlia.pointOf(index) }
  }

  private count (name: string, bytes: number, messages = 1): void {
    const total = this.totals[name] ?? (this.totals[name] = { messages: 0, bytes: 0 })
    total.messages += messages
    total.bytes += bytes
  }
}

/** The grid cell of a point, as a run of one cell. */
function cellOf (point: Uint8Array): { firstCell: number, endCell: number } {
  const cell = (point[0] << 8) | point[1]
  return { firstCell: cell, endCell: cell + 1 }
}

/** `CaravelaClient` of one simulated peer: one small object, where a closure would cost a million. */
class SimClient extends MessageClient {
  private readonly network: SimNetwork
  private readonly index: number

  constructor (network: SimNetwork, index: number) {
    super()
    this.network = network
    this.index = index
  }

  protected async request<N extends MessageName> (name: N, to: NodeRef, request: Requests[N]): Promise<Results[N]> {
    return this.network.request(name, this.index, to, request)
  }
}

/** `Overlay` of one simulated peer. */
class SimOverlay implements Overlay {
  private readonly network: SimNetwork
  private readonly index: number

  constructor (network: SimNetwork, index: number) {
    this.network = network
    this.index = index
  }

  async create (): Promise<void> {}

  async join (): Promise<void> {}

  async lookup (key: Uint8Array, options?: LookupOptions): Promise<OverlayNode[]> {
    return this.network.lookup(this.index, key, options)
  }

  async neighbors (nodeId: Uint8Array, options?: AbortOptions & { count?: number }): Promise<OverlayNode[]> {
    return this.network.neighbors(nodeId, options?.count)
  }

  nodeId (): Uint8Array {
    return this.network.pointOf(this.index)
  }

  async allPeers (max: number): Promise<OverlayNode[] | undefined> {
    return this.network.allPeers(this.index, max)
  }

  networkSize (): number {
    return this.network.networkSize(this.index)
  }

  /**
   * Not watched: a simulated peer sees every live peer at once, and without churn peers only
   * leave, so no slice fills up later. With churn, a slice that a joining peer fills is not
   * announced to the suppliers that watch it.
   */
  watchSlices (): () => void {
    return () => {}
  }

  async leave (): Promise<void> {
    this.network.kill(this.index)
  }
}
