/**
 * The trader: keeps suppliers' offers for the slice its own key falls in, refreshes them and
 * drops the offers of suppliers that stop answering, answers buyers with every offer it keeps
 * (used resources and running containers included, which the original's traders never returned),
 * and advertises to and relays through same-slice neighbours.
 *
 * Every supplier is assumed hostile: an offer beyond what one peer may have (`peerResourceBound`)
 * is refused, and the offers kept from the peers of one host or one subnet are capped, so that
 * many throw-away peer ids from one machine cannot fill the table. Buyers are handed a supplier's
 * announced addresses (`TraderInit.addressesOf`), never the source port its connection came from.
 *
 * Under the `swarm` baseline the trader of the master keeps one registration per worker, whatever
 * its slice and however full the worker, heartbeats the workers with the same refreshes, and
 * answers a buyer with the best few workers for its request.
 */

import { copyList } from '../empty.js'
import { ProtocolStatusError } from '../errors.js'
import { AddressGroups } from '../protocols/address.js'
import { MAX_LARGE_MESSAGE_SIZE, MAX_OFFERS } from '../protocols/constants.js'
import { uniform } from './random.js'
import { ANSWER_OFFERS, topOffers } from './ranking.js'
import { beyondPeerBound, describeResources, peerResourceBound } from './resources.js'
import { SWARM_MAX_WORKERS } from './swarm.js'
import { forEachLimit, repeat } from './tasks.js'
import type { NetworkConfig } from '../config/types.js'
import type { AddressGroup } from '../protocols/address.js'
import type { RequestContext } from '../protocols/handlers.js'
import type { ResourceMap, Slice } from '../resources/resource-map.js'
import type { AvailableOffer, CaravelaClient, Clock, CreateOfferResult, NodeRef, Offer, Overlay, Resources } from '../types.js'
import type { RandomSource } from './random.js'
import type { PeerBound } from './resources.js'
import type { PeriodicTasks, RepeatingTask } from './tasks.js'
import type { Logger } from '@libp2p/interface'

/** Offers kept per supplier: a supplier makes at most one per slice, and only one slice is ours. */
export const MAX_OFFERS_PER_SUPPLIER = 64
/** Offers kept in all, so that hostile suppliers cannot exhaust memory. */
export const MAX_TRADER_OFFERS = 4096
/**
 * Offers kept from the peers connected from one host (an IPv4 address, an IPv6 /64), whatever
 * their peer ids: fewer than a buyer's answer holds (`ANSWER_OFFERS`), so that the peers of one
 * machine cannot crowd every other supplier out of it, nor fill the table. A testnet of many peers
 * on one machine puts its addresses on the allow list (`node.allow`).
 */
export const MAX_OFFERS_PER_HOST = 8
/**
 * Offers kept from the peers connected from one subnet (an IPv4 /24, an IPv6 /48): a few hosts'
 * worth, so that filling the table takes addresses in MAX_TRADER_OFFERS / 32 = 128 subnets.
 */
export const MAX_OFFERS_PER_SUBNET = 32
/** Addresses of a supplier handed to buyers: a peer listening on every interface has a few. */
export const MAX_SUPPLIER_ADDRESSES = 8
/**
 * Bytes a GetOffers answer may take, by the trader's estimate (`answerBytes`): what the response
 * limit holds, less room for its envelope.
 */
const ANSWER_BYTES = MAX_LARGE_MESSAGE_SIZE - 1024
/** RefreshOffer requests in flight at once. */
export const REFRESH_CONCURRENCY = 16
/**
 * RefreshOffer requests a swarm master has in flight at once: its heartbeats reach every worker of
 * the cluster each refreshing interval, which 16 at a time could not do for thousands of workers.
 */
export const SWARM_REFRESH_CONCURRENCY = 1024

/** The array `Trader.best` gathers offers into, shared and empty between calls. */
const SCRATCH: TraderOffer[] = []

/** What a swarm master picks workers for when a buyer does not say what it needs. */
const NOTHING: Resources = { cpuClass: 0, cpus: 0, memory: 0 }

/** What the trader works with. */
export interface TraderInit {
  self: () => NodeRef
  /** this peer's point: the trader serves its slice */
  selfKey: Uint8Array
  /** the point of a peer id */
  keyOf: (peerId: string) => Uint8Array
  overlay: Overlay
  client: CaravelaClient
  clock: Clock
  config: () => NetworkConfig
  resourceMap: () => ResourceMap
  /** samples of offers when there are more than a response holds */
  random: RandomSource
  log: Logger
  /**
   * The addresses a supplier announced (a libp2p peer's peer store, filled by identify), handed
   * to buyers with its offers; none known, its peer id alone, which a buyer's DHT resolves.
   * Without this function, the address the offer came from (`RequestContext.from`), as in-process
   * transports and the simulator give it.
   */
  addressesOf?: (peerId: string) => Promise<string[]>
  /**
   * Hosts and subnets the peers of an address count under; addresses on its allow list are
   * limited per peer only.
   *
   * @default new AddressGroups(): every IP address is limited
   */
  addressGroups?: AddressGroups
}

/** An offer as the trader keeps it. */
interface TraderOffer {
  offer: Offer
  supplier: NodeRef
  lastRefresh: number
  refreshesFailed: number
  refreshing: boolean
  /** the slices its supplier found without a trader, when the offer was taken for their requests */
  emptySlices?: number[]
  /** the host and subnet its supplier connected from, when counted there */
  group?: AddressGroup
}

/** A same-slice trader known to keep offers, on one side of ours. */
interface OfferingNeighbor {
  node: NodeRef
  key: Uint8Array
  /** when we last passed its advertisement on */
  forwardedAt: number
}

type Side = 'lower' | 'higher'

/** What `offers()` shows of the trader. */
export interface TraderView {
  slice: { index: number, resources: { cpuClass: number, cpus: number, memory: number } }
  offers: Array<AvailableOffer & { lastRefresh: number, refreshesFailed: number }>
  offeringNeighbors: { lower?: NodeRef, higher?: NodeRef }
}

/** The trader's periodic tasks. */
type TraderTask = 'refresh' | 'spread'

/** Keeper of suppliers' offers for this peer's slice. */
export class Trader implements PeriodicTasks<TraderTask> {
  private readonly init: TraderInit
  private readonly log: Logger
  /**
   * supplier peer id → its offers (a supplier makes one per slice, so nearly always one; an array
   * is a tenth of a Map's size, and a simulated network keeps millions)
   */
  private readonly offers = new Map<string, TraderOffer[]>()
  private offerCount = 0
  /**
   * host → offers kept from it, and subnet → offers kept from it (`TraderOffer.group`), made with
   * the first offer from an IP address: a simulated network has a million traders and no addresses
   */
  private perHost?: Map<string, number>
  private perSubnet?: Map<string, number>
  private readonly addressGroups: AddressGroups
  private selfId?: string
  private readonly neighbors: Partial<Record<Side, OfferingNeighbor>> = {}
  private tasks: RepeatingTask[] = []

  constructor (init: TraderInit) {
    this.init = init
    this.log = init.log
    this.addressGroups = init.addressGroups ?? NO_ALLOW_LIST
  }

  start (): void {
    if (this.tasks.length > 0) {
      return
    }

    const { clock, config } = this.init
    const refresh = repeat(clock, this, 'refresh')

    // only when offers are spread: a swarm master has no neighbours to tell, and the configuration
    // is adopted before the roles start (one array literal: a push would grow it to 17 slots)
    this.tasks = this.swarm || !config().spreadOffers ? [refresh] : [refresh, repeat(clock, this, 'spread')]
  }

  /** `PeriodicTasks`: every refreshing interval, refresh the offers; every spread interval, advertise them. */
  intervalOf (task: TraderTask): number {
    const config = this.init.config()
    return task === 'refresh' ? config.refreshingInterval : config.spreadOffersInterval
  }

  async runTask (task: TraderTask): Promise<void> {
    await (task === 'refresh' ? this.refreshOffers() : this.advertise())
  }

  taskFailed (task: TraderTask, err: unknown): void {
    this.log.error('trader task %s failed - %e', task, err)
  }

  stop (): void {
    this.tasks.forEach(task => { task.cancel() })
    this.tasks = []
  }

  /** The slice this trader serves: the one its own key falls in. */
  get slice (): Slice {
    return this.init.resourceMap().sliceOf(this.init.selfKey)
  }

  /** Swarm mode: this peer is (or may be) the master. */
  private get swarm (): boolean {
    return this.init.config().discoveryBackend === 'swarm'
  }

  /**
   * CreateOffer: kept only when the supplier can serve a request searched in our slice
   * (`ResourceMap.serves`), or, when the supplier found `emptySlices` without a trader, a request
   * searched here for that reason (`ResourceMap.offerSlices`); the reply says so, where the original
   * dropped such offers in silence. Refused too: an offer beyond what one peer may have
   * (`peerResourceBound`), and a new offer over the caps of its supplier, of its supplier's host
   * or subnet (`MAX_OFFERS_PER_HOST`, `MAX_OFFERS_PER_SUBNET`) or of the whole table.
   */
  createOffer (ctx: RequestContext, offer: Offer, emptySlices: readonly number[] = []): CreateOfferResult {
    const beyond = beyondPeerBound(offer, this.peerBound())

    if (beyond != null) {
      return { accepted: false, reason: `the offer is refused: ${beyond}` }
    }

    if (this.swarm) {
      return this.registerWorker(ctx, offer)
    }

    const slice = this.slice
    // only indices of the map's slices mean anything, and only they are kept with the offer: a
    // message may name every index the wire allows, 65 536 numbers kept with every offer
    const known = emptySlices.filter(index => index < this.init.resourceMap().slices.length)
    const fallback = known.length > 0 ? known : undefined

    if (!this.searchedHere(offer.freeResources, fallback)) {
      const because = fallback == null ? '' : `, even with ${fallback.length === 1 ? 'slice' : 'slices'} ${fallback.join(', ')} without a trader`
      return {
        accepted: false,
        reason: `the offer of ${describeResources(offer.freeResources)} serves no request searched in this trader's slice of ${describeResources(slice.resources)}${because}`
      }
    }

    const supplierOffers = this.offers.get(ctx.from.peerId) ?? []
    const at = supplierOffers.findIndex(entry => entry.offer.id === offer.id)
    // a replaced offer stays counted where it was made
    let group = at < 0 ? undefined : supplierOffers[at].group

    if (at < 0) {
      if (supplierOffers.length >= MAX_OFFERS_PER_SUPPLIER) {
        return { accepted: false, reason: `this trader keeps at most ${MAX_OFFERS_PER_SUPPLIER} offers per supplier` }
      }

      group = this.groupOf(ctx)
      const overCap = this.overAddressCap(group)

      if (overCap != null) {
        return { accepted: false, reason: overCap }
      }

      if (this.offerCount >= MAX_TRADER_OFFERS) {
        return { accepted: false, reason: `this trader is full (${MAX_TRADER_OFFERS} offers)` }
      }

      this.offerCount++
      this.countGroup(group, 1)
    }

    const entry = this.entryOf(ctx, offer, group)

    if (fallback != null) {
      entry.emptySlices = fallback
    }

    if (supplierOffers.length === 0) {
      // an array literal of one: a first element assigned to [] would grow it to 17 slots
      this.offers.set(ctx.from.peerId, [entry])
    } else {
      supplierOffers[at < 0 ? supplierOffers.length : at] = entry
    }

    return { accepted: true }
  }

  /**
   * Swarm baseline: a worker registers with the master. Its registration replaces any it made
   * before (one per worker), whatever its slice and even when it has nothing free: the master
   * keeps every worker and just does not pick the full ones.
   */
  private registerWorker (ctx: RequestContext, offer: Offer): CreateOfferResult {
    const previous = this.offers.get(ctx.from.peerId)
    let group = previous?.[0]?.group

    if (previous == null) {
      if (this.offerCount >= SWARM_MAX_WORKERS) {
        return { accepted: false, reason: `this master keeps at most ${SWARM_MAX_WORKERS} workers` }
      }

      group = this.groupOf(ctx)
      const overCap = this.overAddressCap(group)

      if (overCap != null) {
        return { accepted: false, reason: overCap }
      }

      this.countGroup(group, 1)
    }

    this.offerCount -= previous?.length ?? 0

    this.offers.set(ctx.from.peerId, [this.entryOf(ctx, offer, group)])
    this.offerCount++
    return { accepted: true }
  }

  /** A new entry for an offer from `ctx.from`, counted under `group`. */
  private entryOf (ctx: RequestContext, offer: Offer, group: AddressGroup | undefined): TraderOffer {
    const entry: TraderOffer = {
      offer: copyOffer(offer),
      supplier: this.supplierOf(ctx),
      lastRefresh: this.init.clock.now(),
      refreshesFailed: 0,
      refreshing: false
    }

    // only when there is one: a simulated network keeps millions of entries
    if (group != null) {
      entry.group = group
    }

    this.learnAddresses(entry)
    return entry
  }

  /**
   * The supplier of an offer from `ctx.from`, as buyers will be told of it: with `addressesOf`,
   * its peer id until its announced addresses are known (`learnAddresses`), since the address of
   * the connection is often a source port nobody can dial; without, as the transport gave it. Our
   * own supplier comes with our own addresses.
   */
  private supplierOf (ctx: RequestContext): NodeRef {
    return this.init.addressesOf == null || ctx.from.peerId === this.ownId()
      ? copyNode(ctx.from)
      : { peerId: ctx.from.peerId, multiaddrs: [] }
  }

  /** Look up the addresses the supplier of `entry` announced, and hand them out from now on. */
  private learnAddresses (entry: TraderOffer): void {
    const { addressesOf } = this.init
    const peerId = entry.supplier.peerId

    if (addressesOf == null || peerId === this.ownId()) {
      return
    }

    addressesOf(peerId).then(addresses => {
      entry.supplier.multiaddrs = addresses.filter(a => typeof a === 'string').slice(0, MAX_SUPPLIER_ADDRESSES)
    }, (err: any) => {
      this.log('no addresses of supplier %s - %e', peerId, err)
    })
  }

  /** What one peer may offer under the configuration in force. */
  private peerBound (): PeerBound {
    return peerResourceBound(this.init.config())
  }

  /** This peer's id, read once. */
  private ownId (): string {
    this.selfId ??= this.init.self().peerId
    return this.selfId
  }

  /**
   * The host and subnet an offer from `ctx.from` counts under: none for our own supplier, for a
   * sender without an IP address (in-process transports) or on the allow list.
   */
  private groupOf (ctx: RequestContext): AddressGroup | undefined {
    const address = ctx.from.multiaddrs[0]
    return address == null || ctx.from.peerId === this.ownId() ? undefined : this.addressGroups.groupOf(address)
  }

  /** Why one more offer from `group` is refused, or undefined when its host and subnet have room. */
  private overAddressCap (group: AddressGroup | undefined): string | undefined {
    if (group == null) {
      return undefined
    }

    if ((this.perHost?.get(group.host) ?? 0) >= MAX_OFFERS_PER_HOST) {
      return `this trader keeps at most ${MAX_OFFERS_PER_HOST} offers from the peers of one host, and has them from ${group.host}`
    }

    if ((this.perSubnet?.get(group.subnet) ?? 0) >= MAX_OFFERS_PER_SUBNET) {
      return `this trader keeps at most ${MAX_OFFERS_PER_SUBNET} offers from the peers of one subnet, and has them from ${group.subnet}`
    }

    return undefined
  }

  /** Count `change` offers more (or fewer) under `group`. */
  private countGroup (group: AddressGroup | undefined, change: number): void {
    if (group == null) {
      return
    }

    this.perHost ??= new Map()
    this.perSubnet ??= new Map()

    for (const [counts, key] of [[this.perHost, group.host], [this.perSubnet, group.subnet]] as const) {
      const count = (counts.get(key) ?? 0) + change

      if (count > 0) {
        counts.set(key, count)
      } else {
        counts.delete(key)
      }
    }
  }

  /**
   * UpdateOffer from the offer's supplier: new figures, and proof that the supplier lives. An
   * offer that no longer covers our slice is dropped (a swarm master keeps it), and so is one
   * beyond what one peer may have (`peerResourceBound`). False when we do not keep the offer.
   */
  updateOffer (ctx: RequestContext, offer: Offer): boolean {
    const kept = this.offers.get(ctx.from.peerId)?.find(entry => entry.offer.id === offer.id)

    if (kept == null) {
      return false
    }

    const beyond = beyondPeerBound(offer, this.peerBound())

    if (beyond != null || (!this.swarm && !this.searchedHere(offer.freeResources, kept.emptySlices))) {
      if (beyond != null) {
        this.log('supplier %s updated offer %d beyond the bound, dropped: %s', ctx.from.peerId, offer.id, beyond)
      }

      this.delete(ctx.from.peerId, offer.id)
      return false
    }

    kept.offer = copyOffer(offer)
    kept.lastRefresh = this.init.clock.now()
    kept.refreshesFailed = 0

    // a supplier without addresses yet may have announced them since
    if (this.init.addressesOf == null) {
      kept.supplier = copyNode(ctx.from)
    } else if (kept.supplier.multiaddrs.length === 0) {
      this.learnAddresses(kept)
    }

    return true
  }

  /** RemoveOffer from the offer's supplier; any other sender can only name its own offers. */
  removeOffer (ctx: RequestContext, offerId: number): void {
    this.delete(ctx.from.peerId, offerId)
  }

  /**
   * GetOffers: the best `ANSWER_OFFERS` offers we keep for `needed`, as the buyer will rank them
   * (every offer we keep without `needed`, at most a response's worth, sampled at random when
   * there are more). Without offers and asked to relay, the offering neighbours are asked for
   * theirs (without relay, with `needed`); one that answers none, or does not answer, is forgotten
   * until it advertises again. A swarm master answers its best workers the same way.
   */
  async getOffers (ctx: RequestContext, relay: boolean, needed?: Resources): Promise<AvailableOffer[]> {
    const config = this.init.config()

    if (config.discoveryBackend === 'swarm') {
      return this.best(needed ?? NOTHING)
    }

    if (this.offerCount > 0 || !relay || !config.spreadOffers) {
      return this.availableOffers(needed)
    }

    const found: AvailableOffer[] = []

    for (const side of ['lower', 'higher'] as const) {
      const neighbor = this.neighbors[side]

      if (neighbor == null || neighbor.node.peerId === ctx.from.peerId) {
        continue
      }

      if (!this.inSlice(neighbor.key)) {
        delete this.neighbors[side]
        continue
      }

      const offers = await this.init.client.getOffers(neighbor.node, false, { signal: ctx.signal, needed }).catch((err: any) => {
        this.log('offering neighbour %s did not answer - %e', neighbor.node.peerId, err)
        return []
      })

      if (offers.length === 0 && this.neighbors[side] === neighbor) {
        delete this.neighbors[side]
      }

      found.push(...offers.slice(0, MAX_OFFERS - found.length))
    }

    return fitAnswer(found)
  }

  /**
   * AdvertiseOffersNeighbor: a same-slice trader tells us `traderOffering` keeps offers.
   * We remember it on the side the message came from and, when we keep no offers ourselves, pass
   * it on away from that side, at most once per spread interval per offering trader. Only traders
   * of our slice may advertise, and only traders of our slice.
   */
  advertiseOffersNeighbor (ctx: RequestContext, traderOffering: NodeRef): void {
    const senderKey = this.init.keyOf(ctx.from.peerId)
    const offeringKey = this.init.keyOf(traderOffering.peerId)

    if (!this.inSlice(senderKey)) {
      throw new ProtocolStatusError('REFUSED', 'only traders of this slice advertise to it')
    }

    if (!this.inSlice(offeringKey)) {
      throw new ProtocolStatusError('REFUSED', 'the advertised trader is not in this slice')
    }

    if (traderOffering.peerId === this.init.self().peerId) {
      return
    }

    const side: Side = compareKeys(senderKey, this.init.selfKey) < 0 ? 'lower' : 'higher'
    const previous = this.neighbors[side]
    const now = this.init.clock.now()
    const forward = previous?.node.peerId !== traderOffering.peerId || now - previous.forwardedAt >= this.init.config().spreadOffersInterval
    this.neighbors[side] = { node: copyNode(traderOffering), key: offeringKey, forwardedAt: forward ? now : previous.forwardedAt }

    if (forward && this.offerCount === 0 && this.init.config().spreadOffers) {
      void this.forward(traderOffering, side === 'lower' ? 'higher' : 'lower')
    }
  }

  view (): TraderView {
    const slice = this.slice

    return {
      slice: { index: slice.index, resources: { ...slice.resources } },
      offers: this.entries().map(entry => ({
        ...toAvailable(entry),
        lastRefresh: entry.lastRefresh,
        refreshesFailed: entry.refreshesFailed
      })),
      offeringNeighbors: { lower: this.neighbors.lower?.node, higher: this.neighbors.higher?.node }
    }
  }

  /**
   * Every refreshing interval: RefreshOffer to the supplier of each offer not already
   * waiting for one, a few at a time. True keeps it; false drops it; a failure counts, and
   * `maxRefreshesFailed` failures in a row drop it.
   */
  private async refreshOffers (): Promise<void> {
    const due = this.entries().filter(entry => !entry.refreshing)

    await forEachLimit(due, this.swarm ? SWARM_REFRESH_CONCURRENCY : REFRESH_CONCURRENCY, async entry => {
      entry.refreshing = true

      try {
        const refreshed = await this.init.client.refreshOffer(entry.supplier, entry.offer.id)

        if (refreshed) {
          entry.refreshesFailed = 0
          entry.lastRefresh = this.init.clock.now()
          // addresses change: a supplier may announce others after a restart or a move
          this.learnAddresses(entry)
        } else {
          this.log('supplier %s no longer holds offer %d', entry.supplier.peerId, entry.offer.id)
          this.delete(entry.supplier.peerId, entry.offer.id, entry)
        }
      } catch (err: any) {
        entry.refreshesFailed++

        if (entry.refreshesFailed >= Math.max(1, this.init.config().maxRefreshesFailed)) {
          this.log('supplier %s failed %d refreshes of offer %d: dropped - %e', entry.supplier.peerId, entry.refreshesFailed, entry.offer.id, err)
          this.delete(entry.supplier.peerId, entry.offer.id, entry)
        }
      } finally {
        entry.refreshing = false
      }
    })
  }

  /** Every spread interval, when we keep offers: tell our same-slice neighbours. */
  private async advertise (): Promise<void> {
    // the task runs only when offers are spread (`start`)
    if (this.offerCount === 0) {
      return
    }

    const neighbors = await this.sameSliceNeighbors()
    const self = this.init.self()

    await Promise.all(neighbors.map(async neighbor => {
      await this.init.client.advertiseOffersNeighbor(neighbor, self).catch((err: any) => {
        this.log('could not advertise to %s - %e', neighbor.peerId, err)
      })
    }))
  }

  /** Pass an advertisement on to our same-slice neighbours on `side`. */
  private async forward (traderOffering: NodeRef, side: Side): Promise<void> {
    const neighbors = (await this.sameSliceNeighbors()).filter(n => (compareKeys(n.key, this.init.selfKey) < 0) === (side === 'lower'))

    await Promise.all(neighbors.map(async neighbor => {
      await this.init.client.advertiseOffersNeighbor(neighbor, traderOffering).catch((err: any) => {
        this.log('could not forward an advertisement to %s - %e', neighbor.peerId, err)
      })
    }))
  }

  private async sameSliceNeighbors (): Promise<Array<NodeRef & { key: Uint8Array }>> {
    try {
      const neighbors = await this.init.overlay.neighbors(this.init.selfKey)
      const selfId = this.init.self().peerId
      return neighbors.filter(n => n.peerId !== selfId && this.inSlice(n.key))
    } catch (err: any) {
      this.log('could not list neighbours - %e', err)
      return []
    }
  }

  /**
   * True when a supplier with `free` resources can take a request searched in our slice: one
   * whose own slice it is, or, with the slices the supplier found without a trader, one that is
   * searched here instead.
   */
  private searchedHere (free: Resources, emptySlices?: readonly number[]): boolean {
    const map = this.init.resourceMap()
    const slice = this.slice

    if (map.serves(slice, free)) {
      return true
    }

    if (emptySlices == null || emptySlices.includes(slice.index)) {
      return false
    }

    return map.offerSlices(free, s => emptySlices.includes(s.index)).includes(slice)
  }

  private inSlice (key: Uint8Array): boolean {
    return this.init.resourceMap().sliceOf(key).index === this.slice.index
  }

  /**
   * The best `ANSWER_OFFERS` of our offers for `needed`; without it, all of them, and when more
   * than one response holds, a random sample, so that every offer gets its chance.
   */
  private availableOffers (needed?: Resources): AvailableOffer[] {
    if (needed != null) {
      return this.best(needed)
    }

    return fitAnswer(sample(this.entries(), MAX_OFFERS, this.init.random).map(toAvailable))
  }

  /**
   * The best `ANSWER_OFFERS` offers for `needed`. The offers are gathered into one array shared
   * by every trader of the process and emptied again before returning: the ranking is
   * synchronous, and a trader at an anchor, or a swarm master, would otherwise copy hundreds or
   * thousands of entries into a new array for every request.
   */
  private best (needed: Resources): AvailableOffer[] {
    try {
      return topOffers(this.entries(SCRATCH), entry => entry.offer, needed, this.init.config().schedulingPolicy, ANSWER_OFFERS).map(toAvailable)
    } finally {
      SCRATCH.length = 0
    }
  }

  /**
   * Every offer we keep, in one array (`list`, or a new one). A plain walk: a swarm master makes it for every request
   * over all its workers, where a generator was 2.5 times slower (`npm run sim`, 4 095 peers).
   */
  private entries (list: TraderOffer[] = []): TraderOffer[] {
    for (const supplierOffers of this.offers.values()) {
      for (const entry of supplierOffers) {
        list.push(entry)
      }
    }

    return list
  }

  /** Delete an offer; with `entry`, only when that entry is still the one kept. */
  private delete (supplier: string, offerId: number, entry?: TraderOffer): void {
    const supplierOffers = this.offers.get(supplier)
    const at = supplierOffers?.findIndex(kept => kept.offer.id === offerId) ?? -1

    if (supplierOffers == null || at < 0 || (entry != null && supplierOffers[at] !== entry)) {
      return
    }

    const [deleted] = supplierOffers.splice(at, 1)
    this.offerCount--
    this.countGroup(deleted.group, -1)

    if (supplierOffers.length === 0) {
      this.offers.delete(supplier)
    }
  }
}

/** `n` of the items picked at random (all of them, in order, when there are no more than `n`). */
function sample<T> (items: T[], n: number, random: RandomSource): T[] {
  if (items.length <= n) {
    return items
  }

  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(uniform(random) * (items.length - i))
    const picked = items[j]
    items[j] = items[i]
    items[i] = picked
  }

  return items.slice(0, n)
}

/**
 * The first of `offers` that a GetOffers response holds, by an estimate of their encoded size
 * that is never below it: suppliers' addresses are as long as they announce, within the codec's
 * limits, and an answer over the response limit could not be sent at all.
 */
export function fitAnswer (offers: AvailableOffer[]): AvailableOffer[] {
  let bytes = 0

  for (let i = 0; i < offers.length; i++) {
    bytes += answerBytes(offers[i])

    if (bytes > ANSWER_BYTES) {
      return offers.slice(0, i)
    }
  }

  return offers
}

/**
 * At least the bytes of one offer in a GetOffers response: its numbers and their framing (80),
 * its supplier's peer id (its text is longer than its bytes) and each address (its text, plus 20
 * for the shortest texts, `/ip6/::`, whose 17 bytes are longer, and their framing).
 */
function answerBytes (offer: AvailableOffer): number {
  let bytes = 80 + offer.supplier.peerId.length

  for (const address of offer.supplier.multiaddrs) {
    bytes += address.length + 20
  }

  return bytes
}

function toAvailable (entry: TraderOffer): AvailableOffer {
  return { ...copyOffer(entry.offer), supplier: copyNode(entry.supplier) }
}

function copyOffer (offer: Offer): Offer {
  return {
    id: offer.id,
    amount: offer.amount,
    freeResources: { ...offer.freeResources },
    usedResources: { ...offer.usedResources },
    containersRunning: offer.containersRunning
  }
}

function copyNode (node: NodeRef): NodeRef {
  return { peerId: node.peerId, multiaddrs: copyList(node.multiaddrs) }
}

/** Groups with an empty allow list: every IP address is limited. */
const NO_ALLOW_LIST = new AddressGroups()

/** Numeric order of two keys of equal length. */
function compareKeys (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
