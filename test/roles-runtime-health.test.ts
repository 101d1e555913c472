import { defaultLogger } from '@libp2p/logger'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RuntimeHealth } from '../src/roles/runtime-health.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { ManualClock } from './fixtures/fake-clock.js'
import { container, createRolesNetwork, rejection, testNetworkConfig } from './fixtures/roles-network.js'
import type { ContainerExit } from '../src/types.js'
import type { RolesNetwork, RolesPeer } from './fixtures/roles-network.js'

/** Milliseconds between two checks of each peer's engine. */
const CHECK_INTERVAL = 1_000

/**
 * Peer 0 is the only supplier (the others have no capacity), so every placement lands on it;
 * every peer checks its engine every `CHECK_INTERVAL`.
 */
async function oneSupplier (): Promise<RolesNetwork> {
  return createRolesNetwork({
    size: 6,
    config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }),
    runtime: i => i === 0 ? { cpus: 2, memory: 2048 } : { cpus: 0, memory: 0 },
    runtimeCheckInterval: CHECK_INTERVAL
  })
}

/** The offers of `supplier` that the network's traders hold. */
function tradedOffers (net: RolesNetwork, supplier: RolesPeer): number {
  return net.peers.reduce((n, p) => n + p.roles.offers().trading.offers.filter(o => o.peerId === supplier.peer.peerId).length, 0)
}

test('memory runtime: down() makes every call throw RuntimeUnavailableError and hides exits; up() answers again', async () => {
  const runtime = new MemoryRuntime({ cpus: 2, memory: 2048 })
  const exits: ContainerExit[] = []
  runtime.onExit(exit => { exits.push(exit) })
  const { containerId } = await runtime.runContainer(container({ cpus: 1, memory: 256 }), {})
  await runtime.health()

  runtime.down('engine stopped for the test')
  assert.not.ok(runtime.available)

  for (const call of [runtime.health(), runtime.getCpuAndRam(), runtime.checkContainerStatus(containerId), runtime.listOwned(),
    runtime.runContainer(container({ cpus: 1, memory: 256 }), {}), runtime.removeContainer(containerId)]) {
    const err = await rejection(call)
    assert.is(err.name, 'RuntimeUnavailableError')
    assert.match(err.message, /engine stopped for the test/)
  }

  // a container dying while the engine is down: no event reaches anyone
  runtime.kill(containerId)
  assert.equal(exits, [])

  runtime.up()
  await runtime.health()
  assert.is(await runtime.checkContainerStatus(containerId), 'exited')

  // stopContainers: a real engine stopping ends what runs
  const other = await runtime.runContainer(container({ cpus: 1, memory: 256 }), {})
  runtime.down(undefined, { stopContainers: true })
  runtime.up()
  assert.is(await runtime.checkContainerStatus(other.containerId), 'exited')
  assert.equal(runtime.used().containers, 0)
  assert.equal(exits, [])
})

test('an engine that stops answering: the offers leave the traders within the check interval, launches are UNAVAILABLE, status says why; once back, a container that ended meanwhile is released and reported exited, and the offers return', async () => {
  const net = await oneSupplier()
  const [supplier, buyer] = net.peers
  const client = net.network.client(net.peers[2].peer.peerId)

  // the buyer places a container; it lands on the only supplier
  const [placed] = await buyer.roles.run([container({ cpus: 1, memory: 512 }, { name: 'web' })])
  assert.is(placed.supplier.peerId, supplier.peer.peerId)
  await net.clock.settle()
  assert.ok(tradedOffers(net, supplier) > 0, 'the supplier offers before the outage')
  assert.equal(supplier.roles.runtimeState().state, 'ok')
  const offerId = supplier.roles.offers().supplying.offers[0].id

  // the engine stops, and its container with it, without a word
  supplier.runtime.down('the engine was stopped', { stopContainers: true })
  const downAt = net.clock.now()
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()

  assert.is(tradedOffers(net, supplier), 0, 'the traders still hold offers of a supplier whose engine is gone')
  assert.equal(supplier.roles.offers().supplying.offers, [])
  const state = supplier.roles.runtimeState()
  assert.is(state.state, 'unavailable')
  assert.ok(state.since >= downAt && state.since <= downAt + CHECK_INTERVAL, `since ${state.since}`)
  assert.match(state.reason ?? '', /the engine was stopped/)
  assert.is(state.outages, 1)

  // launches are refused UNAVAILABLE, with the reason
  const err = await rejection(client.launchContainer(supplier.peer.node, offerId, 'during-outage', [container({ cpus: 1, memory: 256 })]))
  assert.is(err.status, 'UNAVAILABLE')
  assert.match(err.message, /container engine does not answer.*the engine was stopped/)
  // a placement finds no supplier and starts nothing
  assert.ok(await rejection(buyer.roles.run([container({ cpus: 1, memory: 256 })])) instanceof Error)
  // asked directly, the supplier offers nothing either
  assert.equal(await client.getOffers(supplier.peer.node, false, { own: true }), [])

  // checks during the outage keep it: still unavailable, still no offers, one outage
  await net.clock.advance(5 * CHECK_INTERVAL)
  await net.clock.settle()
  assert.is(tradedOffers(net, supplier), 0)
  assert.is(supplier.roles.runtimeState().outages, 1)
  // the container is still held: nothing says yet that it ended
  assert.is(supplier.roles.hosted().length, 1)

  // the engine answers again
  supplier.runtime.up()
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()

  const back = supplier.roles.runtimeState()
  assert.is(back.state, 'ok')
  assert.is(back.outages, 1)
  assert.is(back.reason, undefined)
  assert.ok(tradedOffers(net, supplier) > 0, 'the offers did not return')
  // the container that ended during the outage: released, kept stopped for its logs, its buyer told
  assert.equal(supplier.roles.hosted(), [])
  assert.equal(supplier.runtime.list().map(c => c.state), ['exited'])
  assert.equal(supplier.roles.offers().supplying.available, supplier.roles.offers().supplying.max)
  const [seen] = buyer.roles.ps()
  assert.is(seen.containerId, placed.containerId)
  assert.match(seen.state, /^exited/)

  // and launches are taken again
  const [again] = await buyer.roles.run([container({ cpus: 1, memory: 256 })])
  assert.is(again.supplier.peerId, supplier.peer.peerId)
  assert.is(supplier.runtime.used().containers, 1)
  await net.stop()
})

test('a launch that finds no engine makes the supplier unavailable at once, before the next check', async () => {
  const net = await oneSupplier()
  const [supplier] = net.peers
  const client = net.network.client(net.peers[1].peer.peerId)
  const offerId = supplier.roles.offers().supplying.offers[0].id
  assert.ok(tradedOffers(net, supplier) > 0)

  supplier.runtime.down('socket gone')
  // no time passes: no check has run
  const err = await rejection(client.launchContainer(supplier.peer.node, offerId, 'first', [container({ cpus: 1, memory: 256 })]))
  assert.is(err.status, 'UNAVAILABLE')
  await net.clock.settle()

  assert.is(supplier.roles.runtimeState().state, 'unavailable')
  assert.is(tradedOffers(net, supplier), 0)
  // the failed launch gave its resources back
  assert.equal(supplier.roles.offers().supplying.available, supplier.roles.offers().supplying.max)

  // a container still running when the engine comes back is kept, not released
  supplier.runtime.up()
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()
  assert.is(supplier.roles.runtimeState().state, 'ok')
  const [status] = await client.launchContainer(supplier.peer.node, supplier.roles.offers().supplying.offers[0].id, 'second', [container({ cpus: 1, memory: 256 })])
  supplier.runtime.down('brief outage')
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()
  assert.is(supplier.roles.runtimeState().outages, 2)
  supplier.runtime.up()
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()
  assert.equal(supplier.roles.hosted().map(h => h.containerId), [status.containerId])
  assert.is(supplier.roles.offers().supplying.available.cpus, supplier.roles.offers().supplying.max.cpus - 1)
  await net.stop()
})

test('a stop while the engine does not answer is refused UNAVAILABLE and the container stays placed; once the engine is back the stop goes through', async () => {
  const net = await oneSupplier()
  const [supplier, buyer] = net.peers
  const [placed] = await buyer.roles.run([container({ cpus: 1, memory: 256 })])
  await net.clock.settle()

  // the engine's socket goes away; the container itself runs on
  supplier.runtime.down('socket gone')
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()
  const [refused] = await buyer.roles.stopContainers([placed.containerId])
  assert.is(refused.stopped, false)
  assert.match(refused.error ?? '', /container engine does not answer/)
  assert.equal(buyer.roles.ps().map(c => c.containerId), [placed.containerId])
  assert.is(supplier.roles.hosted().length, 1)

  supplier.runtime.up()
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()
  // it ran through the outage: still hosted, still placed
  assert.is(supplier.roles.hosted().length, 1)
  const [stopped] = await buyer.roles.stopContainers([placed.containerId])
  assert.is(stopped.stopped, true, stopped.error)
  assert.equal(supplier.runtime.list(), [])
  assert.equal(buyer.roles.ps(), [])
  await net.stop()
})

test('an engine that hangs is unavailable once a check times out', async () => {
  const clock = new ManualClock()
  const runtime = new MemoryRuntime({ cpus: 1, memory: 1024 })
  let hang = false
  runtime.health = async () => { if (hang) { await new Promise(() => {}) } }
  const events: string[] = []
  const health = new RuntimeHealth({
    runtime,
    clock,
    interval: 1_000,
    timeout: 500,
    log: defaultLogger().forComponent('test:runtime-health'),
    onDown: reason => { events.push(`down: ${reason}`) },
    reconcile: async () => { events.push('reconcile') },
    onUp: () => { events.push('up') }
  })
  health.start()

  await clock.advance(1_000)
  assert.is(health.state.state, 'ok')
  hang = true
  await clock.advance(1_000)
  assert.is(health.state.state, 'ok', 'unavailable before the timeout')
  await clock.advance(500)
  assert.is(health.state.state, 'unavailable')
  assert.match(health.state.reason ?? '', /did not answer within 500 ms/)
  hang = false
  await clock.advance(1_000)
  await clock.settle()
  assert.is(health.state.state, 'ok')
  assert.equal(events, ['down: the engine did not answer within 500 ms', 'reconcile', 'up'])
  health.stop()
})

test('a reconciliation that fails keeps the peer unavailable; the next check tries again', async () => {
  const clock = new ManualClock()
  const runtime = new MemoryRuntime({ cpus: 1, memory: 1024 })
  let failures = 1
  const events: string[] = []
  const health = new RuntimeHealth({
    runtime,
    clock,
    interval: 1_000,
    log: defaultLogger().forComponent('test:runtime-health'),
    onDown: () => { events.push('down') },
    reconcile: async () => {
      events.push('reconcile')
      if (failures-- > 0) {
        throw new Error('listing failed')
      }
    },
    onUp: () => { events.push('up') }
  })
  health.start()
  runtime.down()
  await clock.advance(1_000)
  runtime.up()
  await clock.advance(1_000)
  assert.is(health.state.state, 'unavailable')
  assert.match(health.state.reason ?? '', /listing failed/)
  await clock.advance(1_000)
  assert.is(health.state.state, 'ok')
  assert.equal(events, ['down', 'reconcile', 'reconcile', 'up'])
  health.stop()
})

test('a supplier whose engine does not answer at its start still starts, unavailable and offering nothing; once the engine answers it reads its capacity and offers', async () => {
  const net = await createRolesNetwork({
    size: 6,
    config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }),
    runtime: i => i === 0 ? { cpus: 2, memory: 2048 } : { cpus: 0, memory: 0 },
    runtimeCheckInterval: CHECK_INTERVAL,
    stopped: true
  })
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  supplier.runtime.down('no engine on /tmp/nothing.sock')
  let calls = 0
  const { getCpuAndRam } = supplier.runtime
  supplier.runtime.getCpuAndRam = async () => { calls++; return getCpuAndRam.call(supplier.runtime) }

  await Promise.all(net.peers.map(async p => { await p.roles.start() }))
  await net.clock.settle()

  const state = supplier.roles.runtimeState()
  assert.is(state.state, 'unavailable')
  assert.match(state.reason ?? '', /no engine on \/tmp\/nothing\.sock/)
  assert.is(state.outages, 1)
  // nothing offered, no capacity read yet, and the engine was not asked for it
  assert.is(tradedOffers(net, supplier), 0)
  assert.equal(supplier.roles.offers().supplying.offers, [])
  assert.equal(supplier.roles.offers().supplying.max, { cpuClass: 0, cpus: 0, memory: 0 })
  assert.is(calls, 0)
  assert.equal(await client.getOffers(supplier.peer.node, false, { own: true }), [])
  const err = await rejection(client.launchContainer(supplier.peer.node, 1, 'while-down', [container({ cpus: 1, memory: 256 })]))
  assert.is(err.status, 'UNAVAILABLE')
  assert.match(err.message, /container engine does not answer/)
  // the rest of the peer works: it trades and places (here on nobody, as nobody else supplies)
  assert.ok(await rejection(supplier.roles.run([container({ cpus: 1, memory: 256 })])) instanceof Error)

  // checks while the engine stays away change nothing
  await net.clock.advance(3 * CHECK_INTERVAL)
  await net.clock.settle()
  assert.is(supplier.roles.runtimeState().state, 'unavailable')
  assert.is(tradedOffers(net, supplier), 0)

  supplier.runtime.up()
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()
  assert.is(supplier.roles.runtimeState().state, 'ok')
  assert.is(supplier.roles.runtimeState().outages, 1)
  assert.is(calls, 1, 'the capacity is read once the engine answers')
  assert.ok(supplier.roles.offers().supplying.max.cpus > 0, 'the capacity was not read')
  assert.ok(tradedOffers(net, supplier) > 0, 'the supplier does not offer once its engine answers')
  const [placed] = await buyer.roles.run([container({ cpus: 1, memory: 256 })])
  assert.is(placed.supplier.peerId, supplier.peer.peerId)
  await net.stop()
})

test('a supplier restarted while its engine does not answer recovers its containers once the engine answers, then offers what they leave free', async () => {
  const net = await oneSupplier()
  const [supplier, buyer] = net.peers
  const [placed] = await buyer.roles.run([container({ cpus: 1, memory: 512 })])
  await net.clock.settle()
  const max = supplier.roles.offers().supplying.max

  const restarted = await net.restart(supplier.peer.peerId, () => { supplier.runtime.down('engine not up yet') })
  assert.is(restarted.roles.runtimeState().state, 'unavailable')
  assert.equal(restarted.roles.hosted(), [], 'containers are unknown until the engine answers')
  assert.is(tradedOffers(net, restarted), 0)
  // the buyer asking about its container hears that the supplier does not know yet, not that it is gone
  const err = await rejection(net.network.client(buyer.peer.peerId).containerStatus(restarted.peer.node, [placed.containerId]))
  assert.is(err.status, 'UNAVAILABLE')

  restarted.runtime.up()
  await net.clock.advance(CHECK_INTERVAL)
  await net.clock.settle()
  assert.is(restarted.roles.runtimeState().state, 'ok')
  assert.equal(restarted.roles.hosted().map(h => h.containerId), [placed.containerId])
  assert.equal(restarted.roles.offers().supplying.max, max)
  assert.is(restarted.roles.offers().supplying.available.cpus, max.cpus - 1)
  assert.ok(tradedOffers(net, restarted) > 0)
  await net.stop()
})

test('a peer without engine checks whose engine does not answer at its start fails to start, as nothing would find the engine back', async () => {
  const net = await createRolesNetwork({ size: 1, stopped: true })
  const [peer] = net.peers
  peer.runtime.down('no engine')
  const err = await rejection(peer.roles.start())
  assert.is(err.name, 'RuntimeUnavailableError')
})

test.run()
