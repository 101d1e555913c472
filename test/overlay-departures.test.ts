/**
 * Peers that leave, cleanly or not, leave the others' routing tables within seconds, and a peer
 * that is only disconnected stays in them. Real libp2p peers on 127.0.0.1.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isConclusive, isReset } from '../src/overlay/departures.js'
import { createTestNetwork, stopAll } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaNode } from '../src/node.js'
import type { KadOverlay } from '../src/overlay/kad-overlay.js'

const NETWORK_SIZE = 8
/** A departed peer must be gone from every routing table within this (on loopback). */
const DEPARTURE_BOUND = 5_000

const Departures = suite<{ nodes: CaravelaNode[] }>('departures', { nodes: [] })

Departures.before.each(async (ctx) => {
  ctx.nodes = await createTestNetwork(NETWORK_SIZE, { minTable: NETWORK_SIZE - 1 })
})

Departures.after.each(async (ctx) => {
  await stopAll(ctx.nodes)
})

/** The remaining peers whose routing tables still hold `gone`. */
function holders (nodes: CaravelaNode[], gone: CaravelaNode): string[] {
  const id = gone.peerId.toString()

  return nodes
    .filter(n => n !== gone && n.status === 'started')
    .filter(n => n.services.caravela.peers().some(p => p.peerId === id && p.inRoutingTable))
    .map(n => n.peerId.toString())
}

/** Milliseconds until no remaining peer's routing table holds `gone`, polled every 50 ms. */
async function timeToForget (nodes: CaravelaNode[], gone: CaravelaNode, since: number, bound: number): Promise<number> {
  await waitFor(() => holders(nodes, gone).length === 0, {
    timeout: bound,
    interval: 50,
    message: () => `${holders(nodes, gone).length} of ${nodes.length - 1} routing tables to drop ${gone.peerId}`
  })

  return Date.now() - since
}

Departures('a peer that stops is gone from every other routing table within seconds', async (ctx) => {
  const leaving = ctx.nodes[3]
  assert.is(holders(ctx.nodes, leaving).length, NETWORK_SIZE - 1, 'every peer holds it before it leaves')

  const started = Date.now()
  await leaving.stop()
  const stopped = Date.now() - started
  const forgotten = await timeToForget(ctx.nodes, leaving, started, DEPARTURE_BOUND)
  console.info(`  clean stop: the stop took ${stopped} ms, gone from ${NETWORK_SIZE - 1} routing tables ${forgotten} ms after it began`)

  // and it stays gone: nobody adds it back from another peer's answers
  await new Promise(resolve => setTimeout(resolve, 1_000))
  assert.equal(holders(ctx.nodes, leaving), [])
})

Departures('a crashed peer (connections cut, no leave) is gone from every other routing table within seconds', async (ctx) => {
  const crashed = ctx.nodes[5]

  // what a killed process does: its sockets close and it answers nothing more, without first
  // leaving the DHT (no client mode, no withdrawn offers)
  const service = crashed.services.caravela as unknown as { beforeStop: () => Promise<void> }
  service.beforeStop = async () => {}
  const started = Date.now()
  crashed.getConnections().forEach(connection => { connection.abort(new Error('crashed')) })
  await crashed.stop()

  const forgotten = await timeToForget(ctx.nodes, crashed, started, DEPARTURE_BOUND)
  console.info(`  crash: gone from ${NETWORK_SIZE - 1} routing tables ${forgotten} ms after its connections were cut`)
})

Departures('a peer that is only disconnected stays in the routing tables, on both sides', async (ctx) => {
  const [a, b] = ctx.nodes
  const inTable = (node: CaravelaNode, peer: CaravelaNode): boolean =>
    node.services.caravela.peers().some(p => p.peerId === peer.peerId.toString() && p.inRoutingTable)
  const counters = (node: CaravelaNode): ReturnType<KadOverlay['departureCounters']> => (node.services.caravela.overlay as KadOverlay).departureCounters()
  const before = [counters(a).checks, counters(b).checks]

  assert.ok(inTable(a, b) && inTable(b, a))
  await Promise.all(a.getConnections(b.peerId).map(async c => { await c.close() }))

  // each side checks the other, which still serves the DHT, and keeps it
  await waitFor(() => counters(a).checks > before[0] && counters(b).checks > before[1], { timeout: DEPARTURE_BOUND, message: 'both sides to check the other' })
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.ok(inTable(a, b), 'the peer that hung up keeps the other')
  assert.ok(inTable(b, a), 'the peer hung up on keeps the other')
  assert.is(counters(a).removedUnreachable + counters(b).removedUnreachable, 0)
  assert.ok(a.getConnections(b.peerId).length > 0, 'the check connected them again')

  // a second hang-up right after is checked too, a moment later (the spacing of rechecks)
  const checked = [counters(a).checks, counters(b).checks]
  await Promise.all(a.getConnections(b.peerId).map(async c => { await c.close() }))
  await waitFor(() => counters(a).checks > checked[0] && counters(b).checks > checked[1], { timeout: DEPARTURE_BOUND, message: 'both sides to check the other again' })
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.ok(inTable(a, b) && inTable(b, a))
})

Departures('a peer that stops serving the DHT (client mode) is dropped when identify says so', async (ctx) => {
  const [a, , x] = ctx.nodes
  const inTable = (): boolean => a.services.caravela.peers().some(p => p.peerId === x.peerId.toString() && p.inRoutingTable)
  assert.ok(inTable())

  await x.services.dht.setMode('client')
  // libp2p here pushes no identify update: a asks again, on the open connection
  await a.services.identify.identify(a.getConnections(x.peerId)[0], { signal: AbortSignal.timeout(5_000) })
  const overlay = a.services.caravela.overlay as KadOverlay
  await waitFor(() => !inTable() && overlay.departureCounters().removedNotServing === 1, { timeout: DEPARTURE_BOUND, message: 'a to drop the client-mode peer for not serving the DHT' })
})

Departures.run()

test('only a refused connection or a refused DHT protocol proves a peer gone; a reset asks for a quick recheck', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  const unsupported = Object.assign(new Error('protocol selection failed'), { name: 'UnsupportedProtocolError' })
  const timeout = Object.assign(new Error('Connection timeout after 5000ms'), { name: 'TimeoutError' })
  const unreachable = Object.assign(new Error('connect ENETUNREACH'), { code: 'ENETUNREACH' })
  const reset = Object.assign(new Error('read ECONNRESET'), { name: 'EncryptionFailedError' })

  assert.ok(isConclusive(refused))
  assert.ok(isConclusive(unsupported))
  assert.ok(isConclusive(new AggregateError([refused, refused], 'All multiaddr dials failed')))
  assert.ok(isConclusive(new Error('wrapped', { cause: unsupported })))
  assert.not.ok(isConclusive(new AggregateError([refused, timeout], 'All multiaddr dials failed')), 'one address that timed out may be the live one')
  assert.not.ok(isConclusive(timeout))
  assert.not.ok(isConclusive(unreachable))
  assert.not.ok(isConclusive(reset))
  assert.not.ok(isConclusive(undefined))

  assert.ok(isReset(reset))
  assert.ok(isReset(new AggregateError([timeout, Object.assign(new Error('x'), { code: 'ECONNRESET' })])))
  assert.not.ok(isReset(timeout))
})

test.run()
