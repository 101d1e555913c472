/**
 * Discovery and placement over real libp2p peers on 127.0.0.1: 20 peers with memory runtimes,
 * the supplier, trader and buyer roles talking through the wire protocols.
 */

import * as assert from 'uvu/assert'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { createTestNetwork, stopAll } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaNode } from '../src/node.js'
import type { ContainerConfig, ContainerStatus } from '../src/types.js'

const NETWORK_SIZE = 20
/** every peer offers 4 CPUs and 4096 MB: the largest partition of the test tree */
const CAPACITY = { cpus: 4, memory: 4096 }
/** four slices: 1 CPU with 256 or 1024 MB, 4 CPUs with 2048 or 4096 MB */
const TREE = {
  cpuClasses: [{
    value: 0,
    percentage: 100,
    cpuCores: [
      { value: 1, percentage: 50, memory: [{ value: 256, percentage: 50 }, { value: 1024, percentage: 50 }] },
      { value: 4, percentage: 50, memory: [{ value: 2048, percentage: 50 }, { value: 4096, percentage: 50 }] }
    ]
  }]
}

interface Context {
  nodes: CaravelaNode[]
  runtimes: MemoryRuntime[]
}

const Placement = suite<Context>('placement: 20 peers', { nodes: [], runtimes: [] })

Placement.before(async (ctx) => {
  ctx.runtimes = Array.from({ length: NETWORK_SIZE }, () => new MemoryRuntime(CAPACITY))
  ctx.nodes = await createTestNetwork(NETWORK_SIZE, {
    everySlice: true,
    runtime: i => ctx.runtimes[i],
    config: c => {
      c.node.cpus = CAPACITY.cpus
      c.node.memory = CAPACITY.memory
      c.network.resources = TREE
      c.network.discoveryBackend = 'multi-offer-updates'
      c.network.supplyingInterval = 2_000
      c.network.refreshingInterval = 2_000
      c.network.refreshesCheckInterval = 3_000
      c.network.refreshMissedTimeout = 5_000
      c.network.spreadOffersInterval = 2_000
    }
  })

  const map = ctx.nodes[0].services.caravela.resourceMap
  const traded = new Set(ctx.nodes.map(n => map.sliceOf(n.services.caravela.overlay.nodeId()).index))
  assert.is(traded.size, map.slices.length, 'every slice has a trader')

  // every supplier has published an offer in every slice
  await waitFor(() => ctx.nodes.every(n => n.services.caravela.offers().supplying.offers.length === 4), { timeout: 30_000, message: 'every supplier to publish its offers' })
})

Placement.after(async (ctx) => {
  await stopAll(ctx.nodes)
})

function container (name: string, cpus: number, memory: number, groupPolicy: ContainerConfig['groupPolicy'] = 'spread'): ContainerConfig {
  return { name, image: 'busybox', args: ['sleep', '60'], portMappings: [], resources: { cpuClass: 0, cpus, memory }, groupPolicy }
}

function runtimeOf (ctx: Context, peerId: string): MemoryRuntime {
  const index = ctx.nodes.findIndex(n => n.peerId.toString() === peerId)
  assert.ok(index >= 0, `unknown supplier ${peerId}`)
  return ctx.runtimes[index]
}

function assertWithinCapacity (ctx: Context): void {
  ctx.runtimes.forEach((runtime, i) => {
    const used = runtime.used()
    assert.ok(used.cpus <= CAPACITY.cpus && used.memory <= CAPACITY.memory, `peer ${i} is allocated ${used.cpus} CPUs and ${used.memory} MB, beyond its capacity`)
  })
}

async function stopEverything (ctx: Context): Promise<void> {
  for (const node of ctx.nodes) {
    const ids = node.services.caravela.ps().map(c => c.containerId)

    if (ids.length > 0) {
      const results = await node.services.caravela.stopContainers(ids)
      assert.ok(results.every(r => r.stopped), JSON.stringify(results))
    }
  }

  await waitFor(() => ctx.runtimes.every(r => r.used().containers === 0), { timeout: 10_000, message: 'every runtime to be empty' })
}

Placement('caravela node shows the capacity the supplier offers', async (ctx) => {
  for (const node of ctx.nodes) {
    assert.equal(node.services.caravela.status().capacity, { cpus: CAPACITY.cpus, memory: CAPACITY.memory, cpuClass: 'low' })
  }
})

Placement('a container asked for at any peer lands on a supplier with room, shows in ps and stops', async (ctx) => {
  for (const buyer of ctx.nodes.slice(0, 5)) {
    const [status] = await buyer.services.caravela.run([container('one', 1, 256)], { signal: AbortSignal.timeout(20_000) })
    const runtime = runtimeOf(ctx, status.supplier.peerId)
    assert.ok(runtime.list().some(c => c.id === status.containerId), 'the supplier runs it')

    const [listed] = buyer.services.caravela.ps().filter(c => c.containerId === status.containerId)
    assert.ok(listed, 'ps lists it')
    assert.is(listed.supplier.peerId, status.supplier.peerId)
    assert.is(listed.state, 'running')

    const [stopped] = await buyer.services.caravela.stopContainers([status.containerId.slice(0, 12)])
    assert.ok(stopped.stopped, stopped.error)
    assert.not.ok(runtime.list().some(c => c.id === status.containerId && c.state === 'running'), 'the supplier removed it')
  }

  await stopEverything(ctx)
})

Placement('spread containers land on distinct suppliers, co-located ones on one', async (ctx) => {
  const buyer = ctx.nodes[7].services.caravela
  const spread = await buyer.run([container('a', 1, 256), container('b', 1, 256), container('c', 1, 256)], { signal: AbortSignal.timeout(30_000) })
  assert.is(new Set(spread.map(s => s.supplier.peerId)).size, 3)

  const together = await buyer.run([container('x', 1, 256, 'co-location'), container('y', 1, 512, 'co-location'), container('z', 0, 256, 'co-location')], { signal: AbortSignal.timeout(30_000) })
  assert.is(together.length, 3)
  assert.is(new Set(together.map(s => s.supplier.peerId)).size, 1)

  await stopEverything(ctx)
})

Placement('a request no supplier can hold fails with a reason and leaves nothing behind', async (ctx) => {
  const buyer = ctx.nodes[3].services.caravela

  try {
    await buyer.run([container('huge', 16, 65_536)], { signal: AbortSignal.timeout(30_000) })
    assert.unreachable('a request larger than every peer was placed')
  } catch (err: any) {
    assert.ok(['NoPartitionFitsError', 'NoOffersError'].includes(err.name), err.name)
    assert.ok(err.message.length > 10)
  }

  // a spread request whose last container cannot be placed rolls back the others
  try {
    await buyer.run([container('fits', 1, 256), container('fits-too', 1, 256), container('does-not', 16, 65_536)], { signal: AbortSignal.timeout(30_000) })
    assert.unreachable('an unplaceable request succeeded')
  } catch (err: any) {
    assert.ok(err.message.length > 10)
  }

  await waitFor(() => ctx.runtimes.every(r => r.used().containers === 0), { timeout: 10_000, message: 'the rollback to empty every runtime' })
  assert.is(buyer.ps().length, 0)
})

Placement('50 requests in flight at once never allocate a supplier beyond its capacity', async (ctx) => {
  const buyers = ctx.nodes.map(n => n.services.caravela)
  // 50 × (2 CPUs, 1024 MB) asks for 100 CPUs of the network's 80: some must fail, none may overbook
  const results = await Promise.allSettled(Array.from({ length: 50 }, async (_, i) =>
    buyers[i % buyers.length].run([container(`burst-${i}`, 2, 1024)], { signal: AbortSignal.timeout(60_000) })))
  const placed = results.filter((r): r is PromiseFulfilledResult<ContainerStatus[]> => r.status === 'fulfilled')

  assertWithinCapacity(ctx)
  const running = ctx.runtimes.reduce((sum, r) => sum + r.used().containers, 0)
  assert.is(running, placed.length, 'every placement the buyers heard of runs, and nothing else')
  assert.ok(placed.length >= 25, `only ${placed.length} of 50 placed while the network had room for 40`)

  await stopEverything(ctx)
})

Placement('every protocol takes the sender from the connection: no peer can act for another', async (ctx) => {
  const services = ctx.nodes.map(n => n.services.caravela)
  // the suppliers publish again what the last test freed (full suppliers had withdrawn their offers)
  await waitFor(() => services.every(s => s.offers().supplying.offers.length === 4), { timeout: 30_000, message: 'every supplier to publish its offers again' })
  // and a trader holds an offer that its supplier has brought up to date: a supplier's own
  // update (the last test's containers stopping) must not pass for the intruder's below
  const current = (o: { free: { cpus: number, memory: number } }): boolean => o.free.cpus === CAPACITY.cpus && o.free.memory === CAPACITY.memory
  await waitFor(() => services.some(s => s.offers().trading.offers.some(current)), { timeout: 30_000, message: 'a trader to hold an up-to-date offer' })
  const trader = services.find(s => s.offers().trading.offers.some(current))
  assert.ok(trader, 'some trader holds offers')
  const held = trader.offers().trading.offers.find(current)!
  const supplier = services.find(s => s.status().peerId === held.peerId)!
  const intruder = services.find(s => s !== trader && s !== supplier)!
  const traderRef = { peerId: trader.status().peerId, multiaddrs: [] }
  const supplierRef = { peerId: supplier.status().peerId, multiaddrs: [] }
  const holds = (): boolean => trader.offers().trading.offers.some(o => o.id === held.id && o.peerId === held.peerId)

  // removeOffer and updateOffer name an offer id; the trader looks it up under the sender's id
  await intruder.client.removeOffer(traderRef, held.id)
  assert.ok(holds(), 'another peer removed the supplier\'s offer')
  const updated = await intruder.client.updateOffer(traderRef, { id: held.id, amount: 1, freeResources: { cpuClass: 0, cpus: 1, memory: 256 }, usedResources: held.used, containersRunning: 0 })
  assert.not.ok(updated, 'another peer updated the supplier\'s offer')
  assert.equal(trader.offers().trading.offers.find(o => o.id === held.id && o.peerId === held.peerId)?.free, held.free)

  // refreshOffer counts only from the offer's trader
  // (with multi-offer the intruder may be the trader of one of the supplier's other offers)
  const ownOffer = supplier.offers().supplying.offers.find(o => o.peerId !== intruder.status().peerId)
  assert.ok(ownOffer, 'the supplier has an offer at a trader other than the intruder')
  assert.not.ok(await intruder.client.refreshOffer(supplierRef, ownOffer.id), 'a refresh from a peer that is not the trader was taken')

  // stopLocalContainer only from the buyer that launched the container
  const [status] = await services[0].run([container('mine', 1, 256)], { signal: AbortSignal.timeout(20_000) })
  const stranger = services.find(s => s !== services[0] && s.status().peerId !== status.supplier.peerId)!

  try {
    await stranger.client.stopLocalContainer(status.supplier, status.containerId)
    assert.unreachable('a peer stopped another buyer\'s container')
  } catch (err: any) {
    assert.is(err.name, 'RemoteRequestError')
    assert.is(err.status, 'REFUSED')
  }

  assert.ok(runtimeOf(ctx, status.supplier.peerId).list().some(c => c.id === status.containerId && c.state === 'running'))
  await stopEverything(ctx)
})

Placement.run()
