/**
 * The buyer's view of its containers when a supplier dies: `ps` says `lost` within the bound, a
 * stop is recorded and carried out when the supplier is back, and a supplier that answers again
 * turns its containers back to running. Only the roles' own API (run, ps, stop) and the clock are
 * used, so that these tests run against a buyer without status checks too, and fail there.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CLAIM_DELAY } from '../src/roles/buyer.js'
import { container, createRolesNetwork, testNetworkConfig, until } from './fixtures/roles-network.js'
import type { RolesNetwork, RolesPeer } from './fixtures/roles-network.js'

/** The default bound: a dead supplier's containers are lost within 30 s. */
const LOST_WITHIN = 30_000
/** Two status checks at the default interval: a supplier back is heard from within them. */
const AGAIN_WITHIN = 20_000

/** A network whose buyer (peer 1) cannot host the container it places: it lands on another peer. */
async function placedNetwork (): Promise<RolesNetwork & { buyer: RolesPeer, supplier: RolesPeer, containerId: string }> {
  const net = await createRolesNetwork({
    size: 6,
    config: testNetworkConfig(),
    runtime: i => i === 1 ? { cpus: 1, memory: 128 } : { cpus: 2, memory: 2048 }
  })
  const buyer = net.peers[1]
  const [status] = await buyer.roles.run([container({ cpus: 1, memory: 256 })])
  // the claim of the container goes out (a supplier cut off before it heard one removes the
  // container after the claim time, as it must: its buyer may be gone)
  await net.clock.advance(CLAIM_DELAY)
  await net.clock.settle()
  return { ...net, buyer, supplier: net.byId(status.supplier.peerId), containerId: status.containerId }
}

test(`a supplier killed without a word: the buyer's ps says lost within ${LOST_WITHIN / 1000} s, and running again once it is back`, async () => {
  const net = await placedNetwork()
  const { buyer, supplier, containerId } = net
  assert.equal(buyer.roles.ps().map(c => [c.containerId, c.state]), [[containerId, 'running']])
  // let a few checks find it running first
  await net.clock.advance(25_000)
  await net.clock.settle()
  assert.equal(buyer.roles.ps().map(c => c.state), ['running'])

  net.network.kill(supplier.peer.peerId)
  const took = await until(net, () => buyer.roles.ps()[0].state === 'lost', 60_000)
  console.log('a killed supplier\'s container shows lost after %s s (bound %d s)', took == null ? 'never (60 s waited)' : took / 1000, LOST_WITHIN / 1000)
  assert.ok(took != null && took <= LOST_WITHIN, `lost after ${took ?? 'never'} ms`)

  // the metrics say so too (a buyer without status checks has none)
  const checks = (buyer.roles as { containerChecks?: () => { byState: Record<string, number>, suppliersLost: number, lostDetectionMsMax: number } }).containerChecks?.()
  assert.equal(checks?.byState, { lost: 1 })
  assert.is(checks?.suppliersLost, 1)
  assert.ok((checks?.lostDetectionMsMax ?? Infinity) <= LOST_WITHIN)

  net.network.revive(supplier.peer.peerId)
  const back = await until(net, () => buyer.roles.ps()[0].state === 'running', AGAIN_WITHIN)
  assert.ok(back != null, 'running again once its supplier answers')
  await net.stop()
})

test('a stop of a container on a dead supplier is accepted as stopping, and carried out when the supplier is back', async () => {
  const net = await placedNetwork()
  const { buyer, supplier, containerId } = net
  net.network.kill(supplier.peer.peerId)

  const [result] = await buyer.roles.stopContainers([containerId])
  assert.not.ok(result.stopped)
  assert.ok((result as { pending?: boolean }).pending, `accepted, to be carried out later: ${result.error ?? ''}`)
  assert.equal(buyer.roles.ps().map(c => c.state), ['stopping'])
  assert.is(supplier.runtime.list().length, 1)

  // still stopping while the supplier is away
  await net.clock.advance(60_000)
  await net.clock.settle()
  assert.equal(buyer.roles.ps().map(c => c.state), ['stopping'])

  net.network.revive(supplier.peer.peerId)
  const done = await until(net, () => buyer.roles.ps().length === 0, AGAIN_WITHIN)
  assert.ok(done != null, 'the stop is carried out once the supplier answers')
  assert.is(supplier.runtime.list().length, 0)
  assert.equal(supplier.roles.hosted(), [])
  await net.stop()
})

test('a buyer restarted while its supplier is dead shows its containers unknown, then lost, and a supplier restarted keeps claimed ones', async () => {
  const net = await placedNetwork()
  const { buyer, supplier, containerId } = net
  net.network.kill(supplier.peer.peerId)
  const restarted = await net.restart(buyer.peer.peerId)
  // recorded running, but nobody answered since the restart
  assert.equal(restarted.roles.ps().map(c => c.state), ['unknown'])
  const took = await until(net, () => restarted.roles.ps()[0]?.state === 'lost', 60_000)
  assert.ok(took != null && took <= LOST_WITHIN, `lost after ${took ?? 'never'} ms`)

  // the supplier restarts well past the claim time: the container was claimed right after its launch
  net.network.revive(supplier.peer.peerId)
  await net.clock.advance(3 * net.config.launchTimeout)
  await net.clock.settle()
  const back = await net.restart(supplier.peer.peerId)
  assert.equal(back.runtime.list().map(c => c.id), [containerId])
  await until(net, () => restarted.roles.ps()[0]?.state === 'running', AGAIN_WITHIN)
  assert.equal(restarted.roles.ps().map(c => c.state), ['running'])
  await net.stop()
})

test('a supplier gone for good is asked less and less often; one that connects again is asked at once', async () => {
  const net = await placedNetwork()
  const { buyer, supplier } = net
  net.network.kill(supplier.peer.peerId)
  await until(net, () => buyer.roles.ps()[0].state === 'lost', 60_000)
  const before = buyer.roles.containerChecks().checks

  // ten minutes without it: at a fixed 10 s interval that would be 60 status checks
  await net.clock.advance(600_000)
  await net.clock.settle()
  const checks = buyer.roles.containerChecks().checks - before
  console.log('status checks of a supplier gone for 10 minutes: %d', checks)
  assert.ok(checks >= 5 && checks <= 20, `asked ${checks} times in 10 minutes`)

  // back, and connected: asked now, not at its next spaced-out check
  net.network.revive(supplier.peer.peerId)
  buyer.roles.peerConnected(supplier.peer.peerId)
  await net.clock.settle()
  assert.equal(buyer.roles.ps().map(c => c.state), ['running'])

  // back without connecting: heard from within a quarter of its absence
  net.network.kill(supplier.peer.peerId)
  await until(net, () => buyer.roles.ps()[0].state === 'lost', 60_000)
  await net.clock.advance(240_000)
  net.network.revive(supplier.peer.peerId)
  const back = await until(net, () => buyer.roles.ps()[0].state === 'running', 90_000)
  assert.ok(back != null && back <= 70_000, `running again ${back ?? 'never'} ms after its return`)
  await net.stop()
})

test.run()
