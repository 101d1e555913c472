import { generateKeyPair } from '@libp2p/crypto/keys'
import { kadDHT } from '@libp2p/kad-dht'
import { defaultLogger, prefixLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { greet, GREET_PROTOCOL, Greeter, startApp } from '../examples/embed.js'
import { caravelaDefaults, caravelaDHT, createCaravelaNode, MemoryRuntime } from '../src/index.js'
import { createTestNode, dialableAddress, stopAll, testConfig, TEST_PROTOCOL_PREFIX } from './fixtures/network.js'
import { container } from './fixtures/roles-network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaNode } from '../src/node.js'
import type { RuntimeInfo } from '../src/service.js'
import type { ContainerStatus } from '../src/types.js'

const Embed = suite<{ nodes: Array<CaravelaNode | undefined> }>('embed', { nodes: [] })

Embed.after.each(async (ctx) => {
  await stopAll(ctx.nodes)
  ctx.nodes = []
})

Embed('the example application supplies Caravela next to its own service: a second peer places a container on it and is greeted', async (ctx) => {
  const app = await startApp({ config: testConfig(), logger: prefixLogger('app') })
  ctx.nodes.push(app)
  assert.ok(app.services.caravela.status().capacity.cpus > 0, 'the application supplies')
  const buyer = await createTestNode('buyer', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(app)] }) })
  ctx.nodes.push(buyer)

  const [placed] = await waitFor(async () => buyer.services.caravela.run([container({ cpus: 1, memory: 256 })]).catch(() => undefined as ContainerStatus[] | undefined), { timeout: 15_000, message: 'a placement on the application\'s peer' })
  assert.is(placed.supplier.peerId, app.peerId.toString(), 'the container runs on the embedded peer')
  assert.equal(app.services.caravela.hosted().map(h => h.buyer), [buyer.peerId.toString()])

  // the application's own protocol still answers, next to Caravela's, and ping still works
  assert.ok(app.getProtocols().includes(GREET_PROTOCOL))
  assert.ok(app.getProtocols().includes(`/${TEST_PROTOCOL_PREFIX}/kad/1.0.0`))
  assert.is(await greet(buyer, app.peerId, 'buyer'), `hello buyer, from ${app.peerId.toString()}`)
  assert.type(await app.services.ping.ping(buyer.peerId), 'number')
})

Embed('before create() or join(), placing and stopping say the peer is in no network yet', async (ctx) => {
  const node = await createLibp2p({ ...caravelaDefaults({ config: testConfig() }), connectionMonitor: { enabled: false } })
  ctx.nodes.push(node)

  for (const call of [async () => node.services.caravela.run([container({ cpus: 1, memory: 256 })]), async () => node.services.caravela.stopContainers(['abc123'])]) {
    const err = await call().then(() => undefined, (err: Error) => err)
    assert.is(err?.name, 'NotJoinedError', String(err))
    assert.match(err?.message ?? '', 'call create() or join() first')
  }

  // once in a network (alone, without a runtime), a placement finds nobody to run it
  await node.services.caravela.create()
  const err = await node.services.caravela.run([container({ cpus: 1, memory: 256 })]).then(() => undefined, (err: Error) => err)
  assert.is(err?.name, 'NoOffersError', String(err))
})

Embed('a DHT that is not Caravela\'s is refused at start, naming the protocol expected', async (ctx) => {
  const cases = [
    // a plain kadDHT() speaks the public IPFS DHT's protocol
    { dht: kadDHT(), speaks: '/ipfs/kad/1.0.0' },
    // caravelaDHT() with another prefix than the configuration's
    { dht: caravelaDHT(), speaks: '/caravela/kad/1.0.0' }
  ]

  for (const { dht, speaks } of cases) {
    const options = caravelaDefaults({ config: testConfig() })
    const err = await createLibp2p({ ...options, services: { ...options.services, dht } })
      .then(node => { ctx.nodes.push(node); return undefined }, (err: Error) => err)
    assert.is(err?.name, 'InvalidConfigurationError', String(err))
    assert.match(err?.message ?? '', `speaks ${speaks}, not /${TEST_PROTOCOL_PREFIX}/kad/1.0.0`)
    assert.match(err?.message ?? '', `caravelaDHT({ protocolPrefix: '${TEST_PROTOCOL_PREFIX}' })`)
  }
})

Embed('createCaravelaNode keeps the application\'s services and options next to Caravela\'s, and the application\'s service of a Caravela name wins', async (ctx) => {
  const network = await createTestNode('network')
  ctx.nodes.push(network)
  const node = await createCaravelaNode({
    logger: prefixLogger('merged'),
    config: testConfig(c => { c.node.bootstrap = [dialableAddress(network)] }),
    libp2p: {
      connectionMonitor: { enabled: false },
      // merged with the configuration's listen addresses
      addresses: { appendAnnounce: ['/ip4/127.0.0.2/tcp/4242'] },
      services: {
        greeter: (components: ConstructorParameters<typeof Greeter>[0]) => new Greeter(components),
        ping: (components: Parameters<ReturnType<typeof ping>>[0]) => Object.assign(ping()(components), { application: true })
      }
    }
  })
  ctx.nodes.push(node)

  assert.ok(node.services.greeter instanceof Greeter)
  assert.is((node.services.ping as unknown as { application?: boolean }).application, true, 'the application\'s own ping')
  assert.ok(node.getMultiaddrs().some(a => a.toString().startsWith('/ip4/127.0.0.1/tcp/')), 'the configuration\'s listen address')
  assert.ok(node.getMultiaddrs().some(a => a.toString().startsWith('/ip4/127.0.0.2/tcp/4242')), 'the application\'s announced address')
  assert.is(await greet(network, node.peerId, 'network'), `hello network, from ${node.peerId.toString()}`)
  assert.ok(node.services.caravela.peers().some(p => p.peerId === network.peerId.toString() && p.connected), 'it joined the network')
})

Embed('a runtime factory is given the peer id and the CPU slices of the network in force, and its runtime is closed at stop', async (ctx) => {
  const creator = await createTestNode('creator', { config: testConfig(c => { c.network.cpuSlices = 4 }) })
  ctx.nodes.push(creator)
  let info: RuntimeInfo | undefined
  let closed = 0
  const joiner = await createTestNode('joiner', {
    config: testConfig(c => { c.node.bootstrap = [dialableAddress(creator)] }),
    runtime: given => {
      info = given
      return Object.assign(new MemoryRuntime({ cpus: 2, memory: 2048 }), { close: async () => { closed++ } })
    }
  })
  ctx.nodes.push(joiner)

  assert.ok(info?.peerId.equals(joiner.peerId))
  assert.is(info?.cpuSlices(), 4, 'the network\'s, adopted at the join, not the peer\'s own 1')
  assert.ok(joiner.services.caravela.status().capacity.cpus > 0, 'the peer supplies')
  await joiner.stop()
  assert.is(closed, 1)
})

Embed('the package exports its runtimes: MemoryRuntime and dockerRuntime() from caravela, the Docker runtime\'s class from caravela/runtime/docker', async () => {
  const main = await import('caravela')
  const docker = await import('caravela/runtime/docker')
  assert.type(main.MemoryRuntime, 'function')
  assert.type(main.caravelaDefaults, 'function')
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const runtime = await main.dockerRuntime({ socketPath: '/nonexistent/docker.sock', imageCleanupIntervalMs: 0 })({ peerId, cpuSlices: () => 3, logger: defaultLogger() })
  assert.instance(runtime, docker.DockerRuntime)
  await runtime.close?.()
})

Embed.run()
