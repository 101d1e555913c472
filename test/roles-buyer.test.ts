import { defaultLogger } from '@libp2p/logger'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { OFFERS_CACHE_TTL } from '../src/roles/buyer.js'
import { Ledger } from '../src/roles/ledger.js'
import { rankOffers } from '../src/roles/ranking.js'
import { MAX_SAMPLES, PLACEMENT_STAGES, Samples } from '../src/roles/stats.js'
import { UserManager } from '../src/roles/user-manager.js'
import { MemoryStore } from '../src/store/store.js'
import { ManualClock } from './fixtures/fake-clock.js'
import { assertWithinCapacity, container, createRolesNetwork, rejection, testNetworkConfig } from './fixtures/roles-network.js'
import { waitFor } from './fixtures/wait.js'
import type { AvailableOffer, CaravelaClient, ContainerStatus, PlacementProgress, Resources } from '../src/types.js'
import type { RolesNetwork } from './fixtures/roles-network.js'

function r (cpus: number, memory: number, cpuClass = 0): Resources {
  return { cpuClass, cpus, memory }
}

function available (name: string, free: Resources, used: Resources, containersRunning = 0): AvailableOffer {
  return { id: 1, amount: 1, freeResources: free, usedResources: used, containersRunning, supplier: { peerId: name, multiaddrs: [] } }
}

/** Containers of a request, by the `caravela.request` label prefix, on every peer's runtime. */
function containersOf (net: RolesNetwork, requestId: string): number {
  return net.peers.reduce((sum, p) => sum + p.runtime.list().filter(c => c.labels['caravela.request'].startsWith(`${requestId}-`)).length, 0)
}

test('ranking: binpack puts the fullest supplier after placement first, spread the emptiest; too small offers go', () => {
  const offers = [
    available('empty', r(4, 4096), r(0, 0)),
    available('half', r(2, 2048), r(2, 2048)),
    available('tight', r(1, 1024), r(3, 3072)),
    available('small', r(1, 512), r(3, 3584))
  ]
  const req = r(1, 1024)

  assert.equal(rankOffers(offers, req, 'binpack').map(o => o.supplier.peerId), ['tight', 'half', 'empty'])
  assert.equal(rankOffers(offers, req, 'spread').map(o => o.supplier.peerId), ['empty', 'half', 'tight'])
  assert.equal(rankOffers(offers, req, 'binpack').map(o => o.weight), [200, 150, 50])
})

test('ranking: equal weights are ordered by running containers (more for binpack, fewer for spread)', () => {
  const offers = [available('few', r(2, 2048), r(2, 2048), 1), available('many', r(2, 2048), r(2, 2048), 5)]
  assert.equal(rankOffers(offers, r(1, 512), 'binpack').map(o => o.supplier.peerId), ['many', 'few'])
  assert.equal(rankOffers(offers, r(1, 512), 'spread').map(o => o.supplier.peerId), ['few', 'many'])
})

test('ranking: a CPU class the offer lacks disqualifies it; a request of 0 in a dimension scores 100 there', () => {
  const offers = [available('low', r(4, 4096), r(0, 0)), available('high', r(4, 4096, 1), r(0, 0, 1))]
  assert.equal(rankOffers(offers, r(1, 512, 1), 'binpack').map(o => o.supplier.peerId), ['high'])
  assert.equal(rankOffers([offers[0]], r(0, 1024), 'binpack')[0].weight, 125)
})

test('a spread request of 3 containers lands on 3 distinct suppliers', async () => {
  const net = await createRolesNetwork({ size: 10 })
  const statuses = await net.peers[0].roles.run([1, 2, 3].map(i => container({ cpus: 1, memory: 256 }, { name: `s${i}` })))

  assert.is(new Set(statuses.map(s => s.supplier.peerId)).size, 3)
  assert.equal(statuses.map(s => s.name), ['s1', 's2', 's3'])
  await net.stop()
})

test('progress: a spread request of 2 reports searching, launching and placed for each container, in order', async () => {
  const net = await createRolesNetwork({ size: 10 })
  const events: PlacementProgress[] = []
  const statuses = await net.peers[0].roles.run([1, 2].map(i => container({ cpus: 1, memory: 256 }, { name: `s${i}` })), { onProgress: event => { events.push(event) } })

  assert.equal(events.map(e => e.type), ['searching', 'launching', 'placed', 'searching', 'launching', 'placed'])
  assert.equal(events[0], { type: 'searching', containers: ['s1'], resources: r(1, 256) })
  assert.equal(events[1], { type: 'launching', containers: ['s1'], supplier: statuses[0].supplier.peerId })
  assert.equal(events[2], { type: 'placed', statuses: [statuses[0]] })
  assert.equal(events[3], { type: 'searching', containers: ['s2'], resources: r(1, 256) })
  assert.equal(events[4], { type: 'launching', containers: ['s2'], supplier: statuses[1].supplier.peerId })
  assert.equal(events[5], { type: 'placed', statuses: [statuses[1]] })
  await net.stop()
})

test('a co-located request of 3 containers lands on one supplier, summed, with the highest class', async () => {
  const net = await createRolesNetwork({ size: 10, runtime: () => ({ cpus: 4, memory: 4096 }), config: testNetworkConfig(c => { c.resources.cpuClasses[0].cpuCores[1].value = 4 }) })
  const group = [1, 2, 3].map(i => container({ cpus: 1, memory: 512 }, { name: `c${i}`, groupPolicy: 'co-location' }))
  const statuses = await net.peers[0].roles.run(group)

  assert.is(new Set(statuses.map(s => s.supplier.peerId)).size, 1)
  const supplier = net.byId(statuses[0].supplier.peerId)
  assert.equal(supplier.runtime.used(), { cpus: 3, memory: 1536, containers: 3 })
  await net.stop()
})

test('co-location and spread together: the group on one supplier, each spread container on another', async () => {
  const net = await createRolesNetwork({ size: 10 })
  const request = [
    container({ cpus: 1, memory: 256 }, { name: 'a', groupPolicy: 'co-location' }),
    container({ cpus: 1, memory: 256 }, { name: 'x' }),
    container({ cpus: 1, memory: 256 }, { name: 'b', groupPolicy: 'co-location' }),
    container({ cpus: 1, memory: 256 }, { name: 'y' })
  ]
  const statuses = await net.peers[0].roles.run(request)
  const [a, x, b, y] = statuses.map(s => s.supplier.peerId)

  assert.equal(statuses.map(s => s.name), ['a', 'x', 'b', 'y'])
  assert.is(a, b)
  assert.is(new Set([a, x, y]).size, 3)
  await net.stop()
})

test('a request that cannot be placed whole is rolled back: nothing of it is left anywhere', async () => {
  // 4 suppliers can hold a container; a spread request of 6 cannot be placed whole
  const net = await createRolesNetwork({ size: 10, runtime: i => i < 4 ? { cpus: 2, memory: 2048 } : { cpus: 0, memory: 0 } })
  const err = await rejection(net.peers[5].roles.run(Array.from({ length: 6 }, () => container({ cpus: 1, memory: 512 })), { requestId: 'too-wide' }))

  assert.is(err.name, 'RequestRolledBackError')
  assert.is(err.rolledBack, 4)
  assert.equal(err.leftRunning, [])
  assert.match(err.message, /rolled back: 4 containers placed for it stopped again/)
  assert.is(containersOf(net, 'too-wide'), 0)
  assert.equal(net.peers[5].roles.ps(), [])
  await net.clock.settle()
  assertWithinCapacity(net, true)
  assert.equal(net.peers[5].roles.stats().requestsFailed, 1)
  await net.stop()
})

test('containers asking for no CPUs or memory get the smallest partition\'s', async () => {
  const net = await createRolesNetwork({ size: 8 })
  const [status] = await net.peers[0].roles.run([container({ cpus: 0, memory: 0 })])
  assert.equal(status.resources, net.map.lowestResources())
  const [memoryOnly] = await net.peers[0].roles.run([container({ cpus: 2, memory: 0 })])
  assert.equal(memoryOnly.resources, { cpuClass: 0, cpus: 2, memory: net.map.lowestResources().memory })
  await net.stop()
})

test('a request larger than every partition is placed on a supplier that holds it', async () => {
  // the default tree goes up to 2 CPUs and 2048 MB; these peers have 4 CPUs and 8192 MB
  const net = await createRolesNetwork({ size: 6, runtime: () => ({ cpus: 4, memory: 8192 }) })
  const [big] = await net.peers[0].roles.run([container({ cpus: 3, memory: 6000 })])
  assert.equal(big.resources, { cpuClass: 0, cpus: 3, memory: 6000 })
  const [all] = await net.peers[1].roles.run([container({ cpus: 4, memory: 8192 })])
  assert.ok(all.supplier.peerId !== big.supplier.peerId)
  await net.stop()
})

test('errors say why: no offers, invalid requests', async () => {
  const net = await createRolesNetwork({ size: 6, runtime: () => ({ cpus: 0, memory: 0 }) })
  const buyer = net.peers[0].roles

  const tooBig = await rejection(buyer.run([container({ cpus: 8, memory: 1024 })]))
  assert.is(tooBig.name, 'NoOffersError')
  assert.match(tooBig.message, /^No supplier offers 8 CPUs and 1024 MB: no offers found in slice 2 CPUs and 1024 MB \(\d+ search(es)?, \d+ traders? asked\), nor at any of the 6 peers of the network asked directly$/)

  const none = await rejection(buyer.run([container({ cpus: 1, memory: 256 })]))
  assert.is(none.name, 'NoOffersError')
  assert.match(none.message, /^No supplier offers 1 CPU and 256 MB: no offers found in slice 1 CPU and 256 MB \(\d+ search(es)?, \d+ traders? asked\)/)

  assert.is((await rejection(buyer.run([]))).name, 'InvalidContainerRequestError')
  assert.is((await rejection(buyer.run([container({ cpus: 1.5, memory: 256 })]))).name, 'InvalidContainerRequestError')
  assert.is((await rejection(buyer.run([container({ cpus: 1, memory: 256 })], { requestId: 'has space' }))).name, 'InvalidContainerRequestError')
  assert.equal(buyer.stats().requestsFailed, 5)
  await net.stop()
})

test('single-offer walk: at most maxPartitionsSearch lookups, never one more', async () => {
  for (const maxPartitionsSearch of [1, 2, 3]) {
    const config = testNetworkConfig(c => { c.discoveryBackend = 'single-offer'; c.maxPartitionsSearch = maxPartitionsSearch })
    // enough peers that every slice has traders: a slice without one costs no search (see below)
    const net = await createRolesNetwork({ size: 25, seed: 6, config, runtime: () => ({ cpus: 0, memory: 0 }) })
    assert.ok(net.map.slices.every(slice => net.peers.some(p => net.map.sliceOf(p.peer.key).index === slice.index)), 'every slice has a trader')
    await rejection(net.peers[0].roles.run([container({ cpus: 1, memory: 256 })]))
    // one discovery (the second round runs only after rejected offers)
    assert.is(net.peers[0].roles.stats().lookupsPerRequest.sum, maxPartitionsSearch)
    await net.stop()
  }
})

test('slices no peer trades for cost no search: a small network still finds the offers in the slices it has', async () => {
  const config = testNetworkConfig(c => { c.discoveryBackend = 'multi-offer-updates'; c.maxPartitionsSearch = 1 })
  const net = await createRolesNetwork({ size: 3, config, seed: 7 })
  const empty = net.map.slices.filter(slice => !net.peers.some(p => net.map.sliceOf(p.peer.key).index === slice.index))
  assert.ok(empty.length > 0, 'this seed leaves some slices without a trader')
  const placed = await net.peers[0].roles.run([container({ cpus: 1, memory: 256 })])
  assert.is(placed.length, 1)
  await net.stop()
})

test('when no slice that holds a request has a trader, the offers in smaller slices still place it', async () => {
  const config = testNetworkConfig(c => { c.discoveryBackend = 'multi-offer-updates'; c.maxPartitionsSearch = 1 })
  // seed 8: all three peers trade for 1-CPU slices; each supplier has 2 CPUs free
  const net = await createRolesNetwork({ size: 3, config, seed: 8 })
  assert.ok(net.peers.every(p => net.map.sliceOf(p.peer.key).resources.cpus === 1), 'every trader is in a 1-CPU slice')
  const placed = await net.peers[0].roles.run([container({ cpus: 2, memory: 256 })])
  assert.is(placed.length, 1)
  assert.is(placed[0].resources.cpus, 2)
  await net.stop()
})

test('single-offer walk: binpack walks up from the smallest slice and finds a supplier in a larger one', async () => {
  // one supplier of (0, 2, 2048): its single offer sits in the largest slice only
  const config = testNetworkConfig(c => { c.discoveryBackend = 'single-offer'; c.maxPartitionsSearch = 6 })
  const net = await createRolesNetwork({ size: 30, config, runtime: i => i === 0 ? { cpus: 2, memory: 2048 } : { cpus: 0, memory: 0 } })
  const [status] = await net.peers[1].roles.run([container({ cpus: 1, memory: 256 })])
  assert.is(status.supplier.peerId, net.peers[0].peer.peerId)
  assert.ok(net.peers[1].roles.stats().lookupsPerRequest.sum > 1)
  await net.stop()
})

/**
 * A network whose container starts wait on a gate, and whose buyer's calls time out after 50 ms
 * of real time (`requestTimeout` bounds each call of a request that has a signal), while its
 * clock runs 100 ms a step until `done`. `starting()` counts the starts still waiting on the gate
 * or not yet returned.
 */
async function slowStartNetwork (launchTimeout: number): Promise<RolesNetwork & { launches: () => number, starting: () => number, open: () => void, running: (done: Promise<unknown>) => Promise<void> }> {
  let launches = 0
  let starting = 0
  const net = await createRolesNetwork({
    size: 6,
    config: testNetworkConfig(c => { c.requestTimeout = 50; c.launchTimeout = launchTimeout }),
    onMessage: ({ name }) => { if (name === 'launchContainer') launches++ }
  })
  let open = (): void => {}
  const gate = new Promise<void>(resolve => { open = resolve })

  for (const { runtime } of net.peers) {
    const runContainer = runtime.runContainer.bind(runtime)
    runtime.runContainer = async (config, labels) => {
      starting++

      try {
        await gate
        return await runContainer(config, labels)
      } finally {
        starting--
      }
    }
  }

  const running = async (done: Promise<unknown>): Promise<void> => {
    let settled = false
    void done.finally(() => { settled = true })

    while (!settled) {
      await net.clock.advance(100)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }

  return { ...net, launches: () => launches, starting: () => starting, open, running }
}

test('a launch whose answer is late is asked again with the same launch id: the containers start once', async () => {
  const net = await slowStartNetwork(3_600_000)
  const run = net.peers[0].roles.run([container({ cpus: 1, memory: 256 })], { requestId: 'late', signal: new AbortController().signal })
  const clock = net.running(run)

  // the supplier is still starting the container while the buyer asks again, three times
  await waitFor(() => net.launches() >= 3, { timeout: 10_000, interval: 5, message: 'the buyer to ask three times' })

  net.open()
  const [status] = await run
  await clock
  assert.is(containersOf(net, 'late'), 1)
  assert.is(net.byId(status.supplier.peerId).runtime.list()[0].id, status.containerId)
  assert.equal(net.peers[0].roles.ps().map(c => c.containerId), [status.containerId])
  await net.stop()
})

test('progress: a launch unanswered for a second is reported as still launching, then every 5 s, until it is answered', async () => {
  const net = await slowStartNetwork(3_600_000)
  const events: PlacementProgress[] = []
  const run = net.peers[0].roles.run([container({ cpus: 1, memory: 256 }, { name: 'pull' })], { requestId: 'pull', signal: new AbortController().signal, onProgress: event => { events.push(event) } })
  const clock = net.running(run)

  await waitFor(() => events.filter(e => e.type === 'still-launching').length >= 3, { timeout: 20_000, interval: 5, message: 'three heartbeats' })
  net.open()
  const [status] = await run
  await clock
  const beats = events.filter(e => e.type === 'still-launching')
  assert.equal(beats.slice(0, 3).map(e => e.type === 'still-launching' && e.seconds), [1, 5, 10])
  assert.equal(beats[0], { type: 'still-launching', containers: ['pull'], supplier: status.supplier.peerId, seconds: 1 })
  assert.equal(events.map(e => e.type).filter((type, i, all) => type !== all[i - 1]), ['searching', 'launching', 'still-launching', 'placed'])

  // the heartbeat stops with the answer
  const seen = events.length
  await net.clock.advance(10_000)
  assert.is(events.length, seen)
  await net.stop()
})

test('a launch still unanswered after launchTimeout is cancelled at its supplier: nothing it starts is left running', async () => {
  const net = await slowStartNetwork(2_000)
  const request = [container({ cpus: 1, memory: 256 }, { groupPolicy: 'co-location' }), container({ cpus: 1, memory: 256 }, { groupPolicy: 'co-location' })]
  const run = rejection(net.peers[0].roles.run(request, { requestId: 'never', signal: new AbortController().signal }))
  await net.running(run)
  const err = await run

  // every supplier tried was asked until the deadline, then told to cancel
  assert.is(err.name, 'AllOffersRejectedError', err.message)
  assert.ok(net.launches() > 2, `${net.launches()} launches`)
  assert.is(containersOf(net, 'never'), 0)

  // the starts the supplier was still waiting on complete, and are removed at once
  assert.ok(net.starting() > 0, 'the supplier is still starting containers of the cancelled launch')
  net.open()
  await waitFor(() => net.starting() === 0, { timeout: 10_000, interval: 5, message: 'the starts to complete' })
  await net.clock.settle()
  assert.is(containersOf(net, 'never'), 0)
  assert.equal(net.peers.flatMap(p => p.roles.hosted()), [])
  assert.equal(net.peers[0].roles.ps(), [])
  await net.stop()
})

test('a request cut short by its caller while a launch is unanswered cancels that launch', async () => {
  const net = await slowStartNetwork(3_600_000)
  const controller = new AbortController()
  const run = rejection(net.peers[0].roles.run([container({ cpus: 1, memory: 256 })], { requestId: 'aborted', signal: controller.signal }))
  const clock = net.running(run)

  await waitFor(() => net.launches() >= 2, { timeout: 10_000, interval: 5, message: 'the buyer to ask twice' })

  controller.abort()
  const err = await run
  await clock
  assert.is(err.name, 'RequestRolledBackError', err.message)
  assert.is(err.cancelledLaunches, 1)
  assert.match(err.message, /1 unanswered launch cancelled/)

  assert.ok(net.starting() > 0, 'the supplier is still starting the container of the cancelled launch')
  net.open()
  await waitFor(() => net.starting() === 0, { timeout: 10_000, interval: 5, message: 'the start to complete' })
  await net.clock.settle()
  assert.is(containersOf(net, 'aborted'), 0)
  assert.equal(net.peers.flatMap(p => p.roles.hosted()), [])
  await net.stop()
})

test('user manager: ps lists placed containers; stop by full or unique short id; ambiguous and unknown ids fail', async () => {
  const net = await createRolesNetwork({ size: 8 })
  const buyer = net.peers[0].roles
  const placed = await buyer.run([container({ cpus: 1, memory: 256 }, { name: 'one' }), container({ cpus: 1, memory: 256 }, { name: 'two' })], { requestId: 'ps-test' })
  const ps = buyer.ps()

  assert.equal(ps.map(c => [c.name, c.requestId, c.state]), [['one', 'ps-test', 'running'], ['two', 'ps-test', 'running']])
  assert.equal(ps.map(c => c.supplier.peerId), placed.map(s => s.supplier.peerId))

  const [first, second] = placed.map(s => s.containerId)
  const results = await buyer.stopContainers([first.slice(0, 12), 'abc', 'ffffffffffff', second])
  assert.equal(results.map(x => x.stopped), [true, false, false, true])
  assert.match(results[1].error ?? '', /at least 4 characters/)
  assert.match(results[2].error ?? '', /no container ffffffffffff/)
  assert.equal(buyer.ps(), [])
  assert.is(containersOf(net, 'ps-test'), 0)
  await net.stop()
})

test('user manager: an ambiguous short id stops nothing; a container its supplier no longer runs counts as stopped', async () => {
  const stopped: string[] = []
  const client = {
    stopLocalContainer: async (_: unknown, id: string) => {
      if (id.startsWith('abcd2')) {
        throw Object.assign(new Error('no container'), { name: 'RemoteRequestError', status: 'NOT_FOUND' })
      }

      stopped.push(id)
    }
  } as unknown as CaravelaClient
  const log = defaultLogger().forComponent('test')
  const users = new UserManager({ client, clock: new ManualClock(), ledger: new Ledger(new MemoryStore(), log), log })
  const status = (containerId: string): ContainerStatus => ({ ...container({ cpus: 1, memory: 256 }), supplier: { peerId: 'p', multiaddrs: [] }, containerId, state: 'running' })
  await users.add([status('abcd1111'), status('abcd2222')], 'r')

  const [ambiguous] = await users.stop(['abcd'])
  assert.equal(ambiguous, { id: 'abcd', stopped: false, error: 'abcd is ambiguous: it starts 2 container ids' })
  assert.equal(await users.stop(['abcd1', 'abcd2']), [{ id: 'abcd1', stopped: true }, { id: 'abcd2', stopped: true }])
  assert.equal(stopped, ['abcd1111'])
  assert.equal(users.list(), [])
})

/**
 * A network counting, per target, the GetOffers and LaunchContainer requests peer 0 sends, at
 * the handlers: a request a peer sends itself is a call, not a message.
 */
async function countingNetwork (init: Parameters<typeof createRolesNetwork>[0]): Promise<RolesNetwork & { sent: (name: 'getOffers' | 'launchContainer', to?: string) => number }> {
  const net = await createRolesNetwork(init)
  const buyer = net.peers[0].peer.peerId
  const received: Array<{ name: string, to: string }> = []

  for (const { peer, roles } of net.peers) {
    for (const name of ['getOffers', 'launchContainer'] as const) {
      const handlers = roles.handlers as any
      const handler = handlers[name].bind(handlers)
      handlers[name] = async (ctx: { from: { peerId: string } }, ...args: any[]) => {
        if (ctx.from.peerId === buyer) received.push({ name, to: peer.peerId })
        return handler(ctx, ...args)
      }
    }
  }

  return { ...net, sent: (name, to) => received.filter(m => m.name === name && (to == null || m.to === to)).length }
}

test('offers cache: a trader\'s answer serves the next placement within OFFERS_CACHE_TTL, not after', async () => {
  const net = await countingNetwork({ size: 8 })
  const buyer = net.peers[0].roles
  await buyer.run([container({ cpus: 1, memory: 256 })])
  const asked = net.sent('getOffers')
  assert.ok(asked >= 1)

  await net.clock.advance(OFFERS_CACHE_TTL - 1)
  await buyer.run([container({ cpus: 1, memory: 256 })])
  assert.is(net.sent('getOffers'), asked, 'no GetOffers within the TTL')
  assert.equal(buyer.stats().offersCache, { hits: 1, misses: asked })

  await net.clock.advance(1)
  await buyer.run([container({ cpus: 1, memory: 256 })])
  assert.ok(net.sent('getOffers') > asked, 'GetOffers again once the TTL is over')
  await net.stop()
})

test('offers cache: a launch refused on a remembered offer forgets the answer and discovers afresh', async () => {
  const net = await countingNetwork({ size: 8 })
  const buyer = net.peers[0].roles
  const [first] = await buyer.run([container({ cpus: 1, memory: 256 })])
  const supplier = first.supplier.peerId
  const asked = net.sent('getOffers')
  // the supplier withdraws: it refuses launches, and its traders no longer list it
  await net.byId(supplier).roles.stop()

  // binpack takes the remembered, fullest supplier first
  const [second] = await buyer.run([container({ cpus: 1, memory: 256 })])
  assert.is(net.sent('launchContainer', supplier), 2, 'the remembered offer was tried')
  assert.ok(second.supplier.peerId !== supplier)
  assert.ok(net.sent('getOffers') > asked, 'the traders were asked again')

  // the refused answer is forgotten: the next placement uses the new one, not the old
  await buyer.run([container({ cpus: 1, memory: 256 })])
  assert.is(net.sent('launchContainer', supplier), 2)
  await net.stop()
})

test('offers cache: concurrent placements do not send a remembered offer more than its free resources', async () => {
  // peer 1 has room for 2 containers, peer 2 for 8; the others none
  const net = await countingNetwork({ size: 8, runtime: i => i === 1 ? { cpus: 2, memory: 2048 } : i === 2 ? { cpus: 8, memory: 8192 } : { cpus: 0, memory: 0 } })
  const buyer = net.peers[0].roles
  const small = net.peers[1].peer.peerId
  const [first] = await buyer.run([container({ cpus: 1, memory: 256 })])
  assert.is(first.supplier.peerId, small, 'binpack fills the smaller supplier first')
  const asked = net.sent('getOffers')

  const placed = await Promise.all([1, 2, 3].map(async () => buyer.run([container({ cpus: 1, memory: 256 })])))
  assert.is(net.sent('getOffers'), asked, 'all three from the remembered answer')
  assert.is(net.sent('launchContainer', small), 2, 'one more launch to the supplier with room for one more')
  assert.is(placed.filter(([status]) => status.supplier.peerId === small).length, 1)
  assert.is(buyer.stats().suppliers.marks.refused, 0)
  assertWithinCapacity(net, true)
  await net.stop()
})

test('stage timings: each placed request records its lookups, GetOffers, launches, ledger record and total', async () => {
  const net = await createRolesNetwork({ size: 8 })
  const buyer = net.peers[0].roles
  await buyer.run([container({ cpus: 1, memory: 256 })])
  const stages = buyer.stats().stageMsPerRequest

  for (const stage of PLACEMENT_STAGES) {
    assert.is(stages[stage].count, 1, stage)
    assert.ok(stages[stage].sum > 0, `${stage} took some time`)
  }

  const { lookup, getOffers, launch, record, total } = stages
  assert.ok(total.sum >= lookup.sum + getOffers.sum + launch.sum + record.sum, 'the whole request holds its stages')
  // a request that fails is not a placement's timing
  await rejection(buyer.run([container({ cpus: 64, memory: 256 })]))
  assert.is(buyer.stats().stageMsPerRequest.total.count, 1)
  await net.stop()
})

test('samples: series kept apart, exact counts and sums, percentiles over the most recent events', () => {
  const samples = new Samples(2)
  assert.equal(samples.summary(0), { count: 0, sum: 0, mean: 0, p50: 0, p99: 0 })

  for (let i = 1; i <= 100; i++) {
    samples.add([i, 1000 + i])
  }

  assert.equal(samples.summary(0), { count: 100, sum: 5050, mean: 50.5, p50: 50, p99: 99 })
  assert.equal(samples.summary(1), { count: 100, sum: 105050, mean: 1050.5, p50: 1050, p99: 1099 })

  // past MAX_SAMPLES events the oldest leave the percentiles, not the count and sum
  for (let i = 0; i < MAX_SAMPLES; i++) {
    samples.add([0, 0])
  }

  assert.is(samples.summary(0).count, 100 + MAX_SAMPLES)
  assert.is(samples.summary(0).sum, 5050)
  assert.is(samples.summary(0).p99, 0)
  assert.throws(() => { samples.add([1]) }, /expected 2 values/)
})

test.run()
