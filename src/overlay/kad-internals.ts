/**
 * The parts of kad-dht the overlay needs that its typings do not export, in one place.
 *
 * The overlay reads kad-dht's routing table (its peers, its size, whether a bucket is full, the
 * peers it adds), removes peers that left from it, and sends single FIND_NODE requests through kad-dht's network layer, for walks
 * that stop as soon as they reach the slice they aim at. Both are public members of kad-dht's
 * classes, but not of its interfaces, so a kad-dht upgrade could rename them without a type error.
 * `kadInternals` checks every member when the overlay starts and throws `KadInternalsError`,
 * naming what is missing and the version they were written against, instead of failing later in
 * the middle of a lookup. The dependency is pinned to that version in package.json;
 * `test/kad-internals.test.ts` runs the check against the installed kad-dht.
 */

import type { AbortOptions, PeerId, TypedEventTarget } from '@libp2p/interface'
import type { KadDHT, MessageType, QueryEvent } from '@libp2p/kad-dht'

/** The kad-dht version these internals were read from. */
export const KAD_DHT_VERSION = '16.4.5'
/** kad-dht's bucket size and the depth its bucket trie splits to (`KBUCKET_SIZE`, `PREFIX_LENGTH`). */
export const K_BUCKET_SIZE = 20
export const TABLE_PREFIX_LENGTH = 6

/** A node of kad-dht's bucket trie: a leaf holds peers, an inner node two children. */
interface Bucket {
  depth?: number
  peers?: unknown[]
  left?: Bucket
  right?: Bucket
}

interface RoutingTable extends TypedEventTarget<{ 'peer:add': CustomEvent<PeerId> }> {
  size: number
  find(peerId: PeerId, options?: AbortOptions): Promise<PeerId | undefined>
  remove(peerId: PeerId, options?: AbortOptions): Promise<void>
  kb?: { root: Bucket, toIterable(): Iterable<{ peerId: PeerId, kadId: Uint8Array }> }
}

interface Network {
  sendRequest(to: PeerId, message: { type: MessageType, key: Uint8Array }, options: AbortOptions & { path: typeof WALK_PATH }): AsyncIterable<QueryEvent>
}

/** The query path kad-dht's network layer wants with each request; a walk of ours has one path. */
const WALK_PATH = { index: 0, queued: 0, running: 0, total: 0 }

/** What the overlay uses of kad-dht's internals. */
export interface KadInternals {
  /** the DHT's protocol id: the peers of the routing table serve it */
  protocol: string
  /** peers in the routing table */
  tableSize(): number
  /** whether the routing table holds `peerId` */
  hasPeer(peerId: PeerId, options?: AbortOptions): Promise<boolean>
  /** Take `peerId` out of the routing table (a peer that left); nothing when it is not there. */
  removePeer(peerId: PeerId, options?: AbortOptions): Promise<void>
  /** the routing table's peers with their kad ids (points) */
  tablePeers(): Iterable<{ peerId: PeerId, kadId: Uint8Array }>
  /**
   * True when some bucket is full at the deepest level the trie splits to: the table then turns
   * peers away and no longer holds every peer it hears of.
   */
  tableSaturated(): boolean
  /** Call `listener` with each peer the routing table adds; returns a function that stops it. */
  onPeerAdded(listener: (peerId: PeerId) => void): () => void
  /** One FIND_NODE request for `key` to `to`, as kad-dht's queries send it. */
  findNode(to: PeerId, key: Uint8Array, type: MessageType, options: AbortOptions): AsyncIterable<QueryEvent>
}

/** kad-dht lacks a member the overlay relies on: the installed version is not the one it was written for. */
export class KadInternalsError extends Error {
  static override name = 'KadInternalsError'

  constructor (missing: string) {
    super(`kad-dht has no ${missing}: Caravela's overlay was written against @libp2p/kad-dht ${KAD_DHT_VERSION} ` +
      '(src/overlay/kad-internals.ts); install that version or adapt that file')
    this.name = 'KadInternalsError'
  }
}

/**
 * The internals of a started kad-dht service.
 *
 * @throws {KadInternalsError} naming the first member that is missing
 */
export function kadInternals (dht: KadDHT): KadInternals {
  const { routingTable, network, protocol } = dht as unknown as { routingTable?: RoutingTable, network?: Network, protocol?: string }

  if (typeof routingTable?.size !== 'number') {
    throw new KadInternalsError('routingTable.size')
  }

  if (typeof routingTable.kb?.toIterable !== 'function') {
    throw new KadInternalsError('routingTable.kb.toIterable()')
  }

  if (routingTable.kb.root == null || typeof routingTable.kb.root !== 'object') {
    throw new KadInternalsError('routingTable.kb.root')
  }

  if (typeof routingTable.find !== 'function') {
    throw new KadInternalsError('routingTable.find()')
  }

  if (typeof routingTable.remove !== 'function') {
    throw new KadInternalsError('routingTable.remove()')
  }

  if (typeof routingTable.addEventListener !== 'function') {
    throw new KadInternalsError('routingTable events (peer:add)')
  }

  if (typeof network?.sendRequest !== 'function') {
    throw new KadInternalsError('network.sendRequest()')
  }

  if (typeof protocol !== 'string') {
    throw new KadInternalsError('protocol')
  }

  const kb = routingTable.kb
  const full = (bucket: Bucket | undefined): boolean => bucket != null && (bucket.peers != null
    ? bucket.peers.length >= K_BUCKET_SIZE && (bucket.depth ?? 0) >= TABLE_PREFIX_LENGTH
    : full(bucket.left) || full(bucket.right))

  return {
    protocol,
    tableSize: () => routingTable.size,
    hasPeer: async (peerId, options) => (await routingTable.find(peerId, options)) != null,
    removePeer: async (peerId, options) => { await routingTable.remove(peerId, options) },
    tablePeers: () => kb.toIterable(),
    tableSaturated: () => full(kb.root),
    onPeerAdded: listener => {
      const onEvent = (event: CustomEvent<PeerId>): void => { listener(event.detail) }
      routingTable.addEventListener('peer:add', onEvent)
      return () => { routingTable.removeEventListener('peer:add', onEvent) }
    },
    findNode: (to, key, type, options) => network.sendRequest(to, { type, key }, { ...options, path: WALK_PATH })
  }
}
