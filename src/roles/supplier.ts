/**
 * The supplier: offers this peer's free resources to traders, keeps the offers alive while their
 * traders refresh them, makes them again elsewhere when a trader goes quiet, withdraws them when
 * the peer is full or leaves, and hands out resources against an offer atomically. While the
 * peer's container engine does not answer it is suspended: it withdraws every offer and hands out
 * nothing until the engine is back.
 *
 * Under the simulator's baselines it is the worker of the `swarm` master (one registration,
 * updated at every change of its free resources) or, under `random`, offers nothing and answers
 * buyers that ask it directly with what it has free.
 */

import { copyList } from '../empty.js'
import { contains } from '../resources/resource-map.js'
import { placementKey } from './anchors.js'
import { planOffers } from './offer-strategies.js'
import { describeResources, sameResources } from './resources.js'
import { SWARM_MASTER_KEY } from './swarm.js'
import { repeat } from './tasks.js'
import type { DiscoveryBackend, NetworkConfig } from '../config/types.js'
import type { RequestContext } from '../protocols/handlers.js'
import type { ResourceMap, Slice } from '../resources/resource-map.js'
import type { AvailableOffer, CaravelaClient, Clock, NodeRef, Offer, Overlay, OverlayNode, Resources } from '../types.js'
import type { OfferTarget, SupplierOffer } from './offer-strategies.js'
import type { RandomSource } from './random.js'
import type { PeriodicTasks, RepeatingTask } from './tasks.js'
import type { Logger } from '@libp2p/interface'

/** Random keys looked up in a slice before the creation of an offer moves on, as in the original. */
const KEYS_PER_SLICE = 2
/** Percent: overcommit values are percentages of the real capacity. */
const PERCENT = 100

/** What the supplier works with. */

/** How long a peer's supplier lets changes of its free resources gather before it publishes them. */
export const PUBLISH_DELAY = 300
export interface SupplierInit {
  self: () => NodeRef
  overlay: Overlay
  client: CaravelaClient
  clock: Clock
  config: () => NetworkConfig
  resourceMap: () => ResourceMap
  /** random keys */
  random: RandomSource
  log: Logger
  /** milliseconds a change of free resources waits before the offers are published again @default 0 */
  publishDelay?: number
}

/** What `offers()` shows of the supplier. */
export interface SupplierView {
  maxResources: Resources
  availableResources: Resources
  usedResources: Resources
  containersRunning: number
  offers: Array<{
    id: number
    trader: NodeRef
    slice: { index: number, resources: Resources }
    free: Resources
    lastRefreshed: number
    missedRefreshes: number
  }>
}

/**
 * Advertised capacity, as the original's: ⌊cores × cpuOvercommit / 100⌋ × cpuSlices CPU units and
 * ⌊memory × memoryOvercommit / 100⌋ MB, of the given CPU class.
 */
export function computeCapacity (machine: { cpus: number, memory: number, cpuClass: number }, config: Pick<NetworkConfig, 'cpuOvercommit' | 'memoryOvercommit' | 'cpuSlices'>): Resources {
  return {
    cpuClass: machine.cpuClass,
    cpus: Math.floor(machine.cpus * config.cpuOvercommit / PERCENT) * config.cpuSlices,
    memory: Math.floor(machine.memory * config.memoryOvercommit / PERCENT)
  }
}

/** The supplier's periodic tasks. */
type SupplierTask = 'supply' | 'check-refreshes'

/** This peer's free resources, offered to traders. */
export class Supplier implements PeriodicTasks<SupplierTask> {
  private readonly init: SupplierInit
  private readonly log: Logger
  private readonly offers = new Map<number, SupplierOffer>()
  /** slice index → the slice had no trader taking an offer; skipped until the next supplying tick (made when needed) */
  private unreachableSlices?: Set<number>
  private max: Resources = { cpuClass: 0, cpus: 0, memory: 0 }
  /** handed out to containers; kept across stop and start, as the containers keep running */
  private taken = { cpus: 0, memory: 0 }
  private containersRunning = 0
  private readonly firstOfferId: number
  private nextOfferId: number
  /** the id of the pseudo-offer this supplier answers buyers that ask it directly with, for as long as it lives */
  private standingOfferId?: number
  private running = false
  private tasks: RepeatingTask[] = []
  private publishTimer?: { cancel (): void }
  private publishing?: Promise<void>
  private publishAgain = false
  /** cancels the watch for peers of the unreachable slices */
  private stopWatching?: () => void
  /** why the supplier offers nothing for now (`suspend`): its container engine does not answer */
  private suspended?: string

  constructor (init: SupplierInit) {
    this.init = init
    this.log = init.log
    // ids start at the clock's time, so that a restarted supplier does not reuse the ids its
    // previous run gave to traders that may still keep them
    this.firstOfferId = Math.max(0, Math.floor(init.clock.now()))
    this.nextOfferId = this.firstOfferId
  }

  /**
   * Start offering `capacity`: publish right away, then every supplying interval. Under `random`
   * nothing is ever published, so no timer runs.
   */
  start (capacity: Resources): void {
    if (this.running) {
      return
    }

    this.running = true
    this.max = { ...capacity }
    const { clock } = this.init

    // the pseudo-offer of its own free resources a peer answers with when asked directly
    this.standingOfferId ??= this.nextOfferId++

    if (this.strategy === 'random') {
      return
    }

    this.tasks = [repeat(clock, this, 'supply'), repeat(clock, this, 'check-refreshes')]
    this.schedulePublish()
  }

  /** The discovery backend in force (`config().discoveryBackend`), read at every publication. */
  private get strategy (): DiscoveryBackend {
    return this.init.config().discoveryBackend
  }

  /** `PeriodicTasks`: every supplying interval, publish; every refreshes-check interval, check the traders' refreshes. */
  intervalOf (task: SupplierTask): number {
    const config = this.init.config()
    return task === 'supply' ? config.supplyingInterval : config.refreshesCheckInterval
  }

  async runTask (task: SupplierTask): Promise<void> {
    if (task === 'supply') {
      this.unreachableSlices = undefined
      await this.runPublish()
    } else {
      this.checkRefreshes()
    }
  }

  taskFailed (task: SupplierTask, err: unknown): void {
    this.log.error('supplier task %s failed - %e', task, err)
  }

  /** Stop the timers and withdraw every offer from its trader (a clean leave). */
  async stop (): Promise<void> {
    if (!this.running) {
      return
    }

    this.running = false
    this.tasks.forEach(task => { task.cancel() })
    this.tasks = []
    this.publishTimer?.cancel()
    this.publishTimer = undefined
    this.stopWatching?.()
    this.stopWatching = undefined
    await this.publishing
    await Promise.all([...this.offers.values()].map(async offer => { await this.withdraw(offer) }))
  }

  /**
   * Offer nothing until `resume`, for `reason` (the container engine does not answer): withdraw
   * every offer from its trader, as on a leave, and refuse to hand out resources. The timers keep
   * running, with nothing to publish; the resources taken stay taken.
   */
  async suspend (reason: string): Promise<void> {
    if (this.suspended != null) {
      this.suspended = reason
      return
    }

    this.suspended = reason
    this.publishTimer?.cancel()
    this.publishTimer = undefined
    this.stopWatching?.()
    this.stopWatching = undefined
    this.log('suspended: %s', reason)
    await this.publishing
    await Promise.all([...this.offers.values()].map(async offer => { await this.withdraw(offer) }))
  }

  /** Offer again after `suspend`: publish right away. */
  resume (): void {
    if (this.suspended == null) {
      return
    }

    this.suspended = undefined
    this.log('resumed')
    this.schedulePublish()
  }

  /** Running and not suspended: offers are made and kept. */
  private get offering (): boolean {
    return this.running && this.suspended == null
  }

  /** A trader refreshes an offer: true only when we hold it and the sender is its trader. */
  refreshOffer (ctx: RequestContext, offerId: number): boolean {
    const offer = this.offers.get(offerId)

    if (offer?.trader.peerId !== ctx.from.peerId) {
      return false
    }

    offer.lastRefreshed = this.init.clock.now()
    offer.missed = 0
    return true
  }

  /**
   * The one pseudo-offer a peer answers a GetOffers for its own resources with (every GetOffers
   * under `random`): its free and used resources as they are now, when it has CPUs and
   * memory free and they hold `needed` (when given); none otherwise. Its id is one
   * `obtainResources` takes.
   */
  standingOffers (needed?: Resources): AvailableOffer[] {
    const free = this.available

    if (!this.offering || this.standingOfferId == null || free.cpus <= 0 || free.memory <= 0 || (needed != null && !contains(free, needed))) {
      return []
    }

    const self = this.init.self()

    return [{
      id: this.standingOfferId,
      amount: 1,
      freeResources: free,
      usedResources: this.used(),
      containersRunning: this.containersRunning,
      supplier: { peerId: self.peerId, multiaddrs: [...self.multiaddrs] }
    }]
  }

  /**
   * Take `needed` for `count` containers against an offer, or say why not. Synchronous, so that
   * no other acquisition can run between the check and the update: two buyers racing for one
   * offer cannot both win unless both fit, and the supplier is never allocated beyond its
   * capacity. The offers are published again right after.
   *
   * What is checked is the free resources, not that the offer is still current: an offer this
   * supplier made and has since moved to another slice (its free resources changed) is still a
   * way to it, and refusing a buyer that found it while the resources are there would only lose
   * the placement to a race. The baselines rely on this: a random pseudo-offer or a swarm
   * registration is only a way to the supplier, as in the original, which ignored their ids.
   *
   * @returns undefined on success, the reason of a refusal otherwise
   */
  obtainResources (offerId: number, needed: Resources, count: number): string | undefined {
    if (!this.running) {
      return 'the supplier is not offering resources'
    }

    if (this.suspended != null) {
      return `the supplier offers nothing for now: ${this.suspended}`
    }

    if (offerId < this.firstOfferId || offerId >= this.nextOfferId) {
      return `offer ${offerId} was not made by this supplier`
    }

    if (!contains(this.available, needed)) {
      return `not enough free resources: ${describeResources(needed)} asked, ${describeResources(this.available)} free`
    }

    this.taken = { cpus: this.taken.cpus + needed.cpus, memory: this.taken.memory + needed.memory }
    this.containersRunning += count
    this.schedulePublish()
    return undefined
  }

  /** Give back what `obtainResources` took, for `count` containers. */
  returnResources (resources: Resources, count: number): void {
    const cpus = this.taken.cpus - resources.cpus
    const memory = this.taken.memory - resources.memory

    if (cpus < 0 || memory < 0 || count > this.containersRunning) {
      this.log.error('returned resources exceed what was taken: %d CPUs and %d MB for %d containers', resources.cpus, resources.memory, count)
    }

    this.taken = { cpus: Math.max(0, cpus), memory: Math.max(0, memory) }
    this.containersRunning = Math.max(0, this.containersRunning - count)
    this.schedulePublish()
  }

  /**
   * Count as taken what `count` containers found running at start hold (a restarted peer's),
   * without an offer or a check: they run whether they fit or not.
   */
  holdResources (resources: Resources, count: number): void {
    this.taken = { cpus: this.taken.cpus + resources.cpus, memory: this.taken.memory + resources.memory }
    this.containersRunning += count
    this.schedulePublish()
  }

  /**
   * Publish the offers again shortly; calls in between coalesce into one, so a burst of launches
   * costs one round of offer updates, not one per launch. Traders may show free resources that
   * are `publishDelay` old: harmless, since a launch takes resources against what is really free.
   */
  schedulePublish (): void {
    if (!this.offering || this.publishTimer != null || this.strategy === 'random') {
      return
    }

    this.publishTimer = this.init.clock.setTimeout(() => {
      this.publishTimer = undefined
      void this.runPublish()
    }, this.init.publishDelay ?? 0)
  }

  view (): SupplierView {
    return {
      maxResources: { ...this.max },
      availableResources: { ...this.available },
      usedResources: this.used(),
      containersRunning: this.containersRunning,
      offers: [...this.offers.values()].map(offer => ({
        id: offer.id,
        trader: { peerId: offer.trader.peerId, multiaddrs: [...offer.trader.multiaddrs] },
        slice: { index: offer.slice.index, resources: { ...offer.slice.resources } },
        free: { ...offer.free },
        lastRefreshed: offer.lastRefreshed,
        missedRefreshes: offer.missed
      }))
    }
  }

  /** One publication at a time; a request during one makes another run right after it. */
  private async runPublish (): Promise<void> {
    if (this.publishing != null) {
      this.publishAgain = true
      return
    }

    this.publishing = (async () => {
      do {
        this.publishAgain = false
        await this.publish().catch(err => { this.log.error('publishing offers failed - %e', err) })
      } while (this.publishAgain && this.offering)
    })().finally(() => { this.publishing = undefined })

    await this.publishing
  }

  /**
   * Carry out the strategy's plan for the current offers and free resources, and plan again
   * while carrying it out finds slices without a trader: their requests are searched elsewhere,
   * where the next plan offers (at most once more per slice of the map).
   */
  private async publish (): Promise<void> {
    const map = this.init.resourceMap()

    for (let round = 0; round <= map.slices.length && this.offering; round++) {
      const known = this.unreachableSlices?.size ?? 0
      const plan = planOffers(this.strategy, map, [...this.offers.values()], this.available, slice => this.unreachableSlices?.has(slice.index) === true)

      await Promise.all([
        ...plan.remove.map(async offer => { await this.withdraw(offer) }),
        ...plan.update.map(async offer => { await this.update(offer) }),
        ...plan.create.map(async target => { await this.create(target) }),
        plan.register === true ? this.register() : undefined
      ])

      if ((this.unreachableSlices?.size ?? 0) === known) {
        break
      }
    }

    this.watchUnreachable()
  }

  /**
   * While some slices are taken to have no trader, watch for a peer of one of them: the offers
   * made instead elsewhere are moved as soon as one joins (a new network fills up in seconds,
   * well before the next supplying tick).
   */
  private watchUnreachable (): void {
    this.stopWatching?.()
    this.stopWatching = undefined

    if (this.unreachableSlices == null || this.unreachableSlices.size === 0 || !this.offering) {
      return
    }

    this.stopWatching = this.init.overlay.watchSlices([...this.unreachableSlices], () => {
      this.stopWatching = undefined
      this.unreachableSlices = undefined
      this.schedulePublish()
    })
  }

  /**
   * Swarm: register with the master, the peer a lookup of the well-known key finds, by CreateOffer
   * of one offer holding our free and used resources. Registering is rare (at start, and when the
   * master lost or dropped our registration), so the master is looked up every time: a new one
   * is found as soon as the old one is gone. Without a master the next supplying tick tries again.
   */
  private async register (): Promise<void> {
    try {
      const [master] = await this.init.overlay.lookup(SWARM_MASTER_KEY, { count: 1 })

      if (master != null) {
        await this.offerTo(master, this.init.resourceMap().sliceOf(master.key))
      }
    } catch (err: any) {
      this.log('lookup of the swarm master failed - %e', err)
    }
  }

  /** Every refreshes-check interval: count missed refreshes, drop quiet offers and make them again. */
  private checkRefreshes (): void {
    const { refreshMissedTimeout, maxRefreshesMissed } = this.init.config()
    const now = this.init.clock.now()
    let dropped = 0

    for (const offer of [...this.offers.values()]) {
      if (now - offer.lastRefreshed <= refreshMissedTimeout) {
        continue
      }

      offer.missed++

      if (offer.missed >= Math.max(1, maxRefreshesMissed)) {
        this.log('trader %s missed %d refreshes of offer %d: offering elsewhere', offer.trader.peerId, offer.missed, offer.id)
        void this.withdraw(offer)
        dropped++
      }
    }

    if (dropped > 0) {
      this.schedulePublish()
    }
  }

  /** Create an offer for `target`; when it replaces an offer, withdraw that one or update it. */
  private async create (target: OfferTarget): Promise<void> {
    const made = await this.place(target)
    const replaced = target.replaces

    if (replaced == null || this.offers.get(replaced.id) !== replaced) {
      return
    }

    if (made != null) {
      await this.withdraw(replaced)
    } else if (!sameResources(replaced.free, this.available)) {
      await this.update(replaced)
    }
  }

  /**
   * Offer to a trader of the target slice found through a random key, then through another
   * random key, then (with `fallback`) in the next lower slices the supplier honours. A slice
   * whose traders all failed is skipped until the next supplying tick.
   */
  private async place (target: OfferTarget): Promise<SupplierOffer | undefined> {
    const map = this.init.resourceMap()
    const floor = target.replaces?.slice.index ?? -1
    let slice: Slice | undefined = target.slice

    while (slice != null && slice.index > floor && this.offering) {
      if (this.unreachableSlices?.has(slice.index) !== true) {
        const offer = await this.placeInSlice(map, slice)

        if (offer != null) {
          return offer
        }

        this.unreachableSlices ??= new Set()
        this.unreachableSlices.add(slice.index)
      }

      slice = target.fallback ? map.nextLowerOffer(slice, this.available) : undefined
    }

    return undefined
  }

  private async placeInSlice (map: ResourceMap, slice: Slice): Promise<SupplierOffer | undefined> {
    for (let attempt = 0; attempt < KEYS_PER_SLICE && this.offering; attempt++) {
      for (const trader of await this.tradersIn(map, slice)) {
        const offer = await this.offerTo(trader, slice)

        if (offer != null) {
          return offer
        }
      }
    }

    return undefined
  }

  /** Peers of `slice` near one of its anchors or a random key in it (`placementKey`), closest first. */
  private async tradersIn (map: ResourceMap, slice: Slice): Promise<OverlayNode[]> {
    try {
      const { key, closest } = placementKey(map, slice, this.init.config(), this.init.overlay, this.init.random)
      const nodes = await this.init.overlay.lookup(key, closest ? { closest } : {})
      return nodes.filter(node => map.sliceOf(node.key).index === slice.index)
    } catch (err: any) {
      this.log('lookup in slice %d failed - %e', slice.index, err)
      return []
    }
  }

  /**
   * CreateOffer to one trader; the offer counts only when the trader says it keeps it (the
   * original's traders dropped undersized offers without a word).
   * The offer is recorded before the call, so that a refresh racing the reply is answered.
   */
  private async offerTo (trader: OverlayNode, slice: Slice): Promise<SupplierOffer | undefined> {
    const offer: SupplierOffer = {
      id: this.nextOfferId++,
      trader: { peerId: trader.peerId, multiaddrs: copyList(trader.multiaddrs) },
      slice,
      free: { ...this.available },
      lastRefreshed: this.init.clock.now(),
      missed: 0
    }
    this.offers.set(offer.id, offer)

    try {
      const emptySlices = this.unreachableSlices == null ? undefined : [...this.unreachableSlices].sort((a, b) => a - b)
      const result = await this.init.client.createOffer(trader, this.toWire(offer), { emptySlices })

      if (!result.accepted) {
        this.log('trader %s refused offer %d: %s', trader.peerId, offer.id, result.reason)
        this.offers.delete(offer.id)
        return undefined
      }
    } catch (err: any) {
      this.log('trader %s did not take offer %d - %e', trader.peerId, offer.id, err)
      this.offers.delete(offer.id)
      return undefined
    }

    if (!this.offering) {
      await this.withdraw(offer)
      return undefined
    }

    return this.offers.get(offer.id) === offer ? offer : undefined
  }

  /** UpdateOffer with the current free resources: kept → refreshed, unknown → made again, failure → a missed refresh. */
  private async update (offer: SupplierOffer): Promise<void> {
    try {
      const kept = await this.init.client.updateOffer(offer.trader, this.toWire(offer))

      if (kept) {
        offer.lastRefreshed = this.init.clock.now()
        offer.missed = 0
      } else if (this.offers.get(offer.id) === offer) {
        this.offers.delete(offer.id)
        this.schedulePublish()
      }
    } catch (err: any) {
      this.log('update of offer %d at %s failed - %e', offer.id, offer.trader.peerId, err)
      offer.missed++
    }
  }

  /** Forget the offer and tell its trader (best effort). */
  private async withdraw (offer: SupplierOffer): Promise<void> {
    this.offers.delete(offer.id)

    try {
      await this.init.client.removeOffer(offer.trader, offer.id)
    } catch (err: any) {
      this.log('could not withdraw offer %d from %s - %e', offer.id, offer.trader.peerId, err)
    }
  }

  /** The offer as sent to its trader, with the current figures (recorded in `offer.free`). */
  private toWire (offer: SupplierOffer): Offer {
    offer.free = { ...this.available }

    return {
      id: offer.id,
      amount: 1,
      freeResources: { ...this.available },
      usedResources: this.used(),
      containersRunning: this.containersRunning
    }
  }

  /** Free resources: capacity less what containers hold (none when a restart came with less capacity). */
  private get available (): Resources {
    return {
      cpuClass: this.max.cpuClass,
      cpus: Math.max(0, this.max.cpus - this.taken.cpus),
      memory: Math.max(0, this.max.memory - this.taken.memory)
    }
  }

  private used (): Resources {
    return { cpuClass: this.max.cpuClass, ...this.taken }
  }
}
