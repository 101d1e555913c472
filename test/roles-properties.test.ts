/**
 * Property-based tests (fast-check) of the role handlers: random valid-looking messages from
 * random peers, delivered to a peer's handlers the way its protocol server delivers them (the
 * request through the wire codecs, `ctx.from` the sender, the answer through the codecs and
 * within the response limit), with the invariants each role must keep checked after every message:
 *
 * - trader: it keeps only offers their own supplier made, within its caps; nobody changes or
 *   removes another peer's offer; GetOffers answers only what it keeps (or, relaying, what a
 *   neighbour keeps), within the answer's limits; advertisements and refreshes change no offer;
 * - supplier and containers manager: never over capacity, the runtime and the supplier agree on
 *   what runs, only a container's buyer stops it, a retried launch runs nothing twice, a launch is
 *   all or nothing, also when launches, stops and cancellations race, and only an offer's trader
 *   has a refresh confirmed;
 * - user manager: a ContainerExited from a peer that does not host the container changes nothing;
 * - the protocol server of a real peer: ObtainConfiguration from any peer answers the same
 *   configuration, one a joiner adopts, whatever else it is sent, and no message answers
 *   INTERNAL_ERROR.
 *
 * A handler may throw `ProtocolStatusError` (a legitimate answer); anything else it throws fails
 * the property. Runs are deterministic: every property uses SEED (CARAVELA_PROPERTY_SEED replays
 * another; CARAVELA_PROPERTY_RUNS=10 runs each property ten times as often), and a failure prints
 * fast-check's seed, path, shrunk counterexample and the assertion that failed.
 */

import { createHash } from 'node:crypto'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import * as assert from 'uvu/assert'
import { checkAdoptedNetwork, networkConfigFromJson, networkConfigToJson } from '../src/config/config.js'
import { copyContainerConfig } from '../src/copy.js'
import { ProtocolStatusError, RemoteRequestError } from '../src/errors.js'
import { CODECS } from '../src/protocols/codec.js'
import { MAX_OFFERS, MAX_SLICES, UINT32_MAX } from '../src/protocols/constants.js'
import { INVOKERS } from '../src/protocols/invokers.js'
import { DEFAULT_LIMITS, responseSizeLimit } from '../src/protocols/limits.js'
import { contains, pointOf, ResourceMap } from '../src/resources/resource-map.js'
import { LABEL_BUYER, LABEL_REQUEST, LABEL_SUPPLIER } from '../src/roles/containers-manager.js'
import { PeerRoles } from '../src/roles/peer-roles.js'
import { ANSWER_OFFERS } from '../src/roles/ranking.js'
import { computeCapacity } from '../src/roles/supplier.js'
import { SWARM_MAX_WORKERS } from '../src/roles/swarm.js'
import { MAX_OFFERS_PER_SUPPLIER, MAX_TRADER_OFFERS } from '../src/roles/trader.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { MemoryStore } from '../src/store/store.js'
import { ManualClock } from './fixtures/fake-clock.js'
import { LocalNetwork } from './fixtures/local-network.js'
import { createTestNode, dialableAddress, stopAll, testConfig } from './fixtures/network.js'
import { container, createRolesNetwork, seededRandom, testNetworkConfig } from './fixtures/roles-network.js'
import { suite } from './fixtures/suite.js'
import type { DiscoveryBackend, NetworkConfig } from '../src/config/types.js'
import type { CaravelaNode } from '../src/node.js'
import type { Requests, Results } from '../src/protocols/codec.js'
import type { CaravelaHandlers, RequestContext } from '../src/protocols/handlers.js'
import type { MessageName } from '../src/protocols/ids.js'
import type { HostedContainer } from '../src/roles/containers-manager.js'
import type { AvailableOffer, ContainerConfig, ContainerStatus, NodeRef, Offer, OfferView, Resources } from '../src/types.js'
import type { LocalPeer } from './fixtures/local-network.js'

/** The seed of every property: fixed, so that a run is reproducible; CARAVELA_PROPERTY_SEED replays another. */
const SEED = Number(process.env.CARAVELA_PROPERTY_SEED ?? 0x5eed_ca7a)
/** CARAVELA_PROPERTY_RUNS multiplies every property's runs, for a deeper search than `npm test`'s. */
const RUNS_FACTOR = Math.max(1, Number(process.env.CARAVELA_PROPERTY_RUNS ?? 1))

/** fast-check's parameters of a property of `numRuns` runs (times RUNS_FACTOR). */
function runs (numRuns: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: Math.ceil(numRuns * RUNS_FACTOR), includeErrorInReport: true }
}

// ---- delivering messages ----

/** What a handler answered: its result, as the asker decodes it, or the status it threw. */
type Answer<T> = { ok: true, result: T } | { ok: false, status: string, message: string }

/**
 * Deliver one request to `handlers` as the protocol server does: the request through the codecs
 * (the handler sees what the wire lets through), `ctx.from` the sender, the result encoded within
 * the response limit and decoded as the asker would. A `ProtocolStatusError` is an answer; any
 * other error the handler throws is thrown on, and fails the property.
 */
async function deliver<N extends MessageName> (handlers: CaravelaHandlers, name: N, from: NodeRef, request: Requests[N]): Promise<Answer<Results[N]>> {
  const codec = CODECS[name]
  const decoded = codec.decodeRequest(codec.encodeRequest(request))
  const ctx: RequestContext = { from: { peerId: from.peerId, multiaddrs: [...from.multiaddrs] }, signal: new AbortController().signal }
  let result: Results[N]

  try {
    result = await INVOKERS[name](handlers, ctx, decoded)
  } catch (err: any) {
    if (err instanceof ProtocolStatusError) {
      return { ok: false, status: err.status, message: err.message }
    }

    throw new Error(`the ${name} handler threw ${String(err?.stack ?? err)}`)
  }

  const bytes = codec.encodeResponse({ status: 'OK', result })
  assert.ok(bytes.byteLength <= responseSizeLimit(name, DEFAULT_LIMITS), `the ${name} answer is ${bytes.byteLength} bytes, over the response limit`)
  const response = codec.decodeResponse(bytes)
  assert.is(response.status, 'OK')
  return { ok: true, result: (response as { result: Results[N] }).result }
}

/** The handlers of a peer's roles, as its protocol server calls them. */
function handlersOf (roles: PeerRoles): CaravelaHandlers {
  return roles.handlers as CaravelaHandlers
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function status (answer: Answer<unknown>): string {
  return answer.ok ? 'OK' : answer.status
}

// ---- peers ----

/** Identities that send messages: real Ed25519 peer ids, four to an IP address. */
const POOL_SIZE = 96

async function identity (seed: string): Promise<{ peerId: string, key: Uint8Array }> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', createHash('sha256').update(seed).digest())
  const peerId = peerIdFromPrivateKey(privateKey)
  return { peerId: peerId.toString(), key: pointOf(peerId.toMultihash().bytes) }
}

const POOL: NodeRef[] = await Promise.all(Array.from({ length: POOL_SIZE }, async (_, i) => ({
  peerId: (await identity(`caravela-props-sender:${i}`)).peerId,
  multiaddrs: [`/ip4/192.0.2.${i % (POOL_SIZE / 4)}/tcp/${40_000 + i}`]
})))

/** A sender: one of the first few (the same peers again and again) or any of many. */
function senderArb (count: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: Math.min(5, count - 1) }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: count - 1 }) }
  )
}

const CONFIG = testNetworkConfig()
const MAP = new ResourceMap(CONFIG.resources)

/**
 * Seeds of `LocalNetwork` peers, three in every slice of MAP: a subject of any slice, with two
 * same-slice neighbours.
 */
const SEEDS_BY_SLICE: string[][] = await (async () => {
  const bySlice: string[][] = MAP.slices.map(() => [])

  for (let i = 0; bySlice.some(seeds => seeds.length < 3); i++) {
    const seed = `props-peer-${i}`
    const { key } = await identity(`caravela-local-peer:${seed}`)
    const seeds = bySlice[MAP.sliceOf(key).index]

    if (seeds.length < 3) {
      seeds.push(seed)
    }
  }

  return bySlice
})()

interface Subject {
  network: LocalNetwork
  clock: ManualClock
  config: NetworkConfig
  peer: LocalPeer
  roles: PeerRoles
  runtime: MemoryRuntime
  handlers: CaravelaHandlers
}

interface SubjectInit {
  network: LocalNetwork
  clock: ManualClock
  config: NetworkConfig
  seed: string
  machine?: { cpus: number, memory: number, cpuClass: number }
  allocatable?: { cpus: number, memory: number }
  failWhen?: (config: ContainerConfig) => string | undefined
}

/**
 * A peer's roles on a local network, as a peer builds them: the real point of a peer id
 * (`keyOfPeerId`, the default), so that messages naming peers outside the network are judged as a
 * real peer judges them.
 */
async function addSubject (init: SubjectInit): Promise<Subject> {
  const { network, clock, config } = init
  const peer = await network.addPeer(init.seed)
  const machine = init.machine ?? { cpus: 2, memory: 2048, cpuClass: 0 }
  const runtime = new MemoryRuntime({
    cpus: machine.cpus,
    memory: machine.memory,
    allocatable: init.allocatable ?? computeCapacity(machine, config),
    failWhen: init.failWhen,
    random: seededRandom(`runtime:${init.seed}`)
  })
  const roles = new PeerRoles({
    self: () => peer.node,
    selfKey: peer.key,
    overlay: network.overlay(peer.peerId),
    client: network.client(peer.peerId),
    runtime,
    clock,
    config: () => config,
    resourceMap: () => MAP,
    capacity: machine,
    logger: defaultLogger(),
    random: seededRandom(`roles:${init.seed}`),
    publishDelay: 0,
    store: new MemoryStore(),
    // the runtime's containers are the hosted ones: what exited containers are kept is tested in roles-logs
    keptExited: { retention: 0, perBuyer: 0, total: 0 }
  })
  network.serve(peer.peerId, roles.handlers)
  return { network, clock, config, peer, roles, runtime, handlers: handlersOf(roles) }
}

function newNetwork (config: NetworkConfig): { network: LocalNetwork, clock: ManualClock } {
  return { network: new LocalNetwork({ resourceMap: MAP, lookupCount: config.lookupCount }), clock: new ManualClock(1_000_000) }
}

/** A command of `fc.commands` that carries out one generated action. */
class Step<M extends object, R> implements fc.AsyncCommand<M, R> {
  constructor (private readonly label: string, private readonly act: (model: M, real: R) => Promise<void>) {}

  check (): boolean {
    return true
  }

  async run (model: M, real: R): Promise<void> {
    await this.act(model, real)
  }

  toString (): string {
    return this.label
  }
}

// ---- values ----

/** plain objects, as the decoders build them */
const PLAIN = { noNullPrototype: true }

/** Zero, small, the slices' own values, the largest the wire carries, or anything. */
const cpusArb = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4), fc.constant(UINT32_MAX), fc.nat({ max: UINT32_MAX }))
const memoryArb = fc.oneof(fc.constantFrom(0, 256, 512, 1024, 2048, 4096), fc.constant(UINT32_MAX), fc.nat({ max: UINT32_MAX }))
const resourcesArb: fc.Arbitrary<Resources> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...MAP.slices.map(s => ({ ...s.resources }))) },
  { weight: 3, arbitrary: fc.record({ cpuClass: fc.constantFrom(0, 0, 0, 1), cpus: cpusArb, memory: memoryArb }, PLAIN) }
)
/** The same few ids from every peer (ids of offers that belong to another peer), the largest, or any. */
const offerIdArb = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat({ max: Number.MAX_SAFE_INTEGER }))
const offerArb: fc.Arbitrary<Offer> = fc.record({
  id: offerIdArb,
  amount: fc.oneof(fc.constant(1), fc.nat({ max: UINT32_MAX })),
  freeResources: resourcesArb,
  usedResources: resourcesArb,
  containersRunning: fc.oneof(fc.nat({ max: 8 }), fc.constant(UINT32_MAX))
}, PLAIN)
/** Slices said to have no trader: none, some of the map's, or any indices the wire carries. */
const emptySlicesArb: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<number[]>([]) },
  { weight: 2, arbitrary: fc.subarray(MAP.slices.map(s => s.index)) },
  { weight: 1, arbitrary: fc.uniqueArray(fc.nat({ max: MAX_SLICES - 1 }), { maxLength: 16 }) }
)

// ---- the trader ----

/** An offer's figures as the trader shows them. */
interface Figures { free: Resources, used: Resources, containersRunning: number }

function figuresOf (offer: Offer): Figures {
  return { free: { ...offer.freeResources }, used: { ...offer.usedResources }, containersRunning: offer.containersRunning }
}

function viewFigures (offer: OfferView): Figures {
  return { free: offer.free, used: offer.used, containersRunning: offer.containersRunning }
}

/** `<peer id>/<offer id>` */
function offerKey (peerId: string, id: number): string {
  return `${peerId}/${id}`
}

/** The offers a peer's trader keeps, by `offerKey`; none twice. */
function heldOffers (roles: PeerRoles): Map<string, OfferView> {
  const held = new Map<string, OfferView>()

  for (const offer of roles.offers().trading.offers) {
    const key = offerKey(offer.peerId, offer.id)
    assert.not.ok(held.has(key), `the trader keeps offer ${key} twice`)
    held.set(key, offer)
  }

  return held
}

type TraderAction =
  | { kind: 'create', from: number, offer: Offer, emptySlices: number[] }
  | { kind: 'flood', from: number, first: number, count: number, free: Resources }
  | { kind: 'update', from: number, offer: Offer }
  | { kind: 'remove', from: number, offerId: number }
  | { kind: 'refresh', from: number, offerId: number }
  | { kind: 'get', from: number, relay: boolean, needed?: Resources, own?: boolean }
  | { kind: 'advertise', from: number, offering: number }

interface TraderModel {
  /** `offerKey` → the figures of the last CreateOffer accepted or UpdateOffer kept for it */
  accepted: Map<string, Figures>
}

interface TraderWorld {
  subject: Subject
  /** two peers of the subject's slice, each keeping one offer: a relay reaches them */
  neighbors: Subject[]
  /** the subject, its neighbours, then POOL */
  senders: NodeRef[]
  swarm: boolean
}

/** The subject's trader under random messages, with two same-slice neighbours. */
async function traderWorld (backend: DiscoveryBackend, slice: number): Promise<TraderWorld> {
  const config = testNetworkConfig(c => { c.discoveryBackend = backend })
  const { network, clock } = newNetwork(config)
  const [subjectSeed, ...neighborSeeds] = SEEDS_BY_SLICE[slice]
  const subject = await addSubject({ network, clock, config, seed: subjectSeed })
  const neighbors = await Promise.all(neighborSeeds.map(async seed => addSubject({ network, clock, config, seed })))

  for (const [i, neighbor] of neighbors.entries()) {
    const answer = await deliver(neighbor.handlers, 'createOffer', POOL[POOL_SIZE - 1 - i], { offer: { id: 7, amount: 1, freeResources: MAP.slices[slice].resources, usedResources: MAP.slices[slice].resources, containersRunning: 1 } })
    assert.equal(answer, { ok: true, result: { accepted: true } }, 'a neighbour takes an offer of its slice')
  }

  return { subject, neighbors, senders: [subject.peer.node, ...neighbors.map(n => n.peer.node), ...POOL], swarm: backend === 'swarm' }
}

function describeTrader (a: TraderAction): string {
  const { kind, ...rest } = a
  return `${kind} ${JSON.stringify(rest)}`
}

/** Every held offer is one its supplier made and the trader accepted, with the figures last accepted; within the caps. */
function checkHeld (model: TraderModel, world: TraderWorld, held: Map<string, OfferView>): void {
  const perSupplier = new Map<string, number>()

  for (const [key, offer] of held) {
    const accepted = model.accepted.get(key)
    assert.ok(accepted != null, `the trader keeps offer ${key}, which its supplier never had accepted`)
    assert.equal(viewFigures(offer), accepted, `offer ${key} has figures its supplier never sent`)
    perSupplier.set(offer.peerId, (perSupplier.get(offer.peerId) ?? 0) + 1)
  }

  const perCap = world.swarm ? 1 : MAX_OFFERS_PER_SUPPLIER
  const cap = world.swarm ? SWARM_MAX_WORKERS : MAX_TRADER_OFFERS

  for (const [peerId, count] of perSupplier) {
    assert.ok(count <= perCap, `the trader keeps ${count} offers of ${peerId}, over ${perCap}`)
  }

  assert.ok(held.size <= cap, `the trader keeps ${held.size} offers, over ${cap}`)
}

/** Offers of peers other than `except` are exactly as they were. */
function othersUnchanged (before: Map<string, OfferView>, after: Map<string, OfferView>, except?: string): void {
  const others = (held: Map<string, OfferView>): Array<[string, OfferView]> => [...held].filter(([, o]) => o.peerId !== except).sort(([a], [b]) => a.localeCompare(b))
  assert.equal(others(after), others(before), except == null ? 'the offers changed' : `a message of ${except} changed offers of other peers`)
}

async function createOffer (world: TraderWorld, model: TraderModel, from: NodeRef, offer: Offer, emptySlices: number[]): Promise<void> {
  const before = heldOffers(world.subject.roles)
  const answer = await deliver(world.subject.handlers, 'createOffer', from, { offer, emptySlices })
  const after = heldOffers(world.subject.roles)
  const key = offerKey(from.peerId, offer.id)
  othersUnchanged(before, after, from.peerId)
  assert.ok(answer.ok, `createOffer answered ${status(answer)}: a trader says whether it keeps an offer`)

  if (answer.result.accepted) {
    if (world.swarm) {
      // one registration per worker: it replaces the worker's previous one
      [...model.accepted.keys()].filter(k => k.startsWith(`${from.peerId}/`)).forEach(k => model.accepted.delete(k))
    }

    model.accepted.set(key, figuresOf(offer))
    assert.ok(after.has(key), 'an accepted offer is kept')
  } else {
    // a refusal adds nothing and changes nothing of the sender's offers
    for (const [k, offer] of after) {
      assert.equal(offer, before.get(k), `a refused createOffer changed offer ${k}`)
    }
  }

  for (const k of [...model.accepted.keys()].filter(k => k.startsWith(`${from.peerId}/`) && !after.has(k))) {
    model.accepted.delete(k)
  }
}

async function runTrader (model: TraderModel, world: TraderWorld, action: TraderAction): Promise<void> {
  const { subject, senders } = world
  const from = senders[action.from]
  const before = heldOffers(subject.roles)

  switch (action.kind) {
    case 'create':
      await createOffer(world, model, from, action.offer, action.emptySlices)
      break
    case 'flood':
      for (let id = action.first; id < action.first + action.count; id++) {
        await createOffer(world, model, from, { id, amount: 1, freeResources: action.free, usedResources: action.free, containersRunning: 0 }, [])
      }
      break
    case 'update': {
      const answer = await deliver(subject.handlers, 'updateOffer', from, { offer: action.offer })
      const after = heldOffers(subject.roles)
      const key = offerKey(from.peerId, action.offer.id)
      othersUnchanged(before, after, from.peerId)
      assert.ok(answer.ok, `updateOffer answered ${status(answer)}`)

      if (answer.result) {
        assert.ok(before.has(key), 'only an offer the trader keeps is updated')
        model.accepted.set(key, figuresOf(action.offer))
      } else {
        assert.not.ok(after.has(key), 'an offer whose update was refused is no longer kept')
        model.accepted.delete(key)
      }

      // the sender's other offers are untouched
      othersUnchanged(new Map([...before].filter(([k]) => k !== key)), new Map([...after].filter(([k]) => k !== key)))
      break
    }
    case 'remove': {
      const answer = await deliver(subject.handlers, 'removeOffer', from, { offerId: action.offerId })
      const after = heldOffers(subject.roles)
      const key = offerKey(from.peerId, action.offerId)
      assert.ok(answer.ok, `removeOffer answered ${status(answer)}`)
      assert.not.ok(after.has(key), 'a removed offer is gone')
      othersUnchanged(new Map([...before].filter(([k]) => k !== key)), after)
      model.accepted.delete(key)
      break
    }
    case 'refresh': {
      // to the supplier: this one offers nothing, so it knows no offer of anyone
      const answer = await deliver(subject.handlers, 'refreshOffer', from, { offerId: action.offerId })
      assert.equal(answer, { ok: true, result: false }, 'a supplier that made no offer refreshes none')
      othersUnchanged(before, heldOffers(subject.roles))
      break
    }
    case 'get': {
      const answer = await deliver(subject.handlers, 'getOffers', from, { relay: action.relay, needed: action.needed, own: action.own })
      othersUnchanged(before, heldOffers(subject.roles))
      assert.ok(answer.ok, `getOffers answered ${status(answer)}`)
      checkAnswer(world, before, action, answer.result)
      break
    }
    case 'advertise': {
      const answer = await deliver(subject.handlers, 'advertiseOffersNeighbor', from, { traderOffering: senders[action.offering] })
      assert.ok(answer.ok || answer.status === 'REFUSED', `advertiseOffersNeighbor answered ${status(answer)}`)
      await subject.clock.settle()
      othersUnchanged(before, heldOffers(subject.roles))

      if (answer.ok) {
        const slice = MAP.sliceOf(subject.peer.key).index
        assert.is(MAP.sliceOf(keyOf(from)).index, slice, 'only a trader of the slice advertises')
        assert.is(MAP.sliceOf(keyOf(senders[action.offering])).index, slice, 'only a trader of the slice is advertised')
      }
      break
    }
  }

  checkHeld(model, world, heldOffers(subject.roles))
  assert.equal(subject.network.handlerErrors, [], 'no handler of the network threw anything but a status')
}

const KEYS = new Map<string, Uint8Array>()

/** The point of a peer id, as kad-dht computes it. */
function keyOf (node: NodeRef): Uint8Array {
  let key = KEYS.get(node.peerId)

  if (key == null) {
    key = pointOf(peerIdFromString(node.peerId).toMultihash().bytes)
    KEYS.set(node.peerId, key)
  }

  return key
}

/**
 * A GetOffers answer holds offers the trader keeps, as it keeps them, or, when it keeps none and
 * relays, offers its neighbours keep; at most a response's worth, and with `needed`, the best
 * few, each holding it.
 */
function checkAnswer (world: TraderWorld, held: Map<string, OfferView>, action: Extract<TraderAction, { kind: 'get' }>, offers: AvailableOffer[]): void {
  const { subject, neighbors, swarm } = world
  assert.ok(offers.length <= MAX_OFFERS, `getOffers answered ${offers.length} offers, over ${MAX_OFFERS}`)

  if (action.own === true || subject.config.discoveryBackend === 'random') {
    assert.equal(offers, [], 'a supplier offering nothing answers no offer of its own')
    return
  }

  if (action.needed != null || swarm) {
    assert.ok(offers.length <= ANSWER_OFFERS, `getOffers with what is needed answered ${offers.length} offers, over ${ANSWER_OFFERS}`)
  }

  const relayed = action.relay && held.size === 0 && !swarm
  const elsewhere = new Map(relayed ? neighbors.flatMap(n => [...heldOffers(n.roles)]) : [])
  const seen = new Set<string>()

  for (const offer of offers) {
    const key = offerKey(offer.supplier.peerId, offer.id)
    const kept = held.get(key) ?? elsewhere.get(key)
    assert.ok(kept != null, `getOffers answered offer ${key}, which ${relayed ? 'neither the trader nor its neighbours keep' : 'the trader does not keep'}`)
    assert.equal(figuresOf(offer), viewFigures(kept), `getOffers answered offer ${key} with other figures than kept`)
    assert.not.ok(seen.has(key), `getOffers answered offer ${key} twice`)
    seen.add(key)

    if (action.needed != null) {
      assert.ok(contains(offer.freeResources, action.needed), `getOffers answered offer ${key}, which does not hold what is needed`)
    }
  }
}

function traderActionArb (senders: number): fc.Arbitrary<TraderAction> {
  const from = senderArb(senders)

  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('create' as const), from, offer: offerArb, emptySlices: emptySlicesArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('flood' as const), from, first: fc.nat({ max: 8 }), count: fc.integer({ min: 1, max: MAX_OFFERS_PER_SUPPLIER + 6 }), free: fc.constantFrom(...MAP.slices.map(s => ({ ...s.resources }))) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('update' as const), from, offer: offerArb }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), from, offerId: offerIdArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('refresh' as const), from, offerId: offerIdArb }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('get' as const), from, relay: fc.boolean(), needed: fc.option(resourcesArb, { nil: undefined }), own: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: ['kind', 'from', 'relay'] }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advertise' as const), from, offering: senderArb(senders) }) }
  )
}

const Trading = suite('roles: trader handlers under random messages from random peers')

Trading('a trader keeps only offers their supplier made, within its caps, and answers only what it keeps', async () => {
  const senders = 3 + POOL_SIZE
  const backends: DiscoveryBackend[] = ['multi-offer-updates', 'single-offer', 'random', 'swarm']

  await fc.assert(fc.asyncProperty(
    fc.constantFrom(...backends),
    fc.nat({ max: MAP.slices.length - 1 }),
    fc.commands([traderActionArb(senders).map(a => new Step<TraderModel, TraderWorld>(describeTrader(a), async (m, w) => { await runTrader(m, w, a) }))], { maxCommands: 40, size: 'max' }),
    async (backend, slice, commands) => {
      const world = await traderWorld(backend, slice)
      await fc.asyncModelRun(() => ({ model: { accepted: new Map() }, real: world }), commands)
    }
  ), runs(200))
})

Trading('however many peers flood a trader, it keeps at most its caps, and removals give the room back', async () => {
  // floods from many peers, each of more offers than a supplier may have kept
  const floodsArb = fc.array(fc.record({
    from: fc.nat({ max: POOL_SIZE - 2 }),
    count: fc.integer({ min: 1, max: MAX_OFFERS_PER_SUPPLIER + 16 }),
    first: fc.nat({ max: Number.MAX_SAFE_INTEGER - MAX_OFFERS_PER_SUPPLIER - 16 })
  }), { minLength: 1, maxLength: 90 })

  await fc.assert(fc.asyncProperty(fc.nat({ max: MAP.slices.length - 1 }), floodsArb, async (slice, floods) => {
    const config = testNetworkConfig()
    const { network, clock } = newNetwork(config)
    const subject = await addSubject({ network, clock, config, seed: SEEDS_BY_SLICE[slice][0] })
    const free = MAP.slices[slice].resources
    const sent = new Map<string, Set<number>>()

    for (const { from, count, first } of floods) {
      const sender = POOL[from]

      for (let id = first; id < first + count; id++) {
        const answer = await deliver(subject.handlers, 'createOffer', sender, { offer: { id, amount: 1, freeResources: free, usedResources: free, containersRunning: 0 } })
        assert.ok(answer.ok)
        sent.set(sender.peerId, (sent.get(sender.peerId) ?? new Set()).add(id))
      }

      const held = heldOffers(subject.roles)
      assert.ok(held.size <= MAX_TRADER_OFFERS, `the trader keeps ${held.size} offers`)
      const perSupplier = new Map<string, number>()

      for (const offer of held.values()) {
        assert.ok(sent.get(offer.peerId)?.has(offer.id), `the trader keeps offer ${offerKey(offer.peerId, offer.id)}, which was never sent`)
        perSupplier.set(offer.peerId, (perSupplier.get(offer.peerId) ?? 0) + 1)
      }

      assert.ok([...perSupplier.values()].every(n => n <= MAX_OFFERS_PER_SUPPLIER), 'at most MAX_OFFERS_PER_SUPPLIER per supplier')
    }

    // every supplier withdraws what it sent: nothing is left, and the room is back
    for (const [peerId, ids] of sent) {
      const sender = POOL.find(p => p.peerId === peerId) as NodeRef

      for (const offerId of ids) {
        assert.ok((await deliver(subject.handlers, 'removeOffer', sender, { offerId })).ok)
      }
    }

    assert.is(heldOffers(subject.roles).size, 0, 'every offer was removed by its supplier')
    // a peer that sent nothing, from an address nobody used
    const newcomer = { peerId: POOL[POOL_SIZE - 1].peerId, multiaddrs: ['/ip4/198.51.100.1/tcp/4001'] }
    assert.equal(await deliver(subject.handlers, 'createOffer', newcomer, { offer: { id: 1, amount: 1, freeResources: free, usedResources: free, containersRunning: 0 } }), { ok: true, result: { accepted: true } }, 'a trader emptied by removals takes offers again')
  }), {
    ...runs(8),
    // a failing run sends thousands of messages: shrinking it would take minutes
    endOnFailure: true,
    // one run that fills the trader: more peers than MAX_TRADER_OFFERS / MAX_OFFERS_PER_SUPPLIER, each with a full set
    examples: [[0, Array.from({ length: MAX_TRADER_OFFERS / MAX_OFFERS_PER_SUPPLIER + 2 }, (_, from) => ({ from, count: MAX_OFFERS_PER_SUPPLIER + 1, first: 0 }))]]
  })
})

/**
 * The slices a trader keeps with each offer it holds: its private state, read because what an
 * offer costs the trader in memory is what this property bounds, and nothing public shows it.
 */
function keptEmptySlices (roles: PeerRoles): number[][] {
  const { trader } = roles as unknown as { trader: { offers: Map<string, Array<{ emptySlices?: number[] }>> } }
  return [...trader.offers.values()].flat().map(entry => entry.emptySlices ?? [])
}

Trading('what a trader keeps with an offer is bounded by its map, not by the slices a message names', async () => {
  const everyOther = (slice: number): number[] => Array.from({ length: MAX_SLICES }, (_, i) => i).filter(i => i !== slice)
  const namedArb = fc.oneof(
    { weight: 2, arbitrary: emptySlicesArb },
    { weight: 2, arbitrary: fc.uniqueArray(fc.nat({ max: MAX_SLICES - 1 }), { minLength: 1, maxLength: 256 }) },
    { weight: 1, arbitrary: fc.nat({ max: MAP.slices.length - 1 }).map(everyOther) }
  )

  await fc.assert(fc.asyncProperty(fc.nat({ max: MAP.slices.length - 1 }), fc.array(fc.tuple(senderArb(POOL_SIZE), offerArb, namedArb), { minLength: 1, maxLength: 8 }), async (slice, offers) => {
    const config = testNetworkConfig()
    const { network, clock } = newNetwork(config)
    const subject = await addSubject({ network, clock, config, seed: SEEDS_BY_SLICE[slice][0] })

    for (const [from, offer, emptySlices] of offers) {
      const answer = await deliver(subject.handlers, 'createOffer', POOL[from], { offer, emptySlices })
      assert.ok(answer.ok)

      for (const kept of keptEmptySlices(subject.roles)) {
        assert.ok(kept.length <= MAP.slices.length && kept.every(i => i < MAP.slices.length), `the trader keeps ${kept.length} slice indices with an offer, of a map of ${MAP.slices.length} slices`)
      }
    }
  }), {
    ...runs(40),
    // the smallest offer, named by a supplier that says every other slice of the wire has no trader
    examples: [[5, [[0, { id: 1, amount: 1, freeResources: MAP.slices[0].resources, usedResources: MAP.slices[0].resources, containersRunning: 0 }, everyOther(5)]]]]
  })
})

Trading.run()
// ---- the supplier and the containers manager ----

/** An image the runtime refuses to start: a launch holding it fails part way. */
const FAILING_IMAGE = 'caravela/fails-to-start'

type OfferChoice = { kind: 'standing' } | { kind: 'made', index: number } | { kind: 'raw', id: number }
type ContainerChoice = { kind: 'hosted', index: number } | { kind: 'gone', index: number } | { kind: 'raw', id: string }
type LaunchAction = { kind: 'launch', from: number, requestId: string, containers: ContainerConfig[], offer: OfferChoice }
type StopAction = { kind: 'stop', from: number, target: ContainerChoice }
type CancelAction = { kind: 'cancel', from: number, requestId: string }
type RaceAction = LaunchAction | StopAction | CancelAction
type SupplierAction =
  | RaceAction
  | { kind: 'retry', index: number }
  | { kind: 'relaunch', index: number, containers: ContainerConfig[] }
  | { kind: 'kill', index: number }
  | { kind: 'own', from: number, needed?: Resources }
  | { kind: 'refresh', from: number, offer: OfferChoice }
  | { kind: 'race', actions: RaceAction[] }

interface HostedByModel { buyer: string, requestId: string, resources: Resources }

interface SupplierModel {
  /** every launch sent, to send again */
  sent: Array<{ from: NodeRef, requestId: string, containers: ContainerConfig[], offerId: number }>
  /** `<buyer>/<request id>` → the containers and the container ids of the launch that succeeded */
  launched: Map<string, { fingerprint: string, ids: string[] }>
  /** container id → its launch, while the supplier hosts it */
  hosted: Map<string, HostedByModel>
  /** containers hosted once, since stopped, cancelled or exited */
  gone: string[]
}

interface SupplierWorld {
  subject: Subject
  /** the subject, then POOL */
  senders: NodeRef[]
}

interface SupplierSetup {
  backend: DiscoveryBackend
  machine: { cpus: number, memory: number, cpuClass: number }
  cpuSlices: number
  cpuOvercommit: number
  memoryOvercommit: number
  /**
   * what the runtime holds: what the supplier offers, half of it (some launches fail part way), or
   * four times it (the runtime never refuses, as a Docker engine does not: the supplier alone
   * keeps within its capacity)
   */
  runtime: 'exact' | 'short' | 'roomy'
}

const supplierSetupArb: fc.Arbitrary<SupplierSetup> = fc.record({
  backend: fc.constantFrom<DiscoveryBackend>('multi-offer-updates', 'single-offer', 'random', 'swarm'),
  machine: fc.record({ cpus: fc.integer({ min: 1, max: 8 }), memory: fc.constantFrom(1024, 2048, 4096), cpuClass: fc.constantFrom(0, 1) }),
  cpuSlices: fc.constantFrom(1, 2, 4),
  cpuOvercommit: fc.constantFrom(100, 150),
  memoryOvercommit: fc.constantFrom(100, 150),
  runtime: fc.constantFrom('exact' as const, 'short' as const, 'roomy' as const)
})

const RUNTIME_SHARE = { exact: 1, short: 0.5, roomy: 4 }

async function supplierWorld (setup: SupplierSetup): Promise<SupplierWorld> {
  const config = testNetworkConfig(c => {
    c.discoveryBackend = setup.backend
    c.cpuSlices = setup.cpuSlices
    c.cpuOvercommit = setup.cpuOvercommit
    c.memoryOvercommit = setup.memoryOvercommit
  })
  const { network, clock } = newNetwork(config)
  const capacity = computeCapacity(setup.machine, config)
  const subject = await addSubject({
    network,
    clock,
    config,
    seed: SEEDS_BY_SLICE[0][0],
    machine: setup.machine,
    allocatable: { cpus: Math.floor(capacity.cpus * RUNTIME_SHARE[setup.runtime]), memory: Math.floor(capacity.memory * RUNTIME_SHARE[setup.runtime]) },
    failWhen: c => c.image === FAILING_IMAGE ? 'the image cannot start' : undefined
  })
  await subject.roles.start()
  await clock.settle()
  return { subject, senders: [subject.peer.node, ...POOL] }
}

const containerArb: fc.Arbitrary<ContainerConfig> = fc.record({
  name: fc.constantFrom('', 'web', 'db'),
  image: fc.constantFrom('busybox', 'busybox', 'nginx:latest', FAILING_IMAGE),
  args: fc.constantFrom([], ['sleep', '3600']),
  portMappings: fc.constantFrom([], [{ hostPort: 0, containerPort: 80, protocol: 'tcp' as const }], [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }]),
  resources: fc.record({
    cpuClass: fc.oneof({ weight: 7, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
    cpus: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(1, 1, 1, 2, 3) }, { weight: 1, arbitrary: fc.constantFrom(0, UINT32_MAX) }),
    memory: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(1, 64, 128, 256, 512) }, { weight: 1, arbitrary: fc.constantFrom(0, UINT32_MAX) })
  }, PLAIN),
  groupPolicy: fc.constantFrom('spread' as const, 'co-location' as const)
}, PLAIN)
const containersArb = fc.array(containerArb, { minLength: 1, maxLength: 4 })
const requestIdArb = fc.oneof(fc.constantFrom('r1', 'r2', 'r3'), fc.stringMatching(/^[\x21-\x7e]{1,12}$/))
const offerChoiceArb: fc.Arbitrary<OfferChoice> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'standing' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('made' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), id: offerIdArb }) }
)
const containerChoiceArb: fc.Arbitrary<ContainerChoice> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('hosted' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('gone' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), id: fc.stringMatching(/^[0-9a-f]{1,64}$/) }) }
)

function raceActionArb (senders: number): fc.Arbitrary<RaceAction> {
  // buyers are mostly the same few peers, so that they meet each other's containers
  const from = senderArb(senders)

  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('launch' as const), from, requestId: requestIdArb, containers: containersArb, offer: offerChoiceArb }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('stop' as const), from, target: containerChoiceArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), from, requestId: requestIdArb }) }
  )
}

function supplierActionArb (senders: number): fc.Arbitrary<SupplierAction> {
  return fc.oneof(
    { weight: 8, arbitrary: raceActionArb(senders) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), index: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('relaunch' as const), index: fc.nat(), containers: containersArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), index: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('own' as const), from: senderArb(senders), needed: fc.option(resourcesArb, { nil: undefined }) }, { requiredKeys: ['kind', 'from'] }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('refresh' as const), from: senderArb(senders), offer: offerChoiceArb }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('race' as const), actions: fc.array(raceActionArb(senders), { minLength: 2, maxLength: 5 }) }) }
  )
}

function describeSupplier (a: SupplierAction): string {
  const { kind, ...rest } = a
  return `${kind} ${JSON.stringify(rest)}`
}

/** What the handler compares a retry with: the containers as decoded, in canonical JSON. */
function fingerprintOf (containers: ContainerConfig[]): string {
  const decoded = CODECS.launchContainer.decodeRequest(CODECS.launchContainer.encodeRequest({ offerId: 0, requestId: 'r', containers })).containers
  return JSON.stringify(decoded.map(copyContainerConfig))
}

function launchKey (buyer: string, requestId: string): string {
  return `${buyer}/${requestId}`
}

/** What the supplier hosts and what its runtime holds, by container id. */
interface Snapshot {
  hosted: Map<string, HostedContainer>
  /** every container of the runtime, running or not */
  runtime: Map<string, string>
}

function snapshot (subject: Subject): Snapshot {
  return {
    hosted: new Map(subject.roles.hosted().map(h => [h.containerId, h])),
    runtime: new Map(subject.runtime.list().map(c => [c.id, c.state]))
  }
}

function assertSameContainers (before: Snapshot, after: Snapshot, what: string): void {
  assert.equal([...after.hosted.keys()].sort(), [...before.hosted.keys()].sort(), `${what} changed the hosted containers`)
  assert.equal([...after.runtime.keys()].sort(), [...before.runtime.keys()].sort(), `${what} changed the runtime's containers`)
}

/**
 * The supplier is never over capacity; its accounting, the containers manager's and the runtime's
 * agree; every hosted container runs for the buyer that launched it, as the model says.
 */
function checkSupplier (model: SupplierModel, { subject }: SupplierWorld): void {
  const { max, available } = subject.roles.offers().supplying
  const hosted = subject.roles.hosted()
  const sum = hosted.reduce((s, h) => ({ cpus: s.cpus + h.resources.cpus, memory: s.memory + h.resources.memory }), { cpus: 0, memory: 0 })

  assert.ok(sum.cpus <= max.cpus && sum.memory <= max.memory, `the supplier hosts ${sum.cpus} CPUs and ${sum.memory} MB, over its ${max.cpus} and ${max.memory}`)
  assert.equal({ cpus: max.cpus - available.cpus, memory: max.memory - available.memory }, sum, 'what the supplier handed out is what its containers hold')

  const used = subject.runtime.used()
  assert.equal({ cpus: used.cpus, memory: used.memory, containers: used.containers }, { ...sum, containers: hosted.length }, 'the runtime runs what the supplier hosts')
  const running = subject.runtime.list().filter(c => c.state === 'running')
  assert.equal(running.map(c => c.id).sort(), hosted.map(h => h.containerId).sort(), 'the runtime runs exactly the hosted containers')

  for (const c of running) {
    const h = hosted.find(h => h.containerId === c.id) as HostedContainer
    assert.equal([c.labels[LABEL_SUPPLIER], c.labels[LABEL_BUYER], c.labels[LABEL_REQUEST]], [subject.peer.peerId, h.buyer, h.requestId], `container ${c.id} is labelled with its supplier, buyer and request`)
  }

  assert.equal(
    hosted.map(h => [h.containerId, h.buyer, h.requestId]).sort(),
    [...model.hosted].map(([id, m]) => [id, m.buyer, m.requestId]).sort(),
    'the supplier hosts the containers launched by their buyers and not stopped'
  )
  assert.equal(subject.network.handlerErrors, [], 'no handler threw anything but a status')
}

/** The offer id a launch names. */
async function offerIdOf (world: SupplierWorld, from: NodeRef, choice: OfferChoice): Promise<number> {
  if (choice.kind === 'raw') {
    return choice.id
  }

  if (choice.kind === 'made') {
    const made = world.subject.roles.offers().supplying.offers
    return made.length === 0 ? 0 : made[choice.index % made.length].id
  }

  const answer = await deliver(world.subject.handlers, 'getOffers', from, { relay: false, own: true })
  return answer.ok && answer.result.length > 0 ? answer.result[0].id : 0
}

function containerIdOf (model: SupplierModel, choice: ContainerChoice): string {
  const hosted = [...model.hosted.keys()]

  if (choice.kind === 'hosted' && hosted.length > 0) {
    return hosted[choice.index % hosted.length]
  }

  if (choice.kind === 'gone' && model.gone.length > 0) {
    return model.gone[choice.index % model.gone.length]
  }

  return choice.kind === 'raw' ? choice.id : 'f'.repeat(64)
}

const LAUNCH_REFUSALS = ['REFUSED', 'INVALID_REQUEST', 'UNAVAILABLE']

/** One launch, checked: a retry runs nothing, a new launch runs every container or none. */
async function launch (model: SupplierModel, world: SupplierWorld, from: NodeRef, requestId: string, containers: ContainerConfig[], offerId: number): Promise<void> {
  const { subject } = world
  const key = launchKey(from.peerId, requestId)
  const fingerprint = fingerprintOf(containers)
  const previous = model.launched.get(key)
  model.sent.push({ from, requestId, containers, offerId })

  const before = snapshot(subject)
  const answer = await deliver(subject.handlers, 'launchContainer', from, { offerId, requestId, containers })
  await subject.clock.settle()
  const after = snapshot(subject)

  if (previous != null) {
    if (previous.fingerprint === fingerprint) {
      // the first launch's containers, or a refusal (of a buyer the supplier no longer serves)
      assert.ok(answer.ok || answer.status === 'REFUSED', `a retried launch answered ${status(answer)}`)

      if (answer.ok) {
        assert.equal(answer.result.map(s => s.containerId), previous.ids, 'a retried launch answers the containers of the first')
      }
    } else {
      assert.is(status(answer), 'REFUSED', 'a request id launched with other containers is refused')
    }

    assertSameContainers(before, after, 'a launch with a request id used before')
    return
  }

  if (!answer.ok) {
    assert.ok(LAUNCH_REFUSALS.includes(answer.status), `a launch answered ${answer.status}`)
    assertSameContainers(before, after, `a launch refused with ${answer.status} (${answer.message})`)
    return
  }

  const ids = answer.result.map(s => s.containerId)
  assert.is(ids.length, containers.length, 'a launch runs every container or none')
  assert.is(new Set(ids).size, ids.length, 'every container of a launch is another')
  checkStatuses(world, answer.result, containers)

  for (const [i, id] of ids.entries()) {
    assert.not.ok(before.runtime.has(id), `a launch answered container ${id}, which ran before`)
    assert.ok(after.hosted.has(id), `a launch answered container ${id}, which is not hosted`)
    model.hosted.set(id, { buyer: from.peerId, requestId, resources: containers[i].resources })
  }

  assert.equal([...after.hosted.keys()].sort(), [...before.hosted.keys(), ...ids].sort(), 'a launch adds its own containers and nothing else')
  model.launched.set(key, { fingerprint, ids })
}

function checkStatuses ({ subject }: SupplierWorld, statuses: ContainerStatus[], containers: ContainerConfig[]): void {
  for (const [i, s] of statuses.entries()) {
    assert.is(s.supplier.peerId, subject.peer.peerId, 'a status names its supplier')
    assert.equal(s.resources, containers[i].resources, 'statuses are in the order of the containers')
    assert.is(s.image, containers[i].image)
  }
}

async function stop (model: SupplierModel, world: SupplierWorld, from: NodeRef, containerId: string): Promise<void> {
  const { subject } = world
  const owner = model.hosted.get(containerId)
  const before = snapshot(subject)
  const answer = await deliver(subject.handlers, 'stopLocalContainer', from, { containerId })
  await subject.clock.settle()
  const after = snapshot(subject)

  if (owner == null) {
    assert.is(status(answer), 'NOT_FOUND', 'stopping a container not hosted answers NOT_FOUND')
    assertSameContainers(before, after, 'a stop of a container not hosted')
  } else if (owner.buyer !== from.peerId) {
    assert.is(status(answer), 'REFUSED', 'only the buyer of a container stops it')
    assertSameContainers(before, after, 'a stop by another peer than the buyer')
  } else {
    assert.ok(answer.ok, `its buyer's stop answered ${status(answer)}`)
    assert.not.ok(after.hosted.has(containerId) || after.runtime.has(containerId), 'a stopped container is gone')
    assert.equal([...after.hosted.keys()].sort(), [...before.hosted.keys()].filter(id => id !== containerId).sort(), 'a stop removes that container only')
    model.hosted.delete(containerId)
    model.gone.push(containerId)
  }
}

async function cancel (model: SupplierModel, world: SupplierWorld, from: NodeRef, requestId: string): Promise<void> {
  const { subject } = world
  const before = snapshot(subject)
  const answer = await deliver(subject.handlers, 'stopLocalContainer', from, { requestId })
  await subject.clock.settle()
  const after = snapshot(subject)
  const cancelled = [...model.hosted].filter(([, h]) => h.buyer === from.peerId && h.requestId === requestId).map(([id]) => id)

  assert.ok(answer.ok, `cancelling a launch answered ${status(answer)}: nothing to cancel is not an error`)
  assert.equal([...after.hosted.keys()].sort(), [...before.hosted.keys()].filter(id => !cancelled.includes(id)).sort(), 'a cancellation removes the containers of that buyer\'s launch only')
  cancelled.forEach(id => { model.hosted.delete(id); model.gone.push(id) })
}

/**
 * Launches, stops and cancellations at once: whatever the interleaving, no container is hosted
 * but those of launches that answered it, none is removed but by its buyer, and a failed launch
 * leaves nothing behind.
 */
async function race (model: SupplierModel, world: SupplierWorld, actions: RaceAction[]): Promise<void> {
  const { subject, senders } = world
  const before = snapshot(subject)
  const offerIds = await Promise.all(actions.map(async a => a.kind === 'launch' ? offerIdOf(world, senders[a.from], a.offer) : 0))
  const targets = actions.map(a => a.kind === 'stop' ? containerIdOf(model, a.target) : undefined)
  const answers = await Promise.all(actions.map(async (a, i) => {
    const from = senders[a.from]

    if (a.kind === 'launch') {
      model.sent.push({ from, requestId: a.requestId, containers: a.containers, offerId: offerIds[i] })
      return deliver(subject.handlers, 'launchContainer', from, { offerId: offerIds[i], requestId: a.requestId, containers: a.containers })
    }

    return deliver(subject.handlers, 'stopLocalContainer', from, a.kind === 'stop' ? { containerId: targets[i] as string } : { requestId: a.requestId })
  }))
  await subject.clock.settle()
  const after = snapshot(subject)
  /** container id → its launch, for the containers answered by a launch of the race */
  const answered = new Map<string, HostedByModel>()

  for (const [i, a] of actions.entries()) {
    const answer = answers[i]

    if (a.kind !== 'launch') {
      assert.ok(['OK', 'REFUSED', 'NOT_FOUND'].includes(status(answer)), `a racing stop answered ${status(answer)}`)
      continue
    }

    const key = launchKey(senders[a.from].peerId, a.requestId)
    const previous = model.launched.get(key)

    if (!answer.ok) {
      assert.ok(LAUNCH_REFUSALS.includes(answer.status), `a racing launch answered ${answer.status}`)
      continue
    }

    const ids = (answer.result as ContainerStatus[]).map(s => s.containerId)
    assert.is(ids.length, a.containers.length, 'a racing launch runs every container or none')
    checkStatuses(world, answer.result as ContainerStatus[], a.containers)

    if (previous != null) {
      assert.equal(ids, previous.ids, 'a launch with the same request id answers the same containers')
      continue
    }

    model.launched.set(key, { fingerprint: fingerprintOf(a.containers), ids })
    ids.forEach((id, j) => {
      assert.not.ok(before.runtime.has(id), `a racing launch answered container ${id}, which ran before`)
      answered.set(id, { buyer: senders[a.from].peerId, requestId: a.requestId, resources: a.containers[j].resources })
    })
  }

  for (const [id, h] of after.hosted) {
    const launched = model.hosted.get(id) ?? answered.get(id)
    assert.ok(launched != null, `container ${id} is hosted, but no launch answered it`)
    assert.equal([h.buyer, h.requestId], [launched.buyer, launched.requestId], `container ${id} is hosted for another launch than the one that answered it`)
  }

  for (const [id, h] of model.hosted) {
    if (!after.hosted.has(id)) {
      const byBuyer = actions.some((a, i) => senders[a.from].peerId === h.buyer && (targets[i] === id || (a.kind === 'cancel' && a.requestId === h.requestId)))
      assert.ok(byBuyer, `container ${id} was removed, but not by its buyer`)
      model.hosted.delete(id)
      model.gone.push(id)
    }
  }

  for (const [id, h] of answered) {
    if (after.hosted.has(id)) {
      model.hosted.set(id, h)
    } else {
      model.gone.push(id)
    }
  }
}

async function runSupplier (model: SupplierModel, world: SupplierWorld, action: SupplierAction): Promise<void> {
  const { subject, senders } = world

  switch (action.kind) {
    case 'launch': {
      const from = senders[action.from]
      await launch(model, world, from, action.requestId, action.containers, await offerIdOf(world, from, action.offer))
      break
    }
    case 'retry': {
      const sent = model.sent[action.index % Math.max(1, model.sent.length)]

      if (sent != null) {
        await launch(model, world, sent.from, sent.requestId, sent.containers, sent.offerId)
      }
      break
    }
    case 'relaunch': {
      const sent = model.sent[action.index % Math.max(1, model.sent.length)]

      if (sent != null) {
        await launch(model, world, sent.from, sent.requestId, action.containers, sent.offerId)
      }
      break
    }
    case 'stop':
      await stop(model, world, senders[action.from], containerIdOf(model, action.target))
      break
    case 'cancel':
      await cancel(model, world, senders[action.from], action.requestId)
      break
    case 'kill': {
      const hosted = [...model.hosted.keys()]

      if (hosted.length > 0) {
        const id = hosted[action.index % hosted.length]
        subject.runtime.kill(id)
        await subject.clock.settle()
        assert.not.ok(subject.roles.hosted().some(h => h.containerId === id), 'a container that exited is no longer hosted')
        model.hosted.delete(id)
        model.gone.push(id)
      }
      break
    }
    case 'own': {
      const answer = await deliver(subject.handlers, 'getOffers', senders[action.from], { relay: false, needed: action.needed, own: true })
      const { available, max } = subject.roles.offers().supplying
      const fits = available.cpus > 0 && available.memory > 0 && (action.needed == null || contains(available, action.needed))
      assert.ok(answer.ok, `getOffers of the peer's own resources answered ${status(answer)}`)
      assert.is(answer.result.length, fits ? 1 : 0, 'a peer answers its own free resources when they hold what is needed')

      for (const offer of answer.result) {
        assert.equal([offer.supplier.peerId, offer.freeResources], [subject.peer.peerId, available], 'a peer\'s own offer is its free resources')
        assert.equal(offer.usedResources, { cpuClass: max.cpuClass, cpus: max.cpus - available.cpus, memory: max.memory - available.memory })
      }
      break
    }
    case 'refresh': {
      // a trader refreshes an offer: only the offer's own trader is told yes
      const from = senders[action.from]
      const offerId = await offerIdOf(world, from, action.offer)
      const made = subject.roles.offers().supplying.offers
      const answer = await deliver(subject.handlers, 'refreshOffer', from, { offerId })
      assert.equal(answer, { ok: true, result: made.some(o => o.id === offerId && o.peerId === from.peerId) }, 'a supplier confirms an offer to its trader only')
      assert.equal(subject.roles.offers().supplying.offers, made, 'a refresh changes no offer')
      break
    }
    case 'race':
      await race(model, world, action.actions)
      break
  }

  checkSupplier(model, world)
}

const Supplying = suite('roles: supplier and containers manager under random launches and stops')

Supplying('never over capacity, runtime and supplier agree, only the buyer stops, a retry runs nothing twice, a launch is all or nothing', async () => {
  const senders = 1 + POOL_SIZE

  await fc.assert(fc.asyncProperty(
    supplierSetupArb,
    fc.commands([supplierActionArb(senders).map(a => new Step<SupplierModel, SupplierWorld>(describeSupplier(a), async (m, w) => { await runSupplier(m, w, a) }))], { maxCommands: 40, size: 'max' }),
    async (setup, commands) => {
      const world = await supplierWorld(setup)

      try {
        await fc.asyncModelRun(() => ({ model: { sent: [], launched: new Map(), hosted: new Map(), gone: [] }, real: world }), commands)
      } finally {
        await world.subject.roles.stop()
      }
    }
  ), runs(400))
})

Supplying.run()

// ---- the user manager ----

type ExitAction =
  | { kind: 'exited', from: number, container: { kind: 'placed', index: number } | { kind: 'raw', id: string }, exitCode?: number, reason: string }
  | { kind: 'die', index: number }

const Buying = suite('roles: user manager under random ContainerExited')

Buying('a ContainerExited from a peer that does not host the container changes nothing', async () => {
  const actionArb: fc.Arbitrary<ExitAction> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('exited' as const),
        // the network's four peers (the buyer and the suppliers), or any
        from: fc.oneof(fc.nat({ max: 3 }), fc.nat({ max: 3 + POOL_SIZE })),
        container: fc.oneof(
          { weight: 4, arbitrary: fc.record({ kind: fc.constant('placed' as const), index: fc.nat() }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), id: fc.stringMatching(/^[0-9a-f]{4,64}$/) }) }
        ),
        exitCode: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: undefined }),
        reason: fc.string({ maxLength: 40 })
      }, { requiredKeys: ['kind', 'from', 'container', 'reason'] })
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('die' as const), index: fc.nat() }) }
  )

  await fc.assert(fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 30 }), async actions => {
    const net = await createRolesNetwork({ size: 4, runtime: () => ({ cpus: 4, memory: 4096 }) })
    const buyer = net.peers[0]
    const handlers = handlersOf(buyer.roles)
    const senders = [...net.peers.map(p => p.peer.node), ...POOL]
    const placed: ContainerStatus[] = []

    for (let i = 0; i < 4; i++) {
      placed.push(...await buyer.roles.run([container({ cpus: 1, memory: 256 }, { name: `c${i}` })]))
    }

    for (const action of actions) {
      const before = buyer.roles.ps()

      if (action.kind === 'die') {
        // the real supplier's container ends: the supplier tells the buyer
        const target = placed[action.index % placed.length]
        const supplier = net.byId(target.supplier.peerId)

        if (supplier.runtime.list().some(c => c.id === target.containerId && c.state === 'running')) {
          supplier.runtime.kill(target.containerId)
          await net.clock.settle()
          const ps = buyer.roles.ps()
          const finishedAt = ps.find(c => c.containerId === target.containerId)?.finishedAt
          assert.type(finishedAt, 'number', 'the buyer records when it heard that the container ended')
          const expected = before.map(c => c.containerId === target.containerId ? { ...c, state: 'exited (137)', exitCode: 137, finishedAt } : c)
          assert.equal(ps, expected, 'the supplier of a container tells its buyer that it exited')
        }

        continue
      }

      const from = senders[action.from]
      const containerId = action.container.kind === 'placed' ? placed[action.container.index % placed.length].containerId : action.container.id
      const target = before.find(c => c.containerId === containerId)
      const answer = await deliver(handlers, 'containerExited', from, { containerId, exitCode: action.exitCode, reason: action.reason })
      const after = buyer.roles.ps()

      if (target?.supplier.peerId === from.peerId) {
        assert.ok(answer.ok, `its supplier's ContainerExited answered ${status(answer)}`)
        const state = action.exitCode == null ? 'exited' : `exited (${action.exitCode})`
        const exited = { state, ...(action.exitCode == null ? {} : { exitCode: action.exitCode }), finishedAt: target.finishedAt ?? after.find(c => c.containerId === containerId)?.finishedAt }
        assert.type(exited.finishedAt, 'number', 'the buyer records when it heard that the container ended')
        assert.equal(after, before.map(c => c.containerId === containerId ? { ...c, ...exited } : c), 'its supplier\'s word changes that container\'s state only')
      } else {
        assert.is(status(answer), target == null ? 'NOT_FOUND' : 'REFUSED', 'a ContainerExited from another peer than the supplier is refused')
        assert.equal(after, before, 'a ContainerExited from another peer than the supplier changes nothing')
      }
    }

    assert.equal(net.network.handlerErrors, [], 'no handler threw anything but a status')
    await net.stop()
  }), runs(100))
})

Buying.run()

// ---- the protocol server of a real peer ----

interface WireContext {
  server?: CaravelaNode
  clients: CaravelaNode[]
}

const Wire = suite<WireContext>('protocol server of a real peer: random messages from real peers', { clients: [] })

Wire.before(async ctx => {
  const runtime = new MemoryRuntime({ cpus: 2, memory: 2048, allocatable: { cpus: 4, memory: 3072 } })
  ctx.server = await createTestNode('props-server', {
    runtime,
    config: testConfig(c => {
      c.network.cpuSlices = 2
      c.network.memoryOvercommit = 150
      c.network.discoveryBackend = 'multi-offer'
    })
  })
  ctx.clients = await Promise.all([0, 1, 2].map(async i => createTestNode(`props-client-${i}`)))
})

Wire.after(async ctx => {
  await stopAll([ctx.server, ...ctx.clients])
})

type WireMessage =
  | { kind: 'configuration' }
  | { kind: 'advertise', offering: number }
  | { kind: 'get', relay: boolean, needed?: Resources }
  | { kind: 'create', offer: Offer, emptySlices: number[] }
  | { kind: 'update', offer: Offer }
  | { kind: 'remove', offerId: number }
  | { kind: 'refresh', offerId: number }
  | { kind: 'launch', offerId: number, requestId: string, containers: ContainerConfig[] }
  | { kind: 'stop', containerId: string }
  | { kind: 'exited', containerId: string, exitCode?: number }

Wire('ObtainConfiguration answers every peer the same configuration, one a joiner adopts, whatever else it is sent; nothing answers INTERNAL_ERROR', async ctx => {
  const server = ctx.server as CaravelaNode
  const target: NodeRef = { peerId: server.peerId.toString(), multiaddrs: [dialableAddress(server)] }
  const service = server.services.caravela
  const configuration = networkConfigToJson(service.config.network)
  const digest = service.resourceMap.digest()
  // peers a client may advertise: the other clients, the server, or strangers
  const offerings: NodeRef[] = [...ctx.clients.map(c => ({ peerId: c.peerId.toString(), multiaddrs: [dialableAddress(c)] })), target, ...POOL.slice(0, 4)]

  const messageArb: fc.Arbitrary<WireMessage> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'configuration' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advertise' as const), offering: fc.nat({ max: offerings.length - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('get' as const), relay: fc.boolean(), needed: fc.option(resourcesArb, { nil: undefined }) }, { requiredKeys: ['kind', 'relay'] }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('create' as const), offer: offerArb, emptySlices: emptySlicesArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('update' as const), offer: offerArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), offerId: offerIdArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('refresh' as const), offerId: offerIdArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('launch' as const), offerId: offerIdArb, requestId: requestIdArb, containers: containersArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('stop' as const), containerId: fc.stringMatching(/^[0-9a-f]{1,64}$/) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('exited' as const), containerId: fc.stringMatching(/^[0-9a-f]{1,64}$/), exitCode: fc.option(fc.integer({ min: -5, max: 255 }), { nil: undefined }) }, { requiredKeys: ['kind', 'containerId'] }) }
  )

  /** The message sent by a client: its answer's status (a thrown error that is not a status fails). */
  const send = async (client: CaravelaNode, m: WireMessage): Promise<{ status: string, result?: unknown }> => {
    const c = client.services.caravela.client

    try {
      switch (m.kind) {
        case 'configuration': return { status: 'OK', result: await c.obtainConfiguration(target) }
        case 'advertise': return { status: 'OK', result: await c.advertiseOffersNeighbor(target, offerings[m.offering]) }
        case 'get': return { status: 'OK', result: await c.getOffers(target, m.relay, { needed: m.needed }) }
        case 'create': return { status: 'OK', result: await c.createOffer(target, m.offer, { emptySlices: m.emptySlices }) }
        case 'update': return { status: 'OK', result: await c.updateOffer(target, m.offer) }
        case 'remove': return { status: 'OK', result: await c.removeOffer(target, m.offerId) }
        case 'refresh': return { status: 'OK', result: await c.refreshOffer(target, m.offerId) }
        case 'launch': return { status: 'OK', result: await c.launchContainer(target, m.offerId, m.requestId, m.containers) }
        case 'stop': return { status: 'OK', result: await c.stopLocalContainer(target, m.containerId) }
        case 'exited': return { status: 'OK', result: await c.containerExited(target, m.containerId, m.exitCode, 'gone') }
      }
    } catch (err: any) {
      if (err instanceof RemoteRequestError) {
        return { status: err.status }
      }

      throw err
    }
  }

  /** The offers the peer's trader keeps for other peers than itself, as JSON, by `offerKey`. */
  const othersOffers = (): Map<string, string> => new Map(service.offers().trading.offers
    .filter(o => o.peerId !== target.peerId)
    .map(o => [offerKey(o.peerId, o.id), JSON.stringify(o)]))

  await fc.assert(fc.asyncProperty(fc.array(fc.record({ client: fc.nat({ max: ctx.clients.length - 1 }), message: messageArb }), { minLength: 1, maxLength: 12 }), async messages => {
    for (const { client, message } of messages) {
      const offersBefore = othersOffers()
      const hostedBefore = JSON.stringify(service.hosted())
      const answer = await send(ctx.clients[client], message)
      assert.is.not(answer.status, 'INTERNAL_ERROR', `${message.kind} answered INTERNAL_ERROR`)

      if (message.kind === 'configuration' && answer.status === 'OK') {
        const { json, resourceMapDigest } = answer.result as { json: string, resourceMapDigest: Uint8Array }
        assert.is(json, configuration, 'every peer is answered the configuration in force')
        assert.is(hex(resourceMapDigest), hex(digest), 'every peer is answered the digest of the map in force')
        // what a joiner checks before it adopts the configuration
        const adopted = networkConfigFromJson(json)
        checkAdoptedNetwork(adopted)
        assert.is(hex(new ResourceMap(adopted.resources).digest()), hex(resourceMapDigest), 'the digest is the one a joiner computes')
      }

      if (message.kind === 'configuration' || message.kind === 'advertise' || message.kind === 'get' || message.kind === 'refresh') {
        // the peer's trader may drop an offer meanwhile (a client's supplier answers its refreshes
        // no), and its own supplier moves its offers as peers join: neither counts
        for (const [key, offer] of othersOffers()) {
          assert.is(offer, offersBefore.get(key), `${message.kind} added or changed offer ${key} of the peer's trader`)
        }
        assert.is(JSON.stringify(service.hosted()), hostedBefore, `${message.kind} changed the containers the peer runs`)
      }
    }

    assert.is(networkConfigToJson(service.config.network), configuration, 'the configuration in force never changes')
  }), runs(20))
})

Wire.run()
