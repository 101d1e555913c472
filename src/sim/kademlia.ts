/**
 * A simulated Kademlia overlay for 10^4 to 2^20 peers: one global, sorted view of every peer's
 * point, which answers XOR-closest and same-slice-neighbour queries exactly, and prices lookups
 * with a model of the iterative walk the Kademlia overlay would run.
 *
 * Peers sharing a prefix form a contiguous run of the sorted points, so every Kademlia subtree is a
 * range found by binary search: the XOR-closest peers are found by descending the implicit binary
 * trie (the half matching the target's bit first), and a peer's routing table is a list of such
 * ranges that need not be stored. Everything lives in flat typed arrays (32 bytes of point and
 * about 13 bytes of index per peer), so a million peers take some 45 MB and no per-peer object.
 */

/** Bytes of a point (sha256). */
const POINT_BYTES = 32
/** Bits of a point. */
const POINT_BITS = POINT_BYTES * 8
/** Cells of the resource map's grid: a point's cell is its first 16 bits. */
const GRID_CELLS = 1 << 16
/** Ranges at most this long are sorted by distance instead of split further. */
const LEAF_SIZE = 16
/** A walk gives up after this many hops (a bound that a working walk never reaches). */
export const MAX_WALK_HOPS = 64
/** Kademlia's bucket size (kad-dht's default). */
export const DEFAULT_K_BUCKET = 20
/** Kademlia's parallelism, `WALK_ALPHA` of the Kademlia overlay. */
export const DEFAULT_ALPHA = 3

/** Options of a simulated Kademlia view. */
export interface SimKademliaInit {
  /** Kademlia's bucket size k @default 20 */
  kBucket?: number
  /** Kademlia's parallelism α: FIND_NODE requests in flight per hop @default 3 */
  alpha?: number
  /** uniform in [0, 1): every random draw of the walk model comes from it (seeded by the simulator) */
  random: () => number
  /**
   * Whether a walk ends with a FIND_NODE to the target peer it learnt, as the Kademlia overlay's
   * walk does (it stops when a slice member *answers*, which proves it alive, and counts that
   * request and its hop). Off, a walk stops in the hop in which a target is learnt. @default true
   */
  confirmTarget?: boolean
}

/** A run of grid cells `[firstCell, endCell)` (a `Slice` of the resource map is one). */
export interface CellRange {
  firstCell: number
  endCell: number
}

/** What one simulated lookup walk cost. */
export interface SimWalk {
  /** 0 when the querier itself or its own (virtual) routing table already held a target peer */
  hops: number
  /** FIND_NODE requests sent */
  rpcs: number
  /** indices of the peers that received those requests, in order (for per-peer load accounting) */
  queried: number[]
  /**
   * the target peer the lookup reached (the querier itself, the closest target of its routing
   * table, or the closest target the walk learnt), or -1 when the walk converged without one
   */
  found: number
}

/** Sorted positions `[lo, hi)`. */
interface Run {
  lo: number
  hi: number
}

/** Entries of a virtual routing table, closest bucket first (see `visitTable`). */
interface RoutingTable {
  /** sorted positions; only the first `length` count */
  entries: number[]
  /** entries of the buckets closer than entry i's */
  closer: number[]
  length: number
}

/**
 * The simulated Kademlia view of the simulator.
 *
 * **Walk model.** Routing tables are virtual: whenever a peer q's table is needed, each of its
 * buckets (the subtree of peers sharing exactly i leading bits with q, for each i) holds k peers
 * drawn uniformly from that subtree, or all of them when it holds at most k; q never holds itself.
 * Toward a point p, the bucket that matters is the subtree of peers sharing at least cpl(q, p) + 1
 * bits with p; a FIND_NODE answer is the k entries of q's table XOR-closest to p, never the asker,
 * as kad-dht's FIND_NODE handler answers: that bucket alone when it holds k, and its other buckets
 * in XOR order after it when it does not (near p, where subtrees are small). The querier answers
 * from its own whole table when it is a target itself or its table holds one (0 hops, as the
 * overlay answers from its routing table). Otherwise each hop sends FIND_NODE, all at once, to
 * the not-yet-asked ones among the α XOR-closest peers known (the overlay's walk keeps to the
 * closest max(count, α)), and the walk ends after a hop that taught it a target (plus one hop
 * asking that target, with `confirmTarget`), or when the α closest known have all been asked
 * (converged), or after 64 hops. Tables are drawn afresh at each use, only live peers are ever
 * drawn, and every draw comes from `init.random`, so a walk is a function of the seed.
 */
export class SimKademlia {
  /** number of peers, live or not */
  readonly size: number
  /** the points, sorted: point of sorted position s at bytes [32 s, 32 s + 32) */
  private readonly keys: Uint8Array
  /** sorted position → peer index */
  private readonly order: Int32Array
  /** peer index → sorted position */
  private readonly rank: Int32Array
  /** sorted position → 1 when live */
  private readonly live: Uint8Array
  /** Fenwick tree of `live` over sorted positions (1-based), for counting and skipping dead runs */
  private readonly fenwick: Int32Array
  /** highest power of two ≤ size, the first step of a Fenwick descent */
  private readonly fenwickTop: number
  /**
   * cell → first sorted position whose cell is at least it (65 537 entries, 256 kB): the first 16
   * levels of the trie without a binary search through the points, which is what a walk's descents
   * would otherwise spend their time on (cache misses in a 32 MB array)
   */
  private readonly cellStarts: Int32Array
  private dead = 0
  private readonly k: number
  private readonly alpha: number
  private readonly random: () => number
  private readonly confirmTarget: boolean
  /** scratch of `visitTable`, `drawBucket` and their buckets farther than the rest */
  private readonly table: RoutingTable = { entries: [], closer: [], length: 0 }
  private readonly bucket: number[] = []
  private readonly farther: number[] = []

  /**
   * `points`: 32-byte points (sha256 of the peer id multihash) of peers 0..n-1. They are copied
   * into one sorted array (counting sort on the cell, then a sort of each cell's run), so the
   * caller may drop them.
   *
   * @throws RangeError when a point is not 32 bytes or an option is not a positive integer
   */
  constructor (points: Uint8Array[], init: SimKademliaInit) {
    const n = points.length
    this.size = n
    this.k = positiveInteger(init.kBucket ?? DEFAULT_K_BUCKET, 'kBucket')
    this.alpha = positiveInteger(init.alpha ?? DEFAULT_ALPHA, 'alpha')
    this.random = init.random
    this.confirmTarget = init.confirmTarget ?? true

    if (typeof this.random !== 'function') {
      throw new RangeError('random must be a function')
    }

    const { order, cellStarts } = sortPoints(points)
    this.order = order
    this.cellStarts = cellStarts
    this.rank = new Int32Array(n)
    this.keys = new Uint8Array(n * POINT_BYTES)

    for (let pos = 0; pos < n; pos++) {
      const index = this.order[pos]
      this.rank[index] = pos
      this.keys.set(points[index], pos * POINT_BYTES)
    }

    this.live = new Uint8Array(n).fill(1)
    this.fenwick = new Int32Array(n + 1)

    for (let i = 1; i <= n; i++) {
      this.fenwick[i] += 1
      const parent = i + (i & -i)

      if (parent <= n) {
        this.fenwick[parent] += this.fenwick[i]
      }
    }

    this.fenwickTop = n === 0 ? 0 : 2 ** Math.floor(Math.log2(n))
  }

  /** Point of peer `index`: a view into the shared sorted array, not to be written to. */
  pointOf (index: number): Uint8Array {
    const at = this.positionOf(index) * POINT_BYTES
    return this.keys.subarray(at, at + POINT_BYTES)
  }

  /** Whether peer `index` is in the view (see `setLive`). */
  isLive (index: number): boolean {
    return this.live[this.positionOf(index)] === 1
  }

  /** Take a peer out of (false) or back into (true) the view: a killed peer is never returned and never queried. */
  setLive (index: number, live: boolean): void {
    const pos = this.positionOf(index)
    const value = live ? 1 : 0

    if (this.live[pos] === value) {
      return
    }

    this.live[pos] = value
    this.dead += live ? -1 : 1

    for (let i = pos + 1; i <= this.size; i += i & -i) {
      this.fenwick[i] += live ? 1 : -1
    }
  }

  /**
   * The `count` live peers XOR-closest to `point`, closest first (peer indices; peers with equal
   * points in index order). With `cells`, only peers whose cell (first 16 bits of the point,
   * big-endian) lies in [firstCell, endCell). Descends the trie of sorted points, the half matching
   * the point's bit first, skipping subtrees without live peers or outside `cells`: O(log² n).
   */
  closest (point: Uint8Array, count: number, cells?: CellRange): number[] {
    checkPoint(point)
    const out: number[] = []

    if (count <= 0 || this.size === 0) {
      return out
    }

    let firstCell = -1
    let endCell = -1

    if (cells != null) {
      checkCells(cells)

      if (cells.firstCell >= cells.endCell) {
        return out
      }

      // the whole grid needs no check
      if (cells.firstCell > 0 || cells.endCell < GRID_CELLS) {
        firstCell = cells.firstCell
        endCell = cells.endCell
      }
    }

    this.collect(point, count, firstCell, endCell, 0, this.size, 0, out)

    return out.map(pos => this.order[pos])
  }

  /**
   * Up to `count` live peers on each side of `point` in numeric key order among peers whose cell
   * is in `cells`, lower side first (the lower ones in ascending order, then the higher ones
   * ascending), excluding peers whose point equals `point`: the same-slice neighbours the overlay's
   * `neighbors()` gives.
   */
  neighbors (point: Uint8Array, count: number, cells: CellRange): number[] {
    checkPoint(point)
    checkCells(cells)

    if (count <= 0 || cells.firstCell >= cells.endCell) {
      return []
    }

    const lo = this.cellStarts[cells.firstCell]
    const hi = this.cellStarts[cells.endCell]
    const below = clamp(this.pointBound(point, false), lo, hi)
    const above = clamp(this.pointBound(point, true), lo, hi)
    const lower: number[] = []
    const higher: number[] = []

    for (let pos = this.prevLive(below - 1); pos >= lo && lower.length < count; pos = this.prevLive(pos - 1)) {
      lower.push(this.order[pos])
    }

    for (let pos = this.nextLive(above); pos < hi && higher.length < count; pos = this.nextLive(pos + 1)) {
      higher.push(this.order[pos])
    }

    return [...lower.reverse(), ...higher]
  }

  /**
   * Cost of the iterative Kademlia lookup `from` would run for `point`, stopping at the first
   * target peer: one for which `target(index)` holds or, faster, one whose cell lies in the run
   * `target` (the overlay stops at the first member of the target slice). See the class comment
   * for the model. Toward a run of cells, the buckets of the querier's own table that hold no
   * target and none of its closest entries are not drawn: the walks are those of the same model,
   * with fewer random draws, so not draw for draw those of the equivalent predicate.
   *
   * @throws RangeError when `from` is not a live peer
   */
  walk (from: number, point: Uint8Array, target: ((index: number) => boolean) | CellRange): SimWalk {
    checkPoint(point)
    const querier = this.positionOf(from)

    if (this.live[querier] !== 1) {
      throw new RangeError(`peer ${from} is not live: it cannot walk`)
    }

    let isTarget: (pos: number) => boolean
    // the sorted positions of the targets, when they are a run of them
    let targets: Run | undefined

    if (typeof target === 'function') {
      isTarget = pos => target(this.order[pos])
    } else {
      // the peers of a run of cells are a run of sorted positions: no peer's data is read
      checkCells(target)
      const lo = this.cellStarts[target.firstCell]
      const hi = target.firstCell < target.endCell ? this.cellStarts[target.endCell] : lo
      isTarget = pos => pos >= lo && pos < hi
      targets = { lo, hi }
    }

    if (isTarget(querier)) {
      return { hops: 0, rpcs: 0, queried: [], found: from }
    }

    // the α closest peers known, closest first (sorted positions): only they are ever asked, and
    // a peer that drops out of them never comes back, as the peers known only get closer
    const top: number[] = []
    const width = this.alpha
    const learn = (pos: number): void => {
      if (top.length === width && this.compareDistance(pos, top[width - 1], point) >= 0) {
        return
      }

      if (top.includes(pos)) {
        return
      }

      let at = top.length

      while (at > 0 && this.compareDistance(pos, top[at - 1], point) < 0) {
        at--
      }

      top.splice(at, 0, pos)

      if (top.length > width) {
        top.pop()
      }
    }

    // the querier's own routing table: a target there is answered locally
    const table = this.visitTable(querier, point, Infinity, -1, targets == null ? undefined : { ...targets, after: width })
    let local = -1

    for (let i = 0; i < table.length; i++) {
      const pos = table.entries[i]

      if (isTarget(pos) && (local < 0 || this.compareDistance(pos, local, point) < 0)) {
        local = pos
      }

      // entries behind `width` closer ones cannot be among the closest known
      if (table.closer[i] < width) {
        learn(pos)
      }
    }

    if (local >= 0) {
      return { hops: 0, rpcs: 0, queried: [], found: this.order[local] }
    }

    const asked: number[] = []
    const queried: number[] = []
    let hops = 0
    let rpcs = 0
    let found = -1

    while (hops < MAX_WALK_HOPS) {
      const next = top.filter(pos => !asked.includes(pos))

      if (next.length === 0) {
        break
      }

      hops++

      for (const pos of next) {
        asked.push(pos)
        rpcs++
        queried.push(this.order[pos])
        const answer = this.visitTable(pos, point, this.k, querier)

        for (let i = 0; i < answer.length; i++) {
          const entry = answer.entries[i]

          if (isTarget(entry) && (found < 0 || this.compareDistance(entry, found, point) < 0)) {
            found = entry
          }

          learn(entry)
        }
      }

      if (found >= 0) {
        if (this.confirmTarget && hops < MAX_WALK_HOPS) {
          hops++
          rpcs++
          queried.push(this.order[found])
        }

        break
      }
    }

    return { hops, rpcs, queried, found: found < 0 ? -1 : this.order[found] }
  }

  /** Sorted position of peer `index`. */
  private positionOf (index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`no peer ${index} among ${this.size}`)
    }

    return this.rank[index]
  }

  /**
   * Appends to `out` the sorted positions, closest to `point` first, of the live peers of
   * `[lo, hi)` (which all share their first `depth` bits) until `out` holds `count`. `firstCell`
   * is -1 when every peer of the range is known to lie in the cells asked for.
   */
  private collect (point: Uint8Array, count: number, firstCell: number, endCell: number, lo: number, hi: number, depth: number, out: number[]): void {
    if (out.length >= count || lo >= hi || this.liveIn(lo, hi) === 0) {
      return
    }

    // every peer of the range shares `shared` bits: skip the levels where one half is empty
    const shared = this.sharedBits(lo, hi - 1, depth)

    if (firstCell >= 0) {
      const span = 1 << (16 - Math.min(shared, 16))
      const from = this.cellAt(lo) & ~(span - 1)

      if (from + span <= firstCell || from >= endCell) {
        return
      }

      if (from >= firstCell && from + span <= endCell) {
        firstCell = -1
      }
    }

    if (hi - lo <= LEAF_SIZE || shared >= POINT_BITS) {
      this.collectLeaf(point, count, firstCell, endCell, lo, hi, out)
      return
    }

    const mid = this.split(lo, hi, shared)

    if (bitOf(point, shared) === 0) {
      this.collect(point, count, firstCell, endCell, lo, mid, shared + 1, out)
      this.collect(point, count, firstCell, endCell, mid, hi, shared + 1, out)
    } else {
      this.collect(point, count, firstCell, endCell, mid, hi, shared + 1, out)
      this.collect(point, count, firstCell, endCell, lo, mid, shared + 1, out)
    }
  }

  /** `collect` for a short range (or one of equal points): sort its live peers by distance. */
  private collectLeaf (point: Uint8Array, count: number, firstCell: number, endCell: number, lo: number, hi: number, out: number[]): void {
    const found: number[] = []

    for (let pos = lo; pos < hi; pos++) {
      if (this.live[pos] === 1 && (firstCell < 0 || (this.cellAt(pos) >= firstCell && this.cellAt(pos) < endCell))) {
        found.push(pos)
      }
    }

    this.sortByDistance(found, point)

    for (let i = 0; i < found.length && out.length < count; i++) {
      out.push(found[i])
    }
  }

  /**
   * The entries of peer `owner`'s virtual routing table (sorted positions) that are XOR-closest to
   * `point`, at most `limit` of them and never `exclude`: bucket by bucket, from the closest bucket
   * to the farthest. Each bucket is k peers drawn at random from its subtree (all of them when it
   * holds at most k); when a bucket holds more than `limit` still allows, its closest entries are
   * kept. Buckets are visited in XOR order to `point`: walking down `owner`'s own path, a bucket
   * whose first bit matches `point`'s is closer than everything deeper and comes at once, and one
   * whose first bit does not is farther than everything deeper and comes last, deepest first.
   * `closer[i]` is the number of entries of the buckets closer than entry i's. With `only`, a
   * bucket that comes after `only.after` entries and holds no position of `[only.lo, only.hi)` is
   * not drawn at all: a walk that looks in its own table for a target of that run, and learns only
   * its closest entries, would not look at it.
   *
   * The answer is the view's scratch table, valid until the next call: a walk reads a table before
   * it asks for the next, and a million lookups allocate no tables.
   */
  private visitTable (owner: number, point: Uint8Array, limit: number, exclude: number, only?: Run & { after: number }): RoutingTable {
    const table = this.table
    table.length = 0
    let remaining = limit
    const take = (lo: number, hi: number): void => {
      // no draw for a bucket that is not looked at: the same walks, fewer random numbers
      if (only == null || table.length < only.after || (lo < only.hi && hi > only.lo)) {
        remaining = this.takeBucket(lo, hi, point, remaining, exclude)
      }
    }

    // buckets farther than everything deeper: [lo, hi) pairs, visited last in reverse order
    const farther = this.farther
    farther.length = 0

    let lo = 0
    let hi = this.size
    let depth = 0
    // [lo, hi) holds the peers sharing `depth` leading bits with the owner
    while (remaining > 0 && this.holdsOtherLive(lo, hi, owner)) {
      const shared = this.sharedBits(lo, hi - 1, depth)

      if (shared >= POINT_BITS) {
        // peers whose point equals the owner's: as far from `point` as the owner is
        take(lo, owner)
        take(owner + 1, hi)
        break
      }

      const mid = this.split(lo, hi, shared)
      const ownerBit = owner < mid ? 0 : 1
      const siblingLo = ownerBit === 0 ? mid : lo
      const siblingHi = ownerBit === 0 ? hi : mid

      if (bitOf(point, shared) !== ownerBit) {
        take(siblingLo, siblingHi)
      } else {
        farther.push(siblingLo, siblingHi)
      }

      lo = ownerBit === 0 ? lo : mid
      hi = ownerBit === 0 ? mid : hi
      depth = shared + 1
    }

    for (let i = farther.length - 2; i >= 0 && remaining > 0; i -= 2) {
      take(farther[i], farther[i + 1])
    }

    return table
  }

  /**
   * Appends bucket `[lo, hi)` to the scratch table (without `exclude`; its closest `remaining`
   * entries when it holds more) and returns what the limit still allows.
   */
  private takeBucket (lo: number, hi: number, point: Uint8Array, remaining: number, exclude: number): number {
    const bucket = this.drawBucket(lo, hi)
    let kept = 0

    for (let i = 0; i < bucket.length; i++) {
      if (bucket[i] !== exclude) {
        bucket[kept++] = bucket[i]
      }
    }

    bucket.length = kept

    if (kept > remaining) {
      this.sortByDistance(bucket, point)
      bucket.length = remaining
    }

    const table = this.table
    const closer = table.length

    for (let i = 0; i < bucket.length; i++) {
      table.entries[table.length] = bucket[i]
      table.closer[table.length] = closer
      table.length++
    }

    return remaining - bucket.length
  }

  /**
   * One virtual k-bucket over the subtree `[lo, hi)`: all its live peers, or k drawn at random.
   * The answer is the view's scratch bucket, valid until the next call.
   */
  private drawBucket (lo: number, hi: number): number[] {
    const out = this.bucket
    out.length = 0
    const span = hi - lo
    const k = this.k

    if (span <= k) {
      for (let pos = lo; pos < hi; pos++) {
        if (this.live[pos] === 1) {
          out.push(pos)
        }
      }

      return out
    }

    // live peers before the subtree and in it
    const base = this.dead === 0 ? lo : this.livePrefix(lo)
    const live = this.dead === 0 ? span : this.livePrefix(hi) - base

    if (live <= k) {
      for (let r = 0, pos = lo; r < live; r++, pos++) {
        pos = span <= 4 * k ? this.nextLiveByScan(pos) : this.liveAt(base + r)
        out.push(pos)
      }

      return out
    }

    if (live * 2 >= span && live < span) {
      // mostly live: draw positions and skip the dead (fewer misses than a Fenwick descent)
      while (out.length < k) {
        const pos = lo + Math.min(span - 1, Math.floor(this.random() * span))

        if (this.live[pos] === 1 && !out.includes(pos)) {
          out.push(pos)
        }
      }

      return out
    }

    // Floyd's sampling of k distinct ranks among the live peers
    for (let j = live - k; j < live; j++) {
      const r = Math.min(j, Math.floor(this.random() * (j + 1)))
      out.push(out.includes(r) ? j : r)
    }

    for (let i = 0; i < out.length; i++) {
      out[i] = live === span ? lo + out[i] : this.liveAt(base + out[i])
    }

    return out
  }

  /** First live position at or after `pos`, found by scanning (`pos` is known to have one after it). */
  private nextLiveByScan (pos: number): number {
    while (this.live[pos] !== 1) {
      pos++
    }

    return pos
  }

  /** Whether `[lo, hi)`, which holds `owner`, holds another live peer. */
  private holdsOtherLive (lo: number, hi: number, owner: number): boolean {
    if (this.dead === 0) {
      return hi - lo > 1
    }

    if ((lo !== owner && this.live[lo] === 1) || (hi - 1 !== owner && this.live[hi - 1] === 1)) {
      return true
    }

    return this.liveIn(lo, hi) > this.live[owner]
  }

  /** Insertion sort of sorted positions by XOR distance to `point` (the arrays are short). */
  private sortByDistance (positions: number[], point: Uint8Array): void {
    for (let i = 1; i < positions.length; i++) {
      const pos = positions[i]
      let j = i

      while (j > 0 && this.compareDistance(pos, positions[j - 1], point) < 0) {
        positions[j] = positions[j - 1]
        j--
      }

      positions[j] = pos
    }
  }

  /** Compares the XOR distances of two sorted positions to `point`, all 32 bytes; ties by position. */
  private compareDistance (a: number, b: number, point: Uint8Array): number {
    const keys = this.keys
    const ka = a * POINT_BYTES
    const kb = b * POINT_BYTES

    for (let i = 0; i < POINT_BYTES; i++) {
      const da = keys[ka + i] ^ point[i]
      const db = keys[kb + i] ^ point[i]

      if (da !== db) {
        return da - db
      }
    }

    return a - b
  }

  /** Leading bits shared by the points at sorted positions `a` and `b`, known to share `from` bits. */
  private sharedBits (a: number, b: number, from: number): number {
    const keys = this.keys
    const ka = a * POINT_BYTES
    const kb = b * POINT_BYTES

    for (let i = from >>> 3; i < POINT_BYTES; i++) {
      const x = keys[ka + i] ^ keys[kb + i]

      if (x !== 0) {
        return i * 8 + Math.clz32(x) - 24
      }
    }

    return POINT_BITS
  }

  /** First position of `[lo, hi)` whose bit `bit` is 1 (all points there share the bits before it). */
  private split (lo: number, hi: number, bit: number): number {
    if (bit < 16) {
      // where the upper half of the prefix's cells starts
      const shift = 16 - bit
      return clamp(this.cellStarts[((this.cellAt(lo) >>> shift) << shift) | (1 << (shift - 1))], lo, hi)
    }

    const keys = this.keys
    const offset = bit >>> 3
    const mask = 0x80 >>> (bit & 7)

    while (lo < hi) {
      const mid = (lo + hi) >>> 1

      if ((keys[mid * POINT_BYTES + offset] & mask) !== 0) {
        hi = mid
      } else {
        lo = mid + 1
      }
    }

    return lo
  }

  /** Cell of the point at sorted position `pos`. */
  private cellAt (pos: number): number {
    return (this.keys[pos * POINT_BYTES] << 8) | this.keys[pos * POINT_BYTES + 1]
  }

  /** First sorted position whose point is above `point` (`after`) or at least `point`. */
  private pointBound (point: Uint8Array, after: boolean): number {
    const keys = this.keys
    let lo = 0
    let hi = this.size

    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const at = mid * POINT_BYTES
      let cmp = 0

      for (let i = 0; i < POINT_BYTES && cmp === 0; i++) {
        cmp = keys[at + i] - point[i]
      }

      if (cmp < 0 || (after && cmp === 0)) {
        lo = mid + 1
      } else {
        hi = mid
      }
    }

    return lo
  }

  /** Live peers among sorted positions `[lo, hi)`. */
  private liveIn (lo: number, hi: number): number {
    return this.dead === 0 ? hi - lo : this.livePrefix(hi) - this.livePrefix(lo)
  }

  /** Live peers among sorted positions `[0, end)`. */
  private livePrefix (end: number): number {
    let sum = 0

    for (let i = end; i > 0; i -= i & -i) {
      sum += this.fenwick[i]
    }

    return sum
  }

  /** Sorted position of the live peer of rank `rank` (0-based) among all: a Fenwick descent. */
  private liveAt (rank: number): number {
    let remaining = rank + 1
    let pos = 0

    for (let step = this.fenwickTop; step > 0; step >>>= 1) {
      if (pos + step <= this.size && this.fenwick[pos + step] < remaining) {
        pos += step
        remaining -= this.fenwick[pos]
      }
    }

    return pos
  }

  /** First live sorted position at or after `pos`, or `size`. */
  private nextLive (pos: number): number {
    if (pos >= this.size || this.dead === 0 || this.live[pos] === 1) {
      return Math.min(pos, this.size)
    }

    const before = this.livePrefix(pos)
    return before < this.size - this.dead ? this.liveAt(before) : this.size
  }

  /** Last live sorted position at or before `pos`, or -1. */
  private prevLive (pos: number): number {
    if (pos < 0 || this.dead === 0 || this.live[pos] === 1) {
      return Math.max(pos, -1)
    }

    const before = this.livePrefix(pos + 1)
    return before === 0 ? -1 : this.liveAt(before - 1)
  }
}

/**
 * Peer indices sorted by point (equal points by index): a stable counting sort on the cell, then
 * each cell's run by the next 48 bits read as a number, the full point on ties. Also gives where
 * each cell's run starts.
 */
function sortPoints (points: Uint8Array[]): { order: Int32Array, cellStarts: Int32Array } {
  const n = points.length
  const starts = new Int32Array(GRID_CELLS + 1)

  for (const point of points) {
    checkPoint(point)
    starts[((point[0] << 8) | point[1]) + 1]++
  }

  for (let cell = 0; cell < GRID_CELLS; cell++) {
    starts[cell + 1] += starts[cell]
  }

  const order = new Int32Array(n)
  const next = starts.slice(0, GRID_CELLS)

  for (let i = 0; i < n; i++) {
    order[next[(points[i][0] << 8) | points[i][1]]++] = i
  }

  const head = (point: Uint8Array): number =>
    ((point[2] * 256 + point[3]) * 256 + point[4]) * 2 ** 24 + ((point[5] << 16) | (point[6] << 8) | point[7])
  const compare = (a: number, b: number): number => {
    const pa = points[a]
    const pb = points[b]
    const byHead = head(pa) - head(pb)

    if (byHead !== 0) {
      return byHead
    }

    for (let i = 8; i < POINT_BYTES; i++) {
      if (pa[i] !== pb[i]) {
        return pa[i] - pb[i]
      }
    }

    return a - b
  }

  for (let cell = 0; cell < GRID_CELLS; cell++) {
    const lo = starts[cell]
    const hi = starts[cell + 1]

    if (hi - lo > 1) {
      order.set(Array.from(order.subarray(lo, hi)).sort(compare), lo)
    }
  }

  return { order, cellStarts: starts }
}

function checkPoint (point: Uint8Array): void {
  if (!(point instanceof Uint8Array) || point.length !== POINT_BYTES) {
    throw new RangeError(`a point has ${POINT_BYTES} bytes`)
  }
}

function checkCells (cells: CellRange): void {
  const { firstCell, endCell } = cells

  if (!Number.isInteger(firstCell) || !Number.isInteger(endCell) || firstCell < 0 || endCell > GRID_CELLS) {
    throw new RangeError(`cells [${firstCell}, ${endCell}) are not a run of the grid`)
  }
}

function positiveInteger (value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`)
  }

  return value
}

/** Bit `bit` (0 = most significant) of a point. */
function bitOf (point: Uint8Array, bit: number): number {
  return (point[bit >>> 3] >>> (7 - (bit & 7))) & 1
}

function clamp (value: number, lo: number, hi: number): number {
  return Math.min(Math.max(value, lo), hi)
}
