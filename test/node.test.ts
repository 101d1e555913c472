import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { prefixLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { defaultConfig, networkConfigDigest, networkConfigToJson } from '../src/config/config.js'
import { caravela, caravelaDHT, ResourceMap } from '../src/index.js'
import { DockerRuntime } from '../src/runtime/docker-runtime.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { createTestNode, dialableAddress, stopAll, testConfig, TEST_PROTOCOL_PREFIX } from './fixtures/network.js'
import { container } from './fixtures/roles-network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { NetworkConfig } from '../src/config/types.js'
import type { CaravelaNode } from '../src/node.js'

const Node = suite<{ dirs: string[], nodes: Array<CaravelaNode | undefined> }>('node', { dirs: [], nodes: [] })

Node.after.each(async (ctx) => {
  await stopAll(ctx.nodes)
  ctx.nodes = []
  await Promise.all(ctx.dirs.map(async d => rm(d, { recursive: true, force: true })))
  ctx.dirs = []
})

async function tempDir (ctx: { dirs: string[] }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-node-'))
  ctx.dirs.push(dir)
  return dir
}

Node('a restarted peer keeps its peer id and its peer store, and rejoins through known peers', async (ctx) => {
  const dataDir = await tempDir(ctx)
  const other = await createTestNode('other')
  ctx.nodes.push(other)

  const first = await createTestNode('restarted', { dataDir, config: testConfig(c => { c.node.bootstrap = [dialableAddress(other)] }) })
  const peerId = first.peerId.toString()
  assert.ok((await first.peerStore.all()).some(p => p.id.equals(other.peerId)), 'the peer store knows the other peer')
  await first.stop()
  assert.is((await stat(dataDir)).mode & 0o777, 0o700, 'the data directory is private')

  // a data directory opened to other users after its creation is refused at the next start
  await chmod(dataDir, 0o755)
  const refused = await createTestNode('restarted', { dataDir }).catch((err: Error) => err)
  assert.is((refused as Error).name, 'UnsafePermissionsError', String(refused))
  assert.match((refused as Error).message, /mode 0755.*chmod 700/)
  await chmod(dataDir, 0o700)

  const second = await createTestNode('restarted', { dataDir })
  ctx.nodes.push(second)
  assert.is(second.peerId.toString(), peerId)
  assert.ok((await second.peerStore.all()).some(p => p.id.equals(other.peerId)), 'the peer store survived the restart')
  await waitFor(() => second.getConnections(other.peerId).length > 0, { timeout: 10_000, message: 'the restarted peer to rejoin through the peer it knew' })
})

Node('a peer given a private key takes that identity and does not keep it in its data directory', async (ctx) => {
  const dataDir = await tempDir(ctx)
  const privateKey = await generateKeyPair('Ed25519')
  const given = await createTestNode('given', { dataDir, privateKey })
  assert.ok(given.peerId.equals(peerIdFromPrivateKey(privateKey)))
  await given.stop()

  const own = await createTestNode('own', { dataDir })
  ctx.nodes.push(own)
  assert.not.ok(own.peerId.equals(given.peerId), 'the given key was written to the data directory')
})

Node('two peers cannot share one data directory', async (ctx) => {
  const dataDir = await tempDir(ctx)
  ctx.nodes.push(await createTestNode('first', { dataDir }))

  try {
    ctx.nodes.push(await createTestNode('second', { dataDir }))
    assert.unreachable('the second peer should have been refused')
  } catch (err: any) {
    assert.is(err.name, 'DataDirInUseError')
    assert.match(err.message, dataDir)
  }
})

Node('a joining peer adopts the network\'s configuration', async (ctx) => {
  const creator = await createTestNode('creator', {
    config: testConfig(c => {
      c.network.refreshingInterval = 7_000
      c.network.resources.cpuClasses[0].cpuCores[0].memory = [{ value: 128, percentage: 50 }, { value: 256, percentage: 50 }]
    })
  })
  ctx.nodes.push(creator)
  const joiner = await createTestNode('joiner', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(creator)] }) })
  ctx.nodes.push(joiner)

  assert.is(joiner.services.caravela.config.network.refreshingInterval, 7_000)
  assert.equal(joiner.services.caravela.resourceMap.digest(), creator.services.caravela.resourceMap.digest())
  assert.is(joiner.services.caravela.status().resourceMapDigest, creator.services.caravela.status().resourceMapDigest)
})

Node('a hostile bootstrap peer cannot hand a joiner absurd values: the join is refused, naming the key', async (ctx) => {
  const creator = await createTestNode('hostile')
  ctx.nodes.push(creator)
  const hostile: Array<[string, (network: NetworkConfig) => void]> = [
    ['memoryOvercommit', n => { n.memoryOvercommit = 100_000 }],
    ['cpuSlices', n => { n.cpuSlices = 1_000_000 }],
    ['refreshingInterval', n => { n.refreshingInterval = 1 }],
    ['requestTimeout', n => { n.requestTimeout = 1 }]
  ]

  for (const [key, edit] of hostile) {
    const network = structuredClone(creator.services.caravela.config.network)
    edit(network)
    creator.services.caravela.setHandlers({
      obtainConfiguration: async () => ({ json: networkConfigToJson(network), resourceMapDigest: new ResourceMap(network.resources).digest() })
    })

    const err = await createTestNode('joiner', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(creator)] }) })
      .then(node => { ctx.nodes.push(node); return undefined }, (err: Error) => err)
    assert.is(err?.name, 'IncompatibleNetworkError', `${key}: ${err?.message ?? 'adopted'}`)
    assert.match(err?.message ?? '', `network.${key}`)
  }

  console.log(`hostile bootstrap: ${hostile.length} absurd configurations offered, 0 adopted, ${hostile.length} refused at join`)
})

Node('a peer pinned to a configuration digest joins a network of that configuration, and refuses another naming both digests', async (ctx) => {
  const network = testConfig(c => { c.network.refreshingInterval = 7_000 }).network
  const digest = networkConfigDigest(network)
  const creator = await createTestNode('creator', { config: testConfig(c => { c.network = network }) })
  ctx.nodes.push(creator)
  assert.is(creator.services.caravela.status().networkConfigDigest, digest)
  const bootstrap = dialableAddress(creator)
  const joining = async (name: string, pin: string): Promise<CaravelaNode | Error> =>
    createTestNode(name, { config: testConfig(c => { c.node.bootstrap = [bootstrap]; c.node.networkConfig = pin }) })
      .then(node => { ctx.nodes.push(node); return node }, (err: Error) => err)

  // the pin is hex, in either case
  const pinned = await joining('pinned', digest.toUpperCase())
  assert.not.instance(pinned, Error, String(pinned))
  assert.is((pinned as CaravelaNode).services.caravela.config.network.refreshingInterval, 7_000)
  assert.is((pinned as CaravelaNode).services.caravela.status().networkConfigDigest, digest)

  const other = networkConfigDigest(defaultConfig().network)
  const refused = await joining('pinned-elsewhere', other)
  assert.instance(refused, Error)
  assert.is((refused as Error).name, 'IncompatibleNetworkError', (refused as Error).message)
  assert.match((refused as Error).message, digest)
  assert.match((refused as Error).message, other)

  // a peer that would create a network of another configuration than its pin does not start either
  const lone = await createTestNode('lone', { config: testConfig(c => { c.node.networkConfig = digest }) })
    .then(node => { ctx.nodes.push(node); return node }, (err: Error) => err)
  assert.is((lone as Error).name, 'IncompatibleNetworkError', String(lone))
  assert.match((lone as Error).message, `has digest ${other}, not ${digest}`)
})

Node('a network whose resource map differs from ours is refused', async (ctx) => {
  const creator = await createTestNode('liar')
  ctx.nodes.push(creator)
  creator.services.caravela.setHandlers({
    obtainConfiguration: async () => ({
      json: networkConfigToJson(creator.services.caravela.config.network),
      resourceMapDigest: new Uint8Array(32).fill(7)
    })
  })

  try {
    ctx.nodes.push(await createTestNode('joiner', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(creator)] }) }))
    assert.unreachable('the join should fail')
  } catch (err: any) {
    assert.is(err.name, 'IncompatibleNetworkError')
    assert.match(err.message, 'resource map')
  }
})

Node('an unreachable bootstrap peer fails the join with JoinFailedError', async (ctx) => {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const started = Date.now()

  try {
    ctx.nodes.push(await createTestNode('lonely', {
      joinTimeout: 5_000,
      config: testConfig(c => { c.node.bootstrap = [`/ip4/127.0.0.1/tcp/1/p2p/${peerId.toString()}`] })
    }))
    assert.unreachable('the join should fail')
  } catch (err: any) {
    assert.is(err.name, 'JoinFailedError')
    assert.match(err.message, '/tcp/1/')
  }

  assert.ok(Date.now() - started < 15_000, 'the failure is reported promptly')
})

Node('a peer that stops is no longer returned by lookups', async (ctx) => {
  const first = await createTestNode('first')
  ctx.nodes.push(first)
  const bootstrap = dialableAddress(first)
  const second = await createTestNode('second', { config: testConfig(c => { c.node.bootstrap = [bootstrap] }) })
  ctx.nodes.push(second)
  const leaving = await createTestNode('leaving', { config: testConfig(c => { c.node.bootstrap = [bootstrap] }) })
  const map = first.services.caravela.resourceMap
  const slice = map.sliceOf(leaving.services.caravela.overlay.nodeId())
  const found = async (): Promise<boolean> => (await first.services.caravela.overlay.lookup(map.randomKeyIn(slice), { signal: AbortSignal.timeout(10_000) }))
    .some(p => p.peerId === leaving.peerId.toString())

  await waitFor(found, { timeout: 10_000, message: 'the leaving peer to be found before it leaves' })
  await leaving.stop()

  // the others notice the closed connections within moments, not at a bucket refresh minutes later
  await waitFor(async () => !(await found()), { timeout: 5_000, message: 'lookups to stop returning the stopped peer' })

  for (let i = 0; i < 5; i++) {
    assert.not.ok(await found(), 'a stopped peer is not returned')
  }
})

Node('a supplier whose engine stops answering withdraws its offers from the network and says so; they return when it answers again', async (ctx) => {
  const runtime = new MemoryRuntime({ cpus: 2, memory: 2048 })
  const supplier = await createTestNode('supplier', { runtime, runtimeCheckInterval: 200 })
  ctx.nodes.push(supplier)
  const bootstrap = dialableAddress(supplier)

  for (const name of ['a', 'b', 'c']) {
    ctx.nodes.push(await createTestNode(name, { config: testConfig(c => { c.node.bootstrap = [bootstrap] }) }))
  }

  const supplierId = supplier.peerId.toString()
  const traded = (): number => ctx.nodes.reduce((n, node) => n + (node?.services.caravela.offers().trading.offers.filter(o => o.peerId === supplierId).length ?? 0), 0)
  await waitFor(() => traded() > 0, { timeout: 10_000, message: 'a trader to hold an offer of the supplier' })
  assert.is(supplier.services.caravela.status().runtime.state, 'ok')

  const downAt = Date.now()
  runtime.down('stopped by the test')
  await waitFor(() => traded() === 0, { timeout: 5_000, message: 'the traders to drop the offers of a supplier without an engine' })
  const withdrawnIn = Date.now() - downAt
  const status = supplier.services.caravela.status()
  assert.is(status.runtime.state, 'unavailable')
  assert.match(status.runtime.reason ?? '', /stopped by the test/)
  assert.is(supplier.services.caravela.metrics().runtime.outages, 1)
  // a placement finds nobody to run it
  const buyer = ctx.nodes[1] as CaravelaNode
  assert.ok(await buyer.services.caravela.run([container({ cpus: 1, memory: 256 })]).then(() => undefined, err => err) instanceof Error)

  const upAt = Date.now()
  runtime.up()
  await waitFor(() => traded() > 0, { timeout: 10_000, message: 'the offers to return once the engine answers' })
  const returnedIn = Date.now() - upAt
  assert.is(supplier.services.caravela.status().runtime.state, 'ok')
  console.log(`  runtime checks every 200 ms over libp2p: offers gone from the traders ${withdrawnIn} ms after the engine stopped, back ${returnedIn} ms after it answered`)
})

Node('a node whose Docker engine does not answer starts, reports its runtime unavailable and offers nothing', async (ctx) => {
  const dir = await tempDir(ctx)
  const runtime = new DockerRuntime({ ownerPeerId: 'engine-down', socketPath: join(dir, 'no-engine.sock'), imageCleanupIntervalMs: 0 })
  const node = await createTestNode('engine-down', { runtime, runtimeCheckInterval: 200 })
  ctx.nodes.push(node)

  const status = node.services.caravela.status()
  assert.is(status.runtime.state, 'unavailable')
  assert.match(status.runtime.reason ?? '', /No Docker engine answers on \S+no-engine\.sock \(ENOENT\)/)
  assert.equal(status.capacity, { cpus: 0, memory: 0, cpuClass: 'low' })
  assert.equal(node.services.caravela.offers().supplying.offers, [])
  await runtime.close()
})

Node('a supplier whose engine answers only after its start offers from then on, checked as often as its [node] runtimeCheckInterval says', async (ctx) => {
  const runtime = new MemoryRuntime({ cpus: 2, memory: 2048 })
  runtime.down('not up yet')
  const supplier = await createTestNode('late-engine', { runtime, config: testConfig(c => { c.node.runtimeCheckInterval = 1_000 }) })
  ctx.nodes.push(supplier)
  const buyer = await createTestNode('buyer', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(supplier)] }) })
  ctx.nodes.push(buyer)
  const supplierId = supplier.peerId.toString()
  const traded = (): number => ctx.nodes.reduce((n, node) => n + (node?.services.caravela.offers().trading.offers.filter(o => o.peerId === supplierId).length ?? 0), 0)

  assert.is(supplier.services.caravela.status().runtime.state, 'unavailable')
  await new Promise(resolve => setTimeout(resolve, 1_000))
  assert.is(traded(), 0, 'offers of a supplier whose engine never answered')

  runtime.up()
  const upAt = Date.now()
  // within one check of 1 s (the default checks every 5 s)
  await waitFor(() => supplier.services.caravela.status().runtime.state === 'ok', { timeout: 2_500, interval: 50, message: 'the next check to find the engine' })
  assert.ok(Date.now() - upAt < 2_500)
  await waitFor(() => traded() > 0, { timeout: 10_000, message: 'the offers once the engine answers' })
  assert.ok(supplier.services.caravela.status().capacity.cpus > 0)
  const [placed] = await buyer.services.caravela.run([container({ cpus: 1, memory: 256 })])
  assert.is(placed.supplier.peerId, supplierId)
})

Node('a slice a walk found empty is answered from that walk for a while, without another walk', async (ctx) => {
  const first = await createTestNode('first')
  ctx.nodes.push(first)
  const second = await createTestNode('second', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(first)] }) })
  ctx.nodes.push(second)
  const overlay = second.services.caravela.overlay
  const map = second.services.caravela.resourceMap
  const members = new Set([first, second].map(n => map.sliceOf(n.services.caravela.overlay.nodeId()).index))
  const empty = map.slices.find(slice => !members.has(slice.index))
  assert.ok(empty, 'two peers leave a slice empty')
  const sources: string[] = []

  for (let i = 0; i < 3; i++) {
    const found = await overlay.lookup(map.randomKeyIn(empty), { signal: AbortSignal.timeout(10_000), onStats: s => { sources.push(`${s.source}:${s.rpcs}:${s.inSlice}`) } })
    assert.ok(found.every(p => map.sliceOf(p.key).index !== empty.index))
  }

  assert.match(sources[0], /^network:[1-9]\d*:false$/)
  assert.equal(sources.slice(1), ['local:0:false', 'local:0:false'])

  // past its time, the record still answers at once while a walk renews it in the background
  const record = (): { until: number } | undefined => (overlay as any).emptySlices.get(empty.index)
  record()!.until = Date.now() - 1
  await overlay.lookup(map.randomKeyIn(empty), { signal: AbortSignal.timeout(10_000), onStats: s => { sources.push(`${s.source}:${s.rpcs}:${s.inSlice}`) } })
  assert.is(sources[3], 'local:0:false')
  await waitFor(() => (record()?.until ?? 0) > Date.now(), { timeout: 10_000, message: 'the background walk to renew the record' })

  // a fresh lookup of a slice only we trade for finds ourselves
  const own = map.sliceOf(overlay.nodeId())

  if (map.sliceOf(first.services.caravela.overlay.nodeId()).index !== own.index) {
    let inSlice = false
    const found = await overlay.lookup(map.randomKeyIn(own), { fresh: true, signal: AbortSignal.timeout(10_000), onStats: s => { inSlice = s.inSlice } })
    assert.ok(inSlice)
    assert.equal(found.map(p => p.peerId), [second.peerId.toString()])
  }
})

Node('an application embeds Caravela as one more service of its own libp2p node', async (ctx) => {
  const network = await createTestNode('network')
  ctx.nodes.push(network)

  const app = await createLibp2p({
    logger: prefixLogger('app'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      dht: caravelaDHT({ protocolPrefix: TEST_PROTOCOL_PREFIX }),
      caravela: caravela({ config: testConfig() })
    }
  })
  ctx.nodes.push(app)

  // the application's own protocol lives next to Caravela's
  await app.handle('/my-app/hello/1.0.0', async (stream) => { await stream.close() })
  await app.services.caravela.join([dialableAddress(network)])

  assert.is(app.services.caravela.status().peerId, app.peerId.toString())
  assert.equal(app.services.caravela.status().capacity, { cpus: 0, memory: 0, cpuClass: 'low' }, 'without a runtime a peer offers nothing')
  await waitFor(() => network.services.caravela.peers().some(p => p.peerId === app.peerId.toString() && p.inRoutingTable), { timeout: 10_000, message: 'the network peer to add the app to its routing table' })
  assert.ok(app.getProtocols().includes('/my-app/hello/1.0.0'))
  assert.ok(app.getProtocols().includes(`/${TEST_PROTOCOL_PREFIX}/kad/1.0.0`))

  const map = app.services.caravela.resourceMap
  const found = await app.services.caravela.overlay.lookup(map.randomKeyIn(map.sliceOf(network.services.caravela.overlay.nodeId())))
  assert.ok(found.some(p => p.peerId === network.peerId.toString()), 'a lookup from the app finds the network peer')
})

Node.run()
