import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { defaultConfig } from '../src/config/config.js'
import { GRID_BITS, GRID_CELLS } from '../src/constants.js'
import { InvalidConfigurationError } from '../src/errors.js'
import { ResourceMap, SIZE_ESTIMATE_PEERS, contains, estimateNetworkSize, pointOf } from '../src/resources/resource-map.js'
import type { PartitionTree } from '../src/resources/partition-tree.js'
import type { Slice } from '../src/resources/resource-map.js'
import type { Resources } from '../src/types.js'

type Leaves = Array<[number, number, Array<[number, number]>]>

/** A tree from [class, %, [[cores, %, [[memory, %], …]], …]] entries. */
function tree (...classes: Array<[number, number, Leaves]>): PartitionTree {
  return {
    cpuClasses: classes.map(([value, percentage, cores]) => ({
      value,
      percentage,
      cpuCores: cores.map(([value, percentage, memory]) => ({
        value,
        percentage,
        memory: memory.map(([value, percentage]) => ({ value, percentage }))
      }))
    }))
  }
}

/**
 * The original's 16-bit test tree (`node/common/resources/mapping_test.go`), on which the
 * original's cases below run. Its memory value 1048 is the original's, not a typo of ours.
 */
const TOY_TREE = tree(
  [0, 50, [[1, 50, [[256, 50], [512, 25], [1024, 25]]], [2, 50, [[2048, 100]]]]],
  [1, 50, [[1, 50, [[1048, 50], [2048, 50]]], [2, 50, [[2048, 50], [4048, 50]]]]]
)

function r (cpuClass: number, cpus: number, memory: number): Resources {
  return { cpuClass, cpus, memory }
}

function layout (map: ResourceMap): Array<[Resources, number, number]> {
  return map.slices.map(s => [{ ...s.resources }, s.firstCell, s.endCell])
}

/** A 32-byte point in the given cell. */
function pointInCell (cell: number, fill = 0): Uint8Array {
  const point = new Uint8Array(32).fill(fill)
  point[0] = cell >> 8
  point[1] = cell & 0xff
  return point
}

/** A reproducible source of random bytes. */
function seededRandom (seed: number): (bytes: number) => Uint8Array {
  let counter = 0
  return bytes => createHash('sha256').update(`${seed}:${counter++}`).digest().subarray(0, bytes)
}

function resourcesOf (slice: Slice | undefined): Resources | undefined {
  return slice === undefined ? undefined : { ...slice.resources }
}

const toy = new ResourceMap(TOY_TREE)

function toySlice (cpuClass: number, cpus: number, memory: number): Slice {
  const slice = toy.slices.find(s => s.resources.cpuClass === cpuClass && s.resources.cpus === cpus && s.resources.memory === memory)
  assert.ok(slice, `no slice (${cpuClass}, ${cpus}, ${memory})`)
  return slice
}

function expectConfigError (fn: () => unknown, key: string): void {
  let error: unknown

  try {
    fn()
  } catch (err) {
    error = err
  }

  assert.instance(error, InvalidConfigurationError, `expected an InvalidConfigurationError for ${key}, got ${String(error)}`)
  assert.is((error as InvalidConfigurationError).key, key)
}

test('the default tree: exact cells of each slice', () => {
  const map = new ResourceMap(defaultConfig().network.resources)

  assert.equal(layout(map), [
    [r(0, 1, 256), 0, 8192],
    [r(0, 1, 512), 8192, 24576],
    [r(0, 1, 1024), 24576, 32768],
    [r(0, 2, 512), 32768, 40960],
    [r(0, 2, 1024), 40960, 57344],
    [r(0, 2, 2048), 57344, 65536]
  ])
  assert.equal(map.slices.map(s => s.index), [0, 1, 2, 3, 4, 5])
})

test('the original\'s two-class test tree: exact cells of each slice', () => {
  // the original's 16-bit ranges were [0, 8191), [8191, 12286), …: cut from 2^16 − 1 IDs; ours
  // cut all 2^16 cells
  assert.equal(layout(toy), [
    [r(0, 1, 256), 0, 8192],
    [r(0, 1, 512), 8192, 12288],
    [r(0, 1, 1024), 12288, 16384],
    [r(0, 2, 2048), 16384, 32768],
    [r(1, 1, 1048), 32768, 40960],
    [r(1, 1, 2048), 40960, 49152],
    [r(1, 2, 2048), 49152, 57344],
    [r(1, 2, 4048), 57344, 65536]
  ])
})

test('each child gets ⌊pct × parent cells / 100⌋ cells and the last one takes the rest', () => {
  const map = new ResourceMap(tree([0, 100, [[1, 33, [[512, 100]]], [2, 33, [[512, 10], [1024, 90]]], [4, 34, [[512, 100]]]]]))

  // ⌊33 × 65536 / 100⌋ = 21626; ⌊10 × 21626 / 100⌋ = 2162; 65536 − 2 × 21626 = 22284
  assert.equal(layout(map), [
    [r(0, 1, 512), 0, 21626],
    [r(0, 2, 512), 21626, 23788],
    [r(0, 2, 1024), 23788, 43252],
    [r(0, 4, 512), 43252, 65536]
  ])
})

test('sliceOf: a point\'s cell is its first 16 bits; every cell has exactly one slice', () => {
  for (const slice of toy.slices) {
    assert.is(toy.sliceOf(pointInCell(slice.firstCell)), slice)
    assert.is(toy.sliceOf(pointInCell(slice.endCell - 1, 0xff)), slice)
  }

  let covered = 0
  for (const slice of toy.slices) {
    assert.is(slice.firstCell, covered, 'slices are contiguous and in cell order')
    covered = slice.endCell
  }
  assert.is(covered, GRID_CELLS)

  assert.throws(() => toy.sliceOf(new Uint8Array(31)), (err: Error) => err instanceof RangeError)
})

test('pointOf is sha256, and sliceOfKey is sliceOf(pointOf(key))', () => {
  const empty = pointOf(new Uint8Array())
  assert.is(Buffer.from(empty).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.is(empty.constructor, Uint8Array)

  for (let i = 0; i < 100; i++) {
    const key = new TextEncoder().encode(`key ${i}`)
    assert.is(toy.sliceOfKey(key), toy.sliceOf(pointOf(key)))
  }
})

test('contains: class, CPUs and memory each at least', () => {
  assert.ok(contains(r(1, 2, 2048), r(1, 2, 2048)))
  assert.ok(contains(r(1, 2, 2048), r(0, 1, 256)))
  assert.not.ok(contains(r(0, 2, 2048), r(1, 1, 256)))
  assert.not.ok(contains(r(1, 1, 2048), r(0, 2, 256)))
  assert.not.ok(contains(r(1, 2, 1024), r(0, 1, 2048)))
})

test('fittestForSearch: the smallest partition that holds the request', () => {
  const cases: Array<[Resources, Resources | undefined]> = [
    [r(0, 1, 256), r(0, 1, 256)],
    [r(0, 1, 257), r(0, 1, 512)],
    [r(0, 1, 511), r(0, 1, 512)],
    [r(0, 1, 750), r(0, 1, 1024)],
    [r(0, 1, 1512), r(0, 2, 2048)],
    [r(0, 0, 0), r(0, 1, 256)],
    [r(1, 1, 1), r(1, 1, 1048)],
    [r(1, 2, 1512), r(1, 2, 2048)],
    [r(1, 2, 4049), undefined],
    [r(0, 3, 1), undefined],
    [r(2, 1, 1), undefined]
  ]

  for (const [req, expected] of cases) {
    assert.equal(resourcesOf(toy.fittestForSearch(req)), expected, `fittestForSearch(${JSON.stringify(req)})`)
  }
})

test('highestForSearch: the largest partition that holds the request', () => {
  const map = new ResourceMap(defaultConfig().network.resources)

  assert.equal(resourcesOf(map.highestForSearch(r(0, 1, 256))), r(0, 2, 2048))
  assert.equal(resourcesOf(map.highestForSearch(r(0, 2, 1500))), r(0, 2, 2048))
  assert.equal(resourcesOf(map.highestForSearch(r(0, 1, 2049))), undefined)
  assert.equal(resourcesOf(toy.highestForSearch(r(0, 1, 256))), r(1, 2, 4048))
  assert.equal(resourcesOf(toy.highestForSearch(r(1, 3, 1))), undefined)
})

test('fittestForOffer: the largest partition the supplier can honour (the original\'s FirstGUIDOffer cases)', () => {
  const cases: Array<[Resources, number]> = [
    [r(0, 1, 256), 0],
    [r(0, 1, 257), 0],
    [r(0, 1, 511), 0],
    [r(0, 1, 512), 8192],
    [r(0, 1, 1024), 12288],
    [r(0, 2, 2048), 16384],
    [r(0, 2, 1512), 12288],
    [r(1, 1, 512), 8192],
    [r(1, 2, 1512), 32768],
    [r(1, 2, 3512), 49152],
    [r(1, 2, 8058), 57344]
  ]

  for (const [available, firstCell] of cases) {
    assert.is(toy.fittestForOffer(available)?.firstCell, firstCell, `fittestForOffer(${JSON.stringify(available)})`)
  }

  assert.is(toy.fittestForOffer(r(1, 1, 255)), undefined, 'too small for any partition')
  assert.is(toy.fittestForOffer(r(0, 0, 4096)), undefined)
})

/** Follow `step` from `start` until it returns undefined; the resources visited. */
function walk (start: Slice, step: (current: Slice) => Slice | undefined): Resources[] {
  const visited: Resources[] = []

  for (let current = step(start); current !== undefined; current = step(current)) {
    assert.ok(current.index !== start.index && visited.length < toy.slices.length, 'the walk moves on and ends')
    visited.push({ ...current.resources })
  }

  return visited
}

test('nextHigherSearch: forward from the current slice, skipping the first one that holds the request', () => {
  assert.equal(walk(toySlice(0, 1, 256), s => toy.nextHigherSearch(s, r(0, 1, 256))), [
    r(0, 1, 512), r(0, 1, 1024), r(0, 2, 2048), r(1, 1, 1048), r(1, 1, 2048), r(1, 2, 2048), r(1, 2, 4048)
  ])
  assert.equal(walk(toySlice(0, 1, 1024), s => toy.nextHigherSearch(s, r(0, 1, 550))), [
    r(0, 2, 2048), r(1, 1, 1048), r(1, 1, 2048), r(1, 2, 2048), r(1, 2, 4048)
  ])
  assert.is(toy.nextHigherSearch(toySlice(1, 2, 4048), r(0, 1, 256)), undefined)

  // the original's rule taken literally: when the current slice does not hold the request, the
  // first slice that does is the one skipped
  assert.equal(resourcesOf(toy.nextHigherSearch(toySlice(0, 1, 256), r(0, 1, 550))), r(0, 2, 2048))
})

test('nextLowerSearch: backward from the current slice, still holding the request', () => {
  assert.equal(walk(toySlice(1, 2, 4048), s => toy.nextLowerSearch(s, r(0, 1, 1000))), [
    r(1, 2, 2048), r(1, 1, 2048), r(1, 1, 1048), r(0, 2, 2048), r(0, 1, 1024)
  ])
  assert.equal(walk(toySlice(1, 2, 4048), s => toy.nextLowerSearch(s, r(1, 2, 1))), [r(1, 2, 2048)])
  assert.is(toy.nextLowerSearch(toySlice(0, 1, 256), r(0, 1, 1)), undefined)
})

test('nextLowerOffer: backward from the current slice, skipping the first one the supplier can honour (the original\'s cases)', () => {
  assert.equal(walk(toySlice(0, 1, 1024), s => toy.nextLowerOffer(s, r(0, 1, 1024))), [r(0, 1, 512), r(0, 1, 256)])
  assert.equal(walk(toySlice(0, 2, 2048), s => toy.nextLowerOffer(s, r(0, 2, 2500))), [r(0, 1, 1024), r(0, 1, 512), r(0, 1, 256)])
  assert.equal(walk(toySlice(0, 1, 1024), s => toy.nextLowerOffer(s, r(0, 2, 1512))), [r(0, 1, 512), r(0, 1, 256)])
  assert.equal(resourcesOf(toy.nextLowerOffer(toySlice(1, 1, 1048), r(1, 1, 1512))), r(0, 1, 1024))
  assert.equal(walk(toySlice(1, 2, 2048), s => toy.nextLowerOffer(s, r(1, 2, 2049))), [
    r(1, 1, 2048), r(1, 1, 1048), r(0, 2, 2048), r(0, 1, 1024), r(0, 1, 512), r(0, 1, 256)
  ])
})

test('serves: a supplier offers where requests it can hold are searched, also above what it honours', () => {
  const map = new ResourceMap(defaultConfig().network.resources)
  const slice = (cpus: number, memory: number): Slice => map.fittestForSearch(r(0, cpus, memory))!
  // (0, 2, 700) is searched in (0, 2, 1024): a supplier with that much free serves it
  assert.ok(map.serves(slice(2, 1024), r(0, 2, 700)))
  assert.ok(map.serves(slice(2, 1024), r(0, 2, 1024)), 'and of course what it honours')
  assert.ok(map.serves(slice(2, 1024), r(0, 2, 600)))
  // requests up to (0, 2, 512) are searched in (0, 2, 512) or lower: nothing for (0, 2, 1024)
  assert.not.ok(map.serves(slice(2, 1024), r(0, 2, 512)))
  assert.ok(map.serves(slice(2, 2048), r(0, 1, 4096)), '(0, 1, 2048) is searched in (0, 2, 2048): no one-CPU slice holds 2 GB')
  assert.not.ok(map.serves(slice(2, 2048), r(0, 1, 1024)), 'up to (0, 1, 1024) is searched in the one-CPU slices')
  assert.not.ok(map.serves(slice(1, 256), r(0, 0, 4096)), 'no CPU, no request')
  assert.equal(map.servedPartitions(r(0, 2, 700)).map(s => ({ ...s.resources })), [r(0, 2, 1024), r(0, 2, 512), r(0, 1, 1024), r(0, 1, 512), r(0, 1, 256)])
  // every slice it honours is served
  for (const free of [r(0, 2, 2048), r(0, 1, 700), r(0, 2, 600)]) {
    for (const honoured of map.lowerPartitionsForOffer(free)) {
      assert.ok(map.serves(honoured, free))
    }
  }
})

test('searchSlice: the smallest partition that holds the request, or the largest it serves when none holds it', () => {
  const map = new ResourceMap(defaultConfig().network.resources)
  assert.equal(resourcesOf(map.searchSlice(r(0, 1, 300))), r(0, 1, 512))
  assert.equal(resourcesOf(map.searchSlice(r(0, 4, 1000))), r(0, 2, 1024), 'more CPUs than any partition: the slice of 2 CPUs that holds the memory')
  assert.equal(resourcesOf(map.searchSlice(r(0, 4, 4096))), r(0, 2, 2048))
  assert.equal(resourcesOf(map.searchSlice(r(0, 1, 4096))), r(0, 2, 2048))
  assert.equal(resourcesOf(map.searchSlice(r(1, 1, 256))), r(0, 1, 256), 'a high-class request in a low-class tree')
  assert.equal(resourcesOf(map.searchSlice(r(0, 0, 256))), undefined)
  // every supplier that can take the request serves that slice
  fc.assert(fc.property(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3000 }), (cpuClass, cpus, memory, moreCpus, moreMemory) => {
    for (const m of [map, toy]) {
      const req = r(cpuClass, cpus, memory)
      const free = r(cpuClass, cpus + moreCpus, memory + moreMemory)
      assert.ok(m.serves(m.searchSlice(req)!, free), `${JSON.stringify(free)} serves the search slice of ${JSON.stringify(req)}`)
    }
  }))
})

test('searchOrder: the search slice, the larger slices that hold the request, then the rest from the top down', () => {
  const map = new ResourceMap(defaultConfig().network.resources)
  assert.equal(map.searchOrder(r(0, 1, 600)).map(resourcesOf), [
    r(0, 1, 1024), r(0, 2, 1024), r(0, 2, 2048), r(0, 2, 512), r(0, 1, 512), r(0, 1, 256)
  ])
  assert.equal(map.searchOrder(r(0, 0, 600)), [])

  for (const req of [r(0, 1, 1), r(0, 2, 2048), r(1, 3, 5000)]) {
    assert.is(new Set(map.searchOrder(req)).size, map.slices.length, 'every slice once')
  }
})

test('offerSlices: where every request the supplier can take is searched, given the slices without a trader', () => {
  const sim = new ResourceMap(tree(
    [0, 65, [[1, 50, [[256, 100]]], [2, 35, [[512, 65], [1024, 35]]], [4, 15, [[1024, 50], [2048, 35], [4096, 15]]]]],
    [1, 35, [[1, 50, [[256, 100]]], [2, 25, [[512, 65], [1024, 35]]], [4, 15, [[2048, 65], [4096, 35]]], [8, 10, [[4096, 65], [8198, 35]]]]]
  ))

  // with a trader everywhere: the served partitions
  for (const m of [sim, toy]) {
    for (const free of [r(0, 1, 256), r(1, 8, 8198), r(0, 3, 1500), r(1, 2, 600), r(0, 0, 512)]) {
      assert.equal(m.offerSlices(free, () => false), m.servedPartitions(free))
    }
  }

  // the property: whatever slices lack a trader, a request the supplier can take is searched
  // (first slice of its search order with a trader) where the supplier offers, and the supplier
  // offers nowhere else
  const values = fc.record({
    traded: fc.array(fc.boolean(), { minLength: sim.slices.length, maxLength: sim.slices.length }),
    free: fc.record({ cpuClass: fc.integer({ min: 0, max: 1 }), cpus: fc.integer({ min: 1, max: 10 }), memory: fc.integer({ min: 1, max: 9000 }) }),
    requests: fc.array(fc.record({ cpuClass: fc.integer({ min: 0, max: 1 }), cpus: fc.integer({ min: 1, max: 10 }), memory: fc.integer({ min: 1, max: 9000 }) }), { minLength: 1, maxLength: 40 })
  })

  fc.assert(fc.property(values, ({ traded, free, requests }) => {
    const isEmpty = (s: Slice): boolean => !traded[s.index]
    const offers = new Set(sim.offerSlices(free, isEmpty))

    for (const req of requests.filter(q => contains(free, q))) {
      const searched = sim.searchOrder(req).find(s => !isEmpty(s))

      if (searched == null) {
        assert.is(offers.size, 0)
      } else {
        assert.ok(offers.has(searched), `${JSON.stringify(req)} is searched in slice ${searched.index}, where ${JSON.stringify(free)} offers`)
      }
    }

    for (const slice of offers) {
      assert.ok(!isEmpty(slice), 'never in a slice without a trader')
    }
  }), { numRuns: 300 })

  // and no offer is wasted: each slice is where some request the supplier can take is searched
  fc.assert(fc.property(values, ({ traded, free }) => {
    const isEmpty = (s: Slice): boolean => !traded[s.index]
    const searchedIn = new Set<Slice>()

    for (let cpuClass = 0; cpuClass <= free.cpuClass; cpuClass++) {
      for (let cpus = 1; cpus <= free.cpus; cpus++) {
        for (const memory of new Set([...sim.slices.map(s => s.resources.memory), ...sim.slices.map(s => s.resources.memory + 1), free.memory])) {
          const searched = memory <= free.memory ? sim.searchOrder(r(cpuClass, cpus, memory)).find(s => !isEmpty(s)) : undefined

          if (searched != null) {
            searchedIn.add(searched)
          }
        }
      }
    }

    assert.equal(new Set(sim.offerSlices(free, isEmpty)), searchedIn)
  }), { numRuns: 200 })
})

test('lowerPartitionsForOffer: the original\'s cases', () => {
  const cases: Array<[Resources, Resources[]]> = [
    [r(1, 2, 2049), [r(1, 2, 2048), r(1, 1, 2048), r(1, 1, 1048), r(0, 2, 2048), r(0, 1, 1024), r(0, 1, 512), r(0, 1, 256)]],
    [r(0, 1, 512), [r(0, 1, 512), r(0, 1, 256)]],
    [r(0, 1, 750), [r(0, 1, 512), r(0, 1, 256)]],
    [r(0, 1, 1550), [r(0, 1, 1024), r(0, 1, 512), r(0, 1, 256)]],
    [r(0, 2, 1550), [r(0, 1, 1024), r(0, 1, 512), r(0, 1, 256)]],
    [r(0, 2, 2049), [r(0, 2, 2048), r(0, 1, 1024), r(0, 1, 512), r(0, 1, 256)]],
    [r(0, 1, 255), []]
  ]

  for (const [available, expected] of cases) {
    assert.equal(toy.lowerPartitionsForOffer(available).map(s => ({ ...s.resources })), expected, `lowerPartitionsForOffer(${JSON.stringify(available)})`)
  }
})

test('lowerPartitionsForOffer compares with the available resources, not with the fittest partition as the original did', () => {
  const map = new ResourceMap(tree([0, 50, [[4, 100, [[1024, 100]]]]], [1, 50, [[1, 100, [[1024, 100]]]]]))

  assert.equal(resourcesOf(map.fittestForOffer(r(1, 4, 1024))), r(1, 1, 1024))
  // the original lists only (1, 1, 1024), though this supplier can also honour (0, 4, 1024)
  assert.equal(map.lowerPartitionsForOffer(r(1, 4, 1024)).map(s => ({ ...s.resources })), [r(1, 1, 1024), r(0, 4, 1024)])
})

test('sameSearchPartition and lowestResources', () => {
  assert.ok(toy.sameSearchPartition(r(0, 1, 300), r(0, 1, 512)))
  assert.not.ok(toy.sameSearchPartition(r(0, 1, 256), r(0, 1, 300)))
  assert.not.ok(toy.sameSearchPartition(r(0, 1, 300), r(1, 1, 300)))
  assert.not.ok(toy.sameSearchPartition(r(1, 4, 1), r(1, 4, 1)), 'no partition holds either')

  const lowest = toy.lowestResources()
  assert.equal(lowest, r(0, 1, 256))
  lowest.memory = 1
  assert.equal(toy.lowestResources(), r(0, 1, 256), 'a copy')
  assert.equal(new ResourceMap(tree([1, 100, [[2, 100, [[300, 100]]]]])).lowestResources(), r(1, 2, 300))
})

test('slices are frozen', () => {
  assert.ok(Object.isFrozen(toy.slices))
  assert.ok(Object.isFrozen(toy.slices[0]))
  assert.ok(Object.isFrozen(toy.slices[0].resources))
})

test('a leaf that gets no cell is refused, naming the leaf', () => {
  // 0.001 % of 65 536 cells is 0.66 cell
  expectConfigError(() => new ResourceMap(tree([0, 100, [[1, 100, [[256, 0.001], [512, 99.999]]]]])),
    'network.resources.cpuClasses[0].cpuCores[0].memory[0]')
  expectConfigError(() => new ResourceMap(tree([0, 99.999, [[1, 100, [[256, 100]]]]], [1, 0.001, [[1, 50, [[256, 100]]], [2, 50, [[256, 100]]]]])),
    'network.resources.cpuClasses[1].cpuCores[0].memory[0]')

  // the last child takes the rounding, so a small last leaf keeps its cell
  assert.equal(layout(new ResourceMap(tree([0, 100, [[1, 100, [[256, 99.999], [512, 0.001]]]]]))).at(-1), [r(0, 1, 512), 65535, 65536])
})

test('an empty level or percentages summing above 100 are refused', () => {
  expectConfigError(() => new ResourceMap({ cpuClasses: [] }), 'network.resources.cpuClasses')
  expectConfigError(() => new ResourceMap(tree([0, 100, []])), 'network.resources.cpuClasses[0].cpuCores')
  expectConfigError(() => new ResourceMap(tree([0, 100, [[1, 100, []]]])), 'network.resources.cpuClasses[0].cpuCores[0].memory')
  expectConfigError(() => new ResourceMap(tree([0, 100, [[1, 100, [[256, 60], [512, 60], [1024, 10]]]]])),
    'network.resources.cpuClasses[0].cpuCores[0].memory[2]')
})

test('blocksOf: the fewest aligned blocks, largest first', () => {
  const resources = r(0, 1, 256)
  const blocks = (firstCell: number, endCell: number): Array<{ prefix: number, bits: number }> =>
    toy.blocksOf({ index: 0, resources, firstCell, endCell })

  assert.equal(blocks(0, 65536), [{ prefix: 0, bits: 0 }])
  assert.equal(blocks(0, 8192), [{ prefix: 0, bits: 3 }])
  assert.equal(blocks(8192, 24576), [{ prefix: 1, bits: 3 }, { prefix: 2, bits: 3 }])
  assert.equal(blocks(5, 6), [{ prefix: 5, bits: 16 }])
  assert.is(blocks(21626, 23788).length, 11)
  // cells 1 … 65534: blocks of 1, 2, …, 2^14 cells on each side of the middle
  assert.is(blocks(1, 65535).length, 30)
})

test('blocksOf covers a run exactly with aligned, disjoint blocks (property)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: GRID_CELLS - 1 }), fc.integer({ min: 1, max: GRID_CELLS }), (first, length) => {
    const end = Math.min(GRID_CELLS, first + length)
    const blocks = toy.blocksOf({ index: 0, resources: r(0, 1, 256), firstCell: first, endCell: end })
    const runs = blocks.map(({ prefix, bits }) => {
      assert.ok(Number.isInteger(bits) && bits >= 0 && bits <= GRID_BITS)
      const size = 2 ** (GRID_BITS - bits)
      return [prefix * size, (prefix + 1) * size]
    }).sort((a, b) => a[0] - b[0])

    let cell = first
    for (const [start, stop] of runs) {
      assert.is(start, cell, 'disjoint and without gaps')
      cell = stop
    }
    assert.is(cell, end)

    for (let i = 1; i < blocks.length; i++) {
      assert.ok(blocks[i - 1].bits <= blocks[i].bits, 'largest first')
    }

    // minimal: each size appears at most twice (once on each side of the largest aligned boundary)
    const counts = new Map<number, number>()
    for (const { bits } of blocks) {
      counts.set(bits, (counts.get(bits) ?? 0) + 1)
    }
    assert.ok([...counts.values()].every(count => count <= 2))
  }), { numRuns: 500 })
})

/** The default tree plus a class with a ~0.05 % leaf (33 cells), so small slices are exercised too. */
const SMALL_SLICES = new ResourceMap(tree(
  [0, 99.9, [[1, 50, [[256, 25], [512, 50], [1024, 25]]], [2, 50, [[512, 25], [1024, 50], [2048, 25]]]]],
  [1, 0.1, [[8, 50, [[8192, 100]]], [16, 50, [[16384, 100]]]]]
))

test('randomKeyIn(slice): sha256 of the key lands in the slice (property)', () => {
  assert.ok(SMALL_SLICES.slices.some(s => s.endCell - s.firstCell < 40))

  fc.assert(fc.property(fc.nat({ max: SMALL_SLICES.slices.length - 1 }), fc.integer(), (index, seed) => {
    const slice = SMALL_SLICES.slices[index]
    const key = SMALL_SLICES.randomKeyIn(slice, seededRandom(seed))
    assert.is(key.length, 32)
    assert.is(SMALL_SLICES.sliceOf(pointOf(key)), slice)
  }), { numRuns: 200 })
})

test('randomKeyIn keeps the keys that land in other slices: about one hash a key when the asks spread as the draws land', () => {
  const asks = seededRandom(7)
  let draws = 0
  const counted = seededRandom(8)
  const random = (bytes: number): Uint8Array => { draws++; return counted(bytes) }
  const keys = new Set<string>()
  const requests = 20_000
  let alone = 0

  for (let i = 0; i < requests; i++) {
    // a slice asked for as often as draws land in it
    const slice = SMALL_SLICES.sliceOf(pointOf(asks(32)))
    alone += GRID_CELLS / (slice.endCell - slice.firstCell)
    const key = SMALL_SLICES.randomKeyIn(slice, random)
    assert.is(SMALL_SLICES.sliceOf(pointOf(key)), slice)
    keys.add(Buffer.from(key).toString('hex'))
  }

  assert.is(keys.size, requests, 'every key is given out once')
  console.log(`    ${draws} draws for ${requests} keys, against about ${Math.round(alone)} without kept keys`)
  assert.ok(draws < 1.5 * requests, `${draws} draws for ${requests} keys`)
  assert.ok(alone > 5 * requests, `drawing for each slice alone would cost about ${Math.round(alone)}`)

  // another random source has its own kept keys: a seeded source replays exactly
  const replay = (): string[] => {
    const source = seededRandom(9)
    return SMALL_SLICES.slices.map(slice => Buffer.from(SMALL_SLICES.randomKeyIn(slice, source)).toString('hex'))
  }
  assert.equal(replay(), replay())
})

test('randomKeyIn(block): the point\'s first bits are the block\'s prefix (property)', () => {
  const block = fc.integer({ min: 0, max: 12 }).chain(bits => fc.record({
    bits: fc.constant(bits),
    prefix: fc.integer({ min: 0, max: 2 ** bits - 1 })
  }))

  fc.assert(fc.property(block, fc.integer(), ({ prefix, bits }, seed) => {
    const point = pointOf(toy.randomKeyIn({ prefix, bits }, seededRandom(seed)))
    const cell = (point[0] << 8) | point[1]
    assert.is(cell >> (GRID_BITS - bits), prefix)
  }), { numRuns: 200 })

  for (const slice of SMALL_SLICES.slices) {
    for (const b of SMALL_SLICES.blocksOf(slice)) {
      assert.is(SMALL_SLICES.sliceOf(pointOf(SMALL_SLICES.randomKeyIn(b))), slice)
    }
  }
})

test('randomKeyIn uses crypto.randomBytes by default and refuses blocks that are not aligned blocks of the grid', () => {
  const keys = new Set<string>()
  for (let i = 0; i < 20; i++) {
    keys.add(Buffer.from(toy.randomKeyIn(toy.slices[3])).toString('hex'))
  }
  assert.is(keys.size, 20)

  for (const bad of [{ prefix: 0, bits: 17 }, { prefix: 4, bits: 2 }, { prefix: -1, bits: 3 }, { prefix: 0.5, bits: 3 }]) {
    assert.throws(() => toy.randomKeyIn(bad), (err: Error) => err instanceof RangeError, JSON.stringify(bad))
  }
})

test('digest: equal maps have equal digests, different maps different ones', () => {
  const hex = (map: ResourceMap): string => Buffer.from(map.digest()).toString('hex')
  const base = hex(new ResourceMap(defaultConfig().network.resources))

  assert.is(base.length, 64)
  assert.is(hex(new ResourceMap(defaultConfig().network.resources)), base)

  // different percentages that quantize to the same cells make the same map
  const sameCells = defaultConfig().network.resources
  sameCells.cpuClasses[0].cpuCores[0].percentage = 50.000001
  sameCells.cpuClasses[0].cpuCores[1].percentage = 49.999999
  assert.is(hex(new ResourceMap(sameCells)), base)

  const otherCells = defaultConfig().network.resources
  otherCells.cpuClasses[0].cpuCores[0].percentage = 40
  otherCells.cpuClasses[0].cpuCores[1].percentage = 60
  assert.is.not(hex(new ResourceMap(otherCells)), base)

  const otherValue = defaultConfig().network.resources
  otherValue.cpuClasses[0].cpuCores[0].memory[0].value = 128
  assert.is.not(hex(new ResourceMap(otherValue)), base)

  const otherClass = defaultConfig().network.resources
  otherClass.cpuClasses[0].value = 1
  assert.is.not(hex(new ResourceMap(otherClass)), base)

  assert.is.not(hex(toy), base)
})

test('anchorKey: fixed keys in the slice, the same for every map of the tree, distinct per anchor', () => {
  const map = new ResourceMap(defaultConfig().network.resources)
  const again = new ResourceMap(defaultConfig().network.resources)

  for (const slice of map.slices) {
    const keys = [0, 1, 2, 7].map(i => map.anchorKey(slice, i))
    keys.forEach((key, i) => {
      assert.is(map.sliceOfKey(key), slice)
      assert.equal(key, again.anchorKey(again.slices[slice.index], [0, 1, 2, 7][i]))
    })
    assert.is(new Set(keys.map(k => Buffer.from(k).toString('hex'))).size, 4)
  }

  assert.throws(() => map.anchorKey(map.slices[0], -1), /No anchor -1/)
  assert.throws(() => map.anchorKey(again.slices[0], 0), /No anchor 0 of slice 0/, 'a slice of another map')
})

test('estimateNetworkSize: exact below 20 known peers, about right above', () => {
  const random = seededRandom(5)
  const self = random(32)
  assert.is(estimateNetworkSize(self, undefined, 0), 1)
  assert.is(estimateNetworkSize(self, undefined, 19), 20)

  for (const n of [100, 5000]) {
    const points = Array.from({ length: n }, () => random(32))
    const estimates: number[] = []

    // the k-th closest by the first 6 bytes of the distance (ties beyond them are all but impossible)
    const head = (a: Uint8Array, b: Uint8Array): number => a.subarray(0, 6).reduce((d, x, i) => d * 256 + (x ^ b[i]), 0)

    for (const peer of points.slice(0, 200)) {
      const others = points.filter(p => p !== peer).map(p => ({ p, d: head(p, peer) })).sort((a, b) => a.d - b.d)
      estimates.push(estimateNetworkSize(peer, others[SIZE_ESTIMATE_PEERS - 1].p, others.length))
    }

    estimates.sort((a, b) => a - b)
    const median = estimates[estimates.length >> 1]
    assert.ok(Math.abs(median - n) / n < 0.15, `median estimate ${median} for ${n} peers`)
    assert.ok(estimates[Math.floor(estimates.length * 0.05)] > n / 1.6 && estimates[Math.floor(estimates.length * 0.95)] < n * 1.6, `90 % of the estimates within a factor 1.6 of ${n}: ${estimates[10]} … ${estimates[190]}`)
  }
})

test.run()
