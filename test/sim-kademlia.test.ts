import fc from 'fast-check'
import * as assert from 'uvu/assert'
import { pointOf } from '../src/resources/resource-map.js'
import { MAX_WALK_HOPS, SimKademlia } from '../src/sim/kademlia.js'
import { createTestNetwork, stopAll } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import type { CaravelaNode } from '../src/node.js'
import type { CellRange, SimWalk } from '../src/sim/kademlia.js'

/** A seeded uniform stream in [0, 1) (mulberry32): the tests' only source of randomness. */
function seeded (seed: number): () => number {
  let state = seed | 0

  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

function randomPoint (random: () => number): Uint8Array {
  return Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256))
}

function randomPoints (n: number, random: () => number): Uint8Array[] {
  return Array.from({ length: n }, () => randomPoint(random))
}

/**
 * `n` points whose first `prefixBytes` bytes come from a pool of `pool` prefixes, so that many
 * points share long prefixes (and 48-bit heads); about one in ten repeats an earlier point.
 */
function clusteredPoints (n: number, prefixBytes: number, pool: number, random: () => number): Uint8Array[] {
  const prefixes = Array.from({ length: pool }, () => randomPoint(random).subarray(0, prefixBytes))
  const points: Uint8Array[] = []

  for (let i = 0; i < n; i++) {
    if (points.length > 0 && random() < 0.1) {
      points.push(points[Math.floor(random() * points.length)].slice())
      continue
    }

    const point = randomPoint(random)
    point.set(prefixes[Math.floor(random() * pool)])
    // vary one bit right after the shared prefix now and then: deep splits
    if (prefixBytes < 32 && random() < 0.5) {
      point[prefixBytes] &= 0x01
    }
    points.push(point)
  }

  return points
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return a[i] - b[i]
    }
  }

  return 0
}

function distance (a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((byte, i) => byte ^ b[i])
}

function cellOf (point: Uint8Array): number {
  return (point[0] << 8) | point[1]
}

function inCells (point: Uint8Array, cells?: CellRange): boolean {
  return cells == null || (cellOf(point) >= cells.firstCell && cellOf(point) < cells.endCell)
}

/** The brute-force answer of `closest`: sort every live peer by XOR distance, then by index. */
function bruteClosest (points: Uint8Array[], live: boolean[], point: Uint8Array, count: number, cells?: CellRange): number[] {
  return points
    .map((p, i) => ({ i, d: distance(p, point) }))
    .filter(({ i }) => live[i] && inCells(points[i], cells))
    .sort((a, b) => compareBytes(a.d, b.d) || a.i - b.i)
    .slice(0, count)
    .map(({ i }) => i)
}

/** The brute-force answer of `neighbors`. */
function bruteNeighbors (points: Uint8Array[], live: boolean[], point: Uint8Array, count: number, cells: CellRange): number[] {
  const sorted = points
    .map((p, i) => ({ i, p }))
    .filter(({ i, p }) => live[i] && inCells(p, cells) && compareBytes(p, point) !== 0)
    .sort((a, b) => compareBytes(a.p, b.p) || a.i - b.i)
  const lower = sorted.filter(({ p }) => compareBytes(p, point) < 0)
  const higher = sorted.filter(({ p }) => compareBytes(p, point) > 0)

  return [...lower.slice(Math.max(0, lower.length - count)), ...higher.slice(0, count)].map(({ i }) => i)
}

/** A view over points drawn by `make`, with some peers killed, and query points near and far. */
interface Case {
  points: Uint8Array[]
  live: boolean[]
  view: SimKademlia
  queries: Uint8Array[]
  cells: CellRange[]
}

const caseArb = fc.record({
  seed: fc.integer(),
  n: fc.integer({ min: 1, max: 400 }),
  clustered: fc.boolean(),
  prefixBytes: fc.integer({ min: 0, max: 32 }),
  pool: fc.integer({ min: 1, max: 4 }),
  deadShare: fc.constantFrom(0, 0, 0.1, 0.5, 0.95)
})

function buildCase ({ seed, n, clustered, prefixBytes, pool, deadShare }: CaseParams): Case {
  const random = seeded(seed)
  const points = clustered ? clusteredPoints(n, prefixBytes, pool, random) : randomPoints(n, random)
  const view = new SimKademlia(points, { random })
  const live = points.map(() => random() >= deadShare)
  live.forEach((alive, i) => { if (!alive) view.setLive(i, false) })

  const queries = [randomPoint(random), points[0].slice(), points[n - 1].slice()]
  const near = points[Math.floor(random() * n)].slice()
  near[31] ^= 1
  queries.push(near)
  const half = points[Math.floor(random() * n)].slice()
  half[Math.floor(random() * 32)] ^= 0x80
  queries.push(half)

  const cellA = cellOf(points[Math.floor(random() * n)])
  const cellB = cellOf(points[Math.floor(random() * n)])
  const cells: CellRange[] = [
    { firstCell: 0, endCell: 65536 },
    { firstCell: Math.min(cellA, cellB), endCell: Math.max(cellA, cellB) + 1 },
    { firstCell: Math.max(0, cellA - 300), endCell: Math.min(65536, cellA + 5) },
    { firstCell: cellA, endCell: cellA },
    { firstCell: 0, endCell: 32768 }
  ]

  return { points, live, view, queries, cells }
}

type CaseParams = typeof caseArb extends fc.Arbitrary<infer T> ? T : never

const Closest = suite('sim kademlia: closest and neighbors')

Closest('closest agrees with a brute-force XOR sort, with and without cells, with dead peers', () => {
  fc.assert(fc.property(caseArb, fc.integer({ min: 1, max: 30 }), (params, count) => {
    const { points, live, view, queries, cells } = buildCase(params)

    for (const query of queries) {
      assert.equal(view.closest(query, count), bruteClosest(points, live, query, count))

      for (const range of cells) {
        assert.equal(view.closest(query, count, range), bruteClosest(points, live, query, count, range))
      }
    }
  }), { numRuns: 300 })
})

Closest('closest orders points that share a 48-bit head by their later bytes', () => {
  const random = seeded(7)
  const points = Array.from({ length: 200 }, () => {
    const point = randomPoint(random)
    point.fill(0xab, 0, 8)
    return point
  })
  const view = new SimKademlia(points, { random })
  const live = points.map(() => true)

  for (let i = 0; i < 50; i++) {
    const query = randomPoint(random)
    query.fill(0xab, 0, 8)
    assert.equal(view.closest(query, 10), bruteClosest(points, live, query, 10))
  }

  assert.equal(view.closest(points[3], 1), [3])
})

Closest('neighbors agrees with brute force', () => {
  fc.assert(fc.property(caseArb, fc.integer({ min: 1, max: 6 }), (params, count) => {
    const { points, live, view, queries, cells } = buildCase(params)

    for (const query of queries) {
      for (const range of cells) {
        assert.equal(view.neighbors(query, count, range), bruteNeighbors(points, live, query, count, range))
      }
    }
  }), { numRuns: 300 })
})

Closest('pointOf returns each peer\'s point; setLive takes peers out and back; bad input is refused', () => {
  const random = seeded(11)
  const points = randomPoints(100, random)
  const view = new SimKademlia(points, { random })

  points.forEach((point, i) => { assert.equal(view.pointOf(i), point) })
  assert.is(view.size, 100)

  const closest = view.closest(points[42], 1)[0]
  assert.is(closest, 42)
  view.setLive(42, false)
  assert.not.ok(view.isLive(42))
  assert.not.ok(view.closest(points[42], 100).includes(42))
  view.setLive(42, false)
  view.setLive(42, true)
  assert.is(view.closest(points[42], 1)[0], 42)
  assert.is(view.closest(points[42], 1000).length, 100)

  assert.throws(() => view.pointOf(100), (err: Error) => err instanceof RangeError)
  assert.throws(() => view.closest(new Uint8Array(31), 1), (err: Error) => err instanceof RangeError)
  assert.throws(() => new SimKademlia([new Uint8Array(16)], { random }), (err: Error) => err instanceof RangeError)
  assert.throws(() => new SimKademlia(points, { random, kBucket: 0 }), (err: Error) => err instanceof RangeError)
  assert.equal(new SimKademlia([], { random }).closest(points[0], 3), [])
})

Closest.run()

const Walk = suite('sim kademlia: walk')

function checkWalk (view: SimKademlia, walk: SimWalk, from: number, alpha: number): void {
  assert.ok(walk.hops >= 0 && walk.hops <= MAX_WALK_HOPS, `hops ${walk.hops}`)
  assert.ok(walk.rpcs <= alpha * walk.hops, `${walk.rpcs} rpcs in ${walk.hops} hops`)
  assert.is(walk.queried.length, walk.rpcs)
  assert.is(new Set(walk.queried).size, walk.rpcs, 'no peer is asked twice')

  for (const peer of walk.queried) {
    assert.ok(view.isLive(peer), `peer ${peer} is dead but was queried`)
    assert.is.not(peer, from, 'the querier never queries itself')
  }
}

Walk('a walk always ends, within α requests per hop, asking only live peers', () => {
  fc.assert(fc.property(caseArb, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 20 }), (params, alpha, kBucket) => {
    const { points, live, queries } = buildCase(params)
    const view = new SimKademlia(points, { random: seeded(params.seed), alpha, kBucket })
    live.forEach((alive, i) => { view.setLive(i, alive) })
    const froms = live.flatMap((alive, i) => alive ? [i] : []).slice(0, 5)

    for (const from of froms) {
      for (const query of queries) {
        const target = view.closest(query, 1)[0]
        const walks = [
          view.walk(from, query, i => i === target),
          view.walk(from, query, () => false),
          view.walk(from, query, i => inCells(points[i], { firstCell: cellOf(query), endCell: cellOf(query) + 1 }))
        ]
        walks.forEach(walk => { checkWalk(view, walk, from, alpha) })
        assert.is(walks[1].found, -1)
        assert.ok(walks[0].found === -1 || walks[0].found === target)
      }
    }
  }), { numRuns: 150 })
})

Walk('a walk from a dead peer is refused', () => {
  const random = seeded(3)
  const view = new SimKademlia(randomPoints(10, random), { random })
  view.setLive(4, false)
  assert.throws(() => view.walk(4, randomPoint(random), () => true), (err: Error) => err instanceof RangeError)
})

Walk('a target in the querier\'s near neighbourhood, or the querier itself, costs 0 hops', () => {
  const random = seeded(5)
  const points = randomPoints(10_000, random)
  const view = new SimKademlia(points, { random })

  for (let from = 0; from < 300; from++) {
    const near = new Set(view.closest(points[from], 5).filter(i => i !== from))
    const walk = view.walk(from, points[from], i => near.has(i))
    assert.equal([walk.hops, walk.rpcs, walk.queried], [0, 0, []], `walk from ${from}`)
    assert.ok(near.has(walk.found))
    assert.equal(view.walk(from, randomPoint(random), i => i === from), { hops: 0, rpcs: 0, queried: [], found: from })
  }
})

Walk('when k covers the network every routing table holds every live peer: every lookup is local or one hop', () => {
  const random = seeded(13)
  const points = clusteredPoints(60, 2, 3, random)
  const view = new SimKademlia(points, { random, kBucket: 60 })
  view.setLive(7, false)

  for (let from = 0; from < points.length; from++) {
    if (from === 7) {
      continue
    }

    for (let target = 0; target < points.length; target++) {
      const walk = view.walk(from, randomPoint(random), i => i === target)
      if (target === 7) {
        // a dead target is nowhere: knowing everyone, the walk asks the α closest once and stops
        assert.equal([walk.hops, walk.rpcs, walk.found], [1, 3, -1])
      } else {
        assert.equal(walk, { hops: 0, rpcs: 0, queried: [], found: target })
      }
    }
  }
})

/** Mean hops and found rate of walks from random peers toward the XOR-closest peer of random points. */
function walkStats (n: number, walks: number, seed: number): { meanHops: number, meanRpcs: number, foundRate: number, walks: SimWalk[] } {
  const random = seeded(seed)
  const view = new SimKademlia(randomPoints(n, random), { random })
  const done: SimWalk[] = []
  let found = 0

  for (let i = 0; i < walks; i++) {
    const point = randomPoint(random)
    const target = view.closest(point, 1)[0]
    const walk = view.walk(Math.floor(random() * n), point, j => j === target)
    found += walk.found === target ? 1 : 0
    done.push(walk)
  }

  return {
    meanHops: done.reduce((sum, w) => sum + w.hops, 0) / walks,
    meanRpcs: done.reduce((sum, w) => sum + w.rpcs, 0) / walks,
    foundRate: found / walks,
    walks: done
  }
}

Walk('mean hops toward the XOR-closest peer grow slowly with n, and the walk finds it', () => {
  const small = walkStats(1000, 400, 21)
  const large = walkStats(100_000, 400, 22)
  console.log(`    n = 1 000: ${small.meanHops.toFixed(2)} hops, ${small.meanRpcs.toFixed(1)} rpcs; n = 100 000: ${large.meanHops.toFixed(2)} hops, ${large.meanRpcs.toFixed(1)} rpcs`)

  for (const stats of [small, large]) {
    assert.ok(stats.meanHops >= 1 && stats.meanHops <= 6, `mean hops ${stats.meanHops}`)
    assert.ok(stats.foundRate >= 0.99, `found the closest peer in ${stats.foundRate} of walks`)
  }

  assert.ok(large.meanHops > small.meanHops, `${large.meanHops} hops at 100 000 peers vs ${small.meanHops} at 1 000`)
})

Walk('a walk without a target converges on the XOR-closest live peers', () => {
  const random = seeded(9)
  const points = randomPoints(20_000, random)
  const view = new SimKademlia(points, { random })

  for (let i = 0; i < 2000; i++) {
    view.setLive(Math.floor(random() * points.length), false)
  }

  let reached = 0

  for (let i = 0; i < 200; i++) {
    const point = randomPoint(random)
    let from = Math.floor(random() * points.length)

    while (!view.isLive(from)) {
      from = (from + 1) % points.length
    }

    const closest = view.closest(point, 1)[0]
    const walk = view.walk(from, point, () => false)
    checkWalk(view, walk, from, 3)
    reached += walk.queried.includes(closest) || closest === from ? 1 : 0
  }

  assert.ok(reached >= 196, `the closest live peer was asked in ${reached} of 200 walks`)
})

Walk('the same seed gives the same walks; without confirmTarget a walk stops where it learns the target', () => {
  assert.equal(walkStats(5000, 100, 33).walks, walkStats(5000, 100, 33).walks)

  const random = seeded(44)
  const points = randomPoints(5000, random)
  const confirming = new SimKademlia(points, { random: seeded(1) })
  const learning = new SimKademlia(points, { random: seeded(1), confirmTarget: false })

  for (let i = 0; i < 100; i++) {
    const point = randomPoint(random)
    const target = confirming.closest(point, 1)[0]
    const from = Math.floor(random() * points.length)
    const a = confirming.walk(from, point, j => j === target)
    const b = learning.walk(from, point, j => j === target)

    if (a.hops === 0) {
      assert.equal(b, a)
    } else {
      assert.equal(a.queried.slice(0, -1), b.queried)
      assert.equal([a.hops, a.rpcs, a.queried.at(-1)], [b.hops + 1, b.rpcs + 1, target])
    }
  }
})

Walk('a walk to a run of cells is the walk to the predicate "its cell is in the run" when tables draw nothing', () => {
  // with k = n every bucket holds its whole subtree: no random draw, so the buckets a walk to
  // cells does not draw cannot make a difference, and the walks must be the same, step for step
  fc.assert(fc.property(caseArb, (params) => {
    const { points, live, queries, cells } = buildCase(params)
    const byCells = new SimKademlia(points, { random: seeded(params.seed), kBucket: points.length })
    const byPredicate = new SimKademlia(points, { random: seeded(params.seed), kBucket: points.length })
    live.forEach((alive, i) => { byCells.setLive(i, alive); byPredicate.setLive(i, alive) })
    const from = live.indexOf(true)

    if (from < 0) {
      return
    }

    for (const query of [...queries, points[from]]) {
      // and a run of cells that holds the query's, so that some walks find members
      for (const run of [...cells, { firstCell: Math.max(0, cellOf(query) - 40), endCell: cellOf(query) + 1 }]) {
        assert.equal(byCells.walk(from, query, run), byPredicate.walk(from, query, i => inCells(points[i], run)))
      }
    }
  }), { numRuns: 150 })
})

Walk('walks to a run of cells cost what walks to the predicate cost, over many draws', () => {
  const random = seeded(61)
  const points = randomPoints(20_000, random)
  const byCells = new SimKademlia(points, { random: seeded(62) })
  const byPredicate = new SimKademlia(points, { random: seeded(63) })
  const stats = { cells: { hops: 0, rpcs: 0, local: 0, found: 0 }, predicate: { hops: 0, rpcs: 0, local: 0, found: 0 } }
  const walks = 3000

  for (let i = 0; i < walks; i++) {
    const query = randomPoint(random)
    const from = Math.floor(random() * points.length)
    // slices of 1/16 to 1/256 of the space around the query, as the resource map's are
    const width = 256 << Math.floor(random() * 5)
    const firstCell = Math.max(0, cellOf(query) - Math.floor(random() * width))
    const run = { firstCell, endCell: Math.min(0x10000, firstCell + width) }

    for (const [name, walk] of [['cells', byCells.walk(from, query, run)], ['predicate', byPredicate.walk(from, query, j => inCells(points[j], run))]] as const) {
      stats[name].hops += walk.hops
      stats[name].rpcs += walk.rpcs
      stats[name].local += walk.hops === 0 ? 1 : 0
      stats[name].found += walk.found >= 0 && inCells(points[walk.found], run) ? 1 : 0
    }
  }

  const { cells, predicate } = stats
  console.log(`    to cells: ${(cells.hops / walks).toFixed(3)} hops, ${(cells.rpcs / walks).toFixed(2)} rpcs, ${cells.local} local; to the predicate: ${(predicate.hops / walks).toFixed(3)}, ${(predicate.rpcs / walks).toFixed(2)}, ${predicate.local}`)
  assert.is(cells.found, walks)
  assert.is(predicate.found, walks)
  assert.ok(Math.abs(cells.hops - predicate.hops) / walks < 0.05, `mean hops ${cells.hops / walks} against ${predicate.hops / walks}`)
  assert.ok(Math.abs(cells.rpcs - predicate.rpcs) / walks < 0.15, `mean rpcs ${cells.rpcs / walks} against ${predicate.rpcs / walks}`)
  assert.ok(Math.abs(cells.local - predicate.local) / walks < 0.03, `local answers ${cells.local} against ${predicate.local}`)
})

Walk.run()

const Real = suite<{ nodes: CaravelaNode[] }>('sim kademlia: agreement with kad-dht', { nodes: [] })
const REAL_PEERS = 12

Real.before(async (ctx) => {
  ctx.nodes = await createTestNetwork(REAL_PEERS, { minTable: REAL_PEERS - 1, timeout: 15_000 })
})

Real.after(async (ctx) => {
  await stopAll(ctx.nodes)
})

Real('getClosestPeers and SimKademlia.closest agree on the closest peer and on the order', async (ctx) => {
  const random = seeded(55)
  const ids = ctx.nodes.map(n => n.peerId.toString())
  const view = new SimKademlia(ctx.nodes.map(n => pointOf(n.peerId.toMultihash().bytes)), { random })

  for (let i = 0; i < 20; i++) {
    const key = randomPoint(random)
    const querier = i % REAL_PEERS
    const real: string[] = []

    for await (const event of ctx.nodes[querier].services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(10_000) })) {
      if (event.name === 'FINAL_PEER') {
        real.push(event.peer.id.toString())
      }
    }

    // kad-dht never returns the querier itself
    view.setLive(querier, false)
    const simulated = view.closest(pointOf(key), REAL_PEERS).map(j => ids[j])
    view.setLive(querier, true)

    assert.is(real[0], simulated[0], `closest peer of key ${i}`)
    // with full routing tables kad-dht reaches every other peer, and sorts them as the view does
    assert.equal(real, simulated, `peers of key ${i}, closest first`)
  }
})

Real.run()
