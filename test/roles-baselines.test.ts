/**
 * The original simulator's baseline discovery backends, run by the roles:
 * `random` (no offers: buyers ask the peers of random lookups for their free resources) and
 * `swarm` (a central master keeps every worker's registration and answers buyers with the best
 * workers), on in-process networks over LocalNetwork and a ManualClock.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { contains } from '../src/resources/resource-map.js'
import { weightOf, ANSWER_OFFERS } from '../src/roles/ranking.js'
import { SWARM_MASTER_KEY } from '../src/roles/swarm.js'
import { assertWithinCapacity, container, createRolesNetwork, rejection, testNetworkConfig } from './fixtures/roles-network.js'
import type { DiscoveryBackend, SchedulingPolicy } from '../src/config/types.js'
import type { MessageName } from '../src/protocols/ids.js'
import type { OfferView, Resources } from '../src/types.js'
import type { LocalMessage } from './fixtures/local-network.js'
import type { RolesNetwork, RolesPeer } from './fixtures/roles-network.js'

/** Capacities of the peers (cores, MB), cycled. */
const CAPACITIES: Array<[number, number]> = [[2, 2048], [1, 1024], [4, 4096], [2, 1024], [1, 512]]
/** Messages of offer management, which the random backend never sends. */
const OFFER_MESSAGES: MessageName[] = ['createOffer', 'updateOffer', 'removeOffer', 'refreshOffer', 'advertiseOffersNeighbor']

function r (cpus: number, memory: number, cpuClass = 0): Resources {
  return { cpuClass, cpus, memory }
}

interface BaselineNetwork extends RolesNetwork {
  /** every message that went over the network, in order */
  messages: LocalMessage[]
}

async function baselineNetwork (backend: DiscoveryBackend, size: number, options: { seed?: number, policy?: SchedulingPolicy } = {}): Promise<BaselineNetwork> {
  const messages: LocalMessage[] = []
  const config = testNetworkConfig(c => {
    c.discoveryBackend = backend
    c.schedulingPolicy = options.policy ?? 'binpack'
  })
  const net = await createRolesNetwork({
    size,
    config,
    seed: options.seed,
    onMessage: message => { messages.push(message) },
    runtime: i => ({ cpus: CAPACITIES[i % CAPACITIES.length][0], memory: CAPACITIES[i % CAPACITIES.length][1] })
  })

  return { ...net, messages }
}

/** Requests of these names that went over the network (a peer's messages to itself do not). */
function sent (net: BaselineNetwork, ...names: MessageName[]): number {
  return net.messages.filter(m => names.includes(m.name)).length
}

/** Every live peer's free resources equal its capacity, and its runtime runs nothing. */
function assertAllFree (net: RolesNetwork): void {
  for (const { roles, runtime, peer } of net.peers.filter(p => net.network.isAlive(p.peer.peerId))) {
    const { max, available } = roles.offers().supplying
    assert.equal(available, max, `peer ${peer.peerId.slice(-6)}`)
    const { cpus, memory } = runtime.used()
    assert.equal({ cpus, memory }, { cpus: 0, memory: 0 }, `peer ${peer.peerId.slice(-6)}`)
  }
}

/**
 * The request costs what the buyer's stats say: its submission, the lookups' requests, and
 * every GetOffers and LaunchContainer it sent over the network (none to itself).
 */
async function assertCounted (net: BaselineNetwork, buyer: RolesPeer, req: Resources): Promise<void> {
  const before = { messages: buyer.roles.stats().messagesPerRequest.sum, rpcs: net.network.lookups.rpcs, log: net.messages.length }
  await buyer.roles.run([container(req)])
  const fromBuyer = net.messages.slice(before.log).filter(m => m.from === buyer.peer.peerId && (m.name === 'getOffers' || m.name === 'launchContainer')).length
  const lookupRequests = net.network.lookups.rpcs - before.rpcs
  assert.is(buyer.roles.stats().messagesPerRequest.sum - before.messages, 1 + lookupRequests + fromBuyer)
  await net.clock.settle()
}

// ---- random ----

test('random: requests are placed on peers with room, and no offer is ever made', async () => {
  const net = await baselineNetwork('random', 12, { seed: 3 })
  const placed = []

  for (let i = 0; i < 12; i++) {
    const [status] = await net.peers[(i * 5) % net.peers.length].roles.run([container(r(1, 512))])
    placed.push(status)
    await net.clock.settle()
    assertWithinCapacity(net, true)
  }

  assert.is(placed.length, 12)
  assert.is(net.peers.reduce((sum, p) => sum + p.roles.hosted().length, 0), 12)
  assert.ok(new Set(placed.map(s => s.supplier.peerId)).size > 1, 'placements spread over several suppliers')

  // time passes: timers run, still nothing about offers goes over the network
  await net.clock.advance(net.config.supplyingInterval * 2)
  assert.is(sent(net, ...OFFER_MESSAGES), 0)
  assert.ok(OFFER_MESSAGES.every(name => net.network.totals()[name].messagesSent === 0))
  assert.ok(sent(net, 'getOffers') > 0)
  assert.is(sent(net, 'launchContainer'), placed.filter((s, i) => s.supplier.peerId !== net.peers[(i * 5) % net.peers.length].peer.peerId).length)
  assert.ok(net.peers.every(p => p.roles.offers().trading.offers.length === 0 && p.roles.offers().supplying.offers.length === 0))
  assert.is(net.network.handlerErrors.length, 0)
  await net.stop()
  assert.is(sent(net, ...OFFER_MESSAGES), 0, 'stopping withdraws nothing either')
})

test('random: a peer answers GetOffers with its own free and used resources, when they hold what is needed', async () => {
  const net = await baselineNetwork('random', 4)
  const [supplier, buyer] = net.peers // supplier: 2 cores, 2048 MB
  const client = net.network.client(buyer.peer.peerId)

  const [offer] = await client.getOffers(supplier.peer.node, true)
  assert.equal({ ...offer, id: 0 }, { id: 0, amount: 1, freeResources: r(2, 2048), usedResources: r(0, 0), containersRunning: 0, supplier: supplier.peer.node })
  assert.equal(await client.getOffers(supplier.peer.node, true, { needed: r(1, 2048) }), [offer])
  assert.equal(await client.getOffers(supplier.peer.node, true, { needed: r(3, 512) }), [])
  assert.equal(await client.getOffers(supplier.peer.node, false, { needed: r(1, 512, 1) }), [], 'a low-class peer does not hold a high-class request')

  // its pseudo-offer's id is one a launch is taken against, as long as the resources are free
  await client.launchContainer(supplier.peer.node, offer.id, 'first', [container(r(1, 1536))])
  assert.equal(await client.getOffers(supplier.peer.node, true), [{ ...offer, freeResources: r(1, 512), usedResources: r(1, 1536), containersRunning: 1 }])
  const refused = await rejection(client.launchContainer(supplier.peer.node, offer.id, 'too-big', [container(r(1, 1024))]))
  assert.is(refused.status, 'REFUSED')

  // full: no answer at all
  await client.launchContainer(supplier.peer.node, offer.id, 'second', [container(r(1, 512))])
  assert.equal(await client.getOffers(supplier.peer.node, true), [])
  await net.stop()
})

test('random: a request no peer can hold fails with NoOffersError after randBackendMaxRetries lookups', async () => {
  const net = await baselineNetwork('random', 12, { seed: 5 })
  const [buyer] = net.peers
  const { randBackendMaxRetries } = net.config

  for (const req of [r(8, 1024), r(2, 8192), r(1, 256, 1)]) {
    const before = buyer.roles.stats().lookupsPerRequest.sum
    const err = await rejection(buyer.roles.run([container(req)]))
    assert.is(err.name, 'NoOffersError', err.message)
    assert.match(err.message, new RegExp(`${randBackendMaxRetries} random lookups`))
    assert.is(buyer.roles.stats().lookupsPerRequest.sum - before, randBackendMaxRetries)
  }

  assert.is(buyer.roles.stats().requestsFailed, 3)
  await net.stop()
})

test('random: free resources are exact after the containers stop', async () => {
  const net = await baselineNetwork('random', 12, { seed: 7 })
  const placedBy = new Map<RolesPeer, string[]>()

  // 12 of the network's 23 CPUs
  for (let i = 0; i < 6; i++) {
    const buyer = net.peers[i % 4]
    const statuses = await buyer.roles.run([container(r(1, 256)), container(r(1, 300))])
    placedBy.set(buyer, [...placedBy.get(buyer) ?? [], ...statuses.map(s => s.containerId)])
    await net.clock.settle()
  }

  assertWithinCapacity(net, true)

  for (const [buyer, ids] of placedBy) {
    const results = await buyer.roles.stopContainers(ids)
    assert.ok(results.every(result => result.stopped), JSON.stringify(results))
  }

  await net.clock.settle()
  assertAllFree(net)
  await net.stop()
})

test('random: a request costs its submission, the lookup requests, each GetOffers and each launch', async () => {
  // more peers than a Kademlia bucket: lookups cost requests
  const net = await baselineNetwork('random', 25, { seed: 11 })

  for (let i = 0; i < 6; i++) {
    await assertCounted(net, net.peers[i], r(1, 512))
  }

  assert.ok(net.network.lookups.rpcs > 0)
  await net.stop()
})

// ---- swarm ----

/** The master, as a live peer's lookup finds it. */
async function masterOf (net: RolesNetwork): Promise<RolesPeer> {
  const asker = net.peers.find(p => net.network.isAlive(p.peer.peerId))!
  const [master] = await net.network.overlay(asker.peer.peerId).lookup(SWARM_MASTER_KEY, { count: 1 })
  return net.byId(master.peerId)
}

/** The master's registrations, by worker. */
function registrations (master: RolesPeer): Map<string, OfferView> {
  const offers = master.roles.offers().trading.offers
  const byWorker = new Map(offers.map(offer => [offer.peerId, offer]))
  assert.is(byWorker.size, offers.length, 'one registration per worker')
  return byWorker
}

/** The master holds one registration per live worker, with its current free and used resources. */
function assertRegistrationsCurrent (net: RolesNetwork, master: RolesPeer): void {
  const byWorker = registrations(master)
  const live = net.peers.filter(p => net.network.isAlive(p.peer.peerId))
  assert.equal([...byWorker.keys()].sort(), live.map(p => p.peer.peerId).sort())

  for (const worker of live) {
    const { max, available } = worker.roles.offers().supplying
    const registration = byWorker.get(worker.peer.peerId)!
    assert.equal(registration.free, available, `worker ${worker.peer.peerId.slice(-6)}`)
    assert.equal(registration.used, r(max.cpus - available.cpus, max.memory - available.memory, max.cpuClass))
    assert.is(registration.containersRunning, worker.roles.hosted().length)
  }
}

test('swarm: every peer finds the same master, which keeps one registration per worker', async () => {
  const net = await baselineNetwork('swarm', 20, { seed: 2 })
  const master = await masterOf(net)

  for (const { peer } of net.peers) {
    const found = await net.network.overlay(peer.peerId).lookup(SWARM_MASTER_KEY, { count: 1 })
    assert.equal(found.map(n => n.peerId), [master.peer.peerId])
  }

  assertRegistrationsCurrent(net, master)

  for (const worker of net.peers) {
    assert.equal(worker.roles.offers().supplying.offers.map(o => o.peerId), [master.peer.peerId], 'each worker registered once, with the master')

    if (worker !== master) {
      assert.is(worker.roles.offers().trading.offers.length, 0)
    }
  }

  // heartbeats keep them: the registrations survive any time with live workers
  await net.clock.advance(net.config.refreshingInterval * 10)
  assertRegistrationsCurrent(net, master)
  assert.is(sent(net, 'advertiseOffersNeighbor'), 0)
  assert.is(net.network.handlerErrors.length, 0)
  await net.stop()
})

test('swarm: the master keeps the registrations current through placements and stops, full workers included', async () => {
  const net = await baselineNetwork('swarm', 15, { seed: 4 })
  const master = await masterOf(net)
  const placedBy = new Map<RolesPeer, string[]>()
  // every worker but the master (which registers with itself, not over the network) registered once
  assert.is(sent(net, 'createOffer'), net.peers.length - 1)

  for (let i = 0; i < 12; i++) {
    const buyer = i % 2 === 0 ? master : net.peers[i % net.peers.length]
    const statuses = await buyer.roles.run([container(r(1, 256 + 64 * i))])
    placedBy.set(buyer, [...placedBy.get(buyer) ?? [], ...statuses.map(s => s.containerId)])
    await net.clock.settle()
    assertWithinCapacity(net, true)
    assertRegistrationsCurrent(net, master)
  }

  // a worker made full keeps its registration, with nothing free, and is not picked
  const worker = net.peers.find(p => p !== master && p.roles.hosted().length === 0)!
  const { available } = worker.roles.offers().supplying
  const registration = registrations(master).get(worker.peer.peerId)!
  await net.network.client(master.peer.peerId).launchContainer(worker.peer.node, registration.id, 'fill', [container(available)])
  await net.clock.settle()
  assertRegistrationsCurrent(net, master)
  assert.equal(registrations(master).get(worker.peer.peerId)?.free, r(0, 0))
  assert.is(registrations(master).get(worker.peer.peerId)?.id, registration.id, 'updated, not registered again')
  const answer = await net.network.client(master.peer.peerId).getOffers(master.peer.node, false, { needed: r(1, 1) })
  assert.not.ok(answer.some(o => o.supplier.peerId === worker.peer.peerId))

  for (const [buyer, ids] of placedBy) {
    assert.ok((await buyer.roles.stopContainers(ids)).every(result => result.stopped))
  }

  const [filled] = worker.roles.hosted()
  await net.network.client(master.peer.peerId).stopLocalContainer(worker.peer.node, filled.containerId)
  await net.clock.settle()
  assertAllFree(net)
  assertRegistrationsCurrent(net, master)
  assert.is(sent(net, 'createOffer'), net.peers.length - 1, 'every change was an update')
  assert.ok(sent(net, 'updateOffer') > 0)
  assert.is(net.network.handlerErrors.length, 0)
  await net.stop()
})

for (const policy of ['binpack', 'spread'] as const) {
  test(`swarm: GetOffers answers only workers that hold the request, at most ANSWER_OFFERS, best first for ${policy}`, async () => {
    const net = await baselineNetwork('swarm', 40, { seed: 6, policy })
    const master = await masterOf(net)
    const asker = net.peers.find(p => p !== master)!

    // uneven loads
    for (let i = 0; i < 20; i++) {
      await net.peers[i].roles.run([container(r(1, 128 + 32 * i))])
      await net.clock.settle()
    }

    for (const needed of [r(1, 256), r(1, 900), r(3, 1024), r(2, 2048)]) {
      const answer = await net.network.client(asker.peer.peerId).getOffers(master.peer.node, false, { needed })
      const fitting = master.roles.offers().trading.offers.filter(o => contains(o.free, needed))
      assert.is(answer.length, Math.min(ANSWER_OFFERS, fitting.length), `${needed.cpus} CPUs ${needed.memory} MB`)
      assert.ok(answer.every(o => contains(o.freeResources, needed)))
      assert.is(new Set(answer.map(o => o.supplier.peerId)).size, answer.length)

      // the best ones, in order: the same weights as the best of every fitting registration
      const sign = policy === 'binpack' ? -1 : 1
      const key = (o: { weight: number, containersRunning: number }): [number, number] => [o.weight, o.containersRunning]
      const best = fitting
        .map(o => ({ weight: weightOf({ freeResources: o.free, usedResources: o.used }, needed), containersRunning: o.containersRunning }))
        .sort((a, b) => sign * (a.weight - b.weight) || sign * (a.containersRunning - b.containersRunning))
        .slice(0, ANSWER_OFFERS)
      assert.equal(answer.map(o => key({ weight: weightOf(o, needed), containersRunning: o.containersRunning })), best.map(key))
    }

    assert.ok((await net.network.client(asker.peer.peerId).getOffers(master.peer.node, false, { needed: r(5, 512) })).length === 0)
    // without `needed`: the best workers with anything free
    assert.is((await net.network.client(asker.peer.peerId).getOffers(master.peer.node, false)).length, ANSWER_OFFERS)
    await net.stop()
  })
}

test('swarm: a killed worker is dropped after maxRefreshesFailed refresh rounds', async () => {
  const net = await baselineNetwork('swarm', 12, { seed: 8 })
  const { refreshingInterval, maxRefreshesFailed } = net.config
  const master = await masterOf(net)
  const worker = net.peers.find(p => p !== master)!
  assert.ok(registrations(master).has(worker.peer.peerId))

  net.network.kill(worker.peer.peerId)
  await net.clock.advance(refreshingInterval * (maxRefreshesFailed - 1))
  assert.ok(registrations(master).has(worker.peer.peerId), `kept after ${maxRefreshesFailed - 1} failed refreshes`)
  await net.clock.advance(refreshingInterval)
  assert.not.ok(registrations(master).has(worker.peer.peerId), `dropped after ${maxRefreshesFailed}`)
  assertRegistrationsCurrent(net, master)
  await net.stop()
})

test('swarm: a master that forgot a worker (restarted) is told again, at the next update or when its refreshes stop', async () => {
  const net = await baselineNetwork('swarm', 12, { seed: 9 })
  let master = await masterOf(net)
  master = await net.restart(master.peer.peerId)
  // the restarted master knows only itself
  assert.equal([...registrations(master).keys()], [master.peer.peerId])

  // a change of a worker's free resources: its update is answered false, and it registers again
  const worker = net.peers.find(p => p !== master)!
  const [old] = worker.roles.offers().supplying.offers
  await net.network.client(master.peer.peerId).launchContainer(worker.peer.node, old.id, 'change', [container(r(1, 256))])
  await net.clock.settle()
  assert.equal([...registrations(master).keys()].sort(), [master.peer.peerId, worker.peer.peerId].sort())
  assert.is.not(registrations(master).get(worker.peer.peerId)?.id, old.id)

  // the others notice the missing heartbeats and register again
  const { refreshesCheckInterval, maxRefreshesMissed, refreshMissedTimeout } = net.config
  await net.clock.advance(refreshesCheckInterval * (maxRefreshesMissed + 1) + refreshMissedTimeout)
  assertRegistrationsCurrent(net, master)
  await net.stop()
})

test('swarm: when the master dies, the workers register with the next one', async () => {
  const net = await baselineNetwork('swarm', 12, { seed: 10 })
  const master = await masterOf(net)
  net.network.kill(master.peer.peerId)
  const next = await masterOf(net)
  assert.is.not(next, master)

  const { refreshesCheckInterval, maxRefreshesMissed, refreshMissedTimeout } = net.config
  await net.clock.advance(refreshesCheckInterval * (maxRefreshesMissed + 1) + refreshMissedTimeout)
  assertRegistrationsCurrent(net, next)
  const [status] = await net.peers.find(p => p !== master)!.roles.run([container(r(1, 512))])
  assert.is.not(status.supplier.peerId, master.peer.peerId)
  await net.stop()
})

test('swarm: requests submitted at the master and at another peer are placed, and cost what the stats say', async () => {
  const net = await baselineNetwork('swarm', 25, { seed: 12 })
  const master = await masterOf(net)
  const other = net.peers.find(p => p !== master)!

  for (let i = 0; i < 4; i++) {
    await assertCounted(net, master, r(1, 256))
    await assertCounted(net, other, r(1, 512))
    assertRegistrationsCurrent(net, master)
  }

  // binpack: each request goes to a worker that is fullest after the placement
  for (const req of [r(1, 128), r(2, 1024)]) {
    const weights = new Map([...registrations(master)].filter(([, o]) => contains(o.free, req))
      .map(([peerId, o]) => [peerId, weightOf({ freeResources: o.free, usedResources: o.used }, req)]))
    const [status] = await master.roles.run([container(req)])
    assert.is(weights.get(status.supplier.peerId), Math.max(...weights.values()))
    await net.clock.settle()
  }

  const err = await rejection(other.roles.run([container(r(6, 1024))]))
  assert.is(err.name, 'NoOffersError', err.message)
  assert.match(err.message, /no worker of master/)
  assert.equal(master.roles.stats().requestsPlaced, 6)
  assert.is(net.network.handlerErrors.length, 0)
  await net.stop()
})

test.run()
