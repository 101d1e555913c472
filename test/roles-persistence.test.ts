/**
 * Nothing is lost on restart: the ledger of the containers a peer runs and
 * placed, the reconciliation of a restarted supplier with its runtime, idempotent launches across
 * restarts and containerExited, over LocalNetwork, MemoryRuntime and a ManualClock. A restart
 * builds new roles on the peer's store and runtime (`RolesNetwork.restart`).
 */

import { defaultLogger } from '@libp2p/logger'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DEFAULT_KEPT_EXITED, NOTIFY_ATTEMPTS } from '../src/roles/containers-manager.js'
import { HOSTED_PREFIX, Ledger, PLACED_PREFIX } from '../src/roles/ledger.js'
import { MemoryStore } from '../src/store/store.js'
import { assertWithinCapacity, container, createRolesNetwork, rejection } from './fixtures/roles-network.js'
import { waitFor } from './fixtures/wait.js'
import type { HostedRecord } from '../src/roles/ledger.js'
import type { Store } from '../src/store/store.js'
import type { ContainerConfig } from '../src/types.js'
import type { RolesNetwork, RolesPeer } from './fixtures/roles-network.js'

/** What every peer offers: 2 CPUs and 2048 MB (the fixture's default runtime). */
const CAPACITY = { cpuClass: 0, cpus: 2, memory: 2048 }

/** Six peers; peer 1, the buyer, has no capacity: what it places runs on others. */
async function network (): Promise<RolesNetwork> {
  return createRolesNetwork({ size: 6, runtime: i => i === 1 ? { cpus: 0, memory: 0 } : { cpus: CAPACITY.cpus, memory: CAPACITY.memory } })
}

function offerOf (supplier: RolesPeer): number {
  return supplier.roles.offers().supplying.offers[0].id
}

/** The hosted records of a store, as JSON values. */
async function hostedRecords (store: Store): Promise<Array<HostedRecord & { version: number }>> {
  return (await store.list(HOSTED_PREFIX)).map(entry => JSON.parse(entry.value))
}

/** Rewrite the hosted record whose key ends with `suffix`. */
async function editRecord (store: Store, suffix: string, edit: (record: any) => object): Promise<void> {
  const [entry] = (await store.list(HOSTED_PREFIX)).filter(e => e.key.endsWith(suffix))
  await store.put(entry.key, JSON.stringify(edit(JSON.parse(entry.value))))
}

/** A peer of the network that is none of `peers`. */
function another (net: RolesNetwork, ...peers: string[]): RolesPeer {
  return net.peers.find(p => !peers.includes(p.peer.peerId)) as RolesPeer
}

/** Place containers from `buyer` on one supplier; returns their ids and that supplier. */
async function place (net: RolesNetwork, buyer: RolesPeer, containers: ContainerConfig[]): Promise<{ supplier: RolesPeer, ids: string[] }> {
  const statuses = await buyer.roles.run(containers.map(c => ({ ...c, groupPolicy: 'co-location' })))
  return { supplier: net.byId(statuses[0].supplier.peerId), ids: statuses.map(s => s.containerId) }
}

test('the ledger: a versioned JSON record per container; a launch of several records them all before the runtime creates any', async () => {
  const net = await network()
  const [supplier, buyer] = net.peers
  const writes: string[] = []
  const put = supplier.store.put.bind(supplier.store)
  supplier.store.put = async (key, value) => {
    writes.push(`${JSON.parse(value).state as string} with ${supplier.runtime.list().length} containers`)
    await put(key, value)
  }

  const statuses = await net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, offerOf(supplier), 'req/1', [container({ cpus: 1, memory: 256 }), container({ cpus: 1, memory: 256 })])
  await waitFor(() => writes.length === 4, { timeout: 5_000, interval: 5, message: 'the running records' })
  assert.equal(writes, ['creating with 0 containers', 'creating with 0 containers', 'running with 2 containers', 'running with 2 containers'])

  const [entry] = await supplier.store.list(`${HOSTED_PREFIX}${buyer.peer.peerId}/req%2F1/0`)
  assert.is(entry.key, `/caravela/hosted/${buyer.peer.peerId}/req%2F1/0`)
  const record = JSON.parse(entry.value)
  assert.is(record.version, 1)
  assert.is(record.state, 'running')
  assert.is(record.containerId, statuses[0].containerId)
  assert.equal([record.buyer, record.requestId, record.index, record.resources], [buyer.peer.peerId, 'req/1', 0, { cpuClass: 0, cpus: 1, memory: 256 }])

  // stopped: the records go
  for (const { containerId } of statuses) {
    await net.network.client(buyer.peer.peerId).stopLocalContainer(supplier.peer.node, containerId)
  }
  assert.equal(await supplier.store.list(HOSTED_PREFIX), [])
  await net.stop()
})

test('a launch of one container: its record is written while the runtime creates it, the answer waits for the record, not for `running`', async () => {
  const net = await network()
  const [supplier, buyer] = net.peers
  const put = supplier.store.put.bind(supplier.store)
  const held = new Map<string, () => void>()
  // each write is held until the test lets it through
  supplier.store.put = async (key, value) => {
    await new Promise<void>(resolve => { held.set(JSON.parse(value).state, resolve) })
    await put(key, value)
  }
  let answered = false
  const launch = net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, offerOf(supplier), 'one', [container({ cpus: 1, memory: 256 })])
    .finally(() => { answered = true })

  await waitFor(() => held.has('creating') && supplier.runtime.list().length === 1, { timeout: 5_000, interval: 5, message: 'the record written and the container created together' })
  await new Promise(resolve => setImmediate(resolve))
  assert.not.ok(answered, 'no answer before the creating record is written')
  held.get('creating')?.()
  const [status] = await launch
  assert.ok(held.has('running'), 'the running record is being written')
  assert.equal((await hostedRecords(supplier.store)).map(r => r.state), ['creating'], 'the answer did not wait for it')

  // the peer stops before the running record is written: the restart keeps the container
  supplier.store.put = put
  const restarted = await net.restart(supplier.peer.peerId)
  assert.equal(restarted.roles.hosted().map(c => c.containerId), [status.containerId])
  assert.equal((await hostedRecords(restarted.store)).map(r => [r.state, r.containerId]), [['running', status.containerId]])
  await net.stop()
})

test('the ledger skips records it cannot read: corrupt, another version, missing fields', async () => {
  const store = new MemoryStore()
  const ledger = new Ledger(store, defaultLogger().forComponent('test'))
  const record: HostedRecord = { state: 'running', buyer: 'b', offerId: 1, requestId: 'r', index: 0, resources: CAPACITY, containerId: 'c' }
  await ledger.putHosted(record)
  await store.put(`${HOSTED_PREFIX}x/1/0`, '{ not json')
  await store.put(`${HOSTED_PREFIX}x/2/0`, JSON.stringify({ ...record, version: 2 }))
  await store.put(`${HOSTED_PREFIX}x/3/0`, JSON.stringify({ ...record, version: 1, state: 'running', containerId: undefined }))
  await store.put(`${PLACED_PREFIX}y`, JSON.stringify({ version: 1, containerId: 'y' }))

  assert.equal(await ledger.hosted(), [record])
  assert.equal(await ledger.placed(), [])
})

test('a restarted supplier keeps every record and holds the resources of its running containers again', async () => {
  const net = await network()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const offerId = offerOf(supplier)
  await client.launchContainer(supplier.peer.node, offerId, 'a', [container({ cpus: 1, memory: 512 })])
  await client.launchContainer(supplier.peer.node, offerId, 'b', [container({ cpus: 1, memory: 512 })])
  const hosted = supplier.roles.hosted()
  const records = await hostedRecords(supplier.store)

  const restarted = await net.restart(supplier.peer.peerId)
  assert.equal(restarted.roles.hosted(), hosted)
  assert.equal(await hostedRecords(restarted.store), records)
  assert.equal(restarted.roles.offers().supplying.available, { cpuClass: 0, cpus: 0, memory: 1024 })
  assertWithinCapacity(net, true)

  // no over-allocation: nothing more fits
  const refused = await rejection(client.launchContainer(supplier.peer.node, offerId, 'c', [container({ cpus: 1, memory: 256 })]))
  assert.is(refused.status, 'REFUSED')
  assert.is(restarted.runtime.used().containers, 2)
  await net.stop()
})

test('a launch retried after a restart returns the containers it started and starts nothing', async () => {
  const net = await network()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const containers = [
    container({ cpus: 1, memory: 256 }, { name: 'web', portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] }),
    container({ cpus: 1, memory: 256 }, { name: 'db' })
  ]
  const first = await client.launchContainer(supplier.peer.node, offerOf(supplier), 'req-1', containers)

  await net.restart(supplier.peer.peerId)
  assert.equal(await client.launchContainer(supplier.peer.node, 1, 'req-1', containers), first)
  assert.is(supplier.runtime.used().containers, 2)

  // the same request id with other containers is refused
  const refused = await rejection(client.launchContainer(supplier.peer.node, 1, 'req-1', [containers[0]]))
  assert.is(refused.status, 'REFUSED')
  assert.is(supplier.runtime.used().containers, 2)
  await net.stop()
})

test('containers that ended while their supplier was down are reported to their buyer', async () => {
  const net = await network()
  const buyer = net.peers[1]
  const { supplier, ids: [died, gone] } = await place(net, buyer, [container({ cpus: 1, memory: 256 }), container({ cpus: 1, memory: 256 })])

  const restarted = await net.restart(supplier.peer.peerId, async () => {
    supplier.runtime.kill(died, 3)
    await supplier.runtime.removeContainer(gone)
  })
  assert.equal(buyer.roles.ps().map(c => [c.containerId, c.state]), [[died, 'exited (3)'], [gone, 'exited']])
  assert.equal(restarted.roles.hosted(), [])
  // the one the engine still has is kept stopped, for its buyer's logs
  assert.equal(restarted.runtime.list().map(c => [c.id, c.state]), [[died, 'exited']])
  assert.equal(restarted.roles.offers().supplying.available, CAPACITY)
  assert.equal((await hostedRecords(restarted.store)).map(r => [r.containerId, r.notified]), [[died, true]], 'the buyer heard: only the kept container\'s record stays')
  await net.clock.advance(DEFAULT_KEPT_EXITED.retention)
  assert.equal(restarted.runtime.list(), [])
  assert.equal(await hostedRecords(restarted.store), [], 'its retention is up: the records go')
  await net.stop()
})

test('a container created before its ledger update was lost is adopted from its labels, not started twice', async () => {
  const net = await network()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const containers = [container({ cpus: 1, memory: 256 }), container({ cpus: 1, memory: 512 }, { portMappings: [{ hostPort: 0, containerPort: 53, protocol: 'udp' }] })]
  const first = await client.launchContainer(supplier.peer.node, offerOf(supplier), 'req-2', containers)

  // the process died between the runtime's create and the ledger's update of the second container
  const restarted = await net.restart(supplier.peer.peerId, async () => {
    await editRecord(supplier.store, '/1', ({ containerId, portMappings, ...record }) => ({ ...record, state: 'creating' }))
  })
  assert.equal(restarted.roles.hosted().map(c => c.containerId), first.map(s => s.containerId))
  assert.equal((await hostedRecords(restarted.store)).map(r => [r.state, r.containerId]), first.map(s => ['running', s.containerId]))
  assert.equal(await client.launchContainer(supplier.peer.node, 1, 'req-2', containers), first)
  assert.is(restarted.runtime.used().containers, 2)
  assertWithinCapacity(net, true)
  await net.stop()
})

test('containers whose records were lost are recorded again from their labels', async () => {
  const net = await network()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const containers = [container({ cpus: 1, memory: 256 }, { portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] })]
  const first = await client.launchContainer(supplier.peer.node, offerOf(supplier), 'req-3', containers)
  const hosted = supplier.roles.hosted()

  const restarted = await net.restart(supplier.peer.peerId, async () => {
    for (const { key } of await supplier.store.list(HOSTED_PREFIX)) {
      await supplier.store.delete(key)
    }
  })
  assert.equal(restarted.roles.hosted(), hosted.map(({ status, ...rest }) => rest))
  assert.equal(restarted.roles.offers().supplying.available, { cpuClass: 0, cpus: 1, memory: 1792 })
  assert.is((await hostedRecords(restarted.store)).length, 1)

  // a retry gets the same container, with the configuration it asks for again
  assert.equal(await client.launchContainer(supplier.peer.node, 1, 'req-3', containers), first)
  assert.is(restarted.runtime.used().containers, 1)

  // the buyer stops it as before
  await client.stopLocalContainer(supplier.peer.node, first[0].containerId)
  assert.equal(restarted.runtime.list(), [])
  assert.equal(restarted.roles.offers().supplying.available, CAPACITY)
  await net.stop()
})

test('a launch a restart cut short is undone: its containers go, its resources come back, a retry starts it afresh', async () => {
  const net = await network()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const containers = [container({ cpus: 1, memory: 256 }), container({ cpus: 1, memory: 256 })]
  const first = await client.launchContainer(supplier.peer.node, offerOf(supplier), 'req-4', containers)

  // the process died after creating the first container: the second was never created
  const restarted = await net.restart(supplier.peer.peerId, async () => {
    await supplier.runtime.removeContainer(first[1].containerId)
    await editRecord(supplier.store, '/1', ({ containerId, portMappings, ...record }) => ({ ...record, state: 'creating' }))
  })
  assert.equal(restarted.runtime.list(), [])
  assert.equal(restarted.roles.hosted(), [])
  assert.equal(await hostedRecords(restarted.store), [])
  assert.equal(restarted.roles.offers().supplying.available, CAPACITY)

  const again = await client.launchContainer(supplier.peer.node, offerOf(restarted), 'req-4', containers)
  assert.is(again.length, 2)
  assert.ok(again.every(s => !first.some(f => f.containerId === s.containerId)), 'new containers')
  assert.is(restarted.runtime.used().containers, 2)
  await net.stop()
})

test('containers labelled with another peer id are never touched', async () => {
  const net = await network()
  const [supplier, buyer, other] = net.peers
  const labels = { 'caravela.buyer': buyer.peer.peerId, 'caravela.offer': '1', 'caravela.request': 'r', 'caravela.index': '0', 'caravela.cpu-class': '0', 'caravela.cpus': '1', 'caravela.memory': '256' }
  const foreign = await supplier.runtime.runContainer(container({ cpus: 1, memory: 256 }), { ...labels, 'caravela.supplier': other.peer.peerId })
  const ended = await supplier.runtime.runContainer(container({ cpus: 1, memory: 256 }), { ...labels, 'caravela.supplier': other.peer.peerId, 'caravela.request': 's' })
  supplier.runtime.kill(ended.containerId)
  // ours, but without the labels to account it: left alone too
  const unlabelled = await supplier.runtime.runContainer(container({ cpus: 0, memory: 0 }), { 'caravela.supplier': supplier.peer.peerId })
  const before = supplier.runtime.list()

  const restarted = await net.restart(supplier.peer.peerId)
  assert.equal(restarted.runtime.list(), before)
  assert.equal(restarted.roles.hosted(), [])
  assert.equal(restarted.roles.offers().supplying.available, CAPACITY)
  assert.equal(before.map(c => c.id), [foreign.containerId, ended.containerId, unlabelled.containerId])
  await net.stop()
})

test('a restarted buyer still lists the containers it placed, and stops them', async () => {
  const net = await network()
  const buyer = net.peers[1]
  const { supplier } = await place(net, buyer, [container({ cpus: 1, memory: 256 }, { name: 'web' }), container({ cpus: 1, memory: 256 }, { name: 'db' })])
  const ps = buyer.roles.ps()
  assert.is((await buyer.store.list(PLACED_PREFIX)).length, 2)

  const restarted = await net.restart(buyer.peer.peerId)
  assert.equal(restarted.roles.ps(), ps)

  const results = await restarted.roles.stopContainers(ps.map(c => c.containerId))
  assert.ok(results.every(r => r.stopped))
  assert.equal(restarted.roles.ps(), [])
  assert.equal(await restarted.store.list(PLACED_PREFIX), [])
  assert.equal(supplier.runtime.list(), [])
  await net.stop()
})

test('a container that dies: its buyer\'s ps shows the exit code, its supplier\'s capacity is back', async () => {
  const net = await network()
  const buyer = net.peers[1]
  const { supplier, ids: [id] } = await place(net, buyer, [container({ cpus: 2, memory: 1024 })])

  // only the container's supplier may say it exited
  const liar = another(net, buyer.peer.peerId, supplier.peer.peerId)
  const refused = await rejection(net.network.client(liar.peer.peerId).containerExited(buyer.peer.node, id, 1, 'lies'))
  assert.is(refused.status, 'REFUSED')
  const unknown = await rejection(net.network.client(supplier.peer.peerId).containerExited(buyer.peer.node, 'f'.repeat(64), 1, 'no such'))
  assert.is(unknown.status, 'NOT_FOUND')
  assert.is(buyer.roles.ps()[0].state, 'running')

  supplier.runtime.kill(id, 3)
  await net.clock.settle()
  assert.is(buyer.roles.ps()[0].state, 'exited (3)')
  assert.match((await buyer.store.list(PLACED_PREFIX))[0].value, /"state":"exited \(3\)"/)
  assert.equal(supplier.roles.hosted(), [])
  assert.equal(supplier.runtime.list().map(c => c.state), ['exited'])
  assert.equal(supplier.roles.offers().supplying.available, CAPACITY)

  // stopping an exited container clears it from ps, and removes what its supplier kept of it
  assert.equal(await buyer.roles.stopContainers([id]), [{ id, stopped: true }])
  assert.equal(buyer.roles.ps(), [])
  assert.equal(supplier.runtime.list(), [])
  assert.equal(await hostedRecords(supplier.store), [])
  await net.stop()
})

test('a container that dies before its launch is recorded is released, and its buyer hears of it', async () => {
  const net = await network()
  const buyer = net.peers[1]

  for (const { runtime } of net.peers) {
    const run = runtime.runContainer.bind(runtime)
    runtime.runContainer = async (config, labels, options) => {
      const started = await run(config, labels, options)
      runtime.kill(started.containerId, 1)
      return started
    }
  }

  const { supplier } = await place(net, buyer, [container({ cpus: 1, memory: 256 })])
  await net.clock.advance(1_000)
  assert.is(buyer.roles.ps()[0].state, 'exited (1)')
  assert.equal(supplier.roles.hosted(), [])
  assert.equal(supplier.runtime.list().map(c => c.state), ['exited'], 'kept for its buyer\'s logs')
  assert.equal(supplier.roles.offers().supplying.available, CAPACITY)
  assert.equal((await hostedRecords(supplier.store)).map(r => [r.state, r.notified]), [['exited', true]])
  await net.stop()
})

test('a buyer that cannot be reached is told again with a growing wait, a bounded number of times, then after a restart', async () => {
  const net = await network()
  const buyer = net.peers[1]
  const { supplier, ids: [id] } = await place(net, buyer, [container({ cpus: 1, memory: 256 })])
  const sent = (): number => net.network.metrics(supplier.peer.peerId).containerExited.messagesSent

  net.network.kill(buyer.peer.peerId)
  supplier.runtime.kill(id, 3)
  await net.clock.settle()
  assert.is(sent(), 1)
  await net.clock.advance(1_000)
  assert.is(sent(), 2)
  await net.clock.advance(2_000)
  assert.is(sent(), 3)
  await net.clock.advance(60_000)
  assert.is(sent(), NOTIFY_ATTEMPTS)
  assert.equal((await hostedRecords(supplier.store)).map(r => [r.state, r.exitCode]), [['exited', 3]], 'the ledger keeps the fact')
  assert.equal(supplier.roles.offers().supplying.available, CAPACITY)

  net.network.revive(buyer.peer.peerId)
  const restarted = await net.restart(supplier.peer.peerId)
  assert.is(buyer.roles.ps()[0].state, 'exited (3)')
  assert.equal((await hostedRecords(restarted.store)).map(r => [r.state, r.notified]), [['exited', true]], 'told: the record stays while the container is kept')
  await net.clock.advance(DEFAULT_KEPT_EXITED.retention)
  assert.equal(await hostedRecords(restarted.store), [])
  assert.equal(restarted.runtime.list(), [])
  await net.stop()
})

test('before its roles start, a peer answers launches and stops UNAVAILABLE: its containers are not known yet', async () => {
  const net = await createRolesNetwork({ size: 2, stopped: true })
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)

  assert.is((await rejection(client.stopLocalContainer(supplier.peer.node, 'a'.repeat(64)))).status, 'UNAVAILABLE')
  assert.is((await rejection(client.launchContainer(supplier.peer.node, 1, 'r', [container({ cpus: 1, memory: 1 })]))).status, 'UNAVAILABLE')
})

test.run()
