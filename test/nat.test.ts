import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as assert from 'uvu/assert'
import { defaultConfig, parseConfigToml } from '../src/config/config.js'
import { CIRCUIT_LISTEN, natListen, natPlan } from '../src/nat.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { createTestNode, dialableAddress, stopAll, testConfig } from './fixtures/network.js'
import { container } from './fixtures/roles-network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaNode } from '../src/node.js'
import type { NetworkInterfaceInfo } from 'node:os'

function iface (address: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo {
  return { address, family, internal: false, netmask: '', mac: '', cidr: null, scopeid: 0 }
}

const Unit = suite('nat: the plan, the configuration')

Unit('a peer on private addresses only reserves a relay slot and maps its port; a public one relays; a loopback one does neither', () => {
  const nat = defaultConfig().nat
  const plan = (listen: string[], announce: string[] = [], interfaces = {}): ReturnType<typeof natPlan> => natPlan(nat, { listen, announce }, interfaces)

  assert.equal(plan(['/ip4/192.168.1.5/tcp/7800']), { relay: true, relayServer: false, holePunching: true, autoNat: true, upnp: true })
  assert.equal(plan(['/ip4/100.64.3.4/tcp/7800']).relay, true, 'carrier-grade NAT')
  assert.equal(plan(['/ip4/203.0.113.9/tcp/7800']), { relay: false, relayServer: true, holePunching: true, autoNat: true, upnp: false })
  assert.equal(plan(['/ip4/127.0.0.1/tcp/0']), { relay: false, relayServer: false, holePunching: true, autoNat: true, upnp: false })
  assert.equal(plan(['/ip4/10.0.0.2/tcp/7800'], ['/dns4/peer.example.com/tcp/7800']).relay, false, 'an announced public name is reachable')
  assert.equal(plan(['/ip4/10.0.0.2/tcp/7800'], ['/dns4/peer.example.com/tcp/7800']).relayServer, true)
  assert.equal(plan(['/ip4/0.0.0.0/tcp/7800'], [], { eth0: [iface('192.168.1.5', 'IPv4')] }).relay, true, 'a wildcard on a LAN host')
  assert.equal(plan(['/ip4/0.0.0.0/tcp/7800'], [], { eth0: [iface('198.51.100.4', 'IPv4')] }).relayServer, true, 'a wildcard on a public host')
  assert.equal(plan([CIRCUIT_LISTEN]).relay, true, 'a /p2p-circuit listen address reserves a slot')

  // the keys decide when set
  const forced = natPlan({ ...nat, relay: false, relayServer: true, upnp: false, holePunching: false, autoNat: false }, { listen: ['/ip4/192.168.1.5/tcp/1'], announce: [] }, {})
  assert.equal(forced, { relay: false, relayServer: true, holePunching: false, autoNat: false, upnp: false })

  assert.equal(natListen(['/ip4/192.168.1.5/tcp/1'], plan(['/ip4/192.168.1.5/tcp/1'])), ['/ip4/192.168.1.5/tcp/1', CIRCUIT_LISTEN])
  assert.equal(natListen(['/ip4/127.0.0.1/tcp/0'], plan(['/ip4/127.0.0.1/tcp/0'])), ['/ip4/127.0.0.1/tcp/0'])
  const relayAddress = '/ip4/203.0.113.9/tcp/7800/p2p/12D3KooWGRUVh3h1n4u6GPgWn2Y4LZYNR9shuzzZcRSLSkEF1f3v/p2p-circuit'
  assert.equal(natListen([relayAddress], plan([relayAddress])), [relayAddress], 'a named relay is not searched for besides')
})

Unit('[nat] keys: defaults, units, and clear errors', () => {
  const config = parseConfigToml('[nat]\nrelay = false\nrelayServer = true\nrelayMaxReservations = 8\nrelayDataLimit = "16m"\nrelayDurationLimit = "2m"\nholePunching = false\nupnp = false\n')
  assert.equal(config.nat, { relay: false, relayServer: true, relayMaxReservations: 8, relayDataLimit: 16, relayDurationLimit: 120_000, holePunching: false, autoNat: true, upnp: false })
  assert.equal(parseConfigToml('').nat, defaultConfig().nat)
  assert.equal(defaultConfig().nat, { relay: undefined, relayServer: undefined, relayMaxReservations: 32, relayDataLimit: 4, relayDurationLimit: 600_000, holePunching: true, autoNat: true, upnp: undefined })

  const errors: Array<[string, RegExp]> = [
    ['[nat]\nrelay = "yes"', /nat\.relay: must be true or false, got string "yes"/],
    ['[nat]\nrelayMaxReservations = 0', /nat\.relayMaxReservations: must be an integer from 1 to 1024, got 0/],
    ['[nat]\nrelayDataLimit = "2g"', /nat\.relayDataLimit: must be an integer from 1 to 1024, got 2048/],
    ['[nat]\nrelayDurationLimit = "1s"', /nat\.relayDurationLimit: must be a duration from "10s" to "24h", got 1000/],
    ['[nat]\nholepunching = true', /nat\.holepunching: unknown key \(did you mean "holePunching"\?\)/],
    ['nat = 3', /nat: must be a table/]
  ]

  for (const [toml, message] of errors) {
    assert.throws(() => parseConfigToml(toml), message, toml)
  }
})

const Relayed = suite<{ nodes: Array<CaravelaNode | undefined> }>('nat: a supplier reachable only through a relay', { nodes: [] })

Relayed.after.each(async (ctx) => {
  await stopAll(ctx.nodes)
  ctx.nodes = []
})

Relayed('reserves a slot on a relay, joins, supplies, and a buyer places a container on it over the relayed connection', async (ctx) => {
  const relay = await createTestNode('relay', { config: testConfig(c => { c.nat.relayServer = true }) })
  ctx.nodes.push(relay)
  const bootstrap = [dialableAddress(relay)]
  const trader = await createTestNode('trader', { config: testConfig(c => { c.node.bootstrap = bootstrap }) })
  ctx.nodes.push(trader)
  const buyerKey = await generateKeyPair('Ed25519')
  const buyerId = peerIdFromPrivateKey(buyerKey)

  // no listener of its own: it dials out, and is reached through its relay only; it never dials
  // the buyer, as a peer behind another NAT could not be dialled
  const runtime = new MemoryRuntime({ cpus: 4, memory: 4096 })
  const hidden = await createTestNode('hidden', {
    runtime,
    config: testConfig(c => {
      c.node.listen = [CIRCUIT_LISTEN]
      c.node.bootstrap = bootstrap
    }),
    libp2p: { connectionGater: { denyDialPeer: peerId => peerId.equals(buyerId) } }
  })
  ctx.nodes.push(hidden)
  const hiddenId = hidden.peerId.toString()

  await waitFor(() => hidden.getMultiaddrs().some(a => a.toString().includes(`/p2p/${relay.peerId.toString()}/p2p-circuit`)), { timeout: 15_000, message: 'a relay slot and its /p2p-circuit address' })
  assert.ok(hidden.getMultiaddrs().every(a => a.toString().includes('/p2p-circuit')), 'the hidden peer announces relayed addresses only')
  assert.is(hidden.services.dht.getMode(), 'client', 'a relayed peer is a DHT client')
  const reservation = relay.services.relay?.reservations.get(hidden.peerId)
  assert.equal([reservation?.limit?.data, reservation?.limit?.duration], [4n * 1024n * 1024n, 600_000], 'the relay\'s limits, from [nat]')
  assert.is(trader.services.relay, undefined, 'a loopback peer relays only when told to')

  // the traders keep its offers, with its relayed address to hand to buyers
  const traded = (): boolean => [relay, trader].some(node => node.services.caravela.offers().trading.offers.some(o => o.peerId === hiddenId))
  await waitFor(traded, { timeout: 20_000, message: 'the hidden supplier\'s offers at a trader' })
  const traderNode = [relay, trader].find(node => node.services.caravela.offers().trading.offers.some(o => o.peerId === hiddenId))
  const circuitKnown = async (): Promise<boolean> => (await traderNode?.peerStore.get(hidden.peerId))?.addresses.some(a => a.multiaddr.toString().includes('/p2p-circuit')) === true
  await waitFor(circuitKnown, { timeout: 5_000, message: 'the trader to learn the relayed address (identify push)' })

  const buyer = await createTestNode('buyer', { privateKey: buyerKey, config: testConfig(c => { c.node.bootstrap = bootstrap }) })
  ctx.nodes.push(buyer)
  // only the hidden peer supplies; the buyer places on it through the relay (its offers are found
  // at their trader even when no slice the request fits has a member in so small a network)
  const [placed] = await buyer.services.caravela.run([container({ cpus: 1, memory: 256 })])
  assert.is(placed.supplier.peerId, hiddenId)
  assert.ok(placed.supplier.multiaddrs.some(a => a.includes('/p2p-circuit')), `the trader handed out the relayed address: ${placed.supplier.multiaddrs.join(' ')}`)
  const connections = buyer.getConnections(hidden.peerId)
  assert.ok(connections.length > 0 && connections.every(c => c.limits != null && c.remoteAddr.toString().includes('/p2p-circuit')), 'the buyer reached the supplier over a relayed connection')
  assert.is(hidden.services.caravela.hosted().length, 1, 'the container runs on the hidden peer')
  const relayed = connections[0].id

  // its output comes through the relay too, but stops short of the relay's data limit (4 MB), so
  // that the connection, and the requests it carries, survive
  const read = async (): Promise<{ bytes: number, text: string, error?: Error }> => {
    const result: { bytes: number, text: string, error?: Error } = { bytes: 0, text: '' }

    try {
      for await (const chunk of await buyer.services.caravela.logs(placed.containerId)) {
        result.bytes += chunk.data.byteLength
        result.text += result.text.length < 100 ? new TextDecoder().decode(chunk.data) : ''
      }
    } catch (err: any) {
      result.error = err
    }

    return result
  }
  runtime.write(placed.containerId, 'stdout', 'hello through the relay\n')
  const small = await read()
  assert.equal([small.text, small.error], ['hello through the relay\n', undefined])
  runtime.write(placed.containerId, 'stdout', 'x'.repeat(5 * 1024 * 1024))
  const large = await read()
  assert.ok(large.bytes > 1024 * 1024 && large.bytes < 3 * 1024 * 1024, `the output stopped short of the limit: ${large.bytes} bytes, ${String(large.error)}`)
  assert.ok(buyer.getConnections(hidden.peerId).some(c => c.id === relayed), 'the relayed connection survived the output')

  // the buyer's next requests (status, stop) reuse the relayed connection, and they pass
  const [stopped] = await buyer.services.caravela.stopContainers([placed.containerId])
  assert.equal([stopped.stopped, stopped.pending], [true, undefined], 'stopped through the relay')
  await waitFor(() => hidden.services.caravela.hosted().length === 0, { timeout: 5_000, message: 'the container to go from the hidden peer' })
  assert.ok(buyer.getConnections(hidden.peerId).some(c => c.id === relayed), 'the relayed connection was reused, not dialled anew')
})

Unit.run()
Relayed.run()
