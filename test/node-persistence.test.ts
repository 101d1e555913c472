/**
 * Nothing is lost on restart, over real libp2p peers whose ledgers live in their LevelDB
 * datastores: a supplier stopped and started again on its data directory keeps its records, its
 * buyer still sees the container running, and the container's death reaches the buyer. A peer
 * keeps the network configuration it adopted, and a peer it remembers cannot change it.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryDatastore } from 'datastore-core'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { networkConfigDigest, networkConfigToJson } from '../src/config/config.js'
import { ResourceMap } from '../src/resources/resource-map.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { DatastoreStore } from '../src/store/datastore-store.js'
import { createTestNode, dialableAddress, stopAll, testConfig } from './fixtures/network.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaConfig } from '../src/config/types.js'
import type { CaravelaNode } from '../src/node.js'
import type { ContainerStatus } from '../src/types.js'

/** One slice holding every peer, so that two peers trade each other's offers. */
const TREE = {
  cpuClasses: [{ value: 0, percentage: 100, cpuCores: [{ value: 2, percentage: 100, memory: [{ value: 2048, percentage: 100 }] }] }]
}

function config (bootstrap: string[]): CaravelaConfig {
  return testConfig(c => {
    c.node.bootstrap = bootstrap
    c.node.cpus = 2
    c.node.memory = 2048
    c.network.resources = TREE
    c.network.discoveryBackend = 'multi-offer-updates'
    c.network.supplyingInterval = 1_000
    c.network.refreshingInterval = 1_000
    c.network.refreshesCheckInterval = 2_000
    c.network.refreshMissedTimeout = 3_000
  })
}

/** Place a container from `buyer`, again while the supplier's offers are on their way. */
async function placeOne (buyer: CaravelaNode): Promise<ContainerStatus> {
  const deadline = Date.now() + 20_000

  for (;;) {
    try {
      const [status] = await buyer.services.caravela.run([{
        name: 'web', image: 'busybox', args: ['httpd', '-f'], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 256 }, groupPolicy: 'spread'
      }])
      return status
    } catch (err) {
      if (Date.now() > deadline) {
        throw err
      }

      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }
}

test('datastore store: entries under a prefix, deleted ones gone, a missing one deleted without error', async () => {
  const store = new DatastoreStore(new MemoryDatastore())
  await store.put('/caravela/hosted/b/r%2F1/0', '{"state":"running"}')
  await store.put('/caravela/placed/c', '{}')

  assert.equal(await store.list('/caravela/hosted/'), [{ key: '/caravela/hosted/b/r%2F1/0', value: '{"state":"running"}' }])
  await store.delete('/caravela/hosted/b/r%2F1/0')
  await store.delete('/caravela/hosted/missing')
  assert.equal(await store.list('/caravela/hosted/'), [])
  assert.is((await store.list('/caravela/')).length, 1)
})

test('a supplier restarted on its data directory keeps its ledger; its buyer sees the container, then its death', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-persistence-'))
  // the engine outlives the supplier's process: the restarted peer finds the same runtime
  const runtime = new MemoryRuntime({ cpus: 2, memory: 2048 })
  let supplier: CaravelaNode | undefined
  let buyer: CaravelaNode | undefined

  try {
    supplier = await createTestNode('supplier', { dataDir: join(dir, 'supplier'), runtime, config: config([]) })
    buyer = await createTestNode('buyer', { dataDir: join(dir, 'buyer'), config: config([dialableAddress(supplier)]) })
    const supplierId = supplier.peerId.toString()
    const status = await placeOne(buyer)
    assert.is(status.supplier.peerId, supplierId)
    const summary = (node: CaravelaNode): unknown => node.services.caravela.hosted().map(({ containerId, buyer, requestId, resources }) => ({ containerId, buyer, requestId, resources }))
    const hosted = summary(supplier)
    assert.is(runtime.used().containers, 1)

    await supplier.stop()
    supplier = await createTestNode('supplier', { dataDir: join(dir, 'supplier'), runtime, config: config([dialableAddress(buyer)]) })
    assert.is(supplier.peerId.toString(), supplierId)
    assert.equal(summary(supplier), hosted)
    assert.equal(supplier.services.caravela.offers().supplying.available, { cpuClass: 0, cpus: 1, memory: 1792 })
    assert.equal(buyer.services.caravela.ps().map(c => [c.containerId, c.state]), [[status.containerId, 'running']])
    assert.is(runtime.used().containers, 1)

    runtime.kill(status.containerId, 3)
    await waitFor(() => buyer?.services.caravela.ps()[0].state === 'exited (3)', { timeout: 10_000, message: 'the buyer to hear that the container exited' })
    assert.equal(supplier.services.caravela.hosted(), [])
    assert.equal(supplier.services.caravela.offers().supplying.available, { cpuClass: 0, cpus: 2, memory: 2048 })
  } finally {
    await stopAll([supplier, buyer])
    await rm(dir, { recursive: true, force: true })
  }
})

test('a restarted peer keeps the configuration it adopted, rejoins only peers serving it, and takes another only from a configured bootstrap', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-rejoin-'))
  const dataDir = join(dir, 'joiner')
  const network = testConfig(c => { c.network.refreshingInterval = 7_000; c.network.resources = TREE }).network
  const changed = { ...structuredClone(network), schedulingPolicy: 'spread' as const }
  const [kept, other] = [networkConfigDigest(network), networkConfigDigest(changed)]
  let creator: CaravelaNode | undefined
  let joiner: CaravelaNode | undefined
  const digestOf = (node: CaravelaNode | undefined): string | undefined => node?.services.caravela.status().networkConfigDigest

  try {
    creator = await createTestNode('creator', { config: testConfig(c => { c.network = network }) })
    const bootstrap = dialableAddress(creator)
    joiner = await createTestNode('joiner', { dataDir, config: testConfig(c => { c.node.bootstrap = [bootstrap] }) })
    assert.is(digestOf(joiner), kept)
    await joiner.stop()

    // restarted without a bootstrap: it runs with the network's configuration, not its own defaults,
    // and rejoins through the peer it remembers, which serves that configuration
    joiner = await createTestNode('joiner', { dataDir })
    assert.is(digestOf(joiner), kept)
    assert.is(joiner.services.caravela.config.network.refreshingInterval, 7_000)
    await waitFor(() => joiner?.getConnections(creator?.peerId).length !== 0, { timeout: 10_000, message: 'the restarted peer to rejoin through the peer it knew' })
    await joiner.services.caravela.rejoin([bootstrap])

    // the remembered peer now serves another configuration: refused, naming both digests
    let asked = 0
    creator.services.caravela.setHandlers({
      obtainConfiguration: async () => {
        asked++
        return { json: networkConfigToJson(changed), resourceMapDigest: new ResourceMap(changed.resources).digest() }
      }
    })
    const refused = await joiner.services.caravela.rejoin([bootstrap]).then(() => undefined, (err: Error) => err)
    assert.is(refused?.name, 'JoinFailedError', refused?.message ?? 'rejoined')
    assert.match(refused?.message ?? '', `another network configuration (${other}) than the one this peer runs with (${kept})`)
    assert.is(digestOf(joiner), kept)

    // and the next restart's own rejoin, in the background, does not follow it either
    await joiner.stop()
    asked = 0
    joiner = await createTestNode('joiner', { dataDir })
    await waitFor(() => asked > 0, { timeout: 10_000, message: 'the restarted peer to ask the peer it knew' })
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.is(digestOf(joiner), kept)
    assert.is(joiner.services.caravela.config.network.schedulingPolicy, 'binpack')

    // a configured bootstrap is the operator's choice: the peer takes its configuration, and keeps it
    await joiner.stop()
    joiner = await createTestNode('joiner', { dataDir, config: testConfig(c => { c.node.bootstrap = [bootstrap] }) })
    assert.is(digestOf(joiner), other)
    await joiner.stop()
    joiner = await createTestNode('joiner', { dataDir })
    assert.is(digestOf(joiner), other)
  } finally {
    await stopAll([joiner, creator])
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
