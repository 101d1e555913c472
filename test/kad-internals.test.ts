/**
 * What the overlay needs of kad-dht's internals is there in the installed kad-dht, and a kad-dht
 * without it is refused with a message that says what to do.
 */

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { MessageType } from '@libp2p/kad-dht'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { KAD_DHT_VERSION, KadInternalsError, kadInternals } from '../src/overlay/kad-internals.js'
import { createTestNetwork, createTestNode, dialableAddress, stopAll, testConfig } from './fixtures/network.js'
import { waitFor } from './fixtures/wait.js'
import type { KadDHT } from '@libp2p/kad-dht'

test(`the installed kad-dht is the version the internals were read from (${KAD_DHT_VERSION})`, () => {
  // the package's exports hide its package.json: read it next to its entry point
  const entry = createRequire(import.meta.url).resolve('@libp2p/kad-dht')
  const installed = JSON.parse(readFileSync(join(entry.slice(0, entry.lastIndexOf('/dist/')), 'package.json'), 'utf8')).version
  assert.is(installed, KAD_DHT_VERSION, `kad-dht ${installed} is installed: check src/overlay/kad-internals.ts against it, then update KAD_DHT_VERSION and package.json`)
})

test('every member the overlay uses works on a live kad-dht', async () => {
  const nodes = await createTestNetwork(3, { minTable: 2 })

  try {
    const dht = nodes[0].services.dht
    const kad = kadInternals(dht)
    assert.is(kad.tableSize(), 2)
    assert.equal([...kad.tablePeers()].map(p => p.peerId.toString()).sort(), [nodes[1].peerId.toString(), nodes[2].peerId.toString()].sort())
    assert.is(kad.tableSaturated(), false)
    assert.is(kad.protocol, '/caravela-test/kad/1.0.0')
    assert.ok(await kad.hasPeer(nodes[1].peerId))

    const heard: string[] = []
    const stop = kad.onPeerAdded(peerId => { heard.push(peerId.toString()) })
    const newcomer = await createTestNode('newcomer', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(nodes[0])] }) })
    nodes.push(newcomer)
    await waitFor(() => heard.length > 0, { timeout: 20_000, message: 'the routing table to add the newcomer' })
    stop()
    assert.equal(heard, [newcomer.peerId.toString()])

    let events = 0
    for await (const event of kad.findNode(nodes[1].peerId, new Uint8Array(32), MessageType.FIND_NODE, { signal: AbortSignal.timeout(10_000) })) {
      events += event.name === 'PEER_RESPONSE' ? 1 : 0
    }
    assert.is(events, 1, 'one FIND_NODE answered')

    await kad.removePeer(nodes[2].peerId)
    assert.not.ok(await kad.hasPeer(nodes[2].peerId))
    assert.not.ok([...kad.tablePeers()].some(p => p.peerId.equals(nodes[2].peerId)), 'the removed peer is no longer listed')
  } finally {
    await stopAll(nodes)
  }
})

test('a kad-dht without them is refused, naming what is missing', () => {
  const refusal = (dht: unknown): string => {
    try {
      kadInternals(dht as KadDHT)
    } catch (err: any) {
      assert.instance(err, KadInternalsError)
      return err.message
    }

    throw new Error('accepted')
  }

  assert.match(refusal({}), /^kad-dht has no routingTable\.size: Caravela's overlay was written against @libp2p\/kad-dht 16\.4\.5/)
  assert.match(refusal({ routingTable: { size: 0 } }), /no routingTable\.kb\.toIterable\(\)/)
  assert.match(refusal({ routingTable: { size: 0, kb: { toIterable: () => [] } } }), /no routingTable\.kb\.root/)
  const table = { size: 0, kb: { toIterable: () => [], root: {} } }
  assert.match(refusal({ routingTable: table }), /no routingTable\.find\(\)/)
  assert.match(refusal({ routingTable: { ...table, find: async () => undefined } }), /no routingTable\.remove\(\)/)
  const fullTable = { ...table, find: async () => undefined, remove: async () => {}, addEventListener: () => {} }
  assert.match(refusal({ routingTable: fullTable }), /no network\.sendRequest\(\)/)
  assert.match(refusal({ routingTable: fullTable, network: { sendRequest: () => [] } }), /no protocol:/)
})

test.run()
