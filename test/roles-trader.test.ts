import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_OFFERS_PER_SUPPLIER } from '../src/roles/trader.js'
import { container, createRolesNetwork, rejection, testNetworkConfig } from './fixtures/roles-network.js'
import type { Offer, Resources } from '../src/types.js'
import type { RolesNetwork, RolesPeer } from './fixtures/roles-network.js'

function wireOffer (id: number, free: Resources, used: Resources = { cpuClass: 0, cpus: 0, memory: 0 }, containersRunning = 0): Offer {
  return { id, amount: 1, freeResources: free, usedResources: used, containersRunning }
}

/** A peer whose slice asks for more than `small`, and one other peer. */
function traderAbove (net: RolesNetwork, small: Resources): RolesPeer {
  const trader = net.peers.find(p => {
    const { resources } = net.map.sliceOf(p.peer.key)
    return resources.cpus > small.cpus || resources.memory > small.memory
  })

  if (trader == null) {
    throw new Error('no trader with a slice above the offer')
  }

  return trader
}

/** A network whose roles are not started: traders keep only what the test sends them. */
async function quietNetwork (size = 6): Promise<RolesNetwork> {
  return createRolesNetwork({ size, stopped: true })
}

test('a trader refuses an offer smaller than its slice and says why', async () => {
  const net = await quietNetwork()
  const small = { cpuClass: 0, cpus: 1, memory: 256 }
  const trader = traderAbove(net, small)
  const supplier = net.peers.find(p => p !== trader)!
  const result = await net.network.client(supplier.peer.peerId).createOffer(trader.peer.node, wireOffer(1, small))

  assert.is(result.accepted, false)
  assert.match(result.reason ?? '', /serves no request searched in this trader's slice/)
  assert.is(trader.roles.offers().trading.offers.length, 0)

  const big = { cpuClass: 0, cpus: 2, memory: 2048 }
  assert.equal(await net.network.client(supplier.peer.peerId).createOffer(trader.peer.node, wireOffer(1, big)), { accepted: true })
  assert.is(trader.roles.offers().trading.offers.length, 1)
})

test('a trader takes an offer for the requests of slices its supplier found without a trader, and keeps checking it', async () => {
  const net = await quietNetwork()
  const small = { cpuClass: 0, cpus: 1, memory: 256 }
  const trader = traderAbove(net, small)
  const supplier = net.peers.find(p => p !== trader)!
  const client = net.network.client(supplier.peer.peerId)
  const own = net.map.sliceOf(trader.peer.key)
  // every other slice without a trader: the supplier's requests are searched here
  const others = net.map.slices.filter(s => s !== own).map(s => s.index)

  assert.equal(await client.createOffer(trader.peer.node, wireOffer(1, small), { emptySlices: others }), { accepted: true })
  assert.is(trader.roles.offers().trading.offers.length, 1)
  assert.is(await client.updateOffer(trader.peer.node, wireOffer(1, { ...small, memory: 200 })), true, 'updated under the same claim')

  // claiming that some slice is empty where these requests are not searched changes nothing:
  // they are searched in the first slice, (1, 256)
  const elsewhere = net.map.slices.find(s => s.index !== 0 && s !== own)!
  const refused = await client.createOffer(trader.peer.node, wireOffer(2, small), { emptySlices: [elsewhere.index] })
  assert.is(refused.accepted, false)
  assert.match(refused.reason ?? '', /even with slice \d+ without a trader/)
  // nor does claiming the trader's own slice empty
  assert.is((await client.createOffer(trader.peer.node, wireOffer(3, small), { emptySlices: [own.index] })).accepted, false)
  // an update with nothing free drops the offer
  assert.is(await client.updateOffer(trader.peer.node, wireOffer(1, { cpuClass: 0, cpus: 0, memory: 200 })), false)
  assert.is(trader.roles.offers().trading.offers.length, 0)
})

test('offers are keyed by the sender\'s identity: nobody else updates or removes them', async () => {
  const net = await quietNetwork()
  const [trader, supplier, intruder] = net.peers
  const big = { cpuClass: 0, cpus: 2, memory: 2048 }
  await net.network.client(supplier.peer.peerId).createOffer(trader.peer.node, wireOffer(7, big))

  // the intruder names the supplier's offer id: it can only reach offers of its own
  assert.is(await net.network.client(intruder.peer.peerId).updateOffer(trader.peer.node, wireOffer(7, { ...big, memory: 4096 })), false)
  await net.network.client(intruder.peer.peerId).removeOffer(trader.peer.node, 7)
  const [kept] = trader.roles.offers().trading.offers
  assert.equal({ id: kept.id, peerId: kept.peerId, free: kept.free }, { id: 7, peerId: supplier.peer.peerId, free: big })

  // an offer with the same id from the intruder is another offer
  await net.network.client(intruder.peer.peerId).createOffer(trader.peer.node, wireOffer(7, big))
  assert.is(trader.roles.offers().trading.offers.length, 2)

  // the supplier itself updates and removes its own
  assert.is(await net.network.client(supplier.peer.peerId).updateOffer(trader.peer.node, wireOffer(7, big, { cpuClass: 0, cpus: 1, memory: 1 }, 3)), true)
  await net.network.client(supplier.peer.peerId).removeOffer(trader.peer.node, 7)
  assert.equal(trader.roles.offers().trading.offers.map(o => o.peerId), [intruder.peer.peerId])
})

test('getOffers returns each offer with its supplier, used resources and running containers', async () => {
  const net = await quietNetwork()
  const [trader, supplier, buyer] = net.peers
  const free = { cpuClass: 0, cpus: 2, memory: 2048 }
  const used = { cpuClass: 0, cpus: 2, memory: 1024 }
  await net.network.client(supplier.peer.peerId).createOffer(trader.peer.node, wireOffer(3, free, used, 2))

  const offers = await net.network.client(buyer.peer.peerId).getOffers(trader.peer.node, true)
  assert.equal(offers, [{ ...wireOffer(3, free, used, 2), supplier: supplier.peer.node }])
})

test('getOffers with what the buyer needs answers only the offers that hold it', async () => {
  const net = await quietNetwork()
  const [trader, small, large, buyer] = net.peers
  await net.network.client(small.peer.peerId).createOffer(trader.peer.node, wireOffer(1, { cpuClass: 0, cpus: 2, memory: 2048 }))
  await net.network.client(large.peer.peerId).createOffer(trader.peer.node, wireOffer(2, { cpuClass: 1, cpus: 4, memory: 4096 }))
  const client = net.network.client(buyer.peer.peerId)
  const suppliers = async (needed?: Resources): Promise<string[]> => (await client.getOffers(trader.peer.node, true, { needed })).map(o => o.supplier.peerId).sort()

  assert.equal(await suppliers(), [small.peer.peerId, large.peer.peerId].sort())
  assert.equal(await suppliers({ cpuClass: 0, cpus: 2, memory: 2048 }), [small.peer.peerId, large.peer.peerId].sort())
  assert.equal(await suppliers({ cpuClass: 0, cpus: 3, memory: 1024 }), [large.peer.peerId])
  assert.equal(await suppliers({ cpuClass: 1, cpus: 1, memory: 256 }), [large.peer.peerId])
  assert.equal(await suppliers({ cpuClass: 0, cpus: 1, memory: 8192 }), [])
})

test('an update that no longer serves the slice drops the offer', async () => {
  const net = await quietNetwork()
  const lowest = net.map.lowestResources()
  const trader = traderAbove(net, lowest)
  const supplier = net.peers.find(p => p !== trader)!
  const slice = net.map.sliceOf(trader.peer.key).resources
  await net.network.client(supplier.peer.peerId).createOffer(trader.peer.node, wireOffer(1, slice))
  // what is left holds only requests searched in the lowest slice
  assert.is(await net.network.client(supplier.peer.peerId).updateOffer(trader.peer.node, wireOffer(1, lowest)), false)
  assert.is(trader.roles.offers().trading.offers.length, 0)
})

test('a trader keeps a bounded number of offers per supplier', async () => {
  // a supplier whose address names no IP: no per-host cap comes first
  const net = await createRolesNetwork({ size: 6, stopped: true, address: i => i === 1 ? '/dns4/supplier.test/tcp/7800' : undefined })
  const [trader, supplier] = net.peers
  const big = { cpuClass: 0, cpus: 2, memory: 2048 }
  const client = net.network.client(supplier.peer.peerId)

  for (let id = 0; id < MAX_OFFERS_PER_SUPPLIER; id++) {
    assert.is((await client.createOffer(trader.peer.node, wireOffer(id, big))).accepted, true)
  }

  const refused = await client.createOffer(trader.peer.node, wireOffer(MAX_OFFERS_PER_SUPPLIER, big))
  assert.is(refused.accepted, false)
  assert.match(refused.reason ?? '', /at most 64 offers per supplier/)
  // replacing an offer it keeps is fine
  assert.is((await client.createOffer(trader.peer.node, wireOffer(0, big))).accepted, true)
})

test('only traders of the slice may advertise, and only traders of the slice', async () => {
  const net = await quietNetwork(20)
  const sliceOf = (p: RolesPeer): number => net.map.sliceOf(p.peer.key).index
  const trader = net.peers.find(p => net.peers.filter(q => sliceOf(q) === sliceOf(p)).length >= 3)!
  const [same, other] = net.peers.filter(p => p !== trader && sliceOf(p) === sliceOf(trader))
  const outsider = net.peers.find(p => sliceOf(p) !== sliceOf(trader))!

  const fromOutside = await rejection(net.network.client(outsider.peer.peerId).advertiseOffersNeighbor(trader.peer.node, same.peer.node))
  assert.equal([fromOutside.status, fromOutside.message], ['REFUSED', 'only traders of this slice advertise to it'])
  const ofOutsider = await rejection(net.network.client(same.peer.peerId).advertiseOffersNeighbor(trader.peer.node, outsider.peer.node))
  assert.equal([ofOutsider.status, ofOutsider.message], ['REFUSED', 'the advertised trader is not in this slice'])

  // a same-slice trader advertising another one that keeps an offer: the empty trader relays to it
  await net.network.client(outsider.peer.peerId).createOffer(other.peer.node, wireOffer(1, { cpuClass: 0, cpus: 2, memory: 2048 }))
  await net.network.client(same.peer.peerId).advertiseOffersNeighbor(trader.peer.node, other.peer.node)
  const relayed = await net.network.client(outsider.peer.peerId).getOffers(trader.peer.node, true)
  assert.equal(relayed.map(o => [o.id, o.supplier.peerId]), [[1, outsider.peer.peerId]])
  // the relay passes what the buyer needs on
  assert.equal(await net.network.client(outsider.peer.peerId).getOffers(trader.peer.node, true, { needed: { cpuClass: 0, cpus: 4, memory: 512 } }), [])
})

test('refresh loop: a supplier answering false loses its offer at once', async () => {
  const net = await createRolesNetwork({ size: 6, config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }) })
  const [trader, stranger] = net.peers
  // the stranger never made offer 99 with this trader: its refresh answers false
  await net.network.client(stranger.peer.peerId).createOffer(trader.peer.node, wireOffer(99, { cpuClass: 0, cpus: 2, memory: 2048 }))
  const has99 = (): boolean => trader.roles.offers().trading.offers.some(o => o.id === 99 && o.peerId === stranger.peer.peerId)
  assert.ok(has99())

  await net.clock.advance(net.config.refreshingInterval)
  assert.not.ok(has99())
  await net.stop()
})

test('advertisement and relay: empty traders of a slice learn the trader holding its offers and relay to it', async () => {
  // one supplier, single offer: only one trader of its slice holds an offer
  const config = testNetworkConfig(c => { c.discoveryBackend = 'single-offer' })
  const net = await createRolesNetwork({ size: 40, config, runtime: i => i === 0 ? { cpus: 2, memory: 2048 } : { cpus: 0, memory: 0 } })
  const [made] = net.peers[0].roles.offers().supplying.offers
  const holder = net.byId(made.peerId)
  const slice = net.map.sliceOf(holder.peer.key).index
  const empty = net.peers.filter(p => p !== holder && net.map.sliceOf(p.peer.key).index === slice)
  assert.ok(empty.length >= 2, `the slice has ${empty.length} empty traders`)

  const asker = net.peers.find(p => net.map.sliceOf(p.peer.key).index !== slice)!
  const relayed = async (trader: RolesPeer): Promise<number> => (await net.network.client(asker.peer.peerId).getOffers(trader.peer.node, true)).length
  const direct = async (trader: RolesPeer): Promise<number> => (await net.network.client(asker.peer.peerId).getOffers(trader.peer.node, false)).length

  // before any advertisement the empty traders know nothing
  assert.equal(await Promise.all(empty.map(relayed)), empty.map(() => 0))

  await net.clock.advance(config.spreadOffersInterval)
  // advertisements travel through runs of empty traders: every empty trader of the slice relays now
  assert.equal(await Promise.all(empty.map(relayed)), empty.map(() => 1))
  assert.equal(await Promise.all(empty.map(direct)), empty.map(() => 0))

  // the offer is consumed: the supplier withdraws it, and a relay that finds nothing forgets the neighbour
  await net.network.client(asker.peer.peerId).launchContainer(net.peers[0].peer.node, made.id, 'fill', [container({ cpus: 2, memory: 2048 })])
  await net.clock.settle()
  assert.equal(await Promise.all(empty.map(relayed)), empty.map(() => 0))
  assert.equal(empty.map(p => p.roles.offers().trading.offers.length), empty.map(() => 0))
  await net.stop()
})

test.run()
