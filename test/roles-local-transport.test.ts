import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { defaultConfig } from '../src/config/config.js'
import { ProtocolStatusError } from '../src/errors.js'
import { CODECS } from '../src/protocols/codec.js'
import { pointOf, ResourceMap } from '../src/resources/resource-map.js'
import { keyOfPeerId } from '../src/roles/peer-roles.js'
import { LocalNetwork } from './fixtures/local-network.js'
import { rejection } from './fixtures/roles-network.js'
import type { LookupStats, Offer } from '../src/types.js'
import type { LocalMessage, LocalPeer } from './fixtures/local-network.js'

const map = new ResourceMap(defaultConfig().network.resources)
const OFFER: Offer = { id: 5, amount: 1, freeResources: { cpuClass: 0, cpus: 2, memory: 2048 }, usedResources: { cpuClass: 0, cpus: 0, memory: 0 }, containersRunning: 0 }

async function peers (network: LocalNetwork, n: number): Promise<LocalPeer[]> {
  const created: LocalPeer[] = []

  for (let i = 0; i < n; i++) {
    created.push(await network.addPeer())
  }

  return created
}

function xorDistance (a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ b[i]))
}

test('peers have real, reproducible identities; their key is sha256 of the peer id multihash', async () => {
  const [a] = await peers(new LocalNetwork({ resourceMap: map }), 1)
  const [again] = await peers(new LocalNetwork({ resourceMap: map }), 1)
  assert.is(a.peerId, again.peerId)
  assert.match(a.peerId, /^12D3KooW/)
  assert.equal(a.key, keyOfPeerId(a.peerId))
  assert.equal(a.key, pointOf(keyBytes(a.peerId)))
})

/** The multihash of a base58btc peer id, decoded independently of the roles' helper. */
function keyBytes (peerId: string): Uint8Array {
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
  let value = 0n

  for (const char of peerId) {
    value = value * 58n + BigInt(alphabet.indexOf(char))
  }

  const hex = value.toString(16)
  // each leading '1' is a leading zero byte
  const zeros = peerId.length - peerId.replace(/^1+/, '').length
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex')])
}

test('a call reaches the target\'s handler as a call from the sender, and is counted in protobuf bytes', async () => {
  const messages: LocalMessage[] = []
  const network = new LocalNetwork({ resourceMap: map, onMessage: m => { messages.push(m) } })
  const [a, b] = await peers(network, 2)
  let from: string | undefined
  network.serve(b.peerId, {
    createOffer: async (ctx, offer) => {
      from = ctx.from.peerId
      return { accepted: offer.id === 5 }
    }
  })

  assert.equal(await network.client(a.peerId).createOffer(b.node, OFFER), { accepted: true })
  assert.is(from, a.peerId)
  assert.equal(messages, [{ name: 'createOffer', from: a.peerId, to: b.peerId }])

  const requestBytes = CODECS.createOffer.encodeRequest({ offer: OFFER }).byteLength
  const responseBytes = CODECS.createOffer.encodeResponse({ status: 'OK', result: { accepted: true } }).byteLength
  assert.equal(network.metrics(a.peerId).createOffer, { messagesSent: 1, bytesSent: requestBytes, messagesReceived: 1, bytesReceived: responseBytes })
  assert.equal(network.metrics(b.peerId).createOffer, { messagesSent: 1, bytesSent: responseBytes, messagesReceived: 1, bytesReceived: requestBytes })
  assert.is(network.totals().createOffer.messagesSent, 2)
})

test('statuses and failures map as on the wire; dead or absent peers are unreachable', async () => {
  const network = new LocalNetwork({ resourceMap: map })
  const [a, b, c] = await peers(network, 3)
  network.serve(b.peerId, {
    removeOffer: async () => { throw new ProtocolStatusError('REFUSED', 'not yours') },
    refreshOffer: async () => { throw new Error('bug') }
  })
  const client = network.client(a.peerId)

  const refused = await rejection(client.removeOffer(b.node, 1))
  assert.equal([refused.name, refused.status, refused.message], ['RemoteRequestError', 'REFUSED', 'not yours'])

  const broken = await rejection(client.refreshOffer(b.node, 1))
  assert.equal([broken.status, broken.message], ['INTERNAL_ERROR', 'internal error'])
  assert.is(network.handlerErrors.length, 1)

  assert.is((await rejection(client.getOffers(b.node, true))).status, 'NOT_IMPLEMENTED')
  assert.is((await rejection(client.getOffers(c.node, true))).status, 'NOT_IMPLEMENTED')

  network.kill(c.peerId)
  assert.is((await rejection(client.getOffers(c.node, true))).name, 'UnreachableError')
  assert.is((await rejection(network.client(c.peerId).getOffers(b.node, true))).name, 'UnreachableError')
  assert.is((await rejection(client.getOffers({ peerId: 'nobody', multiaddrs: [] }, true))).name, 'UnreachableError')

  // what the wire cannot carry is refused before sending, as by the libp2p client
  assert.is((await rejection(client.createOffer(b.node, { ...OFFER, id: -1 }))).name, 'MalformedMessageError')

  network.revive(c.peerId)
  assert.is((await rejection(client.getOffers(c.node, true))).status, 'NOT_IMPLEMENTED')
})

test('lookup: the count XOR-closest live peers of the key\'s slice, closest first; outside peers only when the slice is empty', async () => {
  const network = new LocalNetwork({ resourceMap: map, lookupCount: 3 })
  const all = await peers(network, 40)
  const overlay = network.overlay(all[0].peerId)

  for (const slice of map.slices) {
    const key = map.randomKeyIn(slice)
    const point = pointOf(key)
    const members = all.filter(p => map.sliceOf(p.key).index === slice.index)
    const expected = (members.length > 0 ? members : all)
      .sort((x, y) => Buffer.compare(xorDistance(point, x.key), xorDistance(point, y.key)))
      .slice(0, 3)
      .map(p => p.peerId)

    assert.equal((await overlay.lookup(key)).map(n => n.peerId), expected)
  }

  // killed peers are not returned; count is honoured
  const key = map.randomKeyIn(map.slices[0])
  const [first] = await overlay.lookup(key, { count: 1 })
  network.kill(first.peerId)
  assert.not.ok((await overlay.lookup(key)).some(n => n.peerId === first.peerId))

  // a dead peer cannot look up
  assert.is((await rejection(network.overlay(first.peerId).lookup(key))).name, 'UnreachableError')
})

test('lookup cost: local in a network of one bucket, then log2(N / 20) hops of 3 requests', async () => {
  const network = new LocalNetwork({ resourceMap: map })
  const all = await peers(network, 20)
  const stats: LookupStats[] = []
  await network.overlay(all[0].peerId).lookup(new Uint8Array(32), { onStats: s => { stats.push(s) } })
  await peers(network, 60)
  await network.overlay(all[0].peerId).lookup(new Uint8Array(32), { onStats: s => { stats.push(s) } })

  assert.equal(stats.map(s => [s.source, s.hops, s.rpcs]), [['local', 0, 0], ['network', 2, 6]])
  assert.equal(network.lookups, { lookups: 2, rpcs: 6, hops: 2 })
})

test('neighbors: the nearest lower and higher live peers of the same slice, lower first; leave hides a peer', async () => {
  const network = new LocalNetwork({ resourceMap: map })
  const all = await peers(network, 40)
  const self = all[0]
  const slice = map.sliceOf(self.key).index
  const members = all.filter(p => p !== self && map.sliceOf(p.key).index === slice).sort((x, y) => Buffer.compare(x.key, y.key))
  const lower = members.filter(p => Buffer.compare(p.key, self.key) < 0).at(-1)
  const higher = members.find(p => Buffer.compare(p.key, self.key) > 0)
  const expected = [lower, higher].filter(p => p != null).map(p => p.peerId)
  const overlay = network.overlay(self.peerId)

  assert.equal((await overlay.neighbors(self.key)).map(n => n.peerId), expected)
  assert.equal(overlay.nodeId(), self.key)

  if (lower != null) {
    await network.overlay(lower.peerId).leave()
    assert.not.ok((await overlay.neighbors(self.key)).some(n => n.peerId === lower.peerId))
  }
})

test('watchSlices hears once of a peer of a watched slice joining the view, never of its own or another slice\'s; networkSize counts the view', async () => {
  const network = new LocalNetwork({ resourceMap: map })
  const all = await peers(network, 30)
  const [watcher] = all
  all.slice(1).forEach(p => { network.setInOverlay(p.peerId, false) })
  assert.is(network.overlay(watcher.peerId).networkSize(), 1)

  const sliceOf = (p: LocalPeer): number => map.sliceOf(p.key).index
  const target = all.slice(1).find(p => sliceOf(p) !== sliceOf(watcher))!
  const heard: string[] = []
  const cancelled: string[] = []
  network.overlay(watcher.peerId).watchSlices([sliceOf(target)], () => { heard.push('target') })
  network.overlay(watcher.peerId).watchSlices([sliceOf(target)], () => { cancelled.push('x') })()

  // peers of other slices join first: nothing
  for (const p of all.slice(1).filter(p => sliceOf(p) !== sliceOf(target))) {
    network.setInOverlay(p.peerId, true)
  }

  assert.equal(heard, [])
  network.setInOverlay(target.peerId, true)
  assert.equal(heard, ['target'])
  // once only
  network.setInOverlay(target.peerId, false)
  network.setInOverlay(target.peerId, true)
  assert.equal(heard, ['target'])
  assert.equal(cancelled, [])

  all.forEach(p => { network.setInOverlay(p.peerId, true) })
  const estimate = network.overlay(watcher.peerId).networkSize()
  assert.ok(estimate > 10 && estimate < 90, `30 peers estimated as ${estimate}`)
  network.kill(all[29].peerId)
  assert.is((await network.overlay(all[28].peerId).allPeers(28))?.length, 28)
  assert.is(await network.overlay(all[28].peerId).allPeers(27), undefined)
})

test.run()
