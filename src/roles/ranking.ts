/**
 * Ranking of offers, binpack or spread as in the original, on the real load of each supplier:
 * traders return the used resources and running containers with each offer, so binpack and spread
 * compare how full each supplier would be after the placement (the original's traders returned
 * neither, so it ranked on free resources alone).
 */

import { contains } from '../resources/resource-map.js'
import type { SchedulingPolicy } from '../config/types.js'
import type { AvailableOffer, Offer, Resources } from '../types.js'

/** An offer with its score: the load of its supplier after the placement, 0–200. */
export interface RankedOffer extends AvailableOffer {
  weight: number
}

/**
 * Offers a trader (or a swarm master) answers a buyer that says what it needs: the best ones for
 * the scheduling policy. The original answered every offer it kept; a few are enough for the
 * buyer to rank and to survive races, and keep the answer, and its cost, the same however many
 * offers the trader keeps (a trader at an anchor keeps hundreds).
 */
export const ANSWER_OFFERS = 16

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

/**
 * The best `k` of `items` for `req`, best first, ordered as `rankOffers` orders offers (the
 * remaining ties in iteration order, not at random): only offers with CPUs and memory free whose
 * free resources contain `req` are picked. One pass that keeps the best `k` seen, a comparison
 * with the worst of them for most items: a swarm master with 10^5 workers answers every request
 * without sorting, copying or allocating for all of them.
 */
export function topOffers<T> (items: Iterable<T>, offerOf: (item: T) => Offer, req: Resources, policy: SchedulingPolicy, k: number): T[] {
  const sign = policy === 'binpack' ? -1 : 1
  const best: Array<{ item: T, weight: number, running: number }> = []
  const better = (weight: number, running: number, than: { weight: number, running: number }): boolean =>
    (sign * (weight - than.weight) || sign * (running - than.running)) < 0

  if (k <= 0) {
    return []
  }

  for (const item of items) {
    const offer = offerOf(item)
    const free = offer.freeResources

    if (free.cpus <= 0 || free.memory <= 0 || !contains(free, req)) {
      continue
    }

    const weight = weightOf(offer, req)
    const running = offer.containersRunning

    if (Number.isNaN(weight) || (best.length === k && !better(weight, running, best[k - 1]))) {
      continue
    }

    // insert in order, dropping the worst when all k places are taken
    let i = Math.min(best.length, k - 1)

    for (; i > 0 && better(weight, running, best[i - 1]); i--) {
      best[i] = best[i - 1]
    }

    best[i] = { item, weight, running }
  }

  return best.map(({ item }) => item)
}

/** cpuScore + memScore of the supplier after placing `req`; NaN when the offer's totals are empty. */
export function weightOf (offer: Pick<Offer, 'usedResources' | 'freeResources'>, req: Resources): number {
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
