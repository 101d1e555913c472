/**
 * Where in a slice offers are made and searched for.
 *
 * Every peer of a slice is a trader, and a supplier could leave its offer with any of them: the
 * one nearest a random key of the slice. A buyer then sees only the offers of the few traders it
 * asks, and misses the suppliers that can take its request whenever they are few, which they
 * are for large requests or in a busy network. So offers gather at anchors: each slice has a
 * few fixed keys, the same on every peer (`ResourceMap.anchorKey`), and an offer, like a search,
 * goes to the traders nearest one of them, drawn at random. A trader at an anchor holds the
 * offers of many suppliers, and a buyer that asks it chooses among them, much as a central
 * scheduler would, while the load is spread over one anchor per `tradersPerAnchor` traders of
 * the slice (a power of two, at least one; the slice's traders are estimated from the network's
 * size and its share of the key space). Both sides must agree on the trader of an anchor: its
 * lookups ask for the closest peers, not the first ones found.
 *
 * With `tradersPerAnchor` 0, keys are drawn at random in the slice, every trader alike.
 */

import { GRID_CELLS } from '../constants.js'
import { uniform } from './random.js'
import type { NetworkConfig } from '../config/types.js'
import type { ResourceMap, Slice } from '../resources/resource-map.js'
import type { Overlay } from '../types.js'
import type { RandomSource } from './random.js'

/** The key to look up for an offer or a search in `slice`, and whether it is an anchor. */
export interface PlacementKey {
  key: Uint8Array
  /** look up the closest peers of the key (an anchor), not the first ones found */
  closest: boolean
}

/** Anchors of a slice holding `share` of the key space, in a network of `networkSize` peers. */
export function anchorCount (share: number, networkSize: number, tradersPerAnchor: number): number {
  const anchors = share * networkSize / tradersPerAnchor
  return anchors < 2 ? 1 : 2 ** Math.floor(Math.log2(anchors))
}

/** A key to offer or search at in `slice`: one of its anchors, or a random key of it. */
export function placementKey (map: ResourceMap, slice: Slice, config: Pick<NetworkConfig, 'tradersPerAnchor'>, overlay: Pick<Overlay, 'networkSize'>, random: RandomSource): PlacementKey {
  if (config.tradersPerAnchor <= 0) {
    return { key: map.randomKeyIn(slice, random), closest: false }
  }

  const share = (slice.endCell - slice.firstCell) / GRID_CELLS
  const anchors = anchorCount(share, overlay.networkSize(), config.tradersPerAnchor)
  return { key: map.anchorKey(slice, anchors === 1 ? 0 : Math.floor(uniform(random) * anchors)), closest: true }
}
