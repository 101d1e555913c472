import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { contains, pointOf, ResourceMap } from '../src/resources/resource-map.js'
import { planOffers } from '../src/roles/offer-strategies.js'
import { computeCapacity } from '../src/roles/supplier.js'
import { assertWithinCapacity, container, createRolesNetwork, rejection, testNetworkConfig } from './fixtures/roles-network.js'
import type { SupplierOffer } from '../src/roles/offer-strategies.js'
import type { Resources } from '../src/types.js'
import type { RolesNetwork } from './fixtures/roles-network.js'

const config = testNetworkConfig()
const map = new ResourceMap(config.resources)

function r (cpuClass: number, cpus: number, memory: number): Resources {
  return { cpuClass, cpus, memory }
}

/** The default tree's slices: (0,1,256) (0,1,512) (0,1,1024) (0,2,512) (0,2,1024) (0,2,2048). */
function slice (cpus: number, memory: number): ReturnType<ResourceMap['sliceOf']> {
  const found = map.slices.find(s => s.resources.cpus === cpus && s.resources.memory === memory)

  if (found == null) {
    throw new Error('no such slice')
  }

  return found
}

function offer (id: number, s: ReturnType<typeof slice>, free: Resources): SupplierOffer {
  return { id, trader: { peerId: `trader-${id}`, multiaddrs: [] }, slice: s, free, lastRefreshed: 0, missed: 0 }
}

function xorOf (a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i])
}

/** The slices holding at least one peer of the network. */
function populated (net: RolesNetwork): Set<number> {
  return new Set(net.peers.map(p => net.map.sliceOf(p.peer.key).index))
}

test('capacity: cores × cpuOvercommit % (floored) × cpuSlices, memory × memoryOvercommit %', () => {
  const capacity = computeCapacity({ cpus: 3, memory: 1000, cpuClass: 1 }, { cpuOvercommit: 150, memoryOvercommit: 120, cpuSlices: 2 })
  assert.equal(capacity, { cpuClass: 1, cpus: 8, memory: 1200 })
  assert.equal(computeCapacity({ cpus: 1.5, memory: 511.9, cpuClass: 0 }, { cpuOvercommit: 100, memoryOvercommit: 100, cpuSlices: 1 }), { cpuClass: 0, cpus: 1, memory: 511 })
})

test('capacity: from the runtime unless advertised, with the network\'s overcommit and slicing', async () => {
  const sliced = testNetworkConfig(c => { c.cpuOvercommit = 150; c.memoryOvercommit = 120; c.cpuSlices = 2 })
  const net = await createRolesNetwork({ size: 2, config: sliced, runtime: () => ({ cpus: 3, memory: 1000, allocatable: { cpus: 8, memory: 1200 } }), cpuClass: () => 1 })
  assert.equal(net.peers[0].roles.offers().supplying.max, { cpuClass: 1, cpus: 8, memory: 1200 })
  assert.equal(net.peers[0].roles.offers().supplying.available, { cpuClass: 1, cpus: 8, memory: 1200 })
  await net.stop()
})

test('single-offer plan: one offer in the largest slice the supplier honours, updated, moved or replaced', () => {
  const full = r(0, 2, 2048)
  assert.equal(planOffers('single-offer', map, [], full), { remove: [], update: [], create: [{ slice: slice(2, 2048), fallback: true }] })

  const top = offer(1, slice(2, 2048), full)
  assert.equal(planOffers('single-offer', map, [top], full), { remove: [], update: [], create: [] })
  // same slice, fewer free resources: an update
  assert.equal(planOffers('single-offer', map, [top], r(0, 2, 3000)).update, [top])
  // the slice is no longer honoured: withdraw and make it again lower
  assert.equal(planOffers('single-offer', map, [top], r(0, 1, 1024)), { remove: [top], update: [], create: [{ slice: slice(1, 1024), fallback: true }] })

  // an offer in a lower slice still honoured (it grew, or an earlier creation fell back): kept until one is made higher
  const low = offer(2, slice(1, 512), r(0, 1, 512))
  assert.equal(planOffers('single-offer', map, [low], full), { remove: [], update: [], create: [{ slice: slice(2, 2048), fallback: true, replaces: low }] })
})

test('multi-offer plans: one offer per honoured slice; updates only with multi-offer-updates', () => {
  const full = r(0, 2, 2048)
  const created = planOffers('multi-offer', map, [], full).create.map(t => t.slice.resources)
  assert.equal(created, map.slices.map(s => s.resources).reverse())
  assert.ok(planOffers('multi-offer', map, [], full).create.every(t => !t.fallback))

  const kept = offer(1, slice(1, 256), full)
  const gone = offer(2, slice(2, 2048), full)
  const twice = offer(3, slice(1, 256), full)
  const smaller = r(0, 1, 1024)
  const plain = planOffers('multi-offer', map, [kept, gone, twice], smaller)
  assert.equal(plain.remove, [gone, twice])
  assert.equal(plain.update, [])
  assert.equal(plain.create.map(t => t.slice.resources), [r(0, 1, 1024), r(0, 1, 512)])

  const updates = planOffers('multi-offer-updates', map, [kept, gone], smaller)
  assert.equal(updates.update, [kept])
})

test('plans: a fully used supplier withdraws every offer, and one too small to serve any request', () => {
  const offers = [offer(1, slice(1, 256), r(0, 1, 256)), offer(2, slice(1, 512), r(0, 1, 512))]

  for (const strategy of ['single-offer', 'multi-offer', 'multi-offer-updates'] as const) {
    assert.equal(planOffers(strategy, map, offers, r(0, 0, 512)).remove, offers)
    assert.equal(planOffers(strategy, map, offers, r(0, 1, 0)).remove, offers)
  }

  // 1 CPU and 100 MB honour no slice: a single offer goes; but requests of up to that much are
  // searched in (0, 1, 256), where multiple-offer suppliers keep offering
  assert.equal(planOffers('single-offer', map, offers, r(0, 1, 100)).remove, offers)
  assert.equal(planOffers('multi-offer', map, offers, r(0, 1, 100)), { remove: [offers[1]], update: [], create: [] })
  assert.equal(planOffers('multi-offer-updates', map, offers, r(0, 1, 100)), { remove: [offers[1]], update: [offers[0]], create: [] })
})

test('single-offer strategy: each supplier holds one offer, in the highest populated slice it honours', async () => {
  const net = await createRolesNetwork({ size: 12, config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }) })
  const slices = populated(net)
  const expected = net.map.slices.findLast(s => slices.has(s.index) && contains({ cpuClass: 0, cpus: 2, memory: 2048 }, s.resources))

  for (const { roles } of net.peers) {
    const { offers } = roles.offers().supplying
    assert.is(offers.length, 1)
    const trader = net.byId(offers[0].peerId)
    assert.is(net.map.sliceOf(trader.peer.key).index, expected?.index)
    assert.ok(trader.roles.offers().trading.offers.some(o => o.id === offers[0].id))
  }

  await net.stop()
})

test('multi-offer strategy: each supplier offers once in every populated slice it honours, each at a trader of that slice', async () => {
  const net = await createRolesNetwork({ size: 12, config: testNetworkConfig(c => { c.discoveryBackend = 'multi-offer' }), runtime: i => i % 2 === 0 ? { cpus: 2, memory: 2048 } : { cpus: 1, memory: 512 } })
  const slices = populated(net)

  for (const { roles } of net.peers) {
    const { offers, max } = roles.offers().supplying
    const expected = net.map.slices.filter(s => slices.has(s.index) && contains(max, s.resources)).map(s => s.index).sort()
    const actual = offers.map(o => net.map.sliceOf(net.byId(o.peerId).peer.key).index).sort()
    assert.equal(actual, expected)
  }

  await net.stop()
})

test('refresh: only the offer\'s trader refreshes it; anyone else gets false', async () => {
  const net = await createRolesNetwork({ size: 6, config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }) })
  const supplier = net.peers[0]
  const [made] = supplier.roles.offers().supplying.offers
  const trader = net.byId(made.peerId)
  const stranger = net.peers.find(p => p !== trader && p !== supplier)

  assert.is(await net.network.client(trader.peer.peerId).refreshOffer(supplier.peer.node, made.id), true)
  assert.is(await net.network.client(stranger!.peer.peerId).refreshOffer(supplier.peer.node, made.id), false)
  assert.is(await net.network.client(trader.peer.peerId).refreshOffer(supplier.peer.node, made.id + 1000), false)
  await net.stop()
})

test('acquisition is atomic: two buyers racing for all of one supplier, one wins and one is refused', async () => {
  const net = await createRolesNetwork({ size: 4, config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }) })
  const supplier = net.peers[0]
  const [made] = supplier.roles.offers().supplying.offers
  const whole = [container({ cpus: 2, memory: 2048 })]
  const results = await Promise.allSettled([
    net.network.client(net.peers[1].peer.peerId).launchContainer(supplier.peer.node, made.id, 'race-1', whole),
    net.network.client(net.peers[2].peer.peerId).launchContainer(supplier.peer.node, made.id, 'race-2', whole)
  ])

  assert.equal(results.map(x => x.status).sort(), ['fulfilled', 'rejected'])
  const refused = results.find(x => x.status === 'rejected') as PromiseRejectedResult
  assert.is(refused.reason.status, 'REFUSED')
  assert.match(refused.reason.message, /not (valid|enough)/)
  assert.equal(supplier.runtime.used(), { cpus: 2, memory: 2048, containers: 1 })
  assertWithinCapacity(net, true)
  await net.stop()
})

test('a launch is checked against the free resources: an offer since moved still works, an id never made does not', async () => {
  const net = await createRolesNetwork({ size: 8, config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }) })
  const supplier = net.peers[0]
  const buyer = net.network.client(net.peers[1].peer.peerId)
  const [first] = supplier.roles.offers().supplying.offers
  await buyer.launchContainer(supplier.peer.node, first.id, 'a', [container({ cpus: 1, memory: 1024 })])
  await net.clock.settle()

  // the single offer moved to a smaller slice, under a new id
  const [moved] = supplier.roles.offers().supplying.offers
  assert.ok(moved.id !== first.id)
  await buyer.launchContainer(supplier.peer.node, first.id, 'b', [container({ cpus: 1, memory: 512 })])
  assert.is(supplier.runtime.used().containers, 2)

  const never = await rejection(buyer.launchContainer(supplier.peer.node, moved.id + 100, 'c', [container({ cpus: 1, memory: 1 })]))
  assert.equal([never.status, never.message], ['REFUSED', `offer ${moved.id + 100} was not made by this supplier`])
  const full = await rejection(buyer.launchContainer(supplier.peer.node, moved.id, 'd', [container({ cpus: 1, memory: 1024 })]))
  assert.match(full.message, /not enough free resources: 1 CPU and 1024 MB asked, 0 CPUs and 512 MB free/)
  await net.stop()
})

test('a fully used supplier withdraws every offer; a stopped container brings them back', async () => {
  const net = await createRolesNetwork({ size: 8 })
  const supplier = net.peers[0]
  const offersAtTraders = (): number => net.peers.reduce((sum, p) => sum + p.roles.offers().trading.offers.filter(o => o.peerId === supplier.peer.peerId).length, 0)
  assert.ok(offersAtTraders() > 0)

  const [made] = supplier.roles.offers().supplying.offers
  const [status] = await net.network.client(net.peers[1].peer.peerId).launchContainer(supplier.peer.node, made.id, 'fill', [container({ cpus: 2, memory: 1024 })])
  await net.clock.settle()
  assert.is(supplier.roles.offers().supplying.offers.length, 0)
  assert.is(offersAtTraders(), 0)

  await net.network.client(net.peers[1].peer.peerId).stopLocalContainer(supplier.peer.node, status.containerId)
  await net.clock.settle()
  assert.ok(offersAtTraders() > 0)
  await net.stop()
})

test('republication after launches is coalesced: many launches at once, a few updates per offer', async () => {
  const net = await createRolesNetwork({ size: 6, runtime: () => ({ cpus: 64, memory: 65536 }) })
  const supplier = net.peers[0]
  const [made] = supplier.roles.offers().supplying.offers
  // offers it keeps itself, as the trader of its own slice, are updated without a message
  const offers = supplier.roles.offers().supplying.offers.filter(o => o.peerId !== supplier.peer.peerId).length
  const before = net.network.metrics(supplier.peer.peerId)
  const buyer = net.network.client(net.peers[1].peer.peerId)

  await Promise.all(Array.from({ length: 50 }, async (_, i) => buyer.launchContainer(supplier.peer.node, made.id, `many-${i}`, [container({ cpus: 1, memory: 256 })])))
  await net.clock.settle()

  const after = net.network.metrics(supplier.peer.peerId)
  const updates = after.updateOffer.messagesSent - before.updateOffer.messagesSent
  assert.is(supplier.runtime.used().containers, 50)
  assert.ok(updates <= 2 * offers, `${updates} updates for ${offers} offers after 50 launches`)
  assert.ok(updates >= offers)
  await net.stop()
})

test('stop withdraws every offer from its trader; launches are refused afterwards', async () => {
  const net = await createRolesNetwork({ size: 8 })
  const supplier = net.peers[0]
  const [made] = supplier.roles.offers().supplying.offers
  await supplier.roles.stop()

  for (const { roles } of net.peers) {
    assert.is(roles.offers().trading.offers.filter(o => o.peerId === supplier.peer.peerId).length, 0)
  }

  const err = await rejection(net.network.client(net.peers[1].peer.peerId).launchContainer(supplier.peer.node, made.id, 'late', [container({ cpus: 1, memory: 256 })]))
  assert.is(err.status, 'REFUSED')
  await net.stop()
})

test('anchors: on a small network every supplier offers in a slice at the same trader, the slice\'s peer closest to its first anchor', async () => {
  const net = await createRolesNetwork({ size: 16, config: testNetworkConfig() })
  const traders = new Map<number, Set<string>>()

  for (const { roles } of net.peers) {
    for (const offer of roles.offers().supplying.offers) {
      const slice = net.map.sliceOf(net.byId(offer.peerId).peer.key).index
      traders.set(slice, (traders.get(slice) ?? new Set()).add(offer.peerId))
    }
  }

  assert.ok(traders.size >= 3, 'offers in several slices')

  for (const [index, holders] of traders) {
    const anchor = pointOf(net.map.anchorKey(net.map.slices[index], 0))
    const members = net.peers.filter(p => net.map.sliceOf(p.peer.key).index === index)
    const closest = members.sort((a, b) => Buffer.compare(Buffer.from(xorOf(a.peer.key, anchor)), Buffer.from(xorOf(b.peer.key, anchor))))[0]
    assert.equal([...holders], [closest.peer.peerId], `slice ${index}: ${members.length} traders, offers at ${holders.size}`)
  }

  await net.stop()
})

test('without anchors (tradersPerAnchor 0), offers of a slice spread over its traders', async () => {
  const net = await createRolesNetwork({ size: 16, config: testNetworkConfig(c => { c.tradersPerAnchor = 0 }) })
  const holders = new Map<number, Set<string>>()

  for (const { roles } of net.peers) {
    for (const offer of roles.offers().supplying.offers) {
      const slice = net.map.sliceOf(net.byId(offer.peerId).peer.key).index
      holders.set(slice, (holders.get(slice) ?? new Set()).add(offer.peerId))
    }
  }

  assert.ok([...holders.values()].some(h => h.size > 1), 'some slice has offers at several traders')
  await net.stop()
})

test('a supplier that found a slice without a trader offers where its requests are searched, and moves there when a peer of the slice joins', async () => {
  const net = await createRolesNetwork({ size: 12, config: testNetworkConfig(), stopped: true })
  const [first, ...rest] = net.peers
  const firstSlice = net.map.sliceOf(first.peer.key).index
  const newcomer = rest.find(p => net.map.sliceOf(p.peer.key).index !== firstSlice)!
  const newSlice = net.map.sliceOf(newcomer.peer.key).index
  rest.forEach(p => { net.network.setInOverlay(p.peer.peerId, false) })

  // alone, the first peer is the only trader: it offers to itself, for every slice's requests
  await first.roles.start()
  await net.clock.advance(100)
  const alone = first.roles.offers().supplying.offers
  assert.ok(alone.length > 0 && alone.every(o => o.peerId === first.peer.peerId))

  // a peer of another slice joins, long before the next supplying tick: the offer moves to it
  net.network.setInOverlay(newcomer.peer.peerId, true)
  await newcomer.roles.start()
  await net.clock.advance(100)
  assert.ok(net.clock.now() - 1_000_000 < net.config.supplyingInterval)
  const after = first.roles.offers().supplying.offers
  assert.ok(after.some(o => o.peerId === newcomer.peer.peerId), `an offer at the newcomer of slice ${newSlice}`)
  assert.ok(newcomer.roles.offers().trading.offers.some(o => o.peerId === first.peer.peerId))
  await net.stop()
})

test.run()
