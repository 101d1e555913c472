import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { loadConfigFile, networkConfigToJson } from '../src/config/config.js'
import { checkNetworkKey, createNetworkKey, readNetworkKey, writeNetworkKey } from '../src/network-key.js'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { createTestNode, dialableAddress, stopAll, testConfig, TEST_PROTOCOL_PREFIX } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import type { CaravelaNode } from '../src/node.js'

const Key = suite<{ dir: string, nodes: Array<CaravelaNode | undefined> }>('network key', { dir: '', nodes: [] })

Key.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-key-'))
})

Key.after.each(async (ctx) => {
  await stopAll(ctx.nodes)
  ctx.nodes = []
  await rm(ctx.dir, { recursive: true, force: true })
})

Key('a written key is a swarm key readable by its owner only, never written over; a bad file is refused with the reason', async (ctx) => {
  const file = join(ctx.dir, 'swarm.key')
  await writeNetworkKey(file)
  assert.is((await stat(file)).mode & 0o777, 0o600)
  const key = await readNetworkKey(file)
  assert.match(Buffer.from(key).toString(), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
  assert.not.equal(createNetworkKey(), createNetworkKey(), 'each key is new')

  const refused = await writeNetworkKey(file).catch((err: Error) => err)
  assert.instance(refused, Error)
  assert.is((refused as Error).name, 'InvalidNetworkKeyError')
  assert.match((refused as Error).message, /exists/)
  assert.equal(await readFile(file), Buffer.from(key), 'the key in place is kept')

  const bad = join(ctx.dir, 'bad.key')
  await writeFile(bad, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n', { mode: 0o600 })
  assert.match((await readNetworkKey(bad).catch((err: Error) => err) as Error).message, /not a swarm key/)
  assert.match((await readNetworkKey(join(ctx.dir, 'missing.key')).catch((err: Error) => err) as Error).message, /no such file/)
  assert.throws(() => { checkNetworkKey(new Uint8Array(95)) }, /not a swarm key/)

  // a key other users may read is refused at every read, not only when written
  await chmod(file, 0o644)
  const open = await readNetworkKey(file).catch((err: Error) => err)
  assert.is((open as Error).name, 'UnsafePermissionsError')
  assert.match((open as Error).message, /mode 0644.*chmod 600/)
})

Key('a closed network: peers with its key join; a peer without it, or with another key, cannot even connect', async (ctx) => {
  const key = createNetworkKey()
  const first = await createTestNode('first', { networkKey: key })
  ctx.nodes.push(first)
  const bootstrap = testConfig(c => { c.node.bootstrap = [dialableAddress(first)] })

  const member = await createTestNode('member', { networkKey: key, config: bootstrap })
  ctx.nodes.push(member)
  assert.ok(member.getConnections(first.peerId).length > 0, 'a member connects')
  assert.ok(member.services.caravela.status().routingTableSize > 0, 'and joins the DHT')

  for (const [name, networkKey] of [['stranger', undefined], ['other-network', createNetworkKey()]] as const) {
    const err = await createTestNode(name, { networkKey, config: bootstrap }).then(node => { ctx.nodes.push(node); return undefined }, (err: Error) => err)
    assert.is(err?.name, 'JoinFailedError', `${name}: ${err?.message ?? 'joined'}`)
  }

  assert.equal(first.getConnections().map(c => c.remotePeer.toString()), [member.peerId.toString()], 'the first peer is connected to the member only')
})

Key('[network] keyFile in a configuration file closes the network as --network-key does, and is not served to joiners', async (ctx) => {
  await writeNetworkKey(join(ctx.dir, 'swarm.key'))
  const file = join(ctx.dir, 'closed.toml')
  await writeFile(file, `[network]\nkeyFile = "swarm.key"\n\n[node]\nprotocolPrefix = "${TEST_PROTOCOL_PREFIX}"\nlisten = ["/ip4/127.0.0.1/tcp/0"]\n`)
  const first = await createTestNode('first', { config: await loadConfigFile(file) })
  ctx.nodes.push(first)
  assert.not.match(networkConfigToJson(first.services.caravela.config.network), /keyFile|swarm/)
  const bootstrap = testConfig(c => { c.node.bootstrap = [dialableAddress(first)] })

  const member = await createTestNode('member', { networkKey: await readNetworkKey(join(ctx.dir, 'swarm.key')), config: bootstrap })
  ctx.nodes.push(member)
  assert.ok(member.getConnections(first.peerId).length > 0, 'a peer with the file\'s key joins')
  assert.is(member.services.caravela.config.networkKeyFile, undefined, 'and takes no key file from the peer it joined')

  const err = await createTestNode('stranger', { config: bootstrap }).then(node => { ctx.nodes.push(node); return undefined }, (err: Error) => err)
  assert.is(err?.name, 'JoinFailedError', err?.message ?? 'joined')
})

Key('with a key and allowed buyers, a plain libp2p application that is not a member can neither connect nor launch', async (ctx) => {
  const key = createNetworkKey()
  const memberKey = await generateKeyPair('Ed25519')
  const memberId = peerIdFromPrivateKey(memberKey).toString()
  const supplier = await createTestNode('supplier', {
    networkKey: key,
    runtime: new MemoryRuntime({ cpus: 2, memory: 2048 }),
    config: testConfig(c => { c.supplier.allowBuyers = [memberId] })
  })
  ctx.nodes.push(supplier)
  const target = { peerId: supplier.peerId.toString(), multiaddrs: [dialableAddress(supplier)] }
  const launch = [{ name: 'x', image: 'xmrig/xmrig', args: [], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 64 }, groupPolicy: 'spread' as const }]
  const outcomes: Record<string, { attempts: number, connected: number, accepted: number, reasons: string[] }> = {}

  // a plain libp2p application speaking Caravela's protocols, without the key and then with it
  for (const [name, psk] of [['without the key', undefined], ['with the key, not allowed', key]] as const) {
    const app = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(psk == null ? {} : { connectionProtector: preSharedKey({ psk }) }),
      services: { caravela: (components: any) => new Libp2pCaravelaClient(components, { protocolPrefix: TEST_PROTOCOL_PREFIX, timeout: 3_000 }) }
    })
    const outcome = outcomes[name] = { attempts: 0, connected: 0, accepted: 0, reasons: [] as string[] }

    try {
      for (let i = 0; i < 3; i++) {
        outcome.attempts++

        try {
          const [offer] = await app.services.caravela.getOffers(target, false, { own: true })
          await app.services.caravela.launchContainer(target, offer?.id ?? 1, `attempt-${i}`, launch)
          outcome.accepted++
        } catch (err: any) {
          outcome.reasons.push(err.message)
        }

        outcome.connected += app.getConnections(supplier.peerId).length > 0 ? 1 : 0
      }
    } finally {
      await app.stop()
    }

    console.log(`closed network with allowed buyers, a plain libp2p application ${name}: ${outcome.attempts} launches, ${outcome.connected} connected, ${outcome.accepted} accepted`)
  }

  assert.equal(outcomes['without the key'].connected, 0, outcomes['without the key'].reasons.join('; '))
  assert.equal(outcomes['without the key'].accepted, 0)
  assert.equal(outcomes['with the key, not allowed'].connected, 3, 'a key holder connects')
  assert.equal(outcomes['with the key, not allowed'].accepted, 0)
  outcomes['with the key, not allowed'].reasons.forEach(reason => { assert.match(reason, /only for the peers it allows/) })

  // the allowed member places
  const member = await createTestNode('member', { privateKey: memberKey, networkKey: key, config: testConfig(c => { c.node.bootstrap = [dialableAddress(supplier)] }) })
  ctx.nodes.push(member)
  const [status] = await member.services.caravela.run([{ ...launch[0], image: 'busybox' }], { signal: AbortSignal.timeout(20_000) })
  assert.is(status.supplier.peerId, supplier.peerId.toString())
})

Key.run()
