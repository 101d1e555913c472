/**
 * The resource map: which resource combination each point of the hashed key space stands for
 * (`docs/architecture.md`).
 *
 * A point is `sha256(key)`, the position kad-dht gives a key. The partition tree of the
 * configuration (CPU class → CPU cores → memory, each level with percentages) is quantized onto a
 * grid of 2^16 cells, a point's cell being its first 16 bits (big-endian). As in the original,
 * each level is cut in configuration order: a child gets ⌊percentage × parent cells / 100⌋ cells
 * and the last child takes what remains. Each leaf, a (class, cores, memory) combination, becomes
 * a slice: a contiguous run of cells, slices ordered lexicographically by (class, cores, memory)
 * along the grid. Every cell belongs to exactly one slice. A slice is a union of aligned blocks
 * (`blocksOf`), which is what Kademlia's XOR closeness needs: the peer closest to a point in a
 * block lies in that block whenever the block holds a peer.
 *
 * The selection functions are the original's: they compare partition values, never ranges.
 */

import { createHash, hash, randomBytes } from 'node:crypto'
import { GRID_BITS, GRID_CELLS } from '../constants.js'
import { InvalidConfigurationError } from '../errors.js'
import type { Resources } from '../types.js'
import type { PartitionTree } from './partition-tree.js'

/** A leaf of the partition tree and the run of grid cells it owns. */
export interface Slice {
  /** position in leaf order (class, cores, memory) */
  index: number
  resources: Resources
  /** first cell of the run */
  firstCell: number
  /** cell after the last cell of the run (exclusive) */
  endCell: number
}

/** An aligned block: all points whose first `bits` bits equal `prefix` (0 ≤ bits ≤ 16). */
export interface Block {
  prefix: number
  bits: number
}

/** Bytes of a key and of a point. */
const POINT_BYTES = 32

/**
 * Draws per `randomKeyIn` before giving up. A one-cell slice needs 65 536 draws on average; failing
 * 2^26 draws in a row happens with probability e^-1024, so reaching the cap means `random` is broken.
 */
const MAX_DRAWS = 2 ** 26
/** Keys kept per slice and random source that landed in that slice while another was drawn for. */
export const SPARE_KEYS_PER_SLICE = 64

/** Key path of the partition tree inside the configuration, used to name offending entries. */
const TREE_KEY = 'network.resources'

/** The point of a key in the hashed key space: `sha256(key)`. */
export function pointOf (key: Uint8Array): Uint8Array {
  // the one-shot hash: half again as fast as a Hash object, and `randomKeyIn` makes dozens a key
  return new Uint8Array(hash('sha256', key, 'buffer'))
}

/** Peers a network-size estimate looks at: Kademlia's k. */
export const SIZE_ESTIMATE_PEERS = 20

/**
 * The number of peers of a network, estimated from one peer's point and the point of its k-th
 * closest other peer (k = `SIZE_ESTIMATE_PEERS`): points are uniform, so the XOR distance to the
 * k-th closest of n others is about k / (n + 1) of the key space. Without a k-th (`kth`
 * undefined) the peer knows fewer than k others, `known` of them, and the network is those and
 * itself. The estimate of one peer is off by about 1 / √k (22 %).
 */
export function estimateNetworkSize (self: Uint8Array, kth: Uint8Array | undefined, known: number): number {
  if (kth == null) {
    return known + 1
  }

  // the first 48 bits of the distance, as a share of the space
  let distance = 0

  for (let i = 0; i < 6; i++) {
    distance = distance * 256 + (self[i] ^ kth[i])
  }

  const share = (distance + 1) / 2 ** 48
  return Math.max(known + 1, Math.round(SIZE_ESTIMATE_PEERS / share))
}

/** True when `a` covers `b`: CPU class, CPUs and memory of `a` are each at least those of `b`. */
export function contains (a: Resources, b: Resources): boolean {
  return a.cpuClass >= b.cpuClass && a.cpus >= b.cpus && a.memory >= b.memory
}

/** The grid cell of a point: its first 16 bits, big-endian. */
function cellOf (point: Uint8Array): number {
  return (point[0] << 8) | point[1]
}

/**
 * Cut `[first, end)` into one run per percentage, in order: ⌊pct × size / 100⌋ cells each, the
 * last run taking the rest (the original's `CreatePartitions`, in cells).
 */
function cut (first: number, end: number, percentages: number[]): Array<[number, number]> {
  const size = end - first
  let start = first

  return percentages.map((percentage, i) => {
    const cells = i === percentages.length - 1 ? end - start : Math.floor(percentage * size / 100)
    const run: [number, number] = [start, start + cells]
    start += cells
    return run
  })
}

/** The items of one level of the tree; an empty level is an error. */
function level<T> (items: T[], key: string): T[] {
  if (!Array.isArray(items) || items.length === 0) {
    throw new InvalidConfigurationError(key, 'must list at least one partition')
  }

  return items
}

/** The partition tree quantized onto the grid, with the original's partition-selection functions. */
export class ResourceMap {
  /** every slice, in leaf order (which is also cell order) */
  readonly slices: readonly Slice[]
  /** cell → index of the slice that owns it */
  private readonly cellToSlice: Uint16Array
  /** slice index → its anchors computed so far (`anchorKey`) */
  private readonly anchors: Uint8Array[][] = []
  /** random source → slice index → keys drawn for another target that landed in that slice */
  private readonly spareKeys = new WeakMap<(bytes: number) => Uint8Array, Uint8Array[][]>()

  /**
   * @throws InvalidConfigurationError naming the entry (e.g.
   * `network.resources.cpuClasses[0].cpuCores[1].memory[2]`) when a level is empty or a leaf gets
   * no cell of the grid. The other checks of the tree (percentages, values) are `validateConfig`'s.
   */
  constructor (tree: PartitionTree) {
    const slices: Slice[] = []
    const classes = level(tree.cpuClasses, `${TREE_KEY}.cpuClasses`)
    const classRuns = cut(0, GRID_CELLS, classes.map(c => c.percentage))

    classes.forEach((cpuClass, i) => {
      const classKey = `${TREE_KEY}.cpuClasses[${i}]`
      const cores = level(cpuClass.cpuCores, `${classKey}.cpuCores`)
      const coreRuns = cut(...classRuns[i], cores.map(c => c.percentage))

      cores.forEach((core, j) => {
        const coreKey = `${classKey}.cpuCores[${j}]`
        const memory = level(core.memory, `${coreKey}.memory`)
        const memoryRuns = cut(...coreRuns[j], memory.map(m => m.percentage))

        memory.forEach((leaf, k) => {
          const [firstCell, endCell] = memoryRuns[k]

          // written so that NaN fails too
          if (!(endCell - firstCell >= 1)) {
            const share = cpuClass.percentage * core.percentage * leaf.percentage / 10_000
            throw new InvalidConfigurationError(`${coreKey}.memory[${k}]`,
              `gets no cell of the ${GRID_CELLS}-cell grid: its share of the key space (${Number(share.toPrecision(3))} %) is ` +
              `below one cell (${Number((100 / GRID_CELLS).toPrecision(3))} %); raise its percentage or a parent's`)
          }

          slices.push(Object.freeze({
            index: slices.length,
            resources: Object.freeze({ cpuClass: cpuClass.value, cpus: core.value, memory: leaf.value }),
            firstCell,
            endCell
          }))
        })
      })
    })

    this.slices = Object.freeze(slices)
    this.cellToSlice = new Uint16Array(GRID_CELLS)

    for (const slice of slices) {
      this.cellToSlice.fill(slice.index, slice.firstCell, slice.endCell)
    }
  }

  /** The slice a point (32 bytes) falls in. */
  sliceOf (point: Uint8Array): Slice {
    if (point.length !== POINT_BYTES) {
      throw new RangeError(`A point has ${POINT_BYTES} bytes, not ${point.length}`)
    }

    return this.slices[this.cellToSlice[cellOf(point)]]
  }

  /** The slice a key's point (`sha256(key)`) falls in. */
  sliceOfKey (key: Uint8Array): Slice {
    return this.sliceOf(pointOf(key))
  }

  /**
   * The fewest aligned blocks whose union is exactly the slice's cells, largest first (blocks of
   * equal size in cell order).
   */
  blocksOf (slice: Slice): Block[] {
    const blocks: Block[] = []
    let cell = slice.firstCell

    while (cell < slice.endCell) {
      // the largest power of two that `cell` is aligned to and that fits before the end
      let size = cell === 0 ? GRID_CELLS : cell & -cell

      while (size > slice.endCell - cell) {
        size /= 2
      }

      const sizeBits = Math.log2(size)
      blocks.push({ prefix: cell >> sizeBits, bits: GRID_BITS - sizeBits })
      cell += size
    }

    return blocks.sort((a, b) => a.bits - b.bits)
  }

  /**
   * A random key whose point lies in the target (a slice or an aligned block of at most 16 bits):
   * 32 random bytes, drawn again until `sha256` of them lands in the target. A draw that lands in
   * another slice is not wasted: the key is kept for that slice (up to `SPARE_KEYS_PER_SLICE` per
   * slice, apart for each random source), and the next key asked of it is that one. A target
   * holding a fraction f of the space costs 1/f hashes on its own, and about one hash a key when
   * the keys asked for spread over the slices as the draws land (as a simulated network's do).
   * Every key is given out once; a kept key is as uniform in its slice as a fresh one.
   *
   * @param random - source of random bytes (default: `crypto.randomBytes`)
   */
  randomKeyIn (target: Slice | Block, random: (bytes: number) => Uint8Array = randomBytes): Uint8Array {
    let inTarget: (cell: number) => boolean
    let spares = this.spareKeys.get(random)

    if (spares == null) {
      spares = this.slices.map(() => [])
      this.spareKeys.set(random, spares)
    }

    if ('bits' in target) {
      const { prefix, bits } = target

      if (!Number.isInteger(bits) || bits < 0 || bits > GRID_BITS || !Number.isInteger(prefix) || prefix < 0 || prefix >= 2 ** bits) {
        throw new RangeError(`Not an aligned block of at most ${GRID_BITS} bits: prefix ${prefix}, bits ${bits}`)
      }

      inTarget = cell => cell >> (GRID_BITS - bits) === prefix
    } else {
      // a slice of this map (not a look-alike): its kept keys are in it
      const kept = this.slices[target.index] === target ? spares[target.index].pop() : undefined

      if (kept != null) {
        return kept
      }

      inTarget = cell => cell >= target.firstCell && cell < target.endCell
    }

    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const key = random(POINT_BYTES)
      const cell = cellOf(hash('sha256', key, 'buffer'))

      if (inTarget(cell)) {
        return new Uint8Array(key)
      }

      const other = spares[this.cellToSlice[cell]]

      if (other.length < SPARE_KEYS_PER_SLICE) {
        other.push(new Uint8Array(key))
      }
    }

    throw new Error(`No key drawn in ${MAX_DRAWS} tries landed in the target: the random source is not random`)
  }

  /**
   * Anchor `i` of a slice: a fixed key whose point lies in the slice, the same on every peer
   * (the first of the sha256 digests of `caravela/anchor/<slice>/<i>/<n>`, n = 0, 1, …, whose own
   * point falls in the slice). Offers and searches of the slice gather at the traders nearest its
   * first few anchors. Computed once per map (1/f digests for a slice holding a fraction f).
   */
  anchorKey (slice: Slice, i: number): Uint8Array {
    if (this.slices[slice.index] !== slice || !Number.isSafeInteger(i) || i < 0) {
      throw new RangeError(`No anchor ${i} of slice ${slice.index} in this map`)
    }

    const anchors = this.anchors[slice.index] ??= []

    while (anchors.length <= i) {
      for (let n = 0; ; n++) {
        const key = new Uint8Array(hash('sha256', `caravela/anchor/${slice.index}/${anchors.length}/${n}`, 'buffer'))

        if (this.sliceOfKey(key) === slice) {
          anchors.push(key)
          break
        }
      }
    }

    return anchors[i]
  }

  /**
   * sha256 of a canonical encoding of the layout (grid size, and each slice's cells and
   * resources). Two maps are equal exactly when their digests are.
   */
  digest (): Uint8Array {
    const lines = this.slices.map(s => `${s.firstCell} ${s.endCell} ${s.resources.cpuClass} ${s.resources.cpus} ${s.resources.memory}`)
    const encoding = [`caravela-resource-map/1 grid-bits ${GRID_BITS}`, ...lines].join('\n')

    return new Uint8Array(createHash('sha256').update(encoding).digest())
  }

  /** The smallest partition that holds the request: first slice, in leaf order, with p ⊇ req. */
  fittestForSearch (req: Resources): Slice | undefined {
    return this.slices.find(s => contains(s.resources, req))
  }

  /** The largest partition that holds the request: last slice, in leaf order, with p ⊇ req. */
  highestForSearch (req: Resources): Slice | undefined {
    return this.slices.findLast(s => contains(s.resources, req))
  }

  /**
   * The largest partition a supplier with `available` free resources can fully honour: last slice,
   * in leaf order, with p ⊆ available. Undefined when the supplier is too small for any partition.
   */
  fittestForOffer (available: Resources): Slice | undefined {
    return this.slices.findLast(s => contains(available, s.resources))
  }

  /**
   * The original's next-higher search step: walk forward in leaf order from `current` (inclusive),
   * skip the first slice with p ⊇ req (normally `current` itself) and return the next one.
   * Undefined when the walk runs out.
   */
  nextHigherSearch (current: Slice, req: Resources): Slice | undefined {
    return this.secondMatch(current.index, 1, s => contains(s.resources, req))
  }

  /** Like `nextHigherSearch`, walking backward: the next lower slice with p ⊇ req. */
  nextLowerSearch (current: Slice, req: Resources): Slice | undefined {
    return this.secondMatch(current.index, -1, s => contains(s.resources, req))
  }

  /**
   * The original's next-lower offer step: walk backward in leaf order from `current` (inclusive),
   * skip the first slice with p ⊆ available and return the next one. Undefined when the walk runs out.
   */
  nextLowerOffer (current: Slice, available: Resources): Slice | undefined {
    return this.secondMatch(current.index, -1, s => contains(available, s.resources))
  }

  /**
   * Every partition a supplier with `available` free resources can honour (p ⊆ available), in
   * descending leaf order: the multiple-offer strategies make one offer per listed partition.
   *
   * The original compares with f = fittestForOffer(available) instead of with `available`. Since
   * f ⊆ available, that lists a subset, and it drops partitions the supplier can honour whenever a
   * lower leaf has more of one resource than f: with leaves (0, 4, 1024) and (1, 1, 1024) a
   * (1, 4, 1024) supplier has f = (1, 1, 1024) and would never offer in (0, 4, 1024), so buyers of
   * 4 low-class CPUs would not find it. That contradicts the strategy ("one offer per partition the
   * node can honour"), so this compares with `available`. On the original's test tree both give
   * the same lists.
   */
  lowerPartitionsForOffer (available: Resources): Slice[] {
    return this.slices.filter(s => contains(available, s.resources)).reverse()
  }

  /**
   * True when a supplier with `free` resources can serve a request that buyers search in `slice`
   * (a request whose fittest search partition is `slice`). The largest request both `slice` and
   * `free` hold is their component-wise minimum; it is searched in `slice` exactly when no
   * earlier slice holds it, and when it is not, no smaller request is either. So a supplier with
   * (0, 3, 1500) free serves (0, 4, 2048), where requests for (0, 3, 1200) are searched, although
   * it cannot honour the whole partition.
   */
  serves (slice: Slice, free: Resources): boolean {
    const largest = {
      cpuClass: Math.min(slice.resources.cpuClass, free.cpuClass),
      cpus: Math.min(slice.resources.cpus, free.cpus),
      memory: Math.min(slice.resources.memory, free.memory)
    }

    return largest.cpus > 0 && largest.memory > 0 && this.fittestForSearch(largest) === slice
  }

  /**
   * Every slice where a supplier with `free` resources can serve requests (`serves`), in
   * descending leaf order: the partitions it honours (`lowerPartitionsForOffer`) and the larger
   * ones where requests it can hold are searched. Offering in all of them makes every supplier
   * able to take a request visible in the one slice the request is searched in.
   */
  servedPartitions (free: Resources): Slice[] {
    return this.slices.filter(s => this.serves(s, free)).reverse()
  }

  /**
   * The slice a request is searched in: the smallest partition that holds it
   * (`fittestForSearch`) or, for a request larger than every partition in some resource, the
   * largest slice it would serve as free resources (`servedPartitions(req)[0]`). Either way,
   * every supplier whose free resources hold the request serves that slice, so a multiple-offer
   * supplier able to take the request offers there (`offerSlices`). Undefined only for a
   * request without CPUs or memory.
   */
  searchSlice (req: Resources): Slice | undefined {
    if (!(req.cpus > 0 && req.memory > 0)) {
      return undefined
    }

    return this.fittestForSearch(req) ?? this.slices.findLast(s => this.serves(s, req))
  }

  /**
   * The slices a buyer tries for a request, in order, when a slice has no trader (a small network
   * leaves some slices without any peer): the search slice, then the larger slices that hold
   * the request, in leaf order, then every other slice, from the largest down. A buyer searches
   * the first of them that has a trader, and a supplier offers where that is (`offerSlices`).
   */
  searchOrder (req: Resources): Slice[] {
    const first = this.searchSlice(req)

    if (first == null) {
      return []
    }

    const larger = this.slices.filter(s => s.index > first.index && contains(s.resources, req))
    const listed = new Set([first, ...larger])
    return [first, ...larger, ...this.slices.filter(s => !listed.has(s)).reverse()]
  }

  /**
   * The slices where a multiple-offer supplier with `free` resources offers, when the slices for
   * which `isEmpty` is true have no trader: for every request the supplier could take, the first
   * slice of its `searchOrder` that has one, which is where a buyer searches it. With every slice
   * traded this is `servedPartitions(free)`. In descending leaf order.
   *
   * Whether a slice holds a request depends, in each resource, only on which partition values
   * are at least the request's, so one request per combination of such ranks stands for all:
   * in each resource, every partition value below the supplier's and the supplier's own.
   */
  offerSlices (free: Resources, isEmpty: (slice: Slice) => boolean): Slice[] {
    const empty = this.slices.filter(isEmpty)

    if (empty.length === 0) {
      return this.servedPartitions(free)
    }

    if (free.cpus <= 0 || free.memory <= 0) {
      return []
    }

    const emptySet = new Set(empty)
    const targets = new Set<Slice>()
    const ranks = (values: number[], own: number, least: number): number[] =>
      [...new Set([...values.filter(v => v >= least && v < own), own])]
    const classes = ranks(this.slices.map(s => s.resources.cpuClass), free.cpuClass, 0)
    const cpus = ranks(this.slices.map(s => s.resources.cpus), free.cpus, 1)
    const memory = ranks(this.slices.map(s => s.resources.memory), free.memory, 1)

    for (const cpuClass of classes) {
      for (const c of cpus) {
        for (const m of memory) {
          const target = this.searchOrder({ cpuClass, cpus: c, memory: m }).find(s => !emptySet.has(s))

          if (target != null) {
            targets.add(target)
          }
        }
      }
    }

    return [...targets].sort((a, b) => b.index - a.index)
  }

  /** True when both requests have the same fittest search partition (and there is one). */
  sameSearchPartition (a: Resources, b: Resources): boolean {
    const slice = this.fittestForSearch(a)
    return slice !== undefined && slice === this.fittestForSearch(b)
  }

  /** The first class's first cores' first memory partition: the resources of the first slice. */
  lowestResources (): Resources {
    return { ...this.slices[0].resources }
  }

  /** Walk from `start` in `step` direction; skip the first slice matching `predicate`, return the second. */
  private secondMatch (start: number, step: 1 | -1, predicate: (slice: Slice) => boolean): Slice | undefined {
    let skipped = false

    for (let i = start; i >= 0 && i < this.slices.length; i += step) {
      if (predicate(this.slices[i])) {
        if (skipped) {
          return this.slices[i]
        }

        skipped = true
      }
    }

    return undefined
  }
}
