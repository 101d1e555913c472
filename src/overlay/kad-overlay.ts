/**
 * `Overlay` over kad-dht (`docs/discovery.md`).
 *
 * The key space is kad-dht's own hashed space: a key's point is `sha256(key)` and a peer's point
 * is `sha256(peerId multihash)`. A lookup of a random key needs one live peer inside the target
 * key's slice, not the 20 closest peers, so it answers from the local routing table and a small
 * cache of recently seen slice members when they know such a peer (zero hops), and otherwise
 * walks the network with FIND_NODE requests and stops as soon as a peer inside the slice answers.
 * A lookup of the closest peers (an anchor's) answers from the routing table only while that
 * holds every peer it has heard of, and otherwise walks until the walk converges. What the
 * overlay needs of kad-dht's internals is in `kad-internals.ts`.
 */

import { MessageType } from '@libp2p/kad-dht'
import { multiaddr } from '@multiformats/multiaddr'
import { SIZE_ESTIMATE_PEERS, estimateNetworkSize, pointOf } from '../resources/resource-map.js'
import { DepartureWatch } from './departures.js'
import { kadInternals } from './kad-internals.js'
import { peerViewOf } from './peer-view.js'
import type { ResourceMap, Slice } from '../resources/resource-map.js'
import type { AbortOptions, LookupOptions, LookupStats, Overlay, OverlayNode } from '../types.js'
import type { DepartureCounters } from './departures.js'
import type { KadInternals } from './kad-internals.js'
import type { PeerView } from './peer-view.js'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How long a slice member seen by a network walk stays in the lookup cache. */
export const SLICE_CACHE_TTL = 120_000
/** Slice members remembered per slice. */
export const SLICE_CACHE_SIZE = 8
/** Extra walks towards the slice's other aligned blocks when the target's block is empty. */
export const MAX_EXTRA_WALKS = 3
/**
 * How long a slice a walk found empty is taken to stay empty without a new walk (a member that
 * connects ends it); past it the record still answers while a walk renews it in the background.
 */
export const EMPTY_SLICE_TTL = 10_000
/** How long a network-size estimate is used before it is made again from the routing table. */
export const SIZE_ESTIMATE_TTL = 10_000
/** FIND_NODE requests a walk keeps in flight (Kademlia's α). */
export const WALK_ALPHA = 3
/** Bound of one network walk when the caller gives no signal. */
export const DEFAULT_WALK_TIMEOUT = 10_000

interface WalkEntry {
  peerId: PeerId
  key: Uint8Array
  distance: Uint8Array
  inSlice: boolean
  /** requests between us and this peer: 0 for peers we knew */
  depth: number
  multiaddrs: Multiaddr[]
  state: 'new' | 'asked' | 'answered' | 'failed'
}

/** Totals over all lookups: how many, answered locally or by a walk, requests and hops spent. */
export interface LookupCounters {
  lookups: number
  local: number
  network: number
  rpcs: number
  hops: number
  /** lookups that found no peer of the target slice */
  missedSlice: number
}

export interface KadOverlayComponents {
  peerId: PeerId
  peerStore: PeerStore
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface KadOverlayInit {
  dht: KadDHT
  /** the resource map in force (it may change when the peer adopts a network's configuration) */
  resourceMap: () => ResourceMap
  /** peers returned by a lookup when the caller does not say */
  lookupCount: () => number
}

interface CachedPeer {
  peerId: PeerId
  key: Uint8Array
  seenAt: number
}

export interface Candidate {
  peerId: PeerId
  key: Uint8Array
}

export class KadOverlay implements Overlay {
  private readonly components: KadOverlayComponents
  private readonly init: KadOverlayInit
  private readonly log: Logger
  private readonly selfKey: Uint8Array
  private readonly sliceCache = new Map<number, CachedPeer[]>()
  /** slices the last walk found no member of, until when to believe it, and the peers it found */
  private readonly emptySlices = new Map<number, { until: number, closest: Candidate[] }>()
  /** empty slices a background walk is renewing the record of (`refreshEmptySlice`) */
  private readonly refreshingSlices = new Set<number>()
  /** roles waiting to hear of a peer of some slices (`watchSlices`) */
  private readonly watches = new Set<{ slices: Set<number>, listener: () => void }>()
  private stopListening?: () => void
  /** peers of another network (`exclude`), kept out of the routing table; made by the first */
  private excluded?: Set<string>
  private stopExcluding?: () => void
  private readonly kad: KadInternals
  private readonly departures: DepartureWatch
  /** the peers' addresses a lookup returns, without a peer-store read each */
  private readonly peers: PeerView
  private sizeEstimate?: { value: number, tableSize: number, until: number }
  /** running totals of every lookup since start */
  readonly counters: LookupCounters = { lookups: 0, local: 0, network: 0, rpcs: 0, hops: 0, missedSlice: 0 }

  constructor (components: KadOverlayComponents, init: KadOverlayInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('caravela:overlay')
    this.selfKey = pointOf(components.peerId.toMultihash().bytes)
    this.kad = kadInternals(init.dht)
    this.departures = new DepartureWatch(components, this.kad)
    this.peers = peerViewOf(components)
  }

  /** Start dropping peers that left from the routing table (`departures.ts`). */
  start (): void {
    this.departures.start()
  }

  /** Stop watching for departures (`leave` does too). */
  stop (): void {
    this.departures.stop()
    this.stopExcluding?.()
    this.stopExcluding = undefined
  }

  /**
   * Keep a peer out of the routing table until `readmit`: it is removed now, and again whenever
   * the DHT adds it (it connects again). A peer of another network on the same LAN serves the
   * same DHT protocol: kept, it would mix the two networks' tables and walks.
   */
  async exclude (peerId: PeerId): Promise<void> {
    (this.excluded ??= new Set()).add(peerId.toString())
    this.sliceCache.clear()
    this.stopExcluding ??= this.kad.onPeerAdded(added => {
      if (this.excluded?.has(added.toString()) === true) {
        this.sliceCache.clear()
        this.kad.removePeer(added).catch((err: any) => { this.log('could not remove excluded peer %p - %e', added, err) })
      }
    })
    await this.kad.removePeer(peerId)
  }

  /** A peer `exclude` kept out may enter the routing table again (it is tried once more). */
  readmit (peerId: PeerId): void {
    this.excluded?.delete(peerId.toString())
  }

  /** Whether `exclude` keeps the peer out of the routing table. */
  isExcluded (peerId: PeerId): boolean {
    return this.excluded?.has(peerId.toString()) === true
  }

  /** Routing-table peers checked and removed since start. */
  departureCounters (): DepartureCounters {
    return { ...this.departures.counters }
  }

  async create (): Promise<void> {
    this.log('created a new overlay as %p', this.components.peerId)
  }

  /**
   * Dial the bootstrap peers until one answers, then wait for the DHT's first self-query so that
   * network walks can run. Fails only when no bootstrap peer can be reached.
   */
  async join (bootstrap: string[], options: AbortOptions = {}): Promise<void> {
    const errors: Error[] = []

    for (const address of bootstrap) {
      try {
        await this.components.connectionManager.openConnection(multiaddr(address), options)
        this.log('joined through %s', address)
        return
      } catch (err: any) {
        this.log('could not reach bootstrap peer %s - %e', address, err)
        errors.push(err)
      }
    }

    throw new AggregateError(errors, 'Could not reach any bootstrap peer')
  }

  async lookup (key: Uint8Array, options: LookupOptions = {}): Promise<OverlayNode[]> {
    const started = performance.now()
    const map = this.init.resourceMap()
    const point = pointOf(key)
    const slice = map.sliceOf(point)
    const count = options.count ?? this.init.lookupCount()

    // the closest peers are known here only when the routing table holds every peer it heard of
    const exact = options.closest === true
    const whole = exact && !this.kad.tableSaturated()
    const local = options.fresh === true || (exact && !whole) ? [] : this.localCandidates(map, slice, whole)

    if (local.length > 0) {
      const nodes = await this.toNodes(closestTo(point, local, count))
      this.report(options, { source: 'local', rpcs: 0, hops: 0, durationMs: performance.now() - started, inSlice: true })
      return nodes
    }

    // a slice a walk found empty is answered from that walk, unless a member has appeared in the
    // routing table since (checked above); once the record is older than EMPTY_SLICE_TTL, a walk
    // brings it up to date in the background, off the caller's path (a placement's, most often)
    const empty = options.fresh === true ? undefined : this.emptySlices.get(slice.index)

    if (empty != null) {
      if (Date.now() >= empty.until) {
        this.refreshEmptySlice(key, map, slice, count, exact)
      }

      const nodes = await this.toNodes(closestTo(point, empty.closest, count))
      this.report(options, { source: 'local', rpcs: 0, hops: 0, durationMs: performance.now() - started, inSlice: false })
      return nodes
    }

    const stats: LookupStats = { source: 'network', rpcs: 0, hops: 0, durationMs: 0, inSlice: false }
    const candidates = await this.walkSlice(key, map, slice, stats, options.signal ?? AbortSignal.timeout(DEFAULT_WALK_TIMEOUT), count, exact)
    stats.durationMs = performance.now() - started
    this.report(options, stats)

    return this.toNodes(closestTo(point, dedupe(candidates), count))
  }

  /**
   * Walk again towards a key of a slice recorded empty, once at a time per slice, without a
   * caller waiting: the record is renewed, or dropped when the walk finds a member. Not counted
   * as a lookup (no caller asked for it); its requests are in the protocol metrics.
   */
  private refreshEmptySlice (key: Uint8Array, map: ResourceMap, slice: Slice, count: number, exact: boolean): void {
    if (this.refreshingSlices.has(slice.index)) {
      return
    }

    this.refreshingSlices.add(slice.index)
    const stats: LookupStats = { source: 'network', rpcs: 0, hops: 0, durationMs: 0, inSlice: false }
    this.walkSlice(key, map, slice, stats, AbortSignal.timeout(DEFAULT_WALK_TIMEOUT), count, exact)
      .catch((err: any) => { this.log('walk refreshing empty slice %d failed - %e', slice.index, err) })
      .finally(() => { this.refreshingSlices.delete(slice.index) })
  }

  /**
   * Walks towards `key` and the slice's other blocks until a member of the slice answers, and
   * records the slice empty when none does: the candidates found, members only when some are.
   */
  private async walkSlice (key: Uint8Array, map: ResourceMap, slice: Slice, stats: LookupStats, signal: AbortSignal, count: number, exact: boolean): Promise<Candidate[]> {
    const point = pointOf(key)
    let found = await this.walk(key, map, slice, stats, signal, count, exact)

    // the block around the key may be empty while other blocks of the slice hold peers: XOR
    // distance then leads the walk out of the slice, so aim once at each other block
    if (!stats.inSlice) {
      const targetBlocks = map.blocksOf(slice).filter(block => !inBlock(point, block))

      for (const block of targetBlocks.slice(0, MAX_EXTRA_WALKS)) {
        const more = await this.walk(map.randomKeyIn(block), map, slice, stats, signal, count, exact)

        if (stats.inSlice) {
          found = more
          break
        }

        found.push(...more)
      }
    }

    // the network knows no other member, but we are one; or we are one of the closest
    if (this.memberOf(map, slice) && (!stats.inSlice || exact)) {
      found = stats.inSlice ? [...found, { peerId: this.components.peerId, key: this.selfKey }] : [{ peerId: this.components.peerId, key: this.selfKey }]
      stats.inSlice = true
    }

    const candidates = stats.inSlice ? found.filter(c => map.sliceOf(c.key).index === slice.index) : found

    if (stats.inSlice) {
      this.emptySlices.delete(slice.index)
    } else {
      this.emptySlices.set(slice.index, { until: Date.now() + EMPTY_SLICE_TTL, closest: dedupe(candidates) })
    }

    return candidates
  }

  async neighbors (nodeId: Uint8Array, options: LookupOptions = {}): Promise<OverlayNode[]> {
    const map = this.init.resourceMap()
    const slice = map.sliceOf(nodeId)
    const perSide = options.count ?? 1
    const members = this.knownPeers().filter(c => map.sliceOf(c.key).index === slice.index && compare(c.key, nodeId) !== 0)
    const lower = members.filter(c => compare(c.key, nodeId) < 0).sort((a, b) => compare(b.key, a.key)).slice(0, perSide).reverse()
    const higher = members.filter(c => compare(c.key, nodeId) > 0).sort((a, b) => compare(a.key, b.key)).slice(0, perSide)

    return this.toNodes([...lower, ...higher])
  }

  nodeId (): Uint8Array {
    return this.selfKey
  }

  /** The estimate is made again when the routing table has changed size, or is older than `SIZE_ESTIMATE_TTL`. */
  networkSize (): number {
    const now = Date.now()
    const tableSize = this.routingTableSize()

    if (this.sizeEstimate == null || now >= this.sizeEstimate.until || tableSize !== this.sizeEstimate.tableSize) {
      const peers = this.knownPeers()
      const kth = peers.length < SIZE_ESTIMATE_PEERS ? undefined : closestTo(this.selfKey, peers, SIZE_ESTIMATE_PEERS)[SIZE_ESTIMATE_PEERS - 1].key
      this.sizeEstimate = { value: estimateNetworkSize(this.selfKey, kth, peers.length), tableSize, until: now + SIZE_ESTIMATE_TTL }
    }

    return this.sizeEstimate.value
  }

  watchSlices (slices: readonly number[], listener: () => void): () => void {
    const watch = { slices: new Set(slices), listener }
    this.watches.add(watch)

    this.stopListening ??= this.kad.onPeerAdded(peerId => { this.peerAdded(peerId) })

    return () => { this.watches.delete(watch) }
  }

  /** A peer entered the routing table: the watchers of its slice hear of it. */
  private peerAdded (peerId: PeerId): void {
    const slice = this.init.resourceMap().sliceOf(this.keyOf(peerId)).index

    for (const watch of [...this.watches]) {
      if (watch.slices.has(slice)) {
        this.watches.delete(watch)
        watch.listener()
      }
    }
  }

  async allPeers (max: number): Promise<OverlayNode[] | undefined> {
    if (this.routingTableSize() > max) {
      return undefined
    }

    return this.toNodes(this.knownPeers())
  }

  /** Stop serving the DHT, so that peers drop us from their routing tables, and hang up. */
  async leave (options: AbortOptions = {}): Promise<void> {
    this.sliceCache.clear()
    this.emptySlices.clear()
    this.watches.clear()

    this.stopListening?.()
    this.stopListening = undefined

    try {
      await this.init.dht.setMode('client', options)
    } catch (err: any) {
      this.log('could not switch the DHT to client mode - %e', err)
    }

    await Promise.all(this.components.connectionManager.getConnections().map(async (connection: Connection) => {
      await connection.close(options).catch((err: any) => { connection.abort(err) })
    }))
  }

  /** Number of peers in the DHT routing table. */
  routingTableSize (): number {
    return this.kad.tableSize()
  }

  /**
   * Whether this peer trades for `slice`: its key falls in it and it serves the DHT. A peer in
   * client mode (behind a NAT, with a relay slot and no public address yet) is in no other peer's
   * routing table, so no lookup would find it: the offers it took would never be asked for.
   */
  private memberOf (map: ResourceMap, slice: Slice): boolean {
    return map.sliceOf(this.selfKey).index === slice.index && this.init.dht.getMode() === 'server'
  }

  /**
   * Slice members we can vouch for without asking the network: ourselves, and the routing-table
   * peers and cached walk results we hold a connection to. kad-dht keeps a departed peer in its
   * table until a bucket refresh pings it, so an unconnected entry is left to a walk to confirm.
   */
  private localCandidates (map: ResourceMap, slice: Slice, unconnected = false): Candidate[] {
    const candidates: Candidate[] = []

    if (this.memberOf(map, slice)) {
      candidates.push({ peerId: this.components.peerId, key: this.selfKey })
    }

    const now = Date.now()
    const cached = (this.sliceCache.get(slice.index) ?? []).filter(c => now - c.seenAt < SLICE_CACHE_TTL)
    this.sliceCache.set(slice.index, cached)

    for (const peer of [...this.knownPeers(), ...cached]) {
      if (map.sliceOf(peer.key).index === slice.index && (unconnected || this.isConnected(peer.peerId))) {
        candidates.push(peer)
      }
    }

    return dedupe(candidates)
  }

  private isConnected (peerId: PeerId): boolean {
    return this.components.connectionManager.getConnections(peerId).length > 0
  }

  /** A peer's point: sha256 of its peer id's multihash. */
  keyOf (peerId: PeerId): Uint8Array {
    return pointOf(peerId.toMultihash().bytes)
  }

  /** The peers of the DHT routing table with their points. */
  knownPeers (): Candidate[] {
    const peers: Candidate[] = []

    for (const { peerId, kadId } of this.kad.tablePeers()) {
      peers.push({ peerId, key: kadId })
    }

    return peers
  }

  /**
   * One iterative Kademlia walk towards `sha256(key)` with FIND_NODE requests, `WALK_ALPHA` in
   * flight, that ends as soon as a peer of `slice` answers. Without one it ends, as Kademlia does,
   * when the closest peers it knows have all answered or failed, and returns them (callers filter).
   *
   * kad-dht's own `getClosestPeers` cannot stop early: it asks α = 10 peers on each of 10 disjoint
   * paths at once and waits for the 20 closest, 20-40 requests on a small network.
   *
   * With `converge`, the walk does not stop at the first member of the slice: it goes on, as
   * Kademlia does, until the `count` closest members it knows (or α, if more) have all answered,
   * and returns them, closest first.
   */
  private async walk (key: Uint8Array, map: ResourceMap, slice: Slice, stats: LookupStats, signal: AbortSignal, count: number, converge = false): Promise<Candidate[]> {
    const point = pointOf(key)
    const entries = new Map<string, WalkEntry>()
    const inFlight = new Map<string, Promise<void>>()
    const done = new AbortController()
    const querySignal = AbortSignal.any([signal, done.signal])
    const width = Math.max(count, WALK_ALPHA)
    let found: WalkEntry | undefined

    const add = (peerId: PeerId, depth: number, multiaddrs: Multiaddr[] = []): void => {
      const id = peerId.toString()

      if (!entries.has(id) && !peerId.equals(this.components.peerId)) {
        const peerKey = this.keyOf(peerId)
        entries.set(id, { peerId, key: peerKey, distance: xor(point, peerKey), inSlice: map.sliceOf(peerKey).index === slice.index, depth, multiaddrs, state: 'new' })
      }
    }

    const query = async (entry: WalkEntry): Promise<void> => {
      entry.state = 'asked'

      try {
        if (entry.multiaddrs.length > 0 && !this.isConnected(entry.peerId)) {
          await this.components.peerStore.merge(entry.peerId, { multiaddrs: entry.multiaddrs })
        }

        for await (const event of this.kad.findNode(entry.peerId, key, MessageType.FIND_NODE, { signal: querySignal })) {
          if (event.name === 'SEND_QUERY') {
            stats.rpcs++
          } else if (event.name === 'PEER_RESPONSE') {
            entry.state = 'answered'
            event.closer.forEach(peer => { add(peer.id, entry.depth + 1, peer.multiaddrs) })
          }
        }
      } catch (err: any) {
        this.log('FIND_NODE to %p failed - %e', entry.peerId, err)
      }

      if (entry.state !== 'answered') {
        entry.state = 'failed'
      } else if (found == null && entry.inSlice && !converge) {
        found = entry
      }
    }

    this.knownPeers().forEach(peer => { add(peer.peerId, 0) })

    try {
      while (found == null && !signal.aborted) {
        // the `width` closest peers not known to have failed, slice members first (they are the
        // answer if they are alive): done when all of them have answered
        const closest = [...entries.values()].filter(e => e.state !== 'failed').sort(bySliceThenDistance).slice(0, width)
        const next = closest.filter(e => e.state === 'new').slice(0, WALK_ALPHA - inFlight.size)

        for (const entry of next) {
          const id = entry.peerId.toString()
          inFlight.set(id, query(entry).finally(() => inFlight.delete(id)))
        }

        if (inFlight.size === 0) {
          break
        }

        await Promise.race(inFlight.values())
      }
    } finally {
      done.abort()
      await Promise.allSettled(inFlight.values())
    }

    signal.throwIfAborted()

    if (found != null) {
      stats.inSlice = true
      stats.hops = Math.max(stats.hops, found.depth + 1)
      this.remember(slice, found.peerId, found.key)
      return [found]
    }

    const members = converge ? [...entries.values()].filter(e => e.state === 'answered' && e.inSlice) : []

    if (members.length > 0) {
      const closest = members.sort((a, b) => compare(a.distance, b.distance)).slice(0, count)
      stats.inSlice = true
      stats.hops = Math.max(stats.hops, ...closest.map(e => e.depth + 1))
      return closest
    }

    const answered = [...entries.values()].filter(e => e.state === 'answered').sort((a, b) => compare(a.distance, b.distance)).slice(0, count)
    stats.hops = Math.max(stats.hops, ...answered.map(e => e.depth + 1))

    return answered
  }

  private remember (slice: Slice, peerId: PeerId, key: Uint8Array): void {
    const cached = (this.sliceCache.get(slice.index) ?? []).filter(c => !c.peerId.equals(peerId))
    cached.unshift({ peerId, key, seenAt: Date.now() })
    this.sliceCache.set(slice.index, cached.slice(0, SLICE_CACHE_SIZE))
  }

  private async toNodes (candidates: Candidate[]): Promise<OverlayNode[]> {
    return Promise.all(candidates.map(async ({ peerId, key }) => ({
      peerId: peerId.toString(),
      key,
      multiaddrs: await this.addressesOf(peerId)
    })))
  }

  private async addressesOf (peerId: PeerId): Promise<string[]> {
    if (peerId.equals(this.components.peerId)) {
      return []
    }

    try {
      const peer = await this.peers.read(peerId)
      return peer.addresses.map(a => a.multiaddr.toString())
    } catch {
      return this.components.connectionManager.getConnections(peerId).map(c => c.remoteAddr.toString())
    }
  }

  private report (options: LookupOptions, stats: LookupStats): void {
    this.counters.lookups++
    this.counters[stats.source]++
    this.counters.rpcs += stats.rpcs
    this.counters.hops += stats.hops
    this.counters.missedSlice += stats.inSlice ? 0 : 1
    options.onStats?.(stats)
  }
}

/** Byte-wise comparison of two equal-length keys: numeric order of the big-endian integers. */
export function compare (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return a[i] - b[i]
    }
  }

  return 0
}

/** XOR distance of two keys, as a byte array comparable with `compare`. */
export function xor (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)

  for (let i = 0; i < a.length; i++) {
    out[i] = a[i] ^ b[i]
  }

  return out
}

function bySliceThenDistance (a: WalkEntry, b: WalkEntry): number {
  return a.inSlice === b.inSlice ? compare(a.distance, b.distance) : (a.inSlice ? -1 : 1)
}

function closestTo (point: Uint8Array, candidates: Candidate[], count: number): Candidate[] {
  return candidates
    .map(c => ({ c, d: xor(point, c.key) }))
    .sort((a, b) => compare(a.d, b.d))
    .slice(0, count)
    .map(({ c }) => c)
}

function dedupe (candidates: Candidate[]): Candidate[] {
  const seen = new Set<string>()

  return candidates.filter(c => {
    const id = c.peerId.toString()

    if (seen.has(id)) {
      return false
    }

    seen.add(id)
    return true
  })
}

function inBlock (point: Uint8Array, block: { prefix: number, bits: number }): boolean {
  if (block.bits === 0) {
    return true
  }

  const head = (point[0] << 8) | point[1]

  return (head >>> (16 - block.bits)) === block.prefix
}
