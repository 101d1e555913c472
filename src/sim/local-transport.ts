/**
 * An in-process Caravela network: peers whose messages are function calls. `LocalNetwork` maps
 * peer ids to their handlers; each peer's `CaravelaClient` encodes every request and response with
 * the wire codecs (so messages are validated and counted in protobuf bytes, as on the wire) and
 * calls the target's handler with `ctx.from` set to the caller. `LocalOverlay` answers lookups from
 * a global view of the live peers' keys, the way the Kademlia overlay answers them. Role code
 * cannot tell it from a libp2p network; tests and the simulator build on it.
 */

import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createHash } from 'node:crypto'
import { raceSignal } from 'race-signal'
import { RemoteRequestError } from '../errors.js'
import { CODECS } from '../protocols/codec.js'
import { messageClient } from '../protocols/message-client.js'
import { MESSAGE_NAMES } from '../protocols/ids.js'
import { createMetrics } from '../protocols/metrics.js'
import { SIZE_ESTIMATE_PEERS, estimateNetworkSize, pointOf } from '../resources/resource-map.js'
import { answer } from './answer.js'
import type { Requests, Results } from '../protocols/codec.js'
import type { MessageName } from '../protocols/ids.js'
import type { ProtocolMetrics } from '../protocols/metrics.js'
import type { CaravelaHandlers, RequestContext } from '../protocols/handlers.js'
import type { ResourceMap } from '../resources/resource-map.js'
import type {
  AbortOptions, CaravelaClient, LookupOptions, LookupStats, NodeRef, Overlay, OverlayNode
} from '../types.js'

/** Peers returned by a lookup when the caller does not say (the default `lookupCount`). */
const DEFAULT_LOOKUP_COUNT = 3
/** Kademlia's bucket size: a network this small is in every routing table, so lookups are local. */
const K_BUCKET = 20
/** Kademlia's parallelism: FIND_NODE requests per hop. */
const ALPHA = 3
/** TCP port of every local peer's made-up address. */
const LOCAL_PORT = 7800

/** The target of a message is not running (never started, killed, or gone mid-request). */
export class UnreachableError extends Error {
  static name = 'UnreachableError'

  constructor (message: string) {
    super(message)
    this.name = 'UnreachableError'
  }
}

/** A peer of a local network. */
export interface LocalPeer {
  peerId: string
  /** its point, sha256 of its peer id multihash */
  key: Uint8Array
  /** its peer id and a made-up address */
  node: NodeRef
}

/** A request handed to its target. */
export interface LocalMessage {
  name: MessageName
  from: string
  to: string
}

/** Options of a local network. */
export interface LocalNetworkInit {
  resourceMap: ResourceMap
  /** peers a lookup returns when the caller does not say @default 3 */
  lookupCount?: number
  /** called as each request reaches its target, before the handler runs (tracing, invariant checks) */
  onMessage?: (message: LocalMessage) => void
  /**
   * Awaited before a request reaches its target and before its response reaches the caller: a
   * network's latency (e.g. a macrotask, or a virtual clock's delay). Without it a message is a
   * function call, and whole exchanges complete before any timer fires.
   */
  latency?: () => Promise<void>
}

/** Lookups made through the overlays of a network, and what they cost under the hop model. */
export interface LocalLookupCounters {
  lookups: number
  rpcs: number
  hops: number
}

interface PeerState {
  peer: LocalPeer
  handlers: Partial<CaravelaHandlers>
  /** false once killed: it neither sends nor answers */
  alive: boolean
  /** false after `leave`: lookups and neighbours no longer return it */
  inOverlay: boolean
  metrics: ProtocolMetrics
}

/** A registry of in-process peers, their handlers and their traffic. */
export class LocalNetwork {
  readonly resourceMap: ResourceMap
  readonly lookupCount: number
  /** lookups made through every peer's overlay */
  readonly lookups: LocalLookupCounters = { lookups: 0, rpcs: 0, hops: 0 }
  /** errors handlers threw that were not a status (they answer INTERNAL_ERROR): a test expects none */
  readonly handlerErrors: Error[] = []

  private readonly peers = new Map<string, PeerState>()
  private readonly onMessage?: (message: LocalMessage) => void
  private readonly latency?: () => Promise<void>
  private created = 0
  /** slice index → live overlay members sorted by key; rebuilt after any membership change */
  private slices?: Map<number, LocalPeer[]>
  /** peers waiting to hear of a peer of some slices (`watchSlices`) */
  private readonly watches = new Set<{ watcher: string, slices: Set<number>, listener: () => void }>()

  constructor (init: LocalNetworkInit) {
    this.resourceMap = init.resourceMap
    this.lookupCount = init.lookupCount ?? DEFAULT_LOOKUP_COUNT
    this.onMessage = init.onMessage
    this.latency = init.latency
  }

  /**
   * A new live peer, in the overlay, serving nothing yet. Its Ed25519 identity derives from
   * `seed` (default: its creation number), so networks are reproducible.
   */
  async addPeer (seed: string | number = this.created): Promise<LocalPeer> {
    const number = ++this.created
    const privateKey = await generateKeyPairFromSeed('Ed25519', createHash('sha256').update(`caravela-local-peer:${seed}`).digest())
    const peerId = peerIdFromPrivateKey(privateKey)
    const address = `/ip4/10.${(number >> 16) & 0xff}.${(number >> 8) & 0xff}.${number & 0xff}/tcp/${LOCAL_PORT}`
    const peer: LocalPeer = {
      peerId: peerId.toString(),
      key: pointOf(peerId.toMultihash().bytes),
      node: { peerId: peerId.toString(), multiaddrs: [address] }
    }

    if (this.peers.has(peer.peerId)) {
      throw new Error(`A peer with seed ${seed} exists already`)
    }

    this.peers.set(peer.peerId, { peer, handlers: {}, alive: true, inOverlay: true, metrics: createMetrics() })
    this.slices = undefined
    this.joined(peer)
    return peer
  }

  /** Install the handlers a peer answers messages with (replacing any it had). */
  serve (peerId: string, handlers: Partial<CaravelaHandlers>): void {
    this.state(peerId).handlers = handlers
  }

  /** Stop a peer without warning: it leaves the overlay, and messages to and from it fail. */
  kill (peerId: string): void {
    const state = this.state(peerId)
    state.alive = false
    state.inOverlay = false
    this.slices = undefined
  }

  /** Bring a killed peer back, in the overlay again. */
  revive (peerId: string): void {
    const state = this.state(peerId)
    state.alive = true
    state.inOverlay = true
    this.slices = undefined
  }

  isAlive (peerId: string): boolean {
    return this.peers.get(peerId)?.alive === true
  }

  peer (peerId: string): LocalPeer {
    return this.state(peerId).peer
  }

  /** Every live peer, in creation order. */
  livePeers (): LocalPeer[] {
    return [...this.peers.values()].filter(s => s.alive).map(s => s.peer)
  }

  /** The point of a peer id of this network. */
  keyOf (peerId: string): Uint8Array {
    return this.state(peerId).peer.key
  }

  /** The client a peer sends with. */
  client (peerId: string): CaravelaClient {
    const from = this.state(peerId).peer.peerId
    return messageClient(async (name, to, request, options) => this.request(name, from, to, request, options))
  }

  /** The overlay a peer sees. */
  overlay (peerId: string): LocalOverlay {
    return new LocalOverlay(this, this.state(peerId).peer)
  }

  /** Messages and bytes a peer sent and received per message: requests and responses, client and server side. */
  metrics (peerId: string): ProtocolMetrics {
    return structuredClone(this.state(peerId).metrics)
  }

  /** The sum of every peer's metrics: each message counts once sent and once received. */
  totals (): ProtocolMetrics {
    const sum = createMetrics()

    for (const { metrics } of this.peers.values()) {
      for (const name of MESSAGE_NAMES) {
        sum[name].messagesSent += metrics[name].messagesSent
        sum[name].messagesReceived += metrics[name].messagesReceived
        sum[name].bytesSent += metrics[name].bytesSent
        sum[name].bytesReceived += metrics[name].bytesReceived
      }
    }

    return sum
  }

  /**
   * One request from `from` to `to`, and its response, through the codecs.
   *
   * @throws {UnreachableError} when the sender or the target is not running
   * @throws {RemoteRequestError} when the target answers with a status other than OK
   * @throws {MalformedMessageError} when the request cannot be encoded
   */
  async request<N extends MessageName> (name: N, from: string, to: NodeRef, request: Requests[N], options: AbortOptions = {}): Promise<Results[N]> {
    const sender = this.peers.get(from)

    if (sender?.alive !== true) {
      throw new UnreachableError(`${from} is not running`)
    }

    options.signal?.throwIfAborted()
    const codec = CODECS[name]
    const requestBytes = codec.encodeRequest(request)
    count(sender.metrics, name, 'sent', requestBytes)
    await this.latency?.()
    const target = this.peers.get(to?.peerId)

    if (target?.alive !== true) {
      throw new UnreachableError(`${to?.peerId} is unreachable`)
    }

    count(target.metrics, name, 'received', requestBytes)
    this.onMessage?.({ name, from, to: to.peerId })
    const ctx: RequestContext = { from: sender.peer.node, signal: options.signal ?? new AbortController().signal }
    const response = await raceSignal(answer(name, target.handlers, ctx, codec.decodeRequest(requestBytes), err => { this.handlerErrors.push(err) }), options.signal)
    await this.latency?.()

    if (!target.alive) {
      throw new UnreachableError(`${to.peerId} went away before answering`)
    }

    count(target.metrics, name, 'sent', response)
    count(sender.metrics, name, 'received', response)
    const decoded = codec.decodeResponse(response)

    if (decoded.status !== 'OK') {
      throw new RemoteRequestError(decoded.status, decoded.message)
    }

    return decoded.result
  }

  /** Peers near `sha256(key)`, as the Kademlia overlay returns them (see `LocalOverlay.lookup`). */
  lookup (from: string, key: Uint8Array, options: LookupOptions = {}): OverlayNode[] {
    if (this.peers.get(from)?.alive !== true) {
      throw new UnreachableError(`${from} is not running`)
    }

    const point = pointOf(key)
    const members = this.sliceMembers().get(this.resourceMap.sliceOf(point).index) ?? []
    const candidates = members.length > 0 ? members : [...this.sliceMembers().values()].flat()
    const found = closest(point, candidates, options.count ?? this.lookupCount)
    const stats = lookupCost(this.overlaySize(), members.length > 0)

    this.lookups.lookups++
    this.lookups.rpcs += stats.rpcs
    this.lookups.hops += stats.hops
    options.onStats?.(stats)

    return found.map(toOverlayNode)
  }

  /** The nearest `count` same-slice peers below and above `nodeId` in key order, lower first. */
  neighbors (nodeId: Uint8Array, count = 1): OverlayNode[] {
    const members = this.sliceMembers().get(this.resourceMap.sliceOf(nodeId).index) ?? []
    const lower = members.filter(p => Buffer.compare(p.key, nodeId) < 0).slice(-count)
    const higher = members.filter(p => Buffer.compare(p.key, nodeId) > 0).slice(0, count)

    return [...lower, ...higher].map(toOverlayNode)
  }

  /** `Overlay.networkSize` of a peer that knows every other peer of the view. */
  networkSize (from: string): number {
    const self = this.state(from).peer.key
    const others = [...this.sliceMembers().values()].flat().filter(peer => peer.peerId !== from)
    const kth = others.length < SIZE_ESTIMATE_PEERS ? undefined : closest(self, others, SIZE_ESTIMATE_PEERS)[SIZE_ESTIMATE_PEERS - 1].key
    return estimateNetworkSize(self, kth, others.length)
  }

  /** Every other peer of the overlay view, when they are at most `max` (see `Overlay.allPeers`). */
  allPeers (from: string, max: number): OverlayNode[] | undefined {
    const others = [...this.sliceMembers().values()].flat().filter(peer => peer.peerId !== from)
    return others.length > max ? undefined : others.map(toOverlayNode)
  }

  /**
   * Call `listener` once, when a peer of one of `slices` other than `watcher` joins the overlay
   * view (see `Overlay.watchSlices`); the returned function cancels it.
   */
  watchSlices (watcher: string, slices: readonly number[], listener: () => void): () => void {
    const watch = { watcher, slices: new Set(slices), listener }
    this.watches.add(watch)
    return () => { this.watches.delete(watch) }
  }

  /** Add or remove a peer from the overlay view, without stopping it. */
  setInOverlay (peerId: string, inOverlay: boolean): void {
    const state = this.state(peerId)
    const joined = inOverlay && !state.inOverlay && state.alive
    state.inOverlay = inOverlay
    this.slices = undefined

    if (joined) {
      this.joined(state.peer)
    }
  }

  /** A peer joined the view: the watchers of its slice hear of it. */
  private joined (peer: LocalPeer): void {
    const slice = this.resourceMap.sliceOf(peer.key).index

    for (const watch of [...this.watches]) {
      if (watch.watcher !== peer.peerId && watch.slices.has(slice)) {
        this.watches.delete(watch)
        watch.listener()
      }
    }
  }

  private state (peerId: string): PeerState {
    const state = this.peers.get(peerId)

    if (state == null) {
      throw new Error(`No peer ${peerId} in this network`)
    }

    return state
  }

  /** Live overlay members per slice, sorted by key. */
  private sliceMembers (): Map<number, LocalPeer[]> {
    if (this.slices == null) {
      const slices = new Map<number, LocalPeer[]>()
      const members = [...this.peers.values()].filter(s => s.alive && s.inOverlay).map(s => s.peer)

      for (const peer of members.sort((a, b) => Buffer.compare(a.key, b.key))) {
        const index = this.resourceMap.sliceOf(peer.key).index
        const slice = slices.get(index) ?? []
        slice.push(peer)
        slices.set(index, slice)
      }

      this.slices = slices
    }

    return this.slices
  }

  private overlaySize (): number {
    let size = 0

    for (const members of this.sliceMembers().values()) {
      size += members.length
    }

    return size
  }
}

/**
 * `Overlay` of one peer of a `LocalNetwork`, over a global view of the live peers' keys. A lookup
 * returns the `count` live peers XOR-closest to `sha256(key)`, only members of the key's slice
 * when the slice has any (as the Kademlia overlay does). Its cost follows a simple model: none
 * while the network fits in one Kademlia bucket (every peer knows every other), then
 * ⌈log2(N / 20)⌉ hops of 3 requests each.
 */
export class LocalOverlay implements Overlay {
  private readonly network: LocalNetwork
  private readonly peer: LocalPeer

  constructor (network: LocalNetwork, peer: LocalPeer) {
    this.network = network
    this.peer = peer
  }

  async create (): Promise<void> {
    this.network.setInOverlay(this.peer.peerId, true)
  }

  async join (): Promise<void> {
    this.network.setInOverlay(this.peer.peerId, true)
  }

  async lookup (key: Uint8Array, options?: LookupOptions): Promise<OverlayNode[]> {
    options?.signal?.throwIfAborted()
    return this.network.lookup(this.peer.peerId, key, options)
  }

  async neighbors (nodeId: Uint8Array, options?: AbortOptions & { count?: number }): Promise<OverlayNode[]> {
    return this.network.neighbors(nodeId, options?.count)
  }

  nodeId (): Uint8Array {
    return this.peer.key
  }

  async allPeers (max: number): Promise<OverlayNode[] | undefined> {
    return this.network.allPeers(this.peer.peerId, max)
  }

  networkSize (): number {
    return this.network.networkSize(this.peer.peerId)
  }

  watchSlices (slices: readonly number[], listener: () => void): () => void {
    return this.network.watchSlices(this.peer.peerId, slices, listener)
  }

  async leave (): Promise<void> {
    this.network.setInOverlay(this.peer.peerId, false)
  }
}

function count (metrics: ProtocolMetrics, name: MessageName, direction: 'sent' | 'received', bytes: Uint8Array): void {
  if (direction === 'sent') {
    metrics[name].messagesSent++
    metrics[name].bytesSent += bytes.byteLength
  } else {
    metrics[name].messagesReceived++
    metrics[name].bytesReceived += bytes.byteLength
  }
}

/** What a lookup in a network of `size` peers costs under the hop model. */
function lookupCost (size: number, inSlice: boolean): LookupStats {
  const hops = size <= K_BUCKET ? 0 : Math.ceil(Math.log2(size / K_BUCKET))
  return { source: hops === 0 ? 'local' : 'network', rpcs: hops * ALPHA, hops, durationMs: 0, inSlice }
}

/** The `n` candidates XOR-closest to `point`, closest first. */
function closest (point: Uint8Array, candidates: LocalPeer[], n: number): LocalPeer[] {
  return candidates
    .map(peer => ({ peer, distance: xor(point, peer.key) }))
    .sort((a, b) => Buffer.compare(a.distance, b.distance))
    .slice(0, n)
    .map(({ peer }) => peer)
}

function xor (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)

  for (let i = 0; i < a.length; i++) {
    out[i] = a[i] ^ b[i]
  }

  return out
}

function toOverlayNode (peer: LocalPeer): OverlayNode {
  return { peerId: peer.peerId, multiaddrs: [...peer.node.multiaddrs], key: peer.key }
}
