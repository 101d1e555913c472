import { defaultLogger } from '@libp2p/logger'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ResourceMap } from '../src/resources/resource-map.js'
import { DEFAULT_KEPT_EXITED, LAUNCH_MEMORY_MS, MAX_REMEMBERED_LAUNCHES } from '../src/roles/containers-manager.js'
import { PeerRoles } from '../src/roles/peer-roles.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { ManualClock } from './fixtures/fake-clock.js'
import { LocalNetwork } from './fixtures/local-network.js'
import { container, createRolesNetwork, rejection, testNetworkConfig } from './fixtures/roles-network.js'
import type { HostedContainer } from '../src/roles/containers-manager.js'
import type { MemoryRuntimeInit } from '../src/runtime/memory-runtime.js'
import type { ContainerStatus } from '../src/types.js'
import type { RolesNetwork } from './fixtures/roles-network.js'

/** A supplier (peer 0) with one single offer, and two other peers. */
async function supplierNetwork (runtime?: MemoryRuntimeInit): Promise<RolesNetwork & { offerId: number }> {
  const net = await createRolesNetwork({
    size: 6,
    config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }),
    runtime: i => i === 0 && runtime != null ? runtime : { cpus: 2, memory: 2048 }
  })
  return { ...net, offerId: net.peers[0].roles.offers().supplying.offers[0].id }
}

test('launch is idempotent by request id: a retry returns the same statuses and starts nothing', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const containers = [container({ cpus: 1, memory: 256 }, { name: 'web' })]

  const first = await client.launchContainer(supplier.peer.node, net.offerId, 'req-1', containers)
  const again = await client.launchContainer(supplier.peer.node, net.offerId, 'req-1', containers)
  assert.equal(again, first)
  assert.is(supplier.runtime.used().containers, 1)
  assert.equal(first[0].supplier, supplier.peer.node)
  assert.is(first[0].state, 'running')

  // the same request id with other containers is refused
  const err = await rejection(client.launchContainer(supplier.peer.node, net.offerId, 'req-1', [container({ cpus: 1, memory: 512 })]))
  assert.is(err.status, 'REFUSED')

  // request ids are per buyer: another buyer's req-1 is another request
  await net.network.client(net.peers[2].peer.peerId).launchContainer(supplier.peer.node, net.offerId, 'req-1', containers)
  assert.is(supplier.runtime.used().containers, 2)

  // every container carries the supplier, buyer, offer, request, index and resources labels
  const labels = supplier.runtime.list().map(c => c.labels)
  assert.equal(labels[0], {
    'caravela.supplier': supplier.peer.peerId,
    'caravela.buyer': buyer.peer.peerId,
    'caravela.offer': String(net.offerId),
    'caravela.request': 'req-1',
    'caravela.index': '0',
    'caravela.cpu-class': '0',
    'caravela.cpus': '1',
    'caravela.memory': '256'
  })
  await net.stop()
})

test('a launch is remembered for LAUNCH_MEMORY_MS; once forgotten, a retry is answered from its running containers, and its id is free once they are gone', async () => {
  const net = await supplierNetwork({ cpus: 4, memory: 4096 })
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const launch = async (requestId: string, memory: number): Promise<ContainerStatus[]> => client.launchContainer(supplier.peer.node, net.offerId, requestId, [container({ cpus: 1, memory })])

  const [first] = await launch('req-1', 256)
  // claimed, as its buyer does right after the launch: it outlives the claim time
  await client.containerStatus(supplier.peer.node, [first.containerId])
  await net.clock.advance(LAUNCH_MEMORY_MS / 2)
  await launch('req-2', 256)
  await net.clock.advance(LAUNCH_MEMORY_MS / 2 - 1)
  // not yet forgotten: the same id with other containers is refused
  assert.match((await rejection(launch('req-1', 512))).message, /launched with other containers/)

  // forgotten on time, though no launch came since; its container still runs, so a retry gets it
  // again rather than a second copy, and other containers under its id are refused
  await net.clock.advance(1)
  assert.equal((await launch('req-1', 256))[0].containerId, first.containerId)
  assert.is(supplier.runtime.used().containers, 2)
  assert.match((await rejection(launch('req-1', 512))).message, /launched with other containers/)

  // once its container is gone the id is free
  await client.stopLocalContainer(supplier.peer.node, first.containerId)
  await launch('req-1', 512)
  assert.is(supplier.runtime.used().containers, 2)
  await net.stop()
})

test('launches of other buyers that push a launch out of memory do not make its retry start it twice', async () => {
  const net = await supplierNetwork({ cpus: 8, memory: 8192 })
  const [supplier, buyer, flooder] = net.peers
  const offerId = supplier.roles.offers().supplying.offers[0].id
  const mine = [container({ cpus: 1, memory: 64 }, { name: 'mine' })]
  const first = await net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, offerId, 'req-mine', mine)
  const flood = net.network.client(flooder.peer.peerId)

  // each flooding launch is remembered, though its container is stopped at once
  for (let i = 0; i < MAX_REMEMBERED_LAUNCHES + 1; i++) {
    const [launched] = await flood.launchContainer(supplier.peer.node, supplier.roles.offers().supplying.offers[0].id, `flood-${i}`, [container({ cpus: 1, memory: 1 })])
    await flood.stopLocalContainer(supplier.peer.node, launched.containerId)
  }

  const retried = await net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, offerId, 'req-mine', mine)
  assert.equal(retried, first)
  assert.is(supplier.runtime.list().filter(c => c.labels['caravela.buyer'] === buyer.peer.peerId).length, 1, 'one copy')
  await net.stop()
})

test('stop: only the buyer that launched a container stops it; unknown ids are NOT_FOUND', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer, other] = net.peers
  const [status] = await net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId, 'r', [container({ cpus: 1, memory: 512 })])

  const refused = await rejection(net.network.client(other.peer.peerId).stopLocalContainer(supplier.peer.node, status.containerId))
  assert.is(refused.status, 'REFUSED')
  assert.is(supplier.runtime.used().containers, 1)

  const unknown = await rejection(net.network.client(buyer.peer.peerId).stopLocalContainer(supplier.peer.node, 'a'.repeat(64)))
  assert.is(unknown.status, 'NOT_FOUND')

  await net.network.client(buyer.peer.peerId).stopLocalContainer(supplier.peer.node, status.containerId)
  assert.is(supplier.runtime.used().containers, 0)
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 2, memory: 2048 })
  await net.stop()
})

test('a runtime failure mid-launch removes what was started and returns the resources', async () => {
  const net = await supplierNetwork({ cpus: 4, memory: 2048, failWhen: c => c.name === 'db' ? 'image db not found' : undefined })
  const [supplier, buyer] = net.peers
  const group = ['web', 'cache', 'db'].map(name => container({ cpus: 1, memory: 256 }, { name, groupPolicy: 'co-location' }))

  const err = await rejection(net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId, 'r1', group))
  assert.is(err.status, 'UNAVAILABLE')
  assert.match(err.message, /image db not found/)
  assert.is(supplier.runtime.list().length, 0)
  assert.equal(supplier.roles.hosted(), [])
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 4, memory: 2048 })
  await net.stop()
})

test('cancel a launch: what it started is removed, what it is still starting is removed once created, and the launch fails', async () => {
  const net = await supplierNetwork({ cpus: 4, memory: 2048 })
  const [supplier, buyer, other] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const group = ['web', 'db'].map(name => container({ cpus: 1, memory: 256 }, { name, groupPolicy: 'co-location' }))

  // the second container's creation waits on the gate: the launch is in progress
  let open = (): void => {}
  const gate = { promise: new Promise<void>(resolve => { open = resolve }), resolve: () => { open() } }
  const runContainer = supplier.runtime.runContainer.bind(supplier.runtime)
  supplier.runtime.runContainer = async (config, labels) => {
    if (config.name === 'db') {
      await gate.promise
    }

    return runContainer(config, labels)
  }
  const launch = rejection(client.launchContainer(supplier.peer.node, net.offerId, 'slow', group))
  await net.clock.settle()
  assert.equal(supplier.runtime.list().map(c => c.config.name), ['web'])

  // only the launch's buyer cancels it: another peer's cancel of the same request id touches nothing
  await net.network.client(other.peer.peerId).cancelLaunch(supplier.peer.node, 'slow')
  assert.equal(supplier.runtime.list().map(c => c.config.name), ['web'])

  await client.cancelLaunch(supplier.peer.node, 'slow')
  assert.equal(supplier.runtime.list(), [], 'what the launch started is removed at once')

  gate.resolve()
  const err = await launch
  assert.is(err.status, 'REFUSED')
  assert.match(err.message, /cancelled launch slow/)
  await net.clock.settle()
  assert.equal(supplier.runtime.list(), [], 'what it was still starting is removed once created')
  assert.equal(supplier.roles.hosted(), [])
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 4, memory: 2048 })

  // a finished launch is cancelled too; an unknown one has nothing to stop
  await client.launchContainer(supplier.peer.node, supplier.roles.offers().supplying.offers[0].id, 'done', group)
  assert.is(supplier.runtime.list().length, 2)
  await client.cancelLaunch(supplier.peer.node, 'done')
  await client.cancelLaunch(supplier.peer.node, 'never-sent')
  assert.equal(supplier.runtime.list(), [])
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 4, memory: 2048 })
  await net.stop()
})

test('a container asking for no CPU or no memory is refused: nothing runs unlimited', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers

  for (const resources of [{ cpus: 0, memory: 256 }, { cpus: 1, memory: 0 }]) {
    const err = await rejection(net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId, 'zero', [container(resources)]))
    assert.is(err.status, 'INVALID_REQUEST')
  }

  assert.is(supplier.runtime.list().length, 0)
  await net.stop()
})

test('a runtime with too little capacity fails the launch without leaking containers or resources', async () => {
  // the runtime holds less than the supplier advertises
  const net = await supplierNetwork({ cpus: 2, memory: 2048, allocatable: { cpus: 2, memory: 600 } })
  const [supplier, buyer] = net.peers
  const group = [
    container({ cpus: 1, memory: 512 }, { groupPolicy: 'co-location' }),
    container({ cpus: 1, memory: 512 }, { groupPolicy: 'co-location' })
  ]
  const err = await rejection(net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId, 'big', group))
  assert.is(err.status, 'UNAVAILABLE')
  assert.match(err.message, /Not enough capacity/)
  assert.is(supplier.runtime.list().length, 0)
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 2, memory: 2048 })

  // the failed request id may be tried again
  await net.clock.settle()
  const offerId = supplier.roles.offers().supplying.offers[0].id
  const retried = await rejection(net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, offerId, 'big', group))
  assert.is(retried.status, 'UNAVAILABLE')
  await net.stop()
})

test('a container that exits on its own releases its resources and calls the hook', async () => {
  const config = testNetworkConfig()
  const map = new ResourceMap(config.resources)
  const network = new LocalNetwork({ resourceMap: map })
  const clock = new ManualClock()
  const [a, b] = [await network.addPeer(), await network.addPeer()]
  const runtime = new MemoryRuntime({ cpus: 2, memory: 2048 })
  const exits: HostedContainer[] = []
  const roles = new PeerRoles({
    self: () => a.node,
    selfKey: a.key,
    overlay: network.overlay(a.peerId),
    client: network.client(a.peerId),
    runtime,
    clock,
    config: () => config,
    resourceMap: () => map,
    capacity: { cpuClass: 0 },
    logger: defaultLogger(),
    onContainerExit: container => { exits.push(container) },
    publishDelay: 0
  })
  network.serve(a.peerId, roles.handlers)
  await roles.start()
  await clock.settle()

  const offerId = roles.offers().supplying.offers[0].id
  const [status] = await network.client(b.peerId).launchContainer(a.node, offerId, 'x', [container({ cpus: 2, memory: 1024 })])
  assert.equal(roles.offers().supplying.available.cpus, 0)

  runtime.kill(status.containerId)
  assert.equal(roles.offers().supplying.available, { cpuClass: 0, cpus: 2, memory: 2048 })
  assert.equal(exits.map(e => [e.containerId, e.buyer, e.requestId]), [[status.containerId, b.peerId, 'x']])
  assert.equal(roles.hosted(), [])
  await clock.settle()
  // kept stopped for its buyer's logs, then removed once the retention is up
  assert.equal(runtime.list().map(c => c.state), ['exited'])
  await clock.advance(DEFAULT_KEPT_EXITED.retention)
  assert.is(runtime.list().length, 0)
  await roles.stop()
})

test.run()
