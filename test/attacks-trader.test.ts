/**
 * A trader under attack, with counted outcomes: offers no machine can back, a Sybil flood of many
 * peer ids from one address, and suppliers pointing buyers elsewhere than where they listen.
 * In-process networks give the counts of the flood and of an honest placement during it; real
 * libp2p peers on distinct loopback addresses (127.0.0.2 for the attacker) check that the trader
 * and the protocol server take the host from the connection, and hand out announced addresses.
 * The counts are printed (`npm test -- attacks-trader`).
 */

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { RemoteRequestError } from '../src/errors.js'
import { AddressGroups } from '../src/protocols/address.js'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import { CODECS } from '../src/protocols/codec.js'
import { MAX_LARGE_MESSAGE_SIZE, MAX_OFFERS } from '../src/protocols/constants.js'
import { CaravelaProtocolServer } from '../src/protocols/server.js'
import { MAX_PEER_CORES, MAX_PEER_MEMORY_MB, peerResourceBound } from '../src/roles/resources.js'
import { fitAnswer, MAX_OFFERS_PER_HOST, MAX_OFFERS_PER_SUBNET, MAX_TRADER_OFFERS } from '../src/roles/trader.js'
import { createTestNode, dialableAddress, stopAll, testConfig, TEST_PROTOCOL_PREFIX } from './fixtures/network.js'
import { container, createRolesNetwork, testNetworkConfig } from './fixtures/roles-network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaNode } from '../src/node.js'
import type { AvailableOffer, CaravelaClient, NodeRef, Offer, Resources } from '../src/types.js'
import type { RolesNetwork, RolesPeer } from './fixtures/roles-network.js'
import type { Libp2p } from 'libp2p'

const UINT32_MAX = 2 ** 32 - 1
const NOTHING: Resources = { cpuClass: 0, cpus: 0, memory: 0 }

function offerOf (id: number, free: Resources, used: Resources = NOTHING, containersRunning = 0): Offer {
  return { id, amount: 1, freeResources: free, usedResources: used, containersRunning }
}

/** Attempts, acceptances and refusals of a series of CreateOffers. */
class Tally {
  attempts = 0
  accepted = 0
  refused = 0
  readonly reasons = new Set<string>()

  async offer (client: CaravelaClient, trader: NodeRef, offer: Offer): Promise<void> {
    this.attempts++
    const result = await client.createOffer(trader, offer)

    if (result.accepted) {
      this.accepted++
    } else {
      this.refused++
      this.reasons.add(result.reason ?? '')
    }
  }

  toString (): string {
    return `${this.attempts} attempts, ${this.accepted} accepted, ${this.refused} refused`
  }
}

// ---- in process: the roles over LocalNetwork ----

const InProcess = suite('a trader under attack, in process')

InProcess('an offer of 2^32 - 1 CPUs and MB is refused with a reason by every trader; one at the bound is taken', async () => {
  const net = await createRolesNetwork({ size: 6, stopped: true })
  const [liar, ...traders] = net.peers
  const client = net.network.client(liar.peer.peerId)
  const bound = peerResourceBound(net.config)
  assert.equal(bound, { cpus: MAX_PEER_CORES, memory: MAX_PEER_MEMORY_MB, containers: MAX_PEER_CORES })

  // the attack as it was tried: the largest wire values, to every trader
  const huge = new Tally()
  for (const trader of traders) {
    await huge.offer(client, trader.peer.node, offerOf(1, { cpuClass: 1, cpus: UINT32_MAX, memory: UINT32_MAX }))
  }
  console.info(`\n  2^32 - 1 CPUs and MB offered to every trader: ${huge.toString()}`)
  assert.equal([huge.attempts, huge.accepted, huge.refused], [traders.length, 0, traders.length])
  assert.equal([...huge.reasons].map(r => r.replace(/^.*its /, 'its ')), [`its free resources, ${UINT32_MAX} CPUs of class high and ${UINT32_MAX} MB, exceed what one peer may offer on this network, 1024 CPUs and 16777216 MB`])

  // each way past the bound, at one trader
  const [trader] = traders
  const beyond = new Tally()
  const over: Array<[string, Offer]> = [
    ['free CPUs', offerOf(2, { cpuClass: 0, cpus: bound.cpus + 1, memory: 1024 })],
    ['free memory', offerOf(3, { cpuClass: 0, cpus: 2, memory: bound.memory + 1 })],
    ['used resources', offerOf(4, { cpuClass: 0, cpus: 2, memory: 2048 }, { cpuClass: 0, cpus: bound.cpus + 1, memory: 0 })],
    ['free and used together', offerOf(5, { cpuClass: 0, cpus: bound.cpus, memory: 2048 }, { cpuClass: 0, cpus: 1, memory: 0 })],
    ['running containers', offerOf(6, { cpuClass: 0, cpus: 2, memory: 2048 }, NOTHING, bound.containers + 1)]
  ]
  for (const [, offer] of over) {
    await beyond.offer(client, trader.peer.node, offer)
  }
  console.info(`  offers just past the bound (free, used, both, containers): ${beyond.toString()}`)
  assert.equal([beyond.attempts, beyond.accepted, beyond.refused], [over.length, 0, over.length])
  assert.equal(beyond.reasons.size, over.length, [...beyond.reasons].join('\n'))

  // a CPU class the wire cannot carry, handed to the trader directly (an in-process caller skips the codec)
  const ctx = { from: liar.peer.node, signal: new AbortController().signal }
  const classTwo = await trader.roles.handlers.createOffer(ctx, offerOf(7, { cpuClass: 2, cpus: 2, memory: 2048 }))
  assert.equal(classTwo, { accepted: false, reason: 'the offer is refused: its free resources have CPU class 2, not one of 0 (low) and 1 (high)' })
  assert.is(trader.roles.offers().trading.offers.length, 0)

  // at the bound: all of it free, or shared between free and used
  const at = new Tally()
  await at.offer(client, trader.peer.node, offerOf(8, { cpuClass: 0, cpus: bound.cpus, memory: bound.memory }, NOTHING, bound.containers))
  await at.offer(client, trader.peer.node, offerOf(9, { cpuClass: 0, cpus: bound.cpus - 2, memory: bound.memory - 2048 }, { cpuClass: 0, cpus: 2, memory: 2048 }, 2))
  console.info(`  offers at the bound: ${at.toString()}`)
  assert.equal([at.attempts, at.accepted, at.refused], [2, 2, 0])

  // an update past the bound drops the offer
  assert.is(await client.updateOffer(trader.peer.node, offerOf(8, { cpuClass: 0, cpus: 2, memory: 2048 }, { cpuClass: 0, cpus: bound.cpus, memory: 0 })), false)
  assert.equal(trader.roles.offers().trading.offers.map(o => o.id), [9])
})

InProcess('a peer larger than the bound starts and offers the bound, which traders take', async () => {
  const config = testNetworkConfig(c => { c.cpuSlices = 2; c.cpuOvercommit = 150 })
  const bound = peerResourceBound(config)
  assert.equal([bound.cpus, bound.memory], [1536 * 2, MAX_PEER_MEMORY_MB])
  const net = await createRolesNetwork({
    size: 8,
    config,
    runtime: i => i === 0 ? { cpus: 4096, memory: 64 * MAX_PEER_MEMORY_MB } : { cpus: 2, memory: 2048 }
  })
  const [big] = net.peers
  assert.equal(big.roles.offers().supplying.max, { cpuClass: 0, cpus: bound.cpus, memory: bound.memory })
  const kept = net.peers.flatMap(p => p.roles.offers().trading.offers).filter(o => o.peerId === big.peer.peerId)
  assert.ok(kept.length > 0, 'a trader keeps its offer')
  assert.ok(kept.every(o => o.free.cpus === bound.cpus && o.free.memory === bound.memory))
  await net.stop()
})

/** Peers of the honest network; the attacker's ids come after them. */
const HONEST = 12
const ATTACKER_IDS = 65
/** Offers each attacker id makes to each trader: 65 × 63 = 4095, the attack as it was tried. */
const OFFERS_PER_ID = 63
const ATTACKER = '/ip4/127.0.0.2/tcp/4001'

/**
 * An honest network of `HONEST` peers with offers published, and `ATTACKER_IDS` peer ids of one
 * attacker at `address(i)`, outside the overlay and answering nothing (a launch on them fails).
 */
async function floodedNetwork (address: (i: number) => string, allow?: string[]): Promise<{ net: RolesNetwork, attackers: string[] }> {
  const net = await createRolesNetwork({ size: HONEST, allow })
  const attackers: string[] = []

  for (let i = 0; i < ATTACKER_IDS; i++) {
    const peer = await net.network.addPeer(`attacker-${i}`, address(i))
    net.network.setInOverlay(peer.peerId, false)
    attackers.push(peer.peerId)
  }

  return { net, attackers }
}

/**
 * Junk offers from every attacker id to `trader`, offer ids `first` to `end` - 1: its own slice's
 * resources, the tightest fit.
 */
async function flood (net: RolesNetwork, attackers: string[], trader: RolesPeer, tally: Tally, end = OFFERS_PER_ID, first = 0): Promise<void> {
  const slice = net.map.sliceOf(trader.peer.key).resources

  for (let id = first; id < end; id++) {
    for (const attacker of attackers) {
      await tally.offer(net.network.client(attacker), trader.peer.node, offerOf(id, slice))
    }
  }
}

InProcess('65 peer ids from one address: each trader keeps 8 of their offers, and honest placements succeed during the flood', async () => {
  const { net, attackers } = await floodedNetwork(() => ATTACKER)
  const tally = new Tally()

  // half the flood first, then the other half while honest buyers place containers
  await Promise.all(net.peers.map(async trader => { await flood(net, attackers, trader, tally, Math.floor(OFFERS_PER_ID / 2)) }))
  const junkTried: string[] = []
  const placements = 10
  const [placed] = await Promise.all([
    (async () => {
      let count = 0

      for (let i = 0; i < placements; i++) {
        const buyer = net.peers[i % HONEST]
        const statuses = await buyer.roles.run([container({ cpus: 1, memory: 256 })], {
          onProgress: event => { if (event.type === 'rejected' && attackers.includes(event.supplier)) junkTried.push(event.supplier) }
        })
        assert.ok(!attackers.includes(statuses[0].supplier.peerId))
        count++
      }

      return count
    })(),
    ...net.peers.map(async trader => { await flood(net, attackers, trader, tally, OFFERS_PER_ID, Math.floor(OFFERS_PER_ID / 2)) })
  ])

  const junkKept = net.peers.map(p => p.roles.offers().trading.offers.filter(o => attackers.includes(o.peerId)).length)
  console.info(`  Sybil flood, ${ATTACKER_IDS} ids from one address × ${OFFERS_PER_ID} offers × ${HONEST} traders: ${tally.toString()}; junk kept per trader: ${junkKept.join(' ')}`)
  console.info(`  honest placements during the flood: ${placed} of ${placements} placed, after ${junkTried.length} launches on junk offers in all`)
  assert.equal(tally.attempts, ATTACKER_IDS * OFFERS_PER_ID * HONEST)
  assert.equal(junkKept, net.peers.map(() => MAX_OFFERS_PER_HOST))
  assert.equal([tally.accepted, tally.refused], [MAX_OFFERS_PER_HOST * HONEST, tally.attempts - MAX_OFFERS_PER_HOST * HONEST])
  assert.equal([...tally.reasons], ['this trader keeps at most 8 offers from the peers of one host, and has them from 127.0.0.2'])
  assert.is(placed, placements)
  await net.stop()
})

InProcess('the control: the same flood from an allowed address fills the table, as before the caps', async () => {
  const { net, attackers } = await floodedNetwork(() => ATTACKER, ['/ip4/127.0.0.0/ipcidr/8'])
  const [trader] = net.peers
  const honest = trader.roles.offers().trading.offers.length
  const tally = new Tally()
  await flood(net, attackers, trader, tally)
  const junk = trader.roles.offers().trading.offers.length - honest
  console.info(`  the same flood on one trader that allows 127.0.0.0/8: ${tally.toString()}; junk kept ${junk}`)
  assert.equal(tally.accepted, Math.min(ATTACKER_IDS * OFFERS_PER_ID, MAX_TRADER_OFFERS - honest))
  assert.ok(junk >= 4032, `${junk} junk offers kept`)
  await net.stop()
})

InProcess('65 peer ids, one per address of one /24: a trader keeps 32 of their offers', async () => {
  const { net, attackers } = await floodedNetwork(i => `/ip4/198.51.100.${i + 1}/tcp/4001`)
  const [trader] = net.peers
  const tally = new Tally()
  await flood(net, attackers, trader, tally, 4)
  console.info(`  ${ATTACKER_IDS} ids from ${ATTACKER_IDS} addresses of one /24 × 4 offers: ${tally.toString()}`)
  assert.equal([tally.attempts, tally.accepted], [ATTACKER_IDS * 4, MAX_OFFERS_PER_SUBNET])
  assert.ok(tally.reasons.has('this trader keeps at most 32 offers from the peers of one subnet, and has them from 198.51.100.0/24'))
  // a removed offer frees its place
  await net.network.client(attackers[0]).removeOffer(trader.peer.node, 0)
  assert.is((await net.network.client(attackers[64]).createOffer(trader.peer.node, offerOf(99, net.map.sliceOf(trader.peer.key).resources))).accepted, true)
  await net.stop()
})

InProcess('IPv6: one /64 is one host, one /48 one subnet', async () => {
  const { net, attackers } = await floodedNetwork(i => i < 20
    ? `/ip6/2001:db8:1:2::${(i + 1).toString(16)}/tcp/4001`
    : `/ip6/2001:db8:1:${(i + 3).toString(16)}::1/tcp/4001`)
  const [trader] = net.peers
  const host = new Tally()
  await flood(net, attackers.slice(0, 20), trader, host, 1)
  const subnet = new Tally()
  await flood(net, attackers.slice(20), trader, subnet, 1)
  console.info(`  20 ids from one IPv6 /64: ${host.toString()}; 45 ids from other /64s of its /48: ${subnet.toString()}`)
  assert.equal([host.attempts, host.accepted], [20, MAX_OFFERS_PER_HOST])
  assert.equal([subnet.attempts, subnet.accepted], [45, MAX_OFFERS_PER_SUBNET - MAX_OFFERS_PER_HOST])
  assert.ok(subnet.reasons.has('this trader keeps at most 32 offers from the peers of one subnet, and has them from 2001:db8:1::/48'))
  await net.stop()
})

InProcess('address groups: hosts and subnets of IPv4, IPv6 and IPv4-mapped addresses; allowed and unknown addresses have none', () => {
  const groups = new AddressGroups(['/ip4/10.0.0.0/ipcidr/8', '/ip6/fd00::/ipcidr/8', '/ip4/192.0.2.7'])
  assert.equal(groups.groupOf('/ip4/203.0.113.9/tcp/51234'), { host: '203.0.113.9', subnet: '203.0.113.0/24' })
  assert.equal(groups.groupOf('/ip6/2001:db8:aa:bb:1:2:3:4/tcp/1'), { host: '2001:db8:aa:bb::/64', subnet: '2001:db8:aa::/48' })
  assert.equal(groups.groupOf('/ip6/::ffff:203.0.113.9/tcp/1'), { host: '203.0.113.9', subnet: '203.0.113.0/24' })
  assert.equal(groups.groupOf('/ip6zone/eth0/ip6/fe80::1/tcp/1'), { host: 'fe80:0:0:0::/64', subnet: 'fe80:0:0::/48' })
  assert.equal(groups.groupOf('/ip4/192.0.2.8/tcp/1'), { host: '192.0.2.8', subnet: '192.0.2.0/24' })
  for (const unlimited of ['/ip4/10.9.8.7/tcp/1', '/ip6/fd12::1/tcp/1', '/ip4/192.0.2.7/tcp/1', '/dns4/example.com/tcp/1', '', undefined]) {
    assert.is(groups.groupOf(unlimited), undefined, String(unlimited))
  }
  // a relayed connection counts per relayed peer (host) and per relay (subnet), not as the relay's host
  const relayed = '/ip4/203.0.113.9/tcp/4001/p2p-circuit/p2p/12D3KooWGRUVh3h1n4u6GPgWn2Y4LZYNR9shuzzZcRSLSkEF1f3v'
  assert.equal(groups.groupOf(relayed), { host: '203.0.113.9/p2p-circuit/p2p/12D3KooWGRUVh3h1n4u6GPgWn2Y4LZYNR9shuzzZcRSLSkEF1f3v', subnet: '203.0.113.9/p2p-circuit' })
  assert.is.not(groups.groupOf(relayed)?.host, groups.groupOf(relayed.replace('GRUVh3', 'GRUVh4'))?.host, 'two peers through one relay have two hosts')
  assert.is(groups.groupOf('/ip4/10.9.8.7/tcp/1/p2p-circuit/p2p/12D3KooWGRUVh3h1n4u6GPgWn2Y4LZYNR9shuzzZcRSLSkEF1f3v'), undefined, 'a relay on the allow list')
  for (const bad of ['10.0.0.0/8', '/ip4/10.0.0.0/ipcidr/33', '/ip4/10.0.0.1/tcp/1', '/dns4/example.com', '/ip6/::/ipcidr/x']) {
    assert.throws(() => new AddressGroups([bad]), /IP network|prefix length/, bad)
  }
})

InProcess('an unranked answer is cut to what one response holds, however long the suppliers\' addresses', () => {
  const peerId = '12D3KooWGRUVh3h1n4u6GPgWn2Y4LZYNR9shuzzZcRSLSkEF1f3v'
  const long = (i: number): string => `/dns4/${'a'.repeat(200)}${i}.example/tcp/4001`
  const offers = (addresses: string[]): AvailableOffer[] => Array.from({ length: MAX_OFFERS }, (_, i) => ({
    ...offerOf(Number.MAX_SAFE_INTEGER - i, { cpuClass: 1, cpus: UINT32_MAX, memory: UINT32_MAX }, { cpuClass: 1, cpus: UINT32_MAX, memory: UINT32_MAX }, UINT32_MAX),
    supplier: { peerId, multiaddrs: addresses }
  }))
  const size = (answer: AvailableOffer[]): number => CODECS.getOffers.encodeResponse({ status: 'OK', result: answer }).byteLength

  const worst = fitAnswer(offers(Array.from({ length: 8 }, (_, i) => long(i))))
  const tightest = fitAnswer(offers(Array.from({ length: 8 }, () => '/ip6/::')))
  const usual = fitAnswer(offers(['/ip4/192.168.1.20/tcp/7800', '/ip4/127.0.0.1/tcp/7800']))
  console.info(`  unranked answers of ${MAX_OFFERS} offers: ${worst.length} kept with 8 long addresses each (${size(worst)} bytes), ${tightest.length} with 8 × /ip6/:: (${size(tightest)} bytes), ${usual.length} with two IPv4 addresses (${size(usual)} bytes), limit ${MAX_LARGE_MESSAGE_SIZE}`)
  assert.ok(worst.length > 0 && worst.length < MAX_OFFERS)
  assert.ok(size(worst) <= MAX_LARGE_MESSAGE_SIZE)
  assert.ok(size(tightest) <= MAX_LARGE_MESSAGE_SIZE)
  assert.is(usual.length, MAX_OFFERS)
})

InProcess.run()

// ---- real libp2p peers on 127.0.0.1 and 127.0.0.2 ----

const ATTACKER_HOST = '127.0.0.2'
const ATTACKER_NODES = 10
const RATE_PREFIX = 'caravela-attack-rate'

interface AttackerServices extends Record<string, unknown> {
  caravela: Libp2pCaravelaClient
  rate: Libp2pCaravelaClient
}

interface ServerServices extends Record<string, unknown> {
  identify: ReturnType<ReturnType<typeof identify>>
  rate: CaravelaProtocolServer
}

interface Context {
  trader: CaravelaNode
  honest: CaravelaNode
  server: Libp2p<ServerServices>
  attackers: Array<Libp2p<AttackerServices>>
  honestClient: Libp2p<AttackerServices>
}

const Libp2pAttack = suite<Context>('a trader under attack, real libp2p peers', {} as unknown as Context)

/** A bare libp2p peer that dials from `host`, with a Caravela client for the trader and one for the rate-limited server. */
async function clientNode (host: string): Promise<Libp2p<AttackerServices>> {
  return createLibp2p<AttackerServices>({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [] },
    // the source address of every connection it opens (net.connect's localAddress)
    transports: [tcp({ dialOpts: { localAddress: host } as Record<string, unknown> })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: {
      caravela: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: TEST_PROTOCOL_PREFIX }),
      rate: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: RATE_PREFIX })
    }
  })
}

Libp2pAttack.before(async (ctx) => {
  // the trader limits every address, 127.0.0.0/8 included; libp2p lets the loopback peers connect
  const limited = testConfig(c => { c.node.allow = [] })
  const loopback = { connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] } }
  ctx.attackers = []
  ctx.trader = await createTestNode('trader', { config: limited, libp2p: loopback })
  ctx.honest = await createTestNode('honest', {
    config: testConfig(c => { c.node.allow = []; c.node.bootstrap = [dialableAddress(ctx.trader)] }),
    libp2p: loopback
  })
  ctx.server = await createLibp2p<ServerServices>({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      rate: (components) => new CaravelaProtocolServer(components, {
        protocolPrefix: RATE_PREFIX,
        handlers: { obtainConfiguration: async () => ({ json: '{}', resourceMapDigest: new Uint8Array(32) }) },
        limits: { rateLimitBurst: 2, rateLimitPerSecond: 0.001, rateLimitAddressMultiple: 3 }
      })
    }
  })

  for (let i = 0; i < ATTACKER_NODES; i++) {
    ctx.attackers.push(await clientNode(ATTACKER_HOST))
  }

  ctx.honestClient = await clientNode('127.0.0.1')
})

Libp2pAttack.after(async (ctx) => {
  await Promise.all([...(ctx.attackers ?? []), ctx.honestClient, ctx.server].map(async n => n?.stop()))
  await stopAll([ctx.honest, ctx.trader])
})

/** The trader as a buyer would address it. */
function traderRef (ctx: Context): NodeRef {
  return { peerId: ctx.trader.peerId.toString(), multiaddrs: [dialableAddress(ctx.trader)] }
}

Libp2pAttack('peer ids connecting from 127.0.0.2 share one host\'s 8 offers; the honest supplier from 127.0.0.1 is kept', async (ctx) => {
  const slice = ctx.trader.services.caravela.status().slice.resources
  const tally = new Tally()

  for (let id = 0; id < 2; id++) {
    for (const attacker of ctx.attackers) {
      await tally.offer(attacker.services.caravela, traderRef(ctx), offerOf(id, slice))
    }
  }

  const honest = await ctx.honest.services.caravela.client.createOffer(traderRef(ctx), offerOf(1, slice))
  console.info(`\n  libp2p: ${ATTACKER_NODES} peer ids from ${ATTACKER_HOST} × 2 offers: ${tally.toString()}; the honest supplier from 127.0.0.1: ${honest.accepted ? 'accepted' : 'refused'}`)
  assert.equal([tally.attempts, tally.accepted, tally.refused], [2 * ATTACKER_NODES, MAX_OFFERS_PER_HOST, 2 * ATTACKER_NODES - MAX_OFFERS_PER_HOST])
  assert.equal([...tally.reasons], [`this trader keeps at most 8 offers from the peers of one host, and has them from ${ATTACKER_HOST}`])
  assert.equal(honest, { accepted: true })

  // an attacker id whose offer goes frees a place for another
  await ctx.attackers[0].services.caravela.removeOffer(traderRef(ctx), 0)
  assert.equal(await ctx.attackers[9].services.caravela.createOffer(traderRef(ctx), offerOf(5, slice)), { accepted: true })
})

Libp2pAttack('the trader hands buyers the supplier\'s announced addresses, not the source port of its connection', async (ctx) => {
  const honestId = ctx.honest.peerId.toString()
  const announced = ctx.honest.getMultiaddrs().map(a => a.toString().replace(`/p2p/${honestId}`, '')).sort()
  // the connections the supplier opened: their remote address is a port its system picked
  const sourceAddresses = ctx.trader.getConnections(ctx.honest.peerId).filter(c => c.direction === 'inbound').map(c => c.remoteAddr.toString())
  assert.ok(sourceAddresses.length > 0, 'the honest supplier is connected to the trader')

  const handed = await waitFor(async () => {
    const offers = await ctx.honestClient.services.caravela.getOffers(traderRef(ctx), false)
    const offer = offers.find(o => o.supplier.peerId === honestId)
    return offer != null && offer.supplier.multiaddrs.length > 0 ? offer.supplier.multiaddrs : undefined
  }, { timeout: 10_000, message: 'the trader to know the honest supplier\'s addresses' })

  console.info(`  the honest supplier announced ${announced.join(', ')}; its connection to the trader came from ${sourceAddresses.join(', ')}; buyers are handed ${handed.join(', ')}`)
  assert.equal([...handed].sort(), announced)
  assert.ok(sourceAddresses.every(source => !handed.includes(source)), 'no source port is handed out')
})

Libp2pAttack('the request rate is limited per host too: ten peer ids from 127.0.0.2 share three peers\' worth', async (ctx) => {
  const target = { peerId: ctx.server.peerId.toString(), multiaddrs: ctx.server.getMultiaddrs().map(a => a.toString()) }
  let attempts = 0
  let answered = 0
  let limited = 0
  const messages = new Set<string>()

  for (const attacker of ctx.attackers) {
    for (let i = 0; i < 2; i++) {
      attempts++

      try {
        await attacker.services.rate.obtainConfiguration(target)
        answered++
      } catch (err: any) {
        assert.instance(err, RemoteRequestError)
        assert.is(err.status, 'RATE_LIMITED')
        limited++
        messages.add(err.message)
      }
    }
  }

  const honest = await ctx.honestClient.services.rate.obtainConfiguration(target)
  console.info(`  libp2p: ${ATTACKER_NODES} peer ids from ${ATTACKER_HOST} × 2 requests, each peer's burst 2, its host's 3 × 2: ${attempts} attempts, ${answered} answered, ${limited} rate limited; a peer from 127.0.0.1 is answered`)
  assert.equal([attempts, answered, limited], [2 * ATTACKER_NODES, 6, 2 * ATTACKER_NODES - 6])
  assert.ok([...messages].every(m => m.includes(`too many obtainConfiguration requests from ${ATTACKER_HOST}`)), [...messages].join('; '))
  assert.is(honest.json, '{}')
})

Libp2pAttack.run()
