/**
 * Ranking of offers (`caravela-original.md` §7.5) on the real load of each supplier: traders
 * return the used resources and running containers with each offer (§18-14), so binpack and
 * spread compare how full each supplier would be after the placement.
 */

import { contains } from '../resources/resource-map.js'
import type { SchedulingPolicy } from '../config/types.js'
import type { AvailableOffer, Resources } from '../types.js'

/** An offer with its score: the load of its supplier after the placement, 0–200. */
export interface RankedOffer extends AvailableOffer {
  weight: number
}

/** Percent of a dimension's total the supplier would use after the placement. */
const FULL = 100

/**
 * The offers that can hold `req`, best first.
 *
 * An offer is kept when its free resources contain the request. Its weight is cpuScore + memScore,
 * each the percentage of the supplier's total (used + free) that would be in use after the
 * placement (100 for a dimension the request leaves at 0). `binpack` puts the fullest supplier
 * first (fewer suppliers carry the load), ties broken by more running containers; `spread` puts
 * the emptiest first, ties broken by fewer running containers. Remaining ties are broken at
 * random, so that buyers holding the same answer do not all race for the same offer.
 *
 * @param random - uniform in [0, 1) (default `Math.random`)
 */
export function rankOffers (offers: AvailableOffer[], req: Resources, policy: SchedulingPolicy, random: () => number = Math.random): RankedOffer[] {
  const sign = policy === 'binpack' ? -1 : 1
  const ranked = offers
    .filter(offer => contains(offer.freeResources, req))
    .map(offer => ({ offer: { ...offer, weight: weightOf(offer, req) }, tie: random() }))
    .filter(({ offer }) => Number.isFinite(offer.weight))

  ranked.sort((a, b) =>
    sign * (a.offer.weight - b.offer.weight) ||
    sign * (a.offer.containersRunning - b.offer.containersRunning) ||
    a.tie - b.tie)

  return ranked.map(({ offer }) => offer)
}

/** cpuScore + memScore of the supplier after placing `req`; NaN when the offer's totals are empty. */
export function weightOf (offer: AvailableOffer, req: Resources): number {
  return score(offer.usedResources.cpus, offer.freeResources.cpus, req.cpus) +
    score(offer.usedResources.memory, offer.freeResources.memory, req.memory)
}

function score (used: number, free: number, requested: number): number {
  if (requested === 0) {
    return FULL
  }

  const total = used + free
  return total > 0 ? (used + requested) * FULL / total : NaN
}
