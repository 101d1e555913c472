import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { loadConfigFile, networkConfigToJson } from '../src/config/config.js'
import { checkNetworkKey, createNetworkKey, readNetworkKey, writeNetworkKey } from '../src/network-key.js'
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

Key.run()
