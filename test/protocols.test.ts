/**
 * The wire codecs (src/protocols/codec.ts): domain⇄protobuf round trips for all eleven messages,
 * validation of every field kind, and fast-check properties that decoders of arbitrary bytes
 * throw nothing but `MalformedMessageError`. Also ids, size limits and the rate limiter.
 */

import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MalformedMessageError } from '../src/errors.js'
import { CODECS, createCodecs } from '../src/protocols/codec.js'
import {
  MAX_ARGS, MAX_CONTAINERS, MAX_LARGE_MESSAGE_SIZE, MAX_MESSAGE_SIZE, MAX_MULTIADDRS, MAX_OFFERS,
  MAX_PORT_MAPPINGS, MAX_STATUS_IDS, UINT32_MAX
} from '../src/protocols/constants.js'
import { MESSAGE_NAMES, protocolIds } from '../src/protocols/ids.js'
import { DEFAULT_LIMITS, requestSizeLimit, responseSizeLimit } from '../src/protocols/limits.js'
import * as pb from '../src/protocols/pb/caravela.js'
import { PeerIdCache } from '../src/protocols/peer-id-cache.js'
import { TokenBuckets } from '../src/protocols/rate-limiter.js'
import type { Requests, Response, Results } from '../src/protocols/codec.js'
import type { MessageName } from '../src/protocols/ids.js'
import type { AvailableOffer, ContainerConfig, ContainerStatus, NodeRef, Offer } from '../src/types.js'

/** an RSA peer id (sha2-256 multihash) */
const RSA_PEER_ID = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'
const ED25519_PEER_ID = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const SECP256K1_PEER_ID = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString()

const SUPPLIER: NodeRef = {
  peerId: ED25519_PEER_ID,
  multiaddrs: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/udp/4001/quic-v1', `/dns4/example.org/tcp/443/tls/ws/p2p/${ED25519_PEER_ID}`]
}

const OFFER: Offer = {
  id: 42,
  amount: 1,
  freeResources: { cpuClass: 1, cpus: 4, memory: 8192 },
  usedResources: { cpuClass: 0, cpus: 0, memory: 0 },
  containersRunning: 3
}

const CONTAINER: ContainerConfig = {
  name: 'web-1',
  image: 'caravela/busybox:test',
  args: ['sh', '-c', 'echo "hello\nworld" && sleep 1', ''],
  portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }, { hostPort: 5353, containerPort: 53, protocol: 'udp' }],
  resources: { cpuClass: 0, cpus: 1, memory: 256 },
  groupPolicy: 'co-location'
}

const STATUS: ContainerStatus = {
  ...CONTAINER,
  groupPolicy: 'spread',
  supplier: { peerId: SECP256K1_PEER_ID, multiaddrs: [] },
  containerId: 'a3f2c1d4e5b6a3f2c1d4e5b6a3f2c1d4e5b6a3f2c1d4e5b6a3f2c1d4e5b6a3f2',
  state: 'running'
}

const AVAILABLE: AvailableOffer = { ...OFFER, supplier: SUPPLIER }

/** One valid request and one valid result of every message. */
const SAMPLES: { [N in MessageName]: { request: Requests[N], result: Results[N] } } = {
  createOffer: { request: { offer: OFFER, emptySlices: [0, 3, 17, 65_535] }, result: { accepted: false, reason: 'the offer does not cover my slice' } },
  refreshOffer: { request: { offerId: Number.MAX_SAFE_INTEGER }, result: true },
  updateOffer: { request: { offer: { ...OFFER, id: 0 } }, result: true },
  removeOffer: { request: { offerId: 7 }, result: undefined },
  getOffers: { request: { relay: true, needed: { cpuClass: 1, cpus: 2, memory: 512 }, own: true }, result: [AVAILABLE, { ...AVAILABLE, id: 43, supplier: { peerId: RSA_PEER_ID, multiaddrs: [] } }] },
  advertiseOffersNeighbor: { request: { traderOffering: SUPPLIER }, result: undefined },
  launchContainer: { request: { offerId: 42, requestId: 'req-7f3a9c', containers: [CONTAINER, { ...CONTAINER, name: '', args: [], portMappings: [] }], deadlineMs: 299_500 }, result: [STATUS] },
  containerStatus: {
    request: { containerIds: [STATUS.containerId, 'f00dfeed', 'another'] },
    result: [{ containerId: STATUS.containerId, state: 'running' }, { containerId: 'f00dfeed', state: 'exited', exitCode: 137 }, { containerId: 'another', state: 'unknown' }]
  },
  stopLocalContainer: { request: { containerId: STATUS.containerId }, result: undefined },
  containerExited: { request: { containerId: STATUS.containerId, exitCode: -1, reason: 'the container exited' }, result: undefined },
  obtainConfiguration: { request: {}, result: { json: '{"cpuSlices":1,"resources":{"cpuClasses":[]}}', resourceMapDigest: new Uint8Array(32).fill(7) } }
}

/** `fn` throws a `MalformedMessageError` naming `field`. */
function refusesField (field: string, fn: () => unknown): void {
  let error: unknown

  try {
    fn()
  } catch (err) {
    error = err
  }

  assert.instance(error, MalformedMessageError, `expected a MalformedMessageError, got ${String(error)}`)
  assert.is((error as MalformedMessageError).field, field, String(error))
}

function peerIdBytes (peerId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(peerIdFromString(peerId).toMultihash().bytes)
}

/** Codecs without a peer-id cache (a real peer's, `CODECS`, hold one). */
const UNCACHED = createCodecs()

function decodeRequest<N extends MessageName> (name: N, bytes: Uint8Array): Requests[N] {
  return CODECS[name].decodeRequest(bytes)
}

const validPb = {
  offer: (): pb.Offer => ({
    id: 1n,
    amount: 1,
    freeResources: { cpuClass: 0, cpus: 1, memory: 1 },
    usedResources: { cpuClass: 0, cpus: 0, memory: 0 },
    containersRunning: 0
  }),
  container: (): pb.ContainerConfig => ({
    name: 'c',
    image: 'busybox',
    args: [],
    portMappings: [],
    resources: { cpuClass: 0, cpus: 1, memory: 1 },
    groupPolicy: pb.ContainerConfig.GroupPolicy.SPREAD
  })
}

function launchPb (edit: (request: pb.LaunchContainerRequest) => void): Uint8Array {
  const request: pb.LaunchContainerRequest = { offerId: 1n, requestId: 'r', containers: [validPb.container()], deadlineMs: 0 }
  edit(request)
  return pb.LaunchContainerRequest.encode(request)
}

// ---- ids and limits ----

const Ids = suite('protocols: ids and limits')

Ids('one protocol id per message under the prefix, version 1.0.0', () => {
  const ids = protocolIds('caravela')
  assert.is(MESSAGE_NAMES.length, 11)
  assert.is(new Set(Object.values(ids)).size, 11)
  assert.is(ids.createOffer, '/caravela/offer/create/1.0.0')
  assert.is(ids.refreshOffer, '/caravela/offer/refresh/1.0.0')
  assert.is(ids.updateOffer, '/caravela/offer/update/1.0.0')
  assert.is(ids.removeOffer, '/caravela/offer/remove/1.0.0')
  assert.is(ids.getOffers, '/caravela/offer/get/1.0.0')
  assert.is(ids.advertiseOffersNeighbor, '/caravela/offer/advertise/1.0.0')
  assert.is(ids.launchContainer, '/caravela/container/launch/1.0.0')
  assert.is(ids.stopLocalContainer, '/caravela/container/stop/1.0.0')
  assert.is(ids.containerExited, '/caravela/container/exited/1.0.0')
  assert.is(ids.containerStatus, '/caravela/container/status/1.0.0')
  assert.is(ids.obtainConfiguration, '/caravela/configuration/1.0.0')
  assert.is(protocolIds('test-net').getOffers, '/test-net/offer/get/1.0.0')
})

Ids('launch messages and the offers list may be large, others are small', () => {
  assert.is(requestSizeLimit('launchContainer', DEFAULT_LIMITS), MAX_LARGE_MESSAGE_SIZE)
  assert.is(responseSizeLimit('launchContainer', DEFAULT_LIMITS), MAX_LARGE_MESSAGE_SIZE)
  assert.is(responseSizeLimit('getOffers', DEFAULT_LIMITS), MAX_LARGE_MESSAGE_SIZE)
  assert.is(requestSizeLimit('getOffers', DEFAULT_LIMITS), MAX_MESSAGE_SIZE)
  assert.is(requestSizeLimit('createOffer', DEFAULT_LIMITS), MAX_MESSAGE_SIZE)
})

Ids('a full list of offers fits in the getOffers response limit', () => {
  const offers = Array.from({ length: MAX_OFFERS }, (_, i) => ({ ...AVAILABLE, id: i + 1_000_000 }))
  const bytes = CODECS.getOffers.encodeResponse({ status: 'OK', result: offers })
  assert.ok(bytes.byteLength <= MAX_LARGE_MESSAGE_SIZE, `${bytes.byteLength} bytes`)
})

Ids.run()

// ---- round trips ----

const RoundTrip = suite('protocols: round trips')

for (const name of MESSAGE_NAMES) {
  RoundTrip(`${name}: request and result survive encoding`, () => {
    const codec = CODECS[name] as unknown as (typeof CODECS)['createOffer']
    const sample = SAMPLES[name] as unknown as (typeof SAMPLES)['createOffer']
    assert.equal(codec.decodeRequest(codec.encodeRequest(sample.request)), sample.request)
    assert.equal(codec.decodeResponse(codec.encodeResponse({ status: 'OK', result: sample.result })), { status: 'OK', result: sample.result })
  })

  RoundTrip(`${name}: every non-OK status survives encoding`, () => {
    const codec = CODECS[name]

    for (const status of ['INVALID_REQUEST', 'NOT_FOUND', 'REFUSED', 'UNAVAILABLE', 'RATE_LIMITED', 'NOT_IMPLEMENTED', 'INTERNAL_ERROR'] as const) {
      const response: Response<never> = { status, message: `because ${status}` }
      assert.equal(codec.decodeResponse(codec.encodeResponse(response)), response)
    }
  })
}

RoundTrip('peer ids travel as their multihash bytes', () => {
  const bytes = CODECS.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: RSA_PEER_ID, multiaddrs: [] } })
  const message = pb.AdvertiseOffersNeighborRequest.decode(bytes)
  assert.is(message.traderOffering?.peerId.byteLength, 34)
  assert.is(message.traderOffering?.multiaddrs.length, 0)
})

RoundTrip('a NodeRef keeps at most MAX_MULTIADDRS multiaddrs', () => {
  const multiaddrs = Array.from({ length: MAX_MULTIADDRS + 5 }, (_, i) => `/ip4/10.0.0.${i}/tcp/4001`)
  const request = CODECS.advertiseOffersNeighbor.decodeRequest(CODECS.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: ED25519_PEER_ID, multiaddrs } }))
  assert.equal(request.traderOffering.multiaddrs, multiaddrs.slice(0, MAX_MULTIADDRS))
})

RoundTrip('status messages and reasons are cut, not refused', () => {
  const response = CODECS.createOffer.decodeResponse(CODECS.createOffer.encodeResponse({ status: 'REFUSED', message: 'x'.repeat(5000) }))
  assert.is(response.status === 'REFUSED' && response.message.length, 1024)
  const result = CODECS.createOffer.decodeResponse(CODECS.createOffer.encodeResponse({ status: 'OK', result: { accepted: false, reason: 'y'.repeat(5000) } }))
  assert.is(result.status === 'OK' && result.result.reason?.length, 1024)
})

RoundTrip('getOffers: `needed` is optional, and a request without it (an older peer\'s) decodes without it', () => {
  assert.equal(CODECS.getOffers.decodeRequest(CODECS.getOffers.encodeRequest({ relay: false })), { relay: false })
  assert.equal(CODECS.getOffers.decodeRequest(CODECS.getOffers.encodeRequest({ relay: true, needed: undefined })), { relay: true })
  assert.equal(CODECS.getOffers.decodeRequest(pb.GetOffersRequest.encode({ relay: true })), { relay: true })
  const needed = { cpuClass: 0, cpus: 0, memory: 0 }
  assert.equal(CODECS.getOffers.decodeRequest(CODECS.getOffers.encodeRequest({ relay: false, needed })), { relay: false, needed })
  assert.equal(pb.GetOffersRequest.decode(CODECS.getOffers.encodeRequest({ relay: true, needed: { cpuClass: 1, cpus: 4, memory: 2048 } })).needed, { cpuClass: 1, cpus: 4, memory: 2048 })
})

RoundTrip('createOffer: the slices without a trader travel as a bitset, absent when there are none', () => {
  const empty = [1, 2, 9]
  const bytes = CODECS.createOffer.encodeRequest({ offer: OFFER, emptySlices: empty })
  assert.equal([...pb.CreateOfferRequest.decode(bytes).emptySlices], [0b110, 0b10])
  assert.equal(CODECS.createOffer.decodeRequest(bytes).emptySlices, empty)
  assert.equal(CODECS.createOffer.decodeRequest(CODECS.createOffer.encodeRequest({ offer: OFFER, emptySlices: [] })), { offer: OFFER })
  assert.equal(CODECS.createOffer.decodeRequest(pb.CreateOfferRequest.encode({ offer: pb.CreateOfferRequest.decode(bytes).offer })), { offer: OFFER })
  assert.equal(CODECS.createOffer.decodeRequest(CODECS.createOffer.encodeRequest({ offer: OFFER, emptySlices: [4, 4, 0] })).emptySlices, [0, 4], 'a set, in order')
  refusesField('emptySlices[0]', () => CODECS.createOffer.encodeRequest({ offer: OFFER, emptySlices: [65_536] }))
  refusesField('emptySlices[1]', () => CODECS.createOffer.encodeRequest({ offer: OFFER, emptySlices: [0, -1] }))
  refusesField('emptySlices', () => CODECS.createOffer.decodeRequest(pb.CreateOfferRequest.encode({ offer: pb.CreateOfferRequest.decode(bytes).offer, emptySlices: new Uint8Array(8193) })))
})

RoundTrip('getOffers: `own` is absent unless true', () => {
  assert.equal(CODECS.getOffers.decodeRequest(CODECS.getOffers.encodeRequest({ relay: false, own: false })), { relay: false })
  assert.equal(CODECS.getOffers.decodeRequest(CODECS.getOffers.encodeRequest({ relay: false, own: true })), { relay: false, own: true })
})

RoundTrip('unknown fields are ignored', () => {
  const bytes = CODECS.stopLocalContainer.encodeRequest({ containerId: 'abc' })
  const withExtra = Uint8Array.from([...bytes, 0xa2, 0x06, 0x02, 0x68, 0x69]) // field 100, length-delimited, "hi"
  assert.equal(CODECS.stopLocalContainer.decodeRequest(withExtra), { containerId: 'abc' })
})

RoundTrip('stopLocalContainer names a container or a launch to cancel', () => {
  const codec = CODECS.stopLocalContainer
  assert.equal(codec.decodeRequest(codec.encodeRequest({ requestId: 'req-7f3a9c-0' })), { requestId: 'req-7f3a9c-0' })
  assert.equal(codec.decodeRequest(codec.encodeRequest({ containerId: STATUS.containerId })), { containerId: STATUS.containerId })
})

RoundTrip.run()

// ---- validation ----

const Validation = suite('protocols: validation')

Validation('decoding refuses an offer id above Number.MAX_SAFE_INTEGER', () => {
  refusesField('offerId', () => decodeRequest('refreshOffer', pb.RefreshOfferRequest.encode({ offerId: 2n ** 53n })))
  refusesField('offer.id', () => decodeRequest('createOffer', pb.CreateOfferRequest.encode({ offer: { ...validPb.offer(), id: 2n ** 64n - 1n } })))
  assert.is(decodeRequest('removeOffer', pb.RemoveOfferRequest.encode({ offerId: 2n ** 53n - 1n })).offerId, Number.MAX_SAFE_INTEGER)
})

Validation('decoding refuses missing messages', () => {
  refusesField('offer', () => decodeRequest('createOffer', new Uint8Array(0)))
  refusesField('offer', () => decodeRequest('updateOffer', new Uint8Array(0)))
  refusesField('traderOffering', () => decodeRequest('advertiseOffersNeighbor', new Uint8Array(0)))
  refusesField('offer.freeResources', () => decodeRequest('createOffer', pb.CreateOfferRequest.encode({ offer: { ...validPb.offer(), freeResources: undefined } })))
  refusesField('containers[0].resources', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].resources = undefined })))
  refusesField('status', () => CODECS.removeOffer.decodeResponse(new Uint8Array(0)))
})

Validation('decoding refuses an unknown CPU class', () => {
  refusesField('offer.usedResources.cpuClass', () => decodeRequest('createOffer', pb.CreateOfferRequest.encode({
    offer: { ...validPb.offer(), usedResources: { cpuClass: 2, cpus: 0, memory: 0 } }
  })))
})

Validation('getOffers: `needed` is validated like any resources, both ways', () => {
  const request = (needed: pb.Resources): Uint8Array => pb.GetOffersRequest.encode({ relay: true, needed })
  refusesField('needed.cpuClass', () => decodeRequest('getOffers', request({ cpuClass: 2, cpus: 1, memory: 1 })))
  refusesField('needed.cpuClass', () => CODECS.getOffers.encodeRequest({ relay: true, needed: { cpuClass: 3, cpus: 1, memory: 1 } }))
  refusesField('needed.cpus', () => CODECS.getOffers.encodeRequest({ relay: true, needed: { cpuClass: 0, cpus: -1, memory: 1 } }))
  refusesField('needed.memory', () => CODECS.getOffers.encodeRequest({ relay: false, needed: { cpuClass: 0, cpus: 1, memory: 0.5 } }))
  refusesField('relay', () => CODECS.getOffers.encodeRequest({ relay: 'yes' as unknown as boolean, needed: { cpuClass: 0, cpus: 1, memory: 1 } }))
})

Validation('decoding refuses bad peer ids', () => {
  const node = (peerId: Uint8Array<ArrayBuffer>): Uint8Array => pb.AdvertiseOffersNeighborRequest.encode({ traderOffering: { peerId, multiaddrs: [] } })
  const good = peerIdBytes(ED25519_PEER_ID)

  // decoded twice (the second time from the codec's cache), the same; the bad variants below are
  // refused all the same
  for (let i = 0; i < 2; i++) {
    assert.is(decodeRequest('advertiseOffersNeighbor', node(good)).traderOffering.peerId, ED25519_PEER_ID)
    assert.equal(CODECS.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: ED25519_PEER_ID, multiaddrs: [] } }), node(good))
  }

  refusesField('traderOffering.peerId', () => CODECS.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: `${ED25519_PEER_ID}x`, multiaddrs: [] } }))
  refusesField('traderOffering.peerId', () => decodeRequest('advertiseOffersNeighbor', node(new Uint8Array(0))))
  refusesField('traderOffering.peerId', () => decodeRequest('advertiseOffersNeighbor', node(Uint8Array.from([1, 2, 3, 4]))))
  refusesField('traderOffering.peerId', () => decodeRequest('advertiseOffersNeighbor', node(new Uint8Array(200).fill(1))))
  refusesField('traderOffering.peerId', () => decodeRequest('advertiseOffersNeighbor', node(Uint8Array.from([...good, 0]))))
  refusesField('traderOffering.peerId', () => decodeRequest('advertiseOffersNeighbor', node(good.subarray(0, good.byteLength - 1))))
  // an identity multihash holding a URL is a URL peer id, not a key's
  const url = new TextEncoder().encode('http://example.org')
  refusesField('traderOffering.peerId', () => decodeRequest('advertiseOffersNeighbor', node(Uint8Array.from([0, url.byteLength, ...url]))))
})

Validation('peer ids convert right without a cache, through one past its capacity, and from their CID text', () => {
  const capacity = 100
  const cache = new PeerIdCache(capacity)
  const cached = createCodecs({ peerIdCache: cache }).advertiseOffersNeighbor
  const roundTrip = (peerId: string, codec = UNCACHED.advertiseOffersNeighbor): string =>
    codec.decodeRequest(codec.encodeRequest({ traderOffering: { peerId, multiaddrs: [] } })).traderOffering.peerId
  // more ids than the cache holds, twice: the second pass finds the first ids evicted
  const ids = Array.from({ length: capacity + 50 }, (_, i) => {
    const key = new Uint8Array(32)
    new DataView(key.buffer).setUint32(0, i + 1)
    return peerIdFromPublicKey(publicKeyFromRaw(key)).toString()
  })

  for (let pass = 0; pass < 2; pass++) {
    ids.forEach(id => {
      assert.is(roundTrip(id), id)
      assert.is(roundTrip(id, cached), id)
    })
  }

  assert.equal(cache.size, { bytes: capacity, texts: capacity })
  assert.is(cache.bytesOf(ids[0]), undefined, 'the oldest went')
  const last = cache.bytesOf(ids[ids.length - 1])
  assert.ok(last != null)
  assert.equal(last, peerIdFromString(ids[ids.length - 1]).toMultihash().bytes)
  assert.is(cache.textOf(cache.keyOf(last)), ids[ids.length - 1])
  // a cached id encodes to the same bytes as an uncached one
  assert.equal(cached.encodeRequest({ traderOffering: { peerId: ids[ids.length - 1], multiaddrs: [] } }),
    UNCACHED.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: ids[ids.length - 1], multiaddrs: [] } }))

  // a peer id given as a CID is the same id: it decodes to the canonical base58btc text, every time
  const cid = peerIdFromString(ED25519_PEER_ID).toCID().toString()
  assert.is.not(cid, ED25519_PEER_ID)

  for (let i = 0; i < 2; i++) {
    for (const codec of [UNCACHED.advertiseOffersNeighbor, cached]) {
      assert.is(roundTrip(cid, codec), ED25519_PEER_ID)
      assert.is(roundTrip(ED25519_PEER_ID, codec), ED25519_PEER_ID)
    }
  }

  // a cache that holds nothing is a mistake
  assert.throws(() => new PeerIdCache(0), (err: Error) => err instanceof RangeError)
})

Validation('a cached codec refuses what an uncached one refuses', () => {
  const cached = createCodecs({ peerIdCache: new PeerIdCache(10) })
  // once good, then bad: the cache is keyed by the exact text and bytes, so a near miss is checked in full
  cached.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: ED25519_PEER_ID, multiaddrs: [] } })

  for (const codecs of [UNCACHED, CODECS, cached]) {
    assert.throws(() => codecs.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: `${ED25519_PEER_ID}x`, multiaddrs: [] } }),
      (err: Error) => err instanceof MalformedMessageError)
    assert.throws(() => codecs.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: RSA_PEER_ID.slice(0, -1), multiaddrs: [] } }),
      (err: Error) => err instanceof MalformedMessageError)
    const good = peerIdFromString(ED25519_PEER_ID).toMultihash().bytes
    const bad = pb.AdvertiseOffersNeighborRequest.encode({ traderOffering: { peerId: good.subarray(0, good.byteLength - 1), multiaddrs: [] } })
    assert.throws(() => codecs.advertiseOffersNeighbor.decodeRequest(bad), (err: Error) => err instanceof MalformedMessageError)
  }
})

Validation('decoding refuses bad multiaddrs', () => {
  const withPeer = (multiaddrs: Array<Uint8Array<ArrayBuffer>>): Uint8Array => pb.AdvertiseOffersNeighborRequest.encode({
    traderOffering: { peerId: peerIdBytes(ED25519_PEER_ID), multiaddrs }
  })

  refusesField('traderOffering.multiaddrs[0]', () => decodeRequest('advertiseOffersNeighbor', withPeer([Uint8Array.from([4, 1, 2])])))
  refusesField('traderOffering.multiaddrs[1]', () => decodeRequest('advertiseOffersNeighbor', withPeer([Uint8Array.from([4, 127, 0, 0, 1]), Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])])))
  refusesField('traderOffering.multiaddrs[0]', () => decodeRequest('advertiseOffersNeighbor', withPeer([new Uint8Array(0)])))
  // a /p2p/ component whose bytes are no multihash: its text form would not parse back (found by fast-check)
  const notAPeer = Uint8Array.from([1, 36, 8, 1, 18, 32, ...new Uint8Array(32).fill(7)])
  refusesField('traderOffering.multiaddrs[0]', () => decodeRequest('advertiseOffersNeighbor', withPeer([Uint8Array.from([0xa5, 0x03, notAPeer.byteLength, ...notAPeer])])))
  refusesField('message', () => decodeRequest('advertiseOffersNeighbor', withPeer(Array.from({ length: MAX_MULTIADDRS + 1 }, () => Uint8Array.from([4, 127, 0, 0, 1]))))) // the protons limit
})

Validation('containerStatus: too many, repeated or bad ids are refused, and so are answers out of the schema', () => {
  const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `c${i}`)
  refusesField('containerIds', () => decodeRequest('containerStatus', pb.ContainerStatusRequest.encode({ containerIds: [] })))
  refusesField('message', () => decodeRequest('containerStatus', pb.ContainerStatusRequest.encode({ containerIds: ids(MAX_STATUS_IDS + 1) }))) // the protons limit
  refusesField('containerIds', () => CODECS.containerStatus.encodeRequest({ containerIds: ids(MAX_STATUS_IDS + 1) }))
  refusesField('containerIds', () => decodeRequest('containerStatus', pb.ContainerStatusRequest.encode({ containerIds: ['abc', 'abc'] })))
  refusesField('containerIds[1]', () => decodeRequest('containerStatus', pb.ContainerStatusRequest.encode({ containerIds: ['abc', 'has space'] })))
  refusesField('containerIds[0]', () => decodeRequest('containerStatus', pb.ContainerStatusRequest.encode({ containerIds: ['x'.repeat(129)] })))
  assert.equal(decodeRequest('containerStatus', pb.ContainerStatusRequest.encode({ containerIds: ids(MAX_STATUS_IDS) })).containerIds, ids(MAX_STATUS_IDS))

  const answer = (containers: pb.ContainerState[]): Uint8Array => pb.ContainerStatusResponse.encode({ status: { code: pb.Status.Code.OK, message: '' }, containers })
  refusesField('containers[0].exitCode', () => CODECS.containerStatus.decodeResponse(answer([{ containerId: 'abc', state: pb.ContainerState.State.RUNNING, exitCode: 1 }])))
  refusesField('containers[0].containerId', () => CODECS.containerStatus.decodeResponse(answer([{ containerId: '', state: pb.ContainerState.State.EXITED }])))
  refusesField('containers[0].exitCode', () => CODECS.containerStatus.encodeResponse({ status: 'OK', result: [{ containerId: 'abc', state: 'unknown', exitCode: 3 }] }))
  // a state this version does not know decodes as... refused, not guessed
  const future = Uint8Array.from([...pb.ContainerStatusResponse.encode({ status: { code: pb.Status.Code.OK, message: '' } }), 0x12, 0x07, 0x0a, 0x03, 0x61, 0x62, 0x63, 0x10, 0x09])
  assert.throws(() => CODECS.containerStatus.decodeResponse(future), (err: Error) => err.name === 'MalformedMessageError')
  // deadline: 0 on the wire is none, anything else the milliseconds left
  assert.is(decodeRequest('launchContainer', launchPb(r => { r.deadlineMs = 0 })).deadlineMs, undefined)
  assert.is(decodeRequest('launchContainer', launchPb(r => { r.deadlineMs = 1234 })).deadlineMs, 1234)
})

Validation('decoding refuses bad ids and strings', () => {
  refusesField('requestId', () => decodeRequest('launchContainer', launchPb(r => { r.requestId = '' })))
  refusesField('requestId', () => decodeRequest('launchContainer', launchPb(r => { r.requestId = 'has space' })))
  refusesField('requestId', () => decodeRequest('launchContainer', launchPb(r => { r.requestId = 'x'.repeat(129) })))
  refusesField('containerId', () => decodeRequest('stopLocalContainer', pb.StopLocalContainerRequest.encode({ containerId: '' })))
  refusesField('containerId', () => decodeRequest('stopLocalContainer', pb.StopLocalContainerRequest.encode({ containerId: 'ab\ncd' })))
  refusesField('requestId', () => decodeRequest('stopLocalContainer', pb.StopLocalContainerRequest.encode({ containerId: 'abc', requestId: 'req-1' })))
  refusesField('requestId', () => decodeRequest('stopLocalContainer', pb.StopLocalContainerRequest.encode({ containerId: '', requestId: 'has space' })))
  refusesField('containerId', () => decodeRequest('containerExited', pb.ContainerExitedRequest.encode({ containerId: '', reason: '' })))
  refusesField('containers[0].image', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].image = '' })))
  refusesField('containers[0].image', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].image = 'busybox; rm -rf /' })))
  refusesField('containers[0].name', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].name = 'a\nb' })))
  refusesField('containers[0].name', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].name = 'a\uD800b' })))
  refusesField('containers[0].args[1]', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].args = ['ok', 'nul\u0000'] })))
  refusesField('containers[0].args[0]', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].args = ['a'.repeat(4097)] })))
})

Validation('decoding refuses bad lists', () => {
  refusesField('containers', () => decodeRequest('launchContainer', launchPb(r => { r.containers = [] })))
  refusesField('message', () => decodeRequest('launchContainer', launchPb(r => { r.containers = Array.from({ length: MAX_CONTAINERS + 1 }, validPb.container) })))
  refusesField('message', () => decodeRequest('launchContainer', launchPb(r => { r.containers[0].args = new Array(MAX_ARGS + 1).fill('a') })))
  refusesField('message', () => decodeRequest('launchContainer', launchPb(r => {
    r.containers[0].portMappings = new Array(MAX_PORT_MAPPINGS + 1).fill({ hostPort: 0, containerPort: 1, protocol: pb.PortMapping.Protocol.TCP })
  })))
  refusesField('message', () => CODECS.getOffers.decodeResponse(pb.GetOffersResponse.encode({
    status: { code: pb.Status.Code.OK, message: '' },
    offers: new Array(MAX_OFFERS + 1).fill({})
  })))
})

Validation('decoding refuses bad ports', () => {
  const mapping = (hostPort: number, containerPort: number): Uint8Array => launchPb(r => {
    r.containers[0].portMappings = [{ hostPort, containerPort, protocol: pb.PortMapping.Protocol.UDP }]
  })
  refusesField('containers[0].portMappings[0].containerPort', () => decodeRequest('launchContainer', mapping(0, 0)))
  refusesField('containers[0].portMappings[0].containerPort', () => decodeRequest('launchContainer', mapping(0, 65_536)))
  refusesField('containers[0].portMappings[0].hostPort', () => decodeRequest('launchContainer', mapping(70_000, 80)))
})

Validation('decoding refuses unknown enum values and wrong wire types', () => {
  // PortMapping { containerPort = 1, protocol = 7 } inside ContainerConfig.portMappings (field 4)
  const container = pb.ContainerConfig.encode(validPb.container())
  const badMapping = [0x10, 0x01, 0x18, 0x07]
  const launch = Uint8Array.from([0x08, 0x01, 0x12, 0x01, 0x72, 0x1a, container.byteLength + badMapping.length + 2, ...container, 0x22, badMapping.length, ...badMapping])
  refusesField('message', () => decodeRequest('launchContainer', launch))
  // offerId sent as a length-delimited field
  refusesField('message', () => decodeRequest('refreshOffer', Uint8Array.from([0x0a, 0x03, 0x61, 0x62, 0x63])))
  // an end-group without a start, and a truncated varint
  refusesField('message', () => decodeRequest('getOffers', Uint8Array.from([0x0c])))
  refusesField('message', () => decodeRequest('removeOffer', Uint8Array.from([0x08, 0xff, 0xff])))
})

Validation('decoding refuses a configuration that is not a JSON object, or a digest of the wrong length', () => {
  const response = (configuration: string, resourceMapDigest: Uint8Array<ArrayBuffer>): Uint8Array => pb.ObtainConfigurationResponse.encode({
    status: { code: pb.Status.Code.OK, message: '' }, configuration, resourceMapDigest
  })
  const digest = new Uint8Array(32)
  refusesField('configuration', () => CODECS.obtainConfiguration.decodeResponse(response('', digest)))
  refusesField('configuration', () => CODECS.obtainConfiguration.decodeResponse(response('{"a":', digest)))
  refusesField('configuration', () => CODECS.obtainConfiguration.decodeResponse(response('[1,2]', digest)))
  refusesField('configuration', () => CODECS.obtainConfiguration.decodeResponse(response('null', digest)))
  refusesField('resourceMapDigest', () => CODECS.obtainConfiguration.decodeResponse(response('{}', new Uint8Array(31))))
})

Validation('encoding refuses domain values the wire cannot carry', () => {
  const offer = (edit: Partial<Offer>): Offer => ({ ...OFFER, ...edit })
  refusesField('offerId', () => CODECS.refreshOffer.encodeRequest({ offerId: -1 }))
  refusesField('offerId', () => CODECS.refreshOffer.encodeRequest({ offerId: 1.5 }))
  refusesField('offerId', () => CODECS.removeOffer.encodeRequest({ offerId: Number.MAX_SAFE_INTEGER + 1 }))
  refusesField('offer.amount', () => CODECS.createOffer.encodeRequest({ offer: offer({ amount: UINT32_MAX + 1 }) }))
  refusesField('offer.freeResources.cpus', () => CODECS.createOffer.encodeRequest({ offer: offer({ freeResources: { cpuClass: 0, cpus: -1, memory: 1 } }) }))
  refusesField('offer.freeResources.memory', () => CODECS.createOffer.encodeRequest({ offer: offer({ freeResources: { cpuClass: 0, cpus: 1, memory: Number.NaN } }) }))
  refusesField('offer.freeResources.memory', () => CODECS.createOffer.encodeRequest({ offer: offer({ freeResources: { cpuClass: 0, cpus: 1, memory: Infinity } }) }))
  refusesField('offer.freeResources.cpuClass', () => CODECS.createOffer.encodeRequest({ offer: offer({ freeResources: { cpuClass: 3, cpus: 1, memory: 1 } }) }))
  refusesField('traderOffering.peerId', () => CODECS.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: 'not-a-peer-id', multiaddrs: [] } }))
  refusesField('traderOffering.multiaddrs[0]', () => CODECS.advertiseOffersNeighbor.encodeRequest({ traderOffering: { peerId: ED25519_PEER_ID, multiaddrs: ['127.0.0.1:4001'] } }))
  refusesField('containers[0].portMappings[0].protocol', () => CODECS.launchContainer.encodeRequest({
    offerId: 1, requestId: 'r', containers: [{ ...CONTAINER, portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'sctp' as 'tcp' }] }]
  }))
  refusesField('containers[0].groupPolicy', () => CODECS.launchContainer.encodeRequest({
    offerId: 1, requestId: 'r', containers: [{ ...CONTAINER, groupPolicy: 'anywhere' as 'spread' }]
  }))
  refusesField('offers[0].supplier.peerId', () => CODECS.getOffers.encodeResponse({ status: 'OK', result: [{ ...AVAILABLE, supplier: { peerId: '', multiaddrs: [] } }] }))
  refusesField('resourceMapDigest', () => CODECS.obtainConfiguration.encodeResponse({ status: 'OK', result: { json: '{}', resourceMapDigest: new Uint8Array(3) } }))
})

Validation.run()

// ---- properties ----

const Properties = suite('protocols: fast-check')

/** plain objects, as the decoders build them */
const PLAIN = { noNullPrototype: true }
const resourcesArb = fc.record({
  cpuClass: fc.integer({ min: 0, max: 1 }),
  cpus: fc.nat({ max: UINT32_MAX }),
  memory: fc.nat({ max: UINT32_MAX })
}, PLAIN)
const offerArb: fc.Arbitrary<Offer> = fc.record({
  id: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  amount: fc.nat({ max: UINT32_MAX }),
  freeResources: resourcesArb,
  usedResources: resourcesArb,
  containersRunning: fc.nat({ max: UINT32_MAX })
}, PLAIN)
const containerArb: fc.Arbitrary<ContainerConfig> = fc.record({
  name: fc.stringMatching(/^[a-z0-9_.-]{0,20}$/),
  image: fc.stringMatching(/^[a-z0-9/:._-]{1,40}$/),
  args: fc.array(fc.string({ maxLength: 30 }).filter(s => !s.includes('\u0000')), { maxLength: 8 }),
  portMappings: fc.array(fc.record({
    hostPort: fc.nat({ max: 65_535 }),
    containerPort: fc.integer({ min: 1, max: 65_535 }),
    protocol: fc.constantFrom('tcp' as const, 'udp' as const)
  }, PLAIN), { maxLength: 4 }),
  resources: resourcesArb,
  groupPolicy: fc.constantFrom('spread' as const, 'co-location' as const)
}, PLAIN)
const launchArb: fc.Arbitrary<Requests['launchContainer']> = fc.record({
  offerId: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  requestId: fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
  containers: fc.array(containerArb, { minLength: 1, maxLength: 4 })
}, PLAIN)

/** Valid encodings of every request and response, to mutate. */
const validEncodings: Uint8Array[] = MESSAGE_NAMES.flatMap(name => {
  const codec = CODECS[name] as unknown as (typeof CODECS)['createOffer']
  const sample = SAMPLES[name] as unknown as (typeof SAMPLES)['createOffer']
  return [codec.encodeRequest(sample.request), codec.encodeResponse({ status: 'OK', result: sample.result })]
})

const mutatedArb = fc.tuple(
  fc.constantFrom(...validEncodings),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
  fc.option(fc.nat())
).map(([bytes, edits, cut]) => {
  const copy = Uint8Array.from(bytes)

  for (const [position, value] of edits) {
    copy[position % copy.byteLength] = value
  }

  return cut == null ? copy : copy.subarray(0, cut % (copy.byteLength + 1))
})

/** Decoding throws only MalformedMessageError. */
function totalDecoder (decode: () => unknown): void {
  try {
    decode()
  } catch (err) {
    if (!(err instanceof MalformedMessageError)) {
      throw new Error(`the decoder threw ${String(err)}`)
    }
  }
}

for (const name of MESSAGE_NAMES) {
  Properties(`${name}: decoding arbitrary bytes throws only MalformedMessageError`, () => {
    const codec = CODECS[name]
    const started = Date.now()
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), bytes => {
      totalDecoder(() => codec.decodeRequest(bytes))
      totalDecoder(() => codec.decodeResponse(bytes))
    }), { numRuns: 500 })
    fc.assert(fc.property(mutatedArb, bytes => {
      totalDecoder(() => codec.decodeRequest(bytes))
      totalDecoder(() => codec.decodeResponse(bytes))
    }), { numRuns: 500 })
    assert.ok(Date.now() - started < 10_000, 'decoding stays fast')
  })
}

Properties('launch requests and offers round-trip for generated values', () => {
  fc.assert(fc.property(launchArb, request => {
    assert.equal(CODECS.launchContainer.decodeRequest(CODECS.launchContainer.encodeRequest(request)), request)
  }), { numRuns: 300 })
  fc.assert(fc.property(offerArb, offer => {
    assert.equal(CODECS.updateOffer.decodeRequest(CODECS.updateOffer.encodeRequest({ offer })), { offer })
  }), { numRuns: 300 })
})

Properties('a generated request that decodes is re-encoded to a request that decodes the same', () => {
  fc.assert(fc.property(mutatedArb, bytes => {
    for (const name of MESSAGE_NAMES) {
      const codec = CODECS[name] as unknown as (typeof CODECS)['createOffer']
      let request

      try {
        request = codec.decodeRequest(bytes)
      } catch {
        continue
      }

      assert.equal(codec.decodeRequest(codec.encodeRequest(request)), request)
    }
  }), { numRuns: 300 })
})

Properties.run()

// ---- rate limiter ----

const RateLimiter = suite('protocols: token buckets')

RateLimiter('a burst, then one token per refill interval', () => {
  let now = 0
  const buckets = new TokenBuckets({ burst: 3, perSecond: 2, maxBuckets: 10, now: () => now })
  assert.equal([buckets.take('a'), buckets.take('a'), buckets.take('a'), buckets.take('a')], [true, true, true, false])
  assert.ok(buckets.take('b'), 'keys have their own bucket')
  now += 499
  assert.not.ok(buckets.take('a'))
  now += 1
  assert.ok(buckets.take('a'), 'half a second gives one token at 2 per second')
  assert.not.ok(buckets.take('a'))
  now += 60_000
  assert.equal([buckets.take('a'), buckets.take('a'), buckets.take('a'), buckets.take('a')], [true, true, true, false], 'refill stops at the burst')
})

RateLimiter('the map is bounded and evicts the least recently used key', () => {
  let now = 0
  const buckets = new TokenBuckets({ burst: 1, perSecond: 0.001, maxBuckets: 3, now: () => now })

  for (let i = 0; i < 1000; i++) {
    buckets.take(`peer-${i}`)
    assert.ok(buckets.size <= 3)
  }

  assert.ok(buckets.take('x'))
  assert.ok(buckets.take('y'))
  assert.ok(buckets.take('z'))
  now += 1
  assert.not.ok(buckets.take('x'), 'x is empty and most recently used now')
  assert.ok(buckets.take('w'), 'w evicts y, the least recently used')
  assert.not.ok(buckets.take('z'), 'z was kept')
  assert.ok(buckets.take('y'), 'y came back with a full bucket')
})

RateLimiter.run()
