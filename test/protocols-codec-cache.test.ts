import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MalformedMessageError } from '../src/errors.js'
import { CODECS, MULTIADDR_CACHE_SIZE, multiaddrCacheSizes, PEER_ID_CACHE, PEER_ID_CACHE_SIZE } from '../src/protocols/codec.js'
import * as pb from '../src/protocols/pb/caravela.js'

const PEER_ID = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const codec = CODECS.advertiseOffersNeighbor

function roundTrip (address: string): string[] {
  return codec.decodeRequest(codec.encodeRequest({ traderOffering: { peerId: PEER_ID.toString(), multiaddrs: [address] } })).traderOffering.multiaddrs
}

function withAddress (bytes: Uint8Array<ArrayBuffer>): Uint8Array {
  return pb.AdvertiseOffersNeighborRequest.encode({ traderOffering: { peerId: PEER_ID.toMultihash().bytes, multiaddrs: [bytes] } })
}

function refused (bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    codec.decodeRequest(withAddress(bytes))
    return false
  } catch (err) {
    return err instanceof MalformedMessageError && err.message.includes('traderOffering.multiaddrs[0]')
  }
}

test('the multiaddr caches fill as addresses are converted, each way, and stay bounded', () => {
  const before = multiaddrCacheSizes()
  assert.equal(roundTrip('/ip4/10.1.2.3/tcp/4001'), ['/ip4/10.1.2.3/tcp/4001'])
  const after = multiaddrCacheSizes()
  assert.is(after.bytes, before.bytes + 1, 'the text was kept with its bytes')
  assert.is(after.texts, before.texts + 1, 'the bytes were kept with their text')

  // a hit answers as the conversion does
  assert.equal(roundTrip('/ip4/10.1.2.3/tcp/4001'), ['/ip4/10.1.2.3/tcp/4001'])
  assert.equal(multiaddrCacheSizes(), after)

  // a peer naming ever new addresses only evicts
  for (let port = 1; port <= MULTIADDR_CACHE_SIZE + 10; port++) {
    assert.equal(roundTrip(`/ip4/10.9.9.9/tcp/${port}`), [`/ip4/10.9.9.9/tcp/${port}`])
  }

  assert.equal(multiaddrCacheSizes(), { bytes: MULTIADDR_CACHE_SIZE, texts: MULTIADDR_CACHE_SIZE })
  assert.equal(roundTrip('/ip4/10.1.2.3/tcp/4001'), ['/ip4/10.1.2.3/tcp/4001'], 'an evicted address converts again')
})

test('a full cache still refuses bad multiaddrs, and keeps none of them', () => {
  for (let port = 1; port <= MULTIADDR_CACHE_SIZE; port++) {
    roundTrip(`/ip4/10.8.8.8/tcp/${port}`)
  }

  const sizes = multiaddrCacheSizes()
  // cut short; an unknown protocol code; a /p2p/ component whose bytes are no multihash (its text would not parse back)
  const notAPeer = Uint8Array.from([1, 36, 8, 1, 18, 32, ...new Uint8Array(32).fill(7)])
  const bad = [Uint8Array.from([4, 1, 2]), Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Uint8Array.from([0xa5, 0x03, notAPeer.byteLength, ...notAPeer])]

  for (const bytes of bad) {
    assert.ok(refused(bytes))
    assert.ok(refused(bytes), 'and again')
  }

  assert.throws(() => codec.encodeRequest({ traderOffering: { peerId: PEER_ID.toString(), multiaddrs: ['127.0.0.1:4001'] } }), (err: Error) => err instanceof MalformedMessageError)
  assert.equal(multiaddrCacheSizes(), sizes, 'nothing refused was kept')

  // the bytes of a cached address with one byte more are another key, checked in full
  const good = pb.AdvertiseOffersNeighborRequest.decode(codec.encodeRequest({ traderOffering: { peerId: PEER_ID.toString(), multiaddrs: ['/ip4/10.8.8.8/tcp/1'] } })).traderOffering?.multiaddrs[0]
  assert.ok(good)
  assert.ok(refused(Uint8Array.from([...good, 0x06])))
})

test('a real peer\'s codecs keep the peer ids they convert, bounded', async () => {
  const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  assert.is(PEER_ID_CACHE.bytesOf(id), undefined)
  roundTrip('/ip4/10.1.2.3/tcp/4001')
  assert.ok(PEER_ID_CACHE.bytesOf(PEER_ID.toString()), 'the id a message named is kept')

  for (let i = 0; i <= PEER_ID_CACHE_SIZE; i++) {
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    assert.is(codec.decodeRequest(codec.encodeRequest({ traderOffering: { peerId: other, multiaddrs: [] } })).traderOffering.peerId, other)
  }

  assert.equal(PEER_ID_CACHE.size, { bytes: PEER_ID_CACHE_SIZE, texts: PEER_ID_CACHE_SIZE })
  assert.is(PEER_ID_CACHE.bytesOf(PEER_ID.toString()), undefined, 'the oldest went')
})

test.run()
