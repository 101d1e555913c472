/**
 * The supplier's offering strategies (single and multiple offers) as pure plans: given the
 * offers a supplier holds and its free resources, which offers to withdraw, which to update and
 * in which slices to create new ones. The supplier carries the plans out. The simulator's
 * baselines plan too: `random` makes no offers at all, `swarm` keeps one registration at the
 * master, always up to date.
 */

import { contains } from '../resources/resource-map.js'
import { sameResources } from './resources.js'
import type { DiscoveryBackend } from '../config/types.js'
import type { ResourceMap, Slice } from '../resources/resource-map.js'
import type { NodeRef, Resources } from '../types.js'

/** The strategies that offer through traders of the resource map's slices. */
export type OfferingStrategy = Extract<DiscoveryBackend, 'single-offer' | 'single-offer-full-walk' | 'multi-offer' | 'multi-offer-updates'>

/** Every offering strategy. */
export const OFFERING_STRATEGIES: readonly OfferingStrategy[] = ['single-offer', 'single-offer-full-walk', 'multi-offer', 'multi-offer-updates']

/** The strategies whose suppliers make one offer each (the buyers of the two differ in how far they walk). */
export function isSingleOffer (backend: DiscoveryBackend): boolean {
  return backend === 'single-offer' || backend === 'single-offer-full-walk'
}

/** An offer the supplier made, as the supplier keeps it. */
export interface SupplierOffer {
  /** supplier-local id, unique and increasing */
  id: number
  /** the trader keeping the offer (its key is not kept: `slice` is what matters of it) */
  trader: NodeRef
  /** the trader's slice */
  slice: Slice
  /** free resources the trader was last told */
  free: Resources
  /** last refresh from the trader (or successful update), clock time */
  lastRefreshed: number
  /** refresh checks in a row that found no recent refresh */
  missed: number
}

/** Where to create an offer. */
export interface OfferTarget {
  slice: Slice
  /**
   * When no trader of `slice` takes the offer, walk down to the next lower slices the supplier
   * can honour, as the original does, down to (excluding) `replaces`' slice when there is one.
   */
  fallback: boolean
  /** an offer to withdraw once the new one is made, and to update instead when it cannot be */
  replaces?: SupplierOffer
}

/** What a strategy does with a supplier's offers. */
export interface OfferPlan {
  /** offers to withdraw */
  remove: SupplierOffer[]
  /** offers to keep, telling their traders the current free resources */
  update: SupplierOffer[]
  /** offers to create */
  create: OfferTarget[]
  /** swarm: register with the master, by one offer holding the free and used resources */
  register?: true
}

/** No slice known to be without a trader. */
const NONE_EMPTY = (): boolean => false

/**
 * What the strategy does with `offers` when the supplier has `available` free resources and
 * knows the slices for which `isEmpty` is true to have no trader. A supplier that can serve no
 * request any more (fully used, or too small: single offer honours no slice, multiple offers
 * serve none) withdraws every offer (the original left them, and buyers kept finding a full supplier).
 */
export function planOffers (strategy: DiscoveryBackend, map: ResourceMap, offers: SupplierOffer[], available: Resources, isEmpty: (slice: Slice) => boolean = NONE_EMPTY): OfferPlan {
  if (strategy === 'random') {
    // buyers ask peers directly; anything left from another backend goes
    return { remove: [...offers], update: [], create: [] }
  }

  if (strategy === 'swarm') {
    return planSwarm(offers, available)
  }

  if (!isSingleOffer(strategy)) {
    return planMultiOffer(map, offers, available, strategy === 'multi-offer-updates', isEmpty)
  }

  const target = available.cpus > 0 && available.memory > 0 ? map.fittestForOffer(available) : undefined

  if (target == null) {
    return { remove: [...offers], update: [], create: [] }
  }

  return planSingleOffer(offers, available, target)
}

/**
 * Single offer: one offer, in the largest slice the supplier can honour. An offer in that
 * slice is updated when the free resources changed. An offer in a lower slice the supplier still
 * honours (it grew, or an earlier creation fell back) stays until one is made higher up. An offer
 * in a slice it no longer honours is withdrawn and made again.
 */
function planSingleOffer (offers: SupplierOffer[], available: Resources, target: Slice): OfferPlan {
  const [current, ...extra] = offers
  const plan: OfferPlan = { remove: extra, update: [], create: [] }

  if (current == null) {
    plan.create.push({ slice: target, fallback: true })
  } else if (current.slice.index === target.index) {
    if (!sameResources(current.free, available)) {
      plan.update.push(current)
    }
  } else if (contains(available, current.slice.resources)) {
    plan.create.push({ slice: target, fallback: true, replaces: current })
  } else {
    plan.remove.push(current)
    plan.create.push({ slice: target, fallback: true })
  }

  return plan
}

/**
 * Multiple offers: one offer in every slice where the supplier can serve requests
 * (`ResourceMap.servedPartitions`): the slices it honours, as in the original, and the larger ones
 * where requests it can hold are searched, so that a buyer searching only the smallest slice that
 * holds its request finds every supplier able to serve it (the original missed a supplier with
 * (0, 3, 1500) free for a request of (0, 2, 1200), searched in (0, 4, 2048)). A slice without a
 * trader is replaced by the slices where buyers search its requests instead
 * (`ResourceMap.offerSlices`).
 * Offers in slices it no longer serves, and second offers in one slice, are withdrawn. With
 * `updates`, kept offers are updated when the free resources changed; without, their traders keep
 * the figures the offers were made with, as the original's `chord-multiple-offer`. Creation does
 * not fall back to lower slices: those get offers of their own.
 */
function planMultiOffer (map: ResourceMap, offers: SupplierOffer[], available: Resources, updates: boolean, isEmpty: (slice: Slice) => boolean): OfferPlan {
  const targets = new Map(map.offerSlices(available, isEmpty).map(slice => [slice.index, slice]))
  const plan: OfferPlan = { remove: [], update: [], create: [] }

  for (const offer of offers) {
    if (!targets.delete(offer.slice.index)) {
      plan.remove.push(offer)
    } else if (updates && !sameResources(offer.free, available)) {
      plan.update.push(offer)
    }
  }

  for (const slice of targets.values()) {
    plan.create.push({ slice, fallback: false })
  }

  return plan
}

/**
 * Swarm baseline: one registration at the master, made once and then updated at every change of
 * the free resources, also when the worker is full (the master keeps it and does not pick it).
 */
function planSwarm (offers: SupplierOffer[], available: Resources): OfferPlan {
  const [current, ...extra] = offers

  if (current == null) {
    return { remove: extra, update: [], create: [], register: true }
  }

  return { remove: extra, update: sameResources(current.free, available) ? [] : [current], create: [] }
}
