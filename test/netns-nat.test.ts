/**
 * Placement across NATs on a testnet in network namespaces (`startTestnet({ nat })`): peers behind
 * NATs of their own reach one another through the public peers' circuit relays, with the default
 * configuration of each (a peer on a private address reserves a relay slot, one on a public
 * address relays). Needs root, as CI has: without it the test fails, it does not skip.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { apiClientOf, startTestnet } from '../scripts/testnet-lib.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { Testnet, TestnetPeer } from '../scripts/testnet-lib.js'
import type { ContainerConfig, ContainerStatus } from '../src/types.js'

/** Peers 0 and 1 are public and run nothing; peer 2, behind a NAT, only buys; 3 to 5, each behind a NAT, supply. */
const PUBLIC = 2
const BUYER = 2
const SUPPLIERS = [3, 4, 5]
const CPUS_EACH = 2
const START_TIMEOUT = 90_000

const Nat = suite<{ dir: string, testnet?: Testnet, placed: ContainerStatus[] }>('netns: placement across NATs', { dir: '', placed: [] })

Nat.before(async (ctx) => {
  assert.is(process.getuid?.(), 0, 'the network-namespace tests need root (CI runs them as root): run them as root')
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-netns-nat-'))
  ctx.testnet = await startTestnet({
    peers: PUBLIC + 1 + SUPPLIERS.length,
    nat: 1 + SUPPLIERS.length,
    dir: join(ctx.dir, 'testnet'),
    protocolPrefix: 'caravela-test-netns-nat',
    runtime: 'memory',
    cpus: CPUS_EACH,
    memory: '2g',
    argsOf: index => index <= BUYER ? ['--runtime', 'none'] : [],
    startTimeout: START_TIMEOUT
  })
})

Nat.after(async (ctx) => {
  await ctx.testnet?.stop()
  await rm(ctx.dir, { recursive: true, force: true })
})

function container (name: string): ContainerConfig {
  return { name, image: 'busybox', args: ['sleep', '3600'], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 256 }, groupPolicy: 'spread' }
}

function indexOf (testnet: Testnet, peerId: string): number {
  return testnet.peers.findIndex(peer => peer.peerId === peerId)
}

/** The addresses `from` is connected to `to` at, as `GET /v1/peers` shows them. */
async function connectionOf (from: TestnetPeer, to: TestnetPeer): Promise<string[] | undefined> {
  return (await (await apiClientOf(from)).peers()).find(peer => peer.peerId === to.peerId && peer.connected)?.multiaddrs
}

Nat('a buyer behind a NAT places a container on every supplier behind the other NATs, through their relays', async (ctx) => {
  const testnet = ctx.testnet!
  const buyer = testnet.peers[BUYER]
  assert.equal(testnet.peers.map(peer => peer.host?.behindNat), [false, false, true, true, true, true])
  const client = await apiClientOf(buyer, 60_000)

  // the suppliers' offers reach the traders once their relay slots are reserved and announced (a
  // supplier that found no trader tries again after the supplying interval, 45 s)
  for (const index of SUPPLIERS) {
    const supplier = await apiClientOf(testnet.peers[index])
    await waitFor(async () => (await supplier.offers()).supplying.offers.length > 0, { timeout: 120_000, interval: 1_000, message: `peer ${index}'s offers at a trader` })
  }

  for (let i = 0; i < SUPPLIERS.length * CPUS_EACH; i++) {
    ctx.placed.push(...await client.run([container(`c${i}`)]))
  }

  const where = ctx.placed.map(status => indexOf(testnet, status.supplier.peerId))
  assert.ok(where.every(index => SUPPLIERS.includes(index)), `placed on ${where.join(', ')}`)
  assert.equal([...new Set(where)].sort(), SUPPLIERS, 'every supplier was used: the network is full')
  assert.ok(ctx.placed.every(status => status.state === 'running'))

  for (const index of SUPPLIERS) {
    const supplier = testnet.peers[index]
    const hosted = await (await apiClientOf(supplier)).hosted()
    assert.equal(hosted.map(c => c.containerId).sort(), ctx.placed.filter(s => s.supplier.peerId === supplier.peerId).map(s => s.containerId).sort(), `peer ${index} runs what it was given`)
    // no NAT lets the buyer in or out to the supplier directly: the connection is a relayed one
    const addresses = await connectionOf(buyer, supplier)
    assert.ok(addresses != null && addresses.length > 0 && addresses.every(address => address.includes('/p2p-circuit/')), `buyer → peer ${index}: ${addresses?.join(', ')}`)
  }

  const listed = await client.ps()
  assert.equal(listed.map(c => c.containerId).sort(), ctx.placed.map(s => s.containerId).sort())
  assert.ok(listed.every(c => c.state === 'running'), 'the buyer hears from its suppliers through the relays')
})

Nat('the buyer stops its containers through the relays, and the suppliers get their resources back', async (ctx) => {
  const testnet = ctx.testnet!
  const client = await apiClientOf(testnet.peers[BUYER], 60_000)
  const results = await client.stop(ctx.placed.map(s => s.containerId))
  assert.ok(results.every(result => result.stopped && result.forgotten !== true), JSON.stringify(results))

  for (const index of SUPPLIERS) {
    assert.equal(await (await apiClientOf(testnet.peers[index])).hosted(), [], `peer ${index} runs nothing`)
  }

  // the room is back: the network holds as many again
  const again = await waitFor(async () => client.run([container('again')]).catch(() => undefined), { timeout: 30_000, interval: 1_000, message: 'a placement after the stops' })
  assert.ok(SUPPLIERS.includes(indexOf(testnet, again[0].supplier.peerId)))
})

Nat.run()
