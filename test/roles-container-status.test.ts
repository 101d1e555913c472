/**
 * ContainerStatus at the supplier, claims and launch deadlines: a supplier answers a buyer about
 * its own containers only, removes what no buyer ever claimed, and starts nothing after the
 * buyer's deadline.
 */

import { defaultLogger } from '@libp2p/logger'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { sleep } from '../src/clock.js'
import { CLAIM_DELAY } from '../src/roles/buyer.js'
import { Ledger } from '../src/roles/ledger.js'
import { UserManager } from '../src/roles/user-manager.js'
import { MemoryStore } from '../src/store/store.js'
import { ManualClock } from './fixtures/fake-clock.js'
import { container, createRolesNetwork, rejection, testNetworkConfig } from './fixtures/roles-network.js'
import type { MemoryRuntimeInit } from '../src/runtime/memory-runtime.js'
import type { CaravelaClient, ContainerStatus, RemoteContainerState } from '../src/types.js'
import type { RolesNetwork } from './fixtures/roles-network.js'

/** The deadline a buyer of this version sends with a launch: its launchTimeout. Its containers must be claimed. */
const CLAIMING = { deadlineMs: 300_000 }

/** A supplier (peer 0) with one single offer, and other peers. */
async function supplierNetwork (runtime: MemoryRuntimeInit = { cpus: 4, memory: 4096 }): Promise<RolesNetwork & { offerId: () => number }> {
  const net = await createRolesNetwork({
    size: 6,
    config: testNetworkConfig(c => { c.discoveryBackend = 'single-offer' }),
    runtime: i => i === 0 ? runtime : { cpus: 2, memory: 2048 }
  })
  return { ...net, offerId: () => net.peers[0].roles.offers().supplying.offers[0].id }
}

/** Every runContainer of the peer's runtime takes `ms` of the network's clock. */
function slowRuntime (net: RolesNetwork, i: number, ms: number): void {
  const { runtime } = net.peers[i]
  const run = runtime.runContainer.bind(runtime)
  runtime.runContainer = async (config, labels) => {
    await sleep(net.clock, ms)
    return run(config, labels)
  }
}

test('status: a buyer hears running for its own containers and unknown for any other id, also another buyer\'s', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer, other] = net.peers
  const [mine] = await net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId(), 'm', [container({ cpus: 1, memory: 256 })], CLAIMING)
  const [theirs] = await net.network.client(other.peer.peerId).launchContainer(supplier.peer.node, net.offerId(), 't', [container({ cpus: 1, memory: 256 })], CLAIMING)

  const answer = await net.network.client(buyer.peer.peerId).containerStatus(supplier.peer.node, [mine.containerId, theirs.containerId, 'f'.repeat(64)])
  assert.equal(answer, [
    { containerId: mine.containerId, state: 'running' },
    { containerId: theirs.containerId, state: 'unknown' },
    { containerId: 'f'.repeat(64), state: 'unknown' }
  ])

  // asking about another buyer's container does not claim it: it is removed at the claim time
  await net.clock.advance(2 * net.config.launchTimeout)
  assert.equal(supplier.runtime.list().map(c => c.id), [mine.containerId])
  await net.stop()
})

test('status: too many or repeated ids are refused with INVALID_REQUEST, and change nothing', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  await client.launchContainer(supplier.peer.node, net.offerId(), 'm', [container({ cpus: 1, memory: 256 })])

  assert.is((await rejection(client.containerStatus(supplier.peer.node, Array.from({ length: 65 }, (_, i) => `c${i}`)))).name, 'MalformedMessageError')
  assert.is((await rejection(client.containerStatus(supplier.peer.node, ['abc', 'abc']))).name, 'MalformedMessageError')
  assert.is((await rejection(client.containerStatus(supplier.peer.node, []))).name, 'MalformedMessageError')
  assert.is(supplier.runtime.list().length, 1)
  await net.stop()
})

test('claims: a container its buyer never asks about is removed after the claim time, and its resources freed; an asked one runs on', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers
  const client = net.network.client(buyer.peer.peerId)
  const claimTimeout = 2 * net.config.launchTimeout
  const [kept] = await client.launchContainer(supplier.peer.node, net.offerId(), 'kept', [container({ cpus: 1, memory: 256 })], CLAIMING)
  const [orphan] = await client.launchContainer(supplier.peer.node, net.offerId(), 'orphan', [container({ cpus: 1, memory: 256 })], CLAIMING)
  assert.equal(await client.containerStatus(supplier.peer.node, [kept.containerId]), [{ containerId: kept.containerId, state: 'running' }])

  await net.clock.advance(claimTimeout - 1)
  assert.is(supplier.runtime.list().length, 2, 'not before the claim time')
  await net.clock.advance(1)
  await net.clock.settle()
  assert.equal(supplier.runtime.list().map(c => c.id), [kept.containerId])
  assert.equal(supplier.roles.hosted().map(c => c.containerId), [kept.containerId])
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 3, memory: 4096 - 256 })
  assert.equal(await client.containerStatus(supplier.peer.node, [orphan.containerId]), [{ containerId: orphan.containerId, state: 'unknown' }])
  await net.stop()
})

test(`claims: a buyer's launches on one supplier within ${CLAIM_DELAY} ms are claimed by one ContainerStatus, sent ${CLAIM_DELAY} ms after the first`, async () => {
  // only peer 0 has room for the requests
  const net = await createRolesNetwork({
    size: 4,
    config: testNetworkConfig(),
    runtime: i => i === 0 ? { cpus: 4, memory: 4096 } : { cpus: 1, memory: 128 }
  })
  const [supplier, buyer] = net.peers
  const sent = (): number => net.network.metrics(buyer.peer.peerId).containerStatus.messagesSent
  const before = sent()

  for (let i = 0; i < 3; i++) {
    const [status] = await buyer.roles.run([container({ cpus: 1, memory: 256 })])
    assert.is(status.supplier.peerId, supplier.peer.peerId)
  }

  assert.is(sent(), before, 'no claim before the delay')
  await net.clock.advance(CLAIM_DELAY)
  await net.clock.settle()
  assert.is(sent(), before + 1, 'one claim for the three launches')
  assert.is(supplier.runtime.list().length, 3)
  await net.stop()
})

test('claims: an unclaimed container is still removed after a restart of its supplier', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers
  await net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId(), 'orphan', [container({ cpus: 1, memory: 256 })], CLAIMING)
  await net.clock.advance(net.config.launchTimeout)
  const restarted = await net.restart(supplier.peer.peerId)
  assert.is(restarted.runtime.list().length, 1)

  await net.clock.advance(2 * net.config.launchTimeout)
  await net.clock.settle()
  assert.is(restarted.runtime.list().length, 0)
  assert.equal(restarted.roles.hosted(), [])
  await net.stop()
})

test('a slow launch (12 s) its buyer abandoned leaves no container once the claim time is up', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers
  slowRuntime(net, 0, 12_000)
  // the buyer sends the launch and is gone: it never hears the answer, never asks about the container
  const launched = net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId(), 'slow', [container({ cpus: 1, memory: 256 })], CLAIMING)
  await net.clock.advance(12_000)
  await launched
  assert.is(supplier.runtime.list().length, 1, 'started, though nobody will hear of it')

  await net.clock.advance(2 * net.config.launchTimeout)
  await net.clock.settle()
  assert.is(supplier.runtime.list().length, 0)
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 4, memory: 4096 })
  await net.stop()
})

test('a launch without a deadline (an older buyer, which never claims) keeps its containers past the claim time', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers
  await net.network.client(buyer.peer.peerId).launchContainer(supplier.peer.node, net.offerId(), 'old', [container({ cpus: 1, memory: 256 })])
  await net.clock.advance(3 * net.config.launchTimeout)
  await net.clock.settle()
  assert.is(supplier.runtime.list().length, 1)
  await net.stop()
})

test('deadline: a launch whose container would start after the buyer\'s deadline starts nothing, and frees what it took', async () => {
  const net = await supplierNetwork()
  const [supplier, buyer] = net.peers
  slowRuntime(net, 0, 12_000)
  let runs = 0
  const slow = supplier.runtime.runContainer.bind(supplier.runtime)
  supplier.runtime.runContainer = async (config, labels) => { runs++; return slow(config, labels) }
  const client = net.network.client(buyer.peer.peerId)
  const group = ['web', 'db'].map(name => container({ cpus: 1, memory: 256 }, { name, groupPolicy: 'co-location' }))

  // the buyer waits 10 s: the first container is created at 12 s, past it, and removed at once;
  // the second is never started
  const launch = rejection(client.launchContainer(supplier.peer.node, net.offerId(), 'late', group, { deadlineMs: 10_000 }))
  await net.clock.advance(12_000)
  const err = await launch
  assert.is(err.status, 'REFUSED')
  assert.match(err.message, /deadline/)
  await net.clock.settle()
  assert.is(runs, 1, 'nothing is started after the deadline')
  assert.equal(supplier.runtime.list(), [])
  assert.equal(supplier.roles.hosted(), [])
  assert.equal(supplier.roles.offers().supplying.available, { cpuClass: 0, cpus: 4, memory: 4096 })

  // a deadline the launch meets changes nothing
  const statuses = await (async () => {
    const p = client.launchContainer(supplier.peer.node, net.offerId(), 'on-time', group, { deadlineMs: 60_000 })
    await net.clock.advance(24_000)
    return p
  })()
  assert.is(statuses.length, 2)
  assert.is(supplier.runtime.list().length, 2)
  await net.stop()
})

test('user manager: a supplier that answers unknown for a container it never said ended makes it lost; answers about ids not asked, or other suppliers\' containers, change nothing', async () => {
  const asked: Array<[string, string[]]> = []
  const running = (ids: string[]): RemoteContainerState[] => ids.map(containerId => ({ containerId, state: 'running' }))
  let answer: (to: string, ids: string[]) => RemoteContainerState[] = (_, ids) => running(ids)
  const client = {
    containerStatus: async (to: { peerId: string }, ids: string[]) => { asked.push([to.peerId, ids]); return answer(to.peerId, ids) }
  } as unknown as CaravelaClient
  const log = defaultLogger().forComponent('test')
  const clock = new ManualClock()
  const users = new UserManager({ client, clock, ledger: new Ledger(new MemoryStore(), log), log, statusInterval: () => 10_000 })
  const status = (containerId: string, supplier: string): ContainerStatus => ({ ...container({ cpus: 1, memory: 256 }), supplier: { peerId: supplier, multiaddrs: [] }, containerId, state: 'running' })
  await users.add([status('a1', 'p'), status('a2', 'p'), status('b1', 'q')], 'r')
  users.startChecks()

  await clock.advance(10_000)
  await clock.settle()
  assert.equal(asked.map(([to, ids]) => [to, ids]).sort(), [['p', ['a1', 'a2']], ['q', ['b1']]], 'one request per supplier')

  // p lies: it answers about q's container and an id never asked, and does not know a2
  answer = (to, ids) => to === 'p' ? [{ containerId: 'b1', state: 'exited', exitCode: 1 }, { containerId: 'zz', state: 'running' }, { containerId: 'a2', state: 'unknown' }] : running(ids)
  await users.check()
  const states = Object.fromEntries(users.list().map(c => [c.containerId, c.state]))
  assert.is(states.a2, 'lost')
  assert.is(states.b1, 'running', 'p cannot speak for q\'s container')
  assert.is(states.a1, 'running')
  assert.equal(users.list().map(c => c.containerId).sort(), ['a1', 'a2', 'b1'])
  assert.equal(users.checkStats().byState, { running: 2, lost: 1 })
  users.stopChecks()
})

test.run()
