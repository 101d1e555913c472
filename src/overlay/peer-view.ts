/**
 * `PeerView`: the latest peer-store record of the peers this peer talks to, in memory, so that the
 * hot paths neither read nor rewrite the peer store (`docs/architecture.md`, "The peer view").
 *
 * The peer store announces every change of a record with a `peer:update` event carrying the new
 * record; the view keeps the latest of each peer (at most `capacity`, the least recently used go)
 * for at most `ttl`. Reads (`get`, `read`) answer from it and go to the store only for a peer it
 * does not hold, or holds for longer than `ttl`: the store forgets addresses after an hour and
 * peers after six, which the view then learns again.
 *
 * libp2p merges the protocol into the remote peer's record for every stream opened or accepted
 * (a LevelDB read, decode, encode and write behind a per-peer lock), with no option to turn it
 * off, although after the first stream of a protocol that merge changes nothing. `peerViewOf`
 * wraps the store's `merge` once: a merge that only adds protocols the view's record already
 * lists returns that record without touching the store. Any other merge goes to the store, and a
 * skipped one goes through again once the view's record is older than `ttl`, which still renews
 * the record's age in the store (it is refreshed by every write) long before the store expires it.
 */

import { LruMap } from '../lru.js'
import type { AbortOptions, Libp2pEvents, Peer, PeerData, PeerId, PeerStore, TypedEventTarget } from '@libp2p/interface'

/** Peers whose record the view keeps: well above a routing table and the peers one talks to. */
export const PEER_VIEW_SIZE = 4096
/** How long the view answers with a record before it is read (or written) through to the store again. */
export const PEER_VIEW_TTL = 600_000

export interface PeerViewComponents {
  peerId: PeerId
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
}

export interface PeerViewInit {
  /** @default PEER_VIEW_SIZE */
  capacity?: number
  /** @default PEER_VIEW_TTL */
  ttl?: number
  /** @default Date.now */
  now?: () => number
}

interface Entry {
  peer: Peer
  at: number
}

/** What the view held when a store operation began: its result may replace only that. */
interface Token {
  entry?: Entry
  removals: number
}

/** What the view saved: store writes skipped, and reads answered without the store. */
export interface PeerViewCounters {
  skippedMerges: number
  hits: number
  misses: number
}

export class PeerView {
  readonly counters: PeerViewCounters = { skippedMerges: 0, hits: 0, misses: 0 }
  private readonly self: PeerId
  private readonly peerStore: PeerStore
  private readonly entries: LruMap<string, Entry>
  private readonly ttl: number
  private readonly now: () => number
  /**
   * drops and evictions: a store read begun before one may return a record the store no longer
   * holds (or that an event since replaced, then evicted), and is then not kept
   */
  private removals = 0

  constructor (components: PeerViewComponents, init: PeerViewInit = {}) {
    this.self = components.peerId
    this.peerStore = components.peerStore
    this.entries = new LruMap(init.capacity ?? PEER_VIEW_SIZE)
    this.ttl = init.ttl ?? PEER_VIEW_TTL
    this.now = init.now ?? Date.now
    // dispatched inside the store's write lock, in the order of the writes: always the latest record
    components.events.addEventListener('peer:update', event => {
      this.keep(event.detail.peer)
    })
  }

  /** Peers held. */
  get size (): number {
    return this.entries.size
  }

  /** The peer's latest record, when the view holds one younger than `ttl`. */
  get (peerId: PeerId): Peer | undefined {
    const entry = this.entries.get(peerId.toString())

    if (entry == null || this.now() - entry.at > this.ttl) {
      return undefined
    }

    return entry.peer
  }

  /** The peer's record, from the view, or else from the store (then kept); throws as `PeerStore.get`. */
  async read (peerId: PeerId, options?: AbortOptions): Promise<Peer> {
    const peer = this.get(peerId)

    if (peer != null) {
      this.counters.hits++
      return peer
    }

    this.counters.misses++
    const token = this.token(peerId)
    return this.offer(await this.peerStore.get(peerId, options), token)
  }

  /** Forget a peer (the store deleted it). */
  drop (peerId: PeerId): void {
    this.entries.delete(peerId.toString())
    this.removals++
  }

  /**
   * The store's `merge`, without the write when it would change nothing the view knows of: a merge
   * of protocols only, all listed in the view's record.
   */
  async merge (merge: PeerStore['merge'], peerId: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> {
    if (protocolsOnly(data)) {
      const peer = this.get(peerId)

      if (peer != null && data.protocols.every(protocol => peer.protocols.includes(protocol))) {
        this.counters.skippedMerges++
        return peer
      }
    }

    const token = this.token(peerId)
    return this.offer(await merge(peerId, data, options), token)
  }

  private token (peerId: PeerId): Token {
    return { entry: this.entries.peek(peerId.toString()), removals: this.removals }
  }

  /**
   * Keep a record a store operation returned, unless the view changed meanwhile: an event since
   * carried a newer record, or a drop may have removed this one from the store.
   */
  private offer (peer: Peer, token: Token): Peer {
    const entry = this.entries.peek(peer.id.toString())

    if (entry === token.entry && (entry != null || this.removals === token.removals)) {
      this.keep(peer)
    }

    return peer
  }

  private keep (peer: Peer): void {
    // never this peer's own record: its changes come as `self:peer:update`, and the merge that
    // adds a protocol it starts to handle must reach the store, which tells identify to push it
    if (peer.id.equals(this.self)) {
      return
    }

    if (this.entries.set(peer.id.toString(), { peer, at: this.now() }) != null) {
      this.removals++
    }
  }
}

const views = new WeakMap<PeerStore, PeerView>()

/**
 * The view of a node's peer store, made and installed on first call: the store's `merge` and
 * `delete` are replaced on the instance, which libp2p shares by reference with every component
 * (the connections read `components.peerStore` for their per-stream merge), so every caller goes
 * through the view. There is no libp2p option for it; `docs/architecture.md` says how it could go
 * upstream.
 */
export function peerViewOf (components: PeerViewComponents, init?: PeerViewInit): PeerView {
  const peerStore = components.peerStore
  let view = views.get(peerStore)

  if (view == null) {
    const created = view = new PeerView(components, init)
    const merge = peerStore.merge.bind(peerStore)
    const remove = peerStore.delete.bind(peerStore)

    peerStore.merge = async (peerId, data, options) => created.merge(merge, peerId, data, options)
    peerStore.delete = async (peerId, options) => {
      created.drop(peerId)

      try {
        await remove(peerId, options)
      } finally {
        // a record read while the delete ran is not kept
        created.drop(peerId)
      }
    }

    views.set(peerStore, view)
  }

  return view
}

function protocolsOnly (data: PeerData): data is PeerData & { protocols: string[] } {
  // what is not PeerData goes to the store, which refuses it
  if (data == null || !Array.isArray(data.protocols)) {
    return false
  }

  for (const [key, value] of Object.entries(data)) {
    if (key !== 'protocols' && value != null) {
      return false
    }
  }

  return true
}
