/**
 * The buyer, or scheduler: places a request's containers on suppliers found through traders.
 * Co-located containers go together to one supplier, spread containers each to a different one
 * (the original could put them on one node); a request placed only in part is rolled back.
 * Discovery searches the smallest slice that holds a placement (multiple-offer strategies) or
 * walks the slices (single offer: at most `maxPartitionsSearch` searches, where the original's
 * bound was off by one), or, under the simulator's baselines, asks random peers or the swarm
 * master; offers are ranked on their suppliers' real load and tried in order. What this changes
 * from the original, and why: `docs/differences.md`.
 */

import { sleep } from '../clock.js'
import { LazyMap } from '../lazy-map.js'
import { LruMap } from '../lru.js'
import { CODECS } from '../protocols/codec.js'
import { MAX_CONTAINERS, MAX_STATUS_IDS } from '../protocols/constants.js'
import { contains } from '../resources/resource-map.js'
import { CPU_CLASS_NAMES } from '../types.js'
import { placementKey } from './anchors.js'
import { AllOffersRejectedError, InvalidContainerRequestError, NoOffersError, RequestRolledBackError } from './errors.js'
import { isSingleOffer } from './offer-strategies.js'
import { randomHex, uniform } from './random.js'
import { rankOffers } from './ranking.js'
import { Reputation } from './reputation.js'
import { describeResources, totalResources } from './resources.js'
import { PLACEMENT_STAGES, Samples } from './stats.js'
import { SWARM_MASTER_KEY } from './swarm.js'
import type { NetworkConfig } from '../config/types.js'
import type { ResourceMap, Slice } from '../resources/resource-map.js'
import type { AbortOptions, AvailableOffer, CaravelaClient, Clock, ContainerConfig, ContainerStatus, NodeRef, Overlay, OverlayNode, PlacementProgress, Resources } from '../types.js'
import type { OfferRejection } from './errors.js'
import type { RandomSource } from './random.js'
import type { RankedOffer } from './ranking.js'
import type { MarkKind } from './reputation.js'
import type { RoleStats } from './stats.js'
import type { Logger } from '@libp2p/interface'

/** Discoveries per placement: the first, and one more when every offer it found was rejected. */
const DISCOVERY_ROUNDS = 2
/**
 * How long a trader's GetOffers answer serves this buyer's next placements of the same size, in
 * ms: a buyer placing many containers in a row asks the trader once, not once per container. What
 * the buyer launches into is taken off the remembered offers as it goes, and a launch refused on
 * a remembered offer (another buyer took the room) forgets the answer and asks again, so a stale
 * answer costs one refused launch at worst.
 */
export const OFFERS_CACHE_TTL = 1_000
/** Traders' answers remembered at once (per trader and request size), the least recently used forgotten first. */
export const OFFERS_CACHE_SIZE = 32
/**
 * A buyer whose routing table holds at most this many peers knows the network whole, and asks
 * every peer for its own free resources when the traders had no offer for a request. Routing
 * tables hold every peer they hear of up to hundreds, so this is a choice of cost: a few dozen
 * requests, only after a failed search, only in networks of that size.
 */
export const ASK_EVERY_PEER_MAX = 32
/** Peers asked at once when the buyer asks every peer. */
const ASK_EVERY_PEER_AT_ONCE = 8
/**
 * Longest wait of a launch's claim for the claims of other launches on the same supplier, in ms
 * (`claim`); a quarter of the launch timeout when that is shorter.
 */
export const CLAIM_DELAY = 500
/** Random bytes of a generated request id. */
const REQUEST_ID_BYTES = 12
/** Bytes of a random key (`random` backend): a point of the hashed key space is 32 bytes. */
const KEY_BYTES = 32
/** First pause before a launch that got no answer is asked again, in ms; it doubles per attempt. */
const LAUNCH_RETRY_PAUSE = 250
/** Longest pause between two askings of one launch, in ms. */
const LAUNCH_RETRY_MAX_PAUSE = 4_000
/**
 * A launch unanswered this long (an image pull, most often) is reported as `still-launching`, in
 * ms; then every `LAUNCH_HEARTBEAT_EVERY` of these.
 */
const LAUNCH_HEARTBEAT = 1_000
const LAUNCH_HEARTBEAT_EVERY = 5
/**
 * Launch attempts in a row that fail fast (in under half the request timeout: no connection, not
 * a slow supplier) after which the supplier counts as gone and the next offer is tried. A supplier
 * that is only slow (pulling an image) is asked until `launchTimeout`; what a gone one may have
 * started is never claimed, and suppliers remove unclaimed containers.
 */
const UNREACHABLE_ATTEMPTS = 3
/** A request id: printable ASCII without spaces, short enough to carry a launch number. */
const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,100}$/

/** What the buyer works with. */
export interface BuyerInit {
  self: () => NodeRef
  overlay: Overlay
  client: CaravelaClient
  config: () => NetworkConfig
  resourceMap: () => ResourceMap
  clock: Clock
  log: Logger
  /** random keys, request ids and ranking ties */
  random: RandomSource
  /**
   * The suppliers that let this buyer down, shared with the user manager (which finds containers
   * gone when it stops them)
   *
   * @default a table of its own
   */
  reputation?: Reputation
  /**
   * Told of a launch whose cancel its supplier could not hear (it is down, or cut off), to send it
   * again until `until` (the user manager's status checks do): a supplier that comes back with
   * what the launch started then removes it at once, not after its claim time
   */
  cancelLater?: (supplier: NodeRef, launchId: string, until: number) => void
}

/** Options of `run`. */
export interface RunOptions extends AbortOptions {
  /** identifies the request at the suppliers, so that a retried launch starts nothing twice */
  requestId?: string
  /** called as the placement goes on; an exception it throws is ignored */
  onProgress?: (event: PlacementProgress) => void
  /** peer ids of suppliers not to place on (a lost one, those a re-placed container's request uses) */
  avoid?: readonly string[]
  /**
   * records the placed request (the user manager's ledger), timed as the placement's last stage;
   * its failure is the request's, which stays placed
   */
  record?: (placed: PlacedRequest) => Promise<void>
}

/** A request as placed: its id, and one status per container in the order given. */
export interface PlacedRequest {
  requestId: string
  statuses: ContainerStatus[]
}

/** Containers launched together on one supplier. */
interface Placement {
  /** positions of the containers in the request */
  indices: number[]
  containers: ContainerConfig[]
  needed: Resources
}

/** One request in progress. */
interface Request {
  id: string
  signal?: AbortSignal
  onProgress?: (event: PlacementProgress) => void
  launches: number
  messages: number
  lookups: number
  hops: number
  /** suppliers holding containers of the request: spread containers avoid them */
  suppliers: Set<string>
  /** launches sent, in order; a launch whose answer never came has no statuses and is cancelled by a rollback */
  placed: Launched[]
  /** peers asked for their own resources, when the buyer asked every peer */
  asked?: number
  /** real time spent so far in lookups, GetOffers and launches, in ms */
  lookupMs: number
  offersMs: number
  launchMs: number
  /** the offers of the current discovery came from the cache of traders' answers */
  cachedOffers: boolean
  /** the cache is not used any more: an offer from it was refused or taken */
  fresh: boolean
}

/** A trader's recent answer to GetOffers, its offers' free resources lowered by what this buyer launched since. */
interface CachedOffers {
  offers: AvailableOffer[]
  /** clock time after which the answer is asked again */
  until: number
}

/** A launch sent to a supplier: its statuses once it answered. */
interface Launched {
  supplier: NodeRef
  launchId: string
  statuses?: ContainerStatus[]
}

/** What one search of one slice found. */
interface SearchResult {
  offers: AvailableOffer[]
  /** traders asked */
  traders: number
  /** peers of the slice the lookup returned, asked before or not */
  found: number
}

/** The scheduler of this peer: places requests' containers on suppliers found through traders. */
export class Buyer {
  private readonly init: BuyerInit
  private readonly log: Logger
  private placedCount = 0
  private failedCount = 0
  private askedEveryPeerCount = 0
  /** per request, in this order: messages, lookups, hops and duration */
  private readonly samples = new Samples(4)
  /**
   * per placed request, the real time (`performance.now()`, not the role's clock: what the work
   * took, under a simulated clock too) of each of `PLACEMENT_STAGES`, in that order, in ms
   */
  private readonly stages = new Samples(PLACEMENT_STAGES.length)
  /** traders' recent GetOffers answers, by trader and request size (`OFFERS_CACHE_TTL`) */
  private readonly offersCache = new LruMap<string, CachedOffers>(OFFERS_CACHE_SIZE)
  /** supplier peer id → the containers launched there and not claimed yet */
  private readonly claims = new LazyMap<string, { supplier: NodeRef, ids: string[], timer: { cancel (): void } }>()
  private offersCacheHits = 0
  private offersCacheMisses = 0
  private readonly reputation: Reputation

  constructor (init: BuyerInit) {
    this.init = init
    this.log = init.log
    this.reputation = init.reputation ?? new Reputation(init.clock, () => init.self().peerId)
  }

  /**
   * Place every container of a request, or none: a request that cannot be placed whole has what
   * was placed for it stopped again, and the error says why.
   */
  async run (containers: ContainerConfig[], options: RunOptions = {}): Promise<PlacedRequest> {
    const started = this.init.clock.now()
    const startedMs = performance.now()
    const request: Request = {
      id: options.requestId ?? randomHex(this.init.random, REQUEST_ID_BYTES),
      signal: options.signal,
      onProgress: options.onProgress,
      launches: 0,
      messages: 1,
      lookups: 0,
      hops: 0,
      suppliers: new Set(options.avoid),
      placed: [],
      lookupMs: 0,
      offersMs: 0,
      launchMs: 0,
      cachedOffers: false,
      fresh: false
    }
    let placed: PlacedRequest

    try {
      const placements = this.plan(containers, request.id)
      const statuses: ContainerStatus[] = new Array(containers.length)

      for (const placement of placements) {
        const placed = await this.place(request, placement)
        placement.indices.forEach((index, i) => { statuses[index] = placed[i] })
      }

      this.placedCount++
      placed = { requestId: request.id, statuses }
    } catch (err: any) {
      this.failedCount++

      if (request.placed.length === 0) {
        throw err
      }

      this.progress(request, { type: 'rolling-back', reason: err?.message ?? String(err) })
      throw await this.rollback(request, err)
    } finally {
      this.samples.add([request.messages, request.lookups, request.hops, this.init.clock.now() - started])
    }

    const recording = performance.now()
    await options.record?.(placed)
    const done = performance.now()
    this.stages.add([request.lookupMs, request.offersMs, request.launchMs, done - recording, done - startedMs])
    return placed
  }

  stats (): RoleStats {
    return {
      requestsPlaced: this.placedCount,
      requestsFailed: this.failedCount,
      placementsAskingEveryPeer: this.askedEveryPeerCount,
      messagesPerRequest: this.samples.summary(0),
      lookupsPerRequest: this.samples.summary(1),
      hopsPerRequest: this.samples.summary(2),
      durationMsPerRequest: this.samples.summary(3),
      stageMsPerRequest: Object.fromEntries(PLACEMENT_STAGES.map((stage, s) => [stage, this.stages.summary(s)])) as RoleStats['stageMsPerRequest'],
      offersCache: { hits: this.offersCacheHits, misses: this.offersCacheMisses },
      suppliers: this.reputation.stats()
    }
  }

  /**
   * Check the request, give containers without CPUs or memory the smallest partition's (the
   * original ran them unlimited), and split it: the co-located containers as one placement, each
   * spread container as its own.
   *
   * @throws {InvalidContainerRequestError | MalformedMessageError} when the request is not one a launch can carry
   */
  private plan (containers: ContainerConfig[], requestId: string): Placement[] {
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      throw new InvalidContainerRequestError('A request id is 1 to 100 printable ASCII characters without spaces')
    }

    if (!Array.isArray(containers) || containers.length === 0 || containers.length > MAX_CONTAINERS) {
      throw new InvalidContainerRequestError(`A request holds 1 to ${MAX_CONTAINERS} containers`)
    }

    const map = this.init.resourceMap()
    const lowest = map.lowestResources()
    const colocated: Placement = { indices: [], containers: [], needed: lowest }
    const placements: Placement[] = []

    containers.forEach((container, index) => {
      const resources = validResources(container?.resources, index)
      const filled = {
        ...container,
        resources: { ...resources, cpus: resources.cpus || lowest.cpus, memory: resources.memory || lowest.memory }
      }

      if (filled.groupPolicy === 'co-location') {
        colocated.indices.push(index)
        colocated.containers.push(filled)
      } else {
        placements.push({ indices: [index], containers: [filled], needed: filled.resources })
      }
    })

    if (colocated.containers.length > 0) {
      colocated.needed = totalResources(colocated.containers)
      placements.unshift(colocated)
    }

    // encoded once as it will be sent (MalformedMessageError): a launch's answer that does not
    // decode is then the supplier's doing, never the request's
    for (const { containers } of placements) {
      CODECS.launchContainer.encodeRequest({ offerId: 0, requestId: `${requestId}-0`, containers })
    }

    return placements
  }

  /**
   * Find offers, rank them and launch on the best supplier that accepts, avoiding the
   * suppliers the request already uses. When every offer was rejected (offers race: traders list
   * what other buyers just took), discover once more, without the offers that were refused (a
   * supplier that moved its offer may take the new one) nor the suppliers that did not answer.
   *
   * Suppliers that let this buyer down lately (`Reputation`) are tried after the others, and not
   * at all after `REPUTATION_SKIP_MARKS` marks other than refusals. A launch that got no answer,
   * or an answer the buyer cannot record, is a mark at once; a launch refused or failed is one
   * only once another supplier takes the same containers: until then the request may be at fault
   * (an image no supplier can pull, a request id used before), and every supplier would answer it
   * so.
   */
  private async place (request: Request, placement: Placement): Promise<ContainerStatus[]> {
    const { needed } = placement
    const { reputation } = this
    const rejections: OfferRejection[] = []
    const refused = new Set<string>()
    const unreachable = new Set<string>()
    /** supplier → an offer of it, passed over for its marks */
    const skipped = new Map<string, number>()
    /** suppliers that refused or failed the launch, and the mark each gets if another supplier takes it */
    const rejectedBy: Array<{ peerId: string, kind: MarkKind }> = []
    const usable = (offer: AvailableOffer): boolean => {
      const peerId = offer.supplier.peerId

      if (!contains(offer.freeResources, needed) || request.suppliers.has(peerId) || unreachable.has(peerId) || refused.has(`${peerId}/${offer.id}`)) {
        return false
      }

      if (reputation.skipped(peerId)) {
        // noted for the error, should nothing else place the request
        skipped.set(peerId, offer.id)
        return false
      }

      return true
    }

    let noOffers: NoOffersError | undefined
    let askedEveryPeer = false

    try {
      // the last round asks every peer of a small network directly, when the others placed nothing
      for (let round = 0; round <= DISCOVERY_ROUNDS; round++) {
        let offers: AvailableOffer[]
        request.cachedOffers = false

        if (round < DISCOVERY_ROUNDS) {
          this.progress(request, { type: 'searching', containers: placement.containers.map(nameOf), resources: needed })

          try {
            offers = await this.discover(request, needed, usable)
          } catch (err: any) {
            if (err.name !== NoOffersError.name || request.signal?.aborted === true) {
              throw err
            }

            noOffers ??= err
            round = DISCOVERY_ROUNDS - 1
            continue
          }
        } else {
          const found = await this.askEveryPeer(request, needed)

          if (found == null) {
            break
          }

          askedEveryPeer = true
          this.askedEveryPeerCount++
          offers = found
        }

        const ranked = bestPerSupplier(rankOffers(offers.filter(usable), needed, this.init.config().schedulingPolicy, () => uniform(this.init.random)))

        for (const offer of reputation.order(ranked)) {
          const peerId = offer.supplier.peerId

          // a remembered offer another placement of this buyer launched into since it was ranked
          if (!contains(offer.freeResources, needed)) {
            continue
          }

          this.takeFromCache(peerId, needed, placement.containers.length)

          try {
            const statuses = await this.launch(request, offer, placement.containers)

            for (const rejected of rejectedBy) {
              // a supplier that refused one offer and took another was only racing
              if (rejected.peerId !== peerId) {
                reputation.mark(rejected.peerId, rejected.kind)
              }
            }

            return statuses
          } catch (err: any) {
            if (request.signal?.aborted === true) {
              throw err
            }

            rejections.push({ supplier: peerId, offerId: offer.id, reason: err.message ?? String(err) })
            this.progress(request, { type: 'rejected', supplier: peerId, reason: err.message ?? String(err) })
            const { kind, now } = markOf(err)

            if (now) {
              reputation.mark(peerId, kind)
            } else {
              rejectedBy.push({ peerId, kind })
            }

            if (err.name === 'RemoteRequestError') {
              refused.add(`${peerId}/${offer.id}`)
            } else {
              unreachable.add(peerId)
            }

            this.forgetCached(peerId)

            if (request.cachedOffers) {
              break
            }
          }
        }

        if (request.cachedOffers && !request.fresh) {
          // the remembered answer was stale or spent: this round once more, asking the traders
          request.fresh = true
          round--
        }
      }
    } finally {
      reputation.passedOver(skipped.size)
    }

    for (const [peerId, offerId] of skipped) {
      rejections.push({ supplier: peerId, offerId, skipped: true, reason: `not tried: marked ${plural(reputation.marks(peerId), 'time')} in the last ${reputation.describeWindow()} (launches refused, failed or unanswered, containers lost)` })
    }

    if (rejections.length === 0 && noOffers != null) {
      throw askedEveryPeer ? new NoOffersError(needed, `${noOffers.searched}, nor at any of the ${plural(request.asked ?? 0, 'peer')} of the network asked directly`) : noOffers
    }

    throw new AllOffersRejectedError(needed, rejections)
  }

  /**
   * LaunchContainer at the offer's supplier; what it starts is recorded for a rollback. A launch
   * is recorded before it is sent: when no answer comes (the supplier may still be pulling the
   * image or creating the containers), it is asked again with the same launch id, which the
   * supplier answers from its record of the launch instead of starting the containers twice,
   * until `launchTimeout`; a launch still unanswered then, or cut short by the caller, is
   * cancelled by the rollback, so nothing it started is left running unknown to the buyer.
   */
  private async launch (request: Request, offer: RankedOffer, containers: ContainerConfig[]): Promise<ContainerStatus[]> {
    request.signal?.throwIfAborted()
    const launched: Launched = { supplier: offer.supplier, launchId: `${request.id}-${request.launches++}` }
    const deadline = this.init.clock.now() + this.init.config().launchTimeout
    this.progress(request, { type: 'launching', containers: containers.map(nameOf), supplier: offer.supplier.peerId })
    request.placed.push(launched)
    const heartbeat = this.heartbeat(request, containers.map(nameOf), offer.supplier.peerId)
    const started = performance.now()
    let statuses: ContainerStatus[]

    try {
      statuses = await this.launchAttempts(request, offer, containers, launched, deadline)
    } finally {
      heartbeat?.cancel()
      request.launchMs += performance.now() - started
    }

    const invalid = invalidAnswer(statuses, containers, offer.supplier.peerId)

    if (invalid != null) {
      // what it did start, if anything, is not what the buyer would record: cancel the launch whole
      launched.statuses = undefined
      await this.cancelTried(request, launched)
      throw new InvalidLaunchAnswerError(invalid)
    }

    request.suppliers.add(offer.supplier.peerId)
    this.claim(offer.supplier, statuses)
    this.progress(request, { type: 'placed', statuses })
    return statuses
  }

  /**
   * LaunchContainer until the supplier answers (its answer is `launched.statuses` too), asked again
   * while no answer comes until `deadline`.
   */
  private async launchAttempts (request: Request, offer: RankedOffer, containers: ContainerConfig[], launched: Launched, deadline: number): Promise<ContainerStatus[]> {
    let fastFailures = 0

    for (let attempt = 0; ; attempt++) {
      const sent = this.init.clock.now()

      try {
        this.count(request, offer.supplier)
        // the supplier starts nothing once this buyer no longer waits for the answer
        const deadlineMs = Math.max(1, deadline - this.init.clock.now())
        launched.statuses = await this.init.client.launchContainer(offer.supplier, offer.id, launched.launchId, containers, { ...this.callOptions(request), deadlineMs })
        return launched.statuses
      } catch (err: any) {
        if (err.name === 'RemoteRequestError') {
          // the supplier answered: a launch is all or none, so it started nothing
          request.placed.splice(request.placed.indexOf(launched), 1)
          throw err
        }

        if (request.signal?.aborted === true) {
          throw err
        }

        fastFailures = this.init.clock.now() - sent < this.init.config().requestTimeout / 2 ? fastFailures + 1 : 0

        // an answer that does not decode (the request was checked to) is not asked again
        if (this.init.clock.now() >= deadline || err.name === 'MalformedMessageError' || fastFailures >= UNREACHABLE_ATTEMPTS) {
          // another offer may be tried next: this launch must not start anything meanwhile
          await this.cancelTried(request, launched)
          throw err
        }

        this.log('no answer from %s to launch %s (attempt %d), asking again - %e', offer.supplier.peerId, launched.launchId, attempt + 1, err)
        await sleep(this.init.clock, Math.min(LAUNCH_RETRY_PAUSE * 2 ** attempt, LAUNCH_RETRY_MAX_PAUSE, Math.max(0, deadline - this.init.clock.now())), request.signal)
        request.signal?.throwIfAborted()
      }
    }
  }

  /**
   * `still-launching` events while a launch waits for its answer, after `LAUNCH_HEARTBEAT` then
   * every `LAUNCH_HEARTBEAT_EVERY` of these, for a request that listens to its progress. The
   * supplier answers LaunchContainer once, when the containers run, so the time is all the buyer
   * knows of an image pull there.
   */
  private heartbeat (request: Request, containers: string[], supplier: string): { cancel (): void } | undefined {
    if (request.onProgress == null) {
      return undefined
    }

    const sent = this.init.clock.now()
    let beats = 0

    return this.init.clock.setInterval(() => {
      beats++

      if (beats === 1 || beats % LAUNCH_HEARTBEAT_EVERY === 0) {
        this.progress(request, { type: 'still-launching', containers, supplier, seconds: Math.round((this.init.clock.now() - sent) / 1000) })
      }
    }, LAUNCH_HEARTBEAT)
  }

  /**
   * Ask the supplier about the containers a launch started: that claims them, and a supplier
   * removes the containers no buyer claims (their buyer may have crashed before it heard the
   * answer). The claims of one supplier wait `CLAIM_DELAY` for more and go in one ContainerStatus:
   * under a burst of placements that is one request for many launches, not one each, and the
   * supplier's claim time (twice the launch timeout) leaves ample room. A claim that fails is made
   * by the user manager's next status check.
   */
  private claim (supplier: NodeRef, statuses: ContainerStatus[]): void {
    let pending = this.claims.get(supplier.peerId)

    if (pending == null) {
      const delay = Math.min(CLAIM_DELAY, this.init.config().launchTimeout / 4)
      const timer = this.init.clock.setTimeout(() => { this.sendClaims(supplier.peerId) }, delay)
      pending = { supplier, ids: [], timer }
      this.claims.set(supplier.peerId, pending)
    }

    pending.ids.push(...statuses.map(s => s.containerId))

    if (pending.ids.length >= MAX_STATUS_IDS) {
      this.sendClaims(supplier.peerId)
    }
  }

  /** Send the claims waiting for a supplier. */
  private sendClaims (peerId: string): void {
    const pending = this.claims.get(peerId)

    if (pending == null) {
      return
    }

    this.claims.delete(peerId)
    pending.timer.cancel()

    const { supplier, ids } = pending

    void (async () => {
      for (let i = 0; i < ids.length; i += MAX_STATUS_IDS) {
        await this.init.client.containerStatus(supplier, ids.slice(i, i + MAX_STATUS_IDS))
      }
    })().catch((err: any) => {
      this.log('could not claim containers at %s, the next status check will - %e', supplier.peerId, err)
    })
  }

  /** Drop the claims not sent yet (a stopping peer): the user manager's status checks make them after a restart. */
  stop (): void {
    for (const { timer } of this.claims.values()) {
      timer.cancel()
    }

    this.claims.clear()
  }

  /** Cancel a launch before another offer is tried; one its supplier could not be told of is left for the rollback. */
  private async cancelTried (request: Request, launched: Launched): Promise<void> {
    if (await this.cancel(request, launched)) {
      request.placed.splice(request.placed.indexOf(launched), 1)
    }
  }

  /**
   * Offers that can hold `needed`: through the traders of the slices (`discoverSlices`), or,
   * under the baselines, from random peers (`random`) or the master (`swarm`).
   */
  private async discover (request: Request, needed: Resources, usable: (offer: AvailableOffer) => boolean): Promise<AvailableOffer[]> {
    switch (this.init.config().discoveryBackend) {
      case 'random': return this.discoverRandom(request, needed, usable)
      case 'swarm': return this.discoverSwarm(request, needed, usable)
      default: return this.discoverSlices(request, needed, usable)
    }
  }

  /**
   * The offering strategies' discovery (`docs/discovery.md`). Multiple offers: up to
   * maxPartitionsSearch searches of the slice the request is searched in (every supplier able to
   * take it offers there), each asking traders not yet asked; when that slice has no trader, the
   * next slice of the request's search order that has one, where suppliers offer for it instead
   * (`ResourceMap.searchOrder`, `offerSlices`). Single offer: each supplier offers only in its
   * largest slice, so the search walks the slices that hold the request, up from the smallest
   * (binpack) or down from the largest (spread), starting over when the walk runs out; exactly up
   * to maxPartitionsSearch searches of slices with traders. The original's walk
   * (`single-offer-full-walk`) goes once through every slice that holds the request, whatever
   * maxPartitionsSearch, as its off-by-one made it do.
   */
  private async discoverSlices (request: Request, needed: Resources, usable: (offer: AvailableOffer) => boolean): Promise<AvailableOffer[]> {
    const map = this.init.resourceMap()
    const config = this.init.config()
    const searches = Math.max(1, config.maxPartitionsSearch)
    const searched = new Map<Slice, { searches: number, traders: number }>()
    const asked = new Set<string>()
    const tally = (slice: Slice, traders: number): void => {
      const sum = searched.get(slice) ?? { searches: 0, traders: 0 }
      searched.set(slice, { searches: sum.searches + 1, traders: sum.traders + traders })
    }

    if (isSingleOffer(config.discoveryBackend)) {
      const down = config.schedulingPolicy === 'spread'
      const first = (down ? map.highestForSearch(needed) : undefined) ?? map.searchSlice(needed)
      const next = (slice: Slice): Slice | undefined => down ? map.nextLowerSearch(slice, needed) : map.nextHigherSearch(slice, needed)
      // the original's walk, whose off-by-one let it go on to the end of the slices
      const fullWalk = config.discoveryBackend === 'single-offer-full-walk'
      let slice = first
      let done = 0

      // a slice no peer trades for (common on small networks) costs a local lookup and no request:
      // it does not use up the searches, but every slice is visited at most once more than that
      for (let steps = 0; (fullWalk || done < searches) && slice != null && steps < searches + map.slices.length; steps++) {
        const { offers, traders } = await this.search(request, map, slice, needed, usable)
        tally(slice, traders)
        done += traders > 0 ? 1 : 0

        if (offers.length > 0) {
          return offers
        }

        // our walk starts again when it runs out of slices, with new keys, until the searches are
        // spent; the original's ends there
        slice = next(slice) ?? (fullWalk ? undefined : first)
      }
    } else {
      for (const slice of map.searchOrder(needed)) {
        let members = 0

        for (let done = 0; done < searches; done++) {
          const { offers, traders, found } = await this.search(request, map, slice, needed, usable, asked)
          tally(slice, traders)
          members += found

          if (offers.length > 0) {
            return offers
          }

          if (traders === 0) {
            break
          }
        }

        // the request is searched in the first slice that has traders, and only there
        if (members > 0) {
          break
        }
      }
    }

    throw new NoOffersError(needed, [...searched].map(([slice, { searches, traders }]) =>
      `slice ${describeResources(slice.resources)} (${plural(searches, 'search', 'searches')}, ${plural(traders, 'trader')} asked)`).join(', '))
  }

  /**
   * Random baseline: up to randBackendMaxRetries lookups of a uniformly random key, each followed
   * by GetOffers to every peer it returned (each answers with its own free resources when they
   * hold the request); the first lookup that yields a usable offer ends the search.
   */
  private async discoverRandom (request: Request, needed: Resources, usable: (offer: AvailableOffer) => boolean): Promise<AvailableOffer[]> {
    const config = this.init.config()
    const lookups = Math.max(1, config.randBackendMaxRetries)
    let asked = 0

    for (let attempt = 0; attempt < lookups; attempt++) {
      const nodes = await this.lookup(request, this.init.random(KEY_BYTES), config.lookupCount, 'a random key')
      const found: AvailableOffer[] = []

      for (const node of nodes) {
        asked++
        found.push(...(await this.askOffers(request, node, true, needed)).filter(usable))
      }

      if (found.length > 0) {
        return found
      }
    }

    throw new NoOffersError(needed, `${plural(lookups, 'random lookup')} (${plural(asked, 'peer')} asked)`)
  }

  /**
   * Swarm baseline: GetOffers, without relay, to the master, found by a lookup of its well-known
   * key; it answers the workers that hold the request best for the scheduling policy.
   */
  private async discoverSwarm (request: Request, needed: Resources, usable: (offer: AvailableOffer) => boolean): Promise<AvailableOffer[]> {
    const [master] = await this.lookup(request, SWARM_MASTER_KEY, 1, 'the swarm master')

    if (master == null) {
      throw new NoOffersError(needed, 'the swarm: no master found')
    }

    const offers = (await this.askOffers(request, master, false, needed)).filter(usable)

    if (offers.length === 0) {
      throw new NoOffersError(needed, `the swarm: no worker of master ${master.peerId} has room`)
    }

    return offers
  }

  /** One lookup of the request, counted with what it cost; a failed lookup finds nobody. */
  private async lookup (request: Request, key: Uint8Array, count: number, what: string, closest = false): Promise<OverlayNode[]> {
    request.signal?.throwIfAborted()
    request.lookups++
    const started = performance.now()

    try {
      return await this.init.overlay.lookup(key, {
        count,
        ...(closest ? { closest } : {}),
        signal: request.signal,
        onStats: stats => {
          request.messages += stats.rpcs
          request.hops += stats.hops
        }
      })
    } catch (err: any) {
      this.log('lookup of %s failed - %e', what, err)
      request.signal?.throwIfAborted()
      return []
    } finally {
      request.lookupMs += performance.now() - started
    }
  }

  /** GetOffers for `needed` (for the peer's `own` free resources), counted; a peer that does not answer has no offers. */
  private async askOffers (request: Request, to: NodeRef, relay: boolean, needed: Resources, own = false): Promise<AvailableOffer[]> {
    this.count(request, to)
    const started = performance.now()

    try {
      return await this.init.client.getOffers(to, relay, { ...this.callOptions(request), needed, ...(own ? { own } : {}) })
    } catch (err: any) {
      this.log('%s did not answer GetOffers - %e', to.peerId, err)
      request.signal?.throwIfAborted()
      return []
    } finally {
      request.offersMs += performance.now() - started
    }
  }

  /**
   * A trader's offers for `needed`: its answer of less than `OFFERS_CACHE_TTL` ago while that
   * still has a usable offer, or else its answer now, remembered. The cache is not used once the
   * request found it stale (`Request.fresh`).
   */
  private async traderOffers (request: Request, trader: NodeRef, needed: Resources, usable: (offer: AvailableOffer) => boolean): Promise<AvailableOffer[]> {
    const key = `${trader.peerId}/${needed.cpuClass}/${needed.cpus}/${needed.memory}`
    const cached = this.offersCache.get(key)

    if (!request.fresh && cached != null && this.init.clock.now() < cached.until && cached.offers.some(usable)) {
      this.offersCacheHits++
      request.cachedOffers = true
      return cached.offers
    }

    this.offersCacheMisses++
    // copies: what this buyer launches into is taken off them (`takeFromCache`)
    const offers = (await this.askOffers(request, trader, true, needed)).map(offer => ({
      ...offer,
      freeResources: { ...offer.freeResources },
      usedResources: { ...offer.usedResources }
    }))

    if (offers.length > 0) {
      this.offersCache.set(key, { offers, until: this.init.clock.now() + OFFERS_CACHE_TTL })
    } else {
      this.offersCache.delete(key)
    }

    return offers
  }

  /**
   * A launch of `count` containers holding `needed` goes to `supplier`: its remembered offers
   * show that much less free (every offer of a supplier shows its free resources), so that the
   * next placements do not send it more than it had room for.
   */
  private takeFromCache (supplier: string, needed: Resources, count: number): void {
    for (const { offers } of this.offersCache.values()) {
      for (const offer of offers) {
        if (offer.supplier.peerId === supplier) {
          offer.freeResources.cpus -= needed.cpus
          offer.freeResources.memory -= needed.memory
          offer.usedResources.cpus += needed.cpus
          offer.usedResources.memory += needed.memory
          offer.containersRunning += count
        }
      }
    }
  }

  /** A launch at `supplier` failed: the remembered answers listing it are asked again. */
  private forgetCached (supplier: string): void {
    for (const [key, { offers }] of this.offersCache) {
      if (offers.some(offer => offer.supplier.peerId === supplier)) {
        this.offersCache.delete(key)
      }
    }
  }

  /**
   * Look up a random key of the slice and ask its traders in turn, with relay, until one answers
   * with an offer the placement can use. With `asked`, traders asked before are skipped (and
   * the lookup returns that many more), and the ones asked now are added.
   */
  private async search (request: Request, map: ResourceMap, slice: Slice, needed: Resources, usable: (offer: AvailableOffer) => boolean, asked?: Set<string>): Promise<SearchResult> {
    const config = this.init.config()
    const count = config.lookupCount
    const { key, closest } = placementKey(map, slice, config, this.init.overlay, this.init.random)
    const nodes = await this.lookup(request, key, count + (asked?.size ?? 0), `slice ${slice.index}`, closest)
    const members = nodes.filter(node => map.sliceOf(node.key).index === slice.index)
    const traders = members.filter(node => asked?.has(node.peerId) !== true).slice(0, count)

    for (const [i, trader] of traders.entries()) {
      asked?.add(trader.peerId)
      const offers = await this.traderOffers(request, trader, needed, usable)

      if (offers.some(usable)) {
        return { offers, traders: i + 1, found: members.length }
      }
    }

    return { offers: [], traders: traders.length, found: members.length }
  }

  /**
   * When this peer knows every peer of a small network (at most `ASK_EVERY_PEER_MAX`), ask each
   * for its own free resources and for the offers it trades, a few at a time, until some can hold
   * the request: whatever slices
   * the few peers' ids fall in and however stale the traders' figures, a request some peer can
   * take is placed. Undefined when the network is larger than that (or under `swarm`, whose
   * master knows every worker).
   */
  private async askEveryPeer (request: Request, needed: Resources): Promise<AvailableOffer[] | undefined> {
    if (this.init.config().discoveryBackend === 'swarm') {
      return undefined
    }

    let peers: NodeRef[] | undefined

    try {
      peers = await this.init.overlay.allPeers(ASK_EVERY_PEER_MAX, { signal: request.signal })
    } catch (err: any) {
      this.log('could not list the peers - %e', err)
      request.signal?.throwIfAborted()
    }

    if (peers == null) {
      return undefined
    }

    peers = [this.init.self(), ...peers]
    request.asked = 0
    this.log('request %s: no offers found, asking all %d peers', request.id, peers.length)

    for (let first = 0; first < peers.length; first += ASK_EVERY_PEER_AT_ONCE) {
      const batch = peers.slice(first, first + ASK_EVERY_PEER_AT_ONCE)
      request.asked += batch.length
      // each peer's own offers, and the offers it trades: a supplier behind a NAT (a DHT client) is
      // in no routing table to be asked, only its traders hold its offers
      const answers = await Promise.all(batch.flatMap(peer => [this.askOffers(request, peer, false, needed, true), this.askOffers(request, peer, false, needed)]))
      const offers = [...new Map(answers.flat().map(offer => [`${offer.supplier.peerId}/${offer.id}`, offer])).values()].filter(offer => contains(offer.freeResources, needed))

      if (offers.length > 0) {
        return offers
      }
    }

    return []
  }

  /**
   * Stop every container placed for a failed request, and cancel every launch whose answer never
   * came; the error says what happened. These messages do not take the request's signal: a
   * request cut short by its caller is still rolled back.
   */
  private async rollback (request: Request, cause: Error): Promise<RequestRolledBackError> {
    let stopped = 0
    let cancelled = 0
    const leftRunning: string[] = []

    for (const { supplier, launchId, statuses } of request.placed) {
      if (statuses == null) {
        if (await this.cancel(request, { supplier, launchId })) {
          cancelled++
        } else {
          leftRunning.push(`launch ${launchId} at ${supplier.peerId}`)
        }

        continue
      }

      for (const { containerId } of statuses) {
        this.count(request, supplier)

        try {
          await this.init.client.stopLocalContainer(supplier, containerId)
          stopped++
        } catch (err: any) {
          if (err?.status === 'NOT_FOUND') {
            stopped++
          } else {
            this.log.error('could not stop %s at %s while rolling back request %s - %e', containerId, supplier.peerId, request.id, err)
            leftRunning.push(containerId)

            if (err?.name !== 'RemoteRequestError') {
              this.reputation.mark(supplier.peerId, 'unreachable')
            }
          }
        }
      }
    }

    return new RequestRolledBackError(cause, stopped, leftRunning, cancelled)
  }

  /** Cancel a launch whose answer never came; false when its supplier could not be told. */
  private async cancel (request: Request, { supplier, launchId }: Launched): Promise<boolean> {
    this.count(request, supplier)

    try {
      await this.init.client.cancelLaunch(supplier, launchId)
      return true
    } catch (err: any) {
      this.log.error('could not cancel launch %s at %s of request %s: it is sent again while the supplier could still hold what the launch started - %e', launchId, supplier.peerId, request.id, err)
      // the supplier removes what nobody claims after twice launchTimeout: until then it is worth telling
      this.init.cancelLater?.(supplier, launchId, this.init.clock.now() + 2 * this.init.config().launchTimeout)
      return false
    }
  }

  /** Tells the caller of `run` how the request goes; its mistakes are not the request's. */
  private progress (request: Request, event: PlacementProgress): void {
    try {
      request.onProgress?.(event)
    } catch (err: any) {
      this.log('progress listener of request %s failed - %e', request.id, err)
    }
  }

  /** One message of the request, unless it goes to this peer itself. */
  private count (request: Request, to: NodeRef): void {
    if (to.peerId !== this.init.self().peerId) {
      request.messages++
    }
  }

  /** The caller's signal, bounded by the request timeout; without one the client's own timeout applies. */
  private callOptions (request: Request): AbortOptions {
    if (request.signal == null) {
      return {}
    }

    return { signal: AbortSignal.any([request.signal, AbortSignal.timeout(this.init.config().requestTimeout)]) }
  }
}

/** A container as progress names it: its name, or its image when it has none. */
function nameOf (container: ContainerConfig): string {
  return container.name === '' || container.name == null ? container.image : container.name
}

/** `1 trader`, `3 traders`. */
function plural (n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** Integer CPUs and memory, a known CPU class. */
function validResources (r: Resources | undefined, index: number): Resources {
  const ok = r != null &&
    Number.isSafeInteger(r.cpus) && r.cpus >= 0 &&
    Number.isSafeInteger(r.memory) && r.memory >= 0 &&
    Number.isInteger(r.cpuClass) && r.cpuClass >= 0 && r.cpuClass < CPU_CLASS_NAMES.length

  if (!ok) {
    throw new InvalidContainerRequestError(`containers[${index}].resources must give whole CPUs and MB (0 or more) and a CPU class of ${CPU_CLASS_NAMES.join(' or ')}`)
  }

  return { cpuClass: r.cpuClass, cpus: r.cpus, memory: r.memory }
}

/** A supplier's answer to a launch that the buyer cannot record: the launch is cancelled. */
class InvalidLaunchAnswerError extends Error {
  static override name = 'InvalidLaunchAnswerError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidLaunchAnswerError'
  }
}

/**
 * Why a launch's statuses cannot be recorded, or undefined when they can: one per container,
 * each naming the supplier launched at (a status naming another peer would send the user's stop
 * there) and a container id of its own.
 */
function invalidAnswer (statuses: ContainerStatus[], containers: ContainerConfig[], supplier: string): string | undefined {
  if (!Array.isArray(statuses) || statuses.length !== containers.length) {
    return `the supplier answered ${Array.isArray(statuses) ? statuses.length : 'no'} statuses for ${containers.length} containers`
  }

  const ids = new Set<string>()

  for (const status of statuses) {
    if (status?.supplier?.peerId !== supplier) {
      return `the supplier answered a status naming another supplier, ${String(status?.supplier?.peerId)}`
    }

    if (typeof status.containerId !== 'string' || status.containerId === '' || ids.has(status.containerId)) {
      return 'the supplier answered an empty or repeated container id'
    }

    ids.add(status.containerId)
  }

  return undefined
}

/**
 * The mark a failed launch earns its supplier, and whether at once. An answer with a status other
 * than OK may be the request's doing: it is marked only if another supplier then takes the
 * containers (UNAVAILABLE and INTERNAL_ERROR as `failed`, the others as `refused`). An answer that
 * does not decode (the request was checked to encode) or cannot be recorded is `failed` at once,
 * and no answer at all `unreachable`.
 */
function markOf (err: any): { kind: MarkKind, now: boolean } {
  switch (err?.name) {
    case 'RemoteRequestError':
      return { kind: err.status === 'UNAVAILABLE' || err.status === 'INTERNAL_ERROR' ? 'failed' : 'refused', now: false }
    case 'MalformedMessageError':
    case InvalidLaunchAnswerError.name: return { kind: 'failed', now: true }
    default: return { kind: 'unreachable', now: true }
  }
}

/** The best-ranked offer of each supplier: its other offers show the same free resources. */
function bestPerSupplier (ranked: RankedOffer[]): RankedOffer[] {
  const seen = new Set<string>()

  return ranked.filter(offer => {
    const first = !seen.has(offer.supplier.peerId)
    seen.add(offer.supplier.peerId)
    return first
  })
}
