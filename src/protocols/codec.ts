/**
 * Conversion between the domain types of `../types.ts` and the generated protobuf messages, with
 * validation in both directions. Decoding turns any malformed input into a
 * `MalformedMessageError` naming the field, and nothing else; encoding refuses domain values the
 * wire cannot carry (negative or fractional numbers, bad peer ids, over-long strings) the same way.
 */

import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { MalformedMessageError } from '../errors.js'
import { LruMap } from '../lru.js'
import { CPU_CLASS_NAMES } from '../types.js'
import {
  INT32_MAX, INT32_MIN, MAX_ARG_LENGTH, MAX_LOG_CHUNK, MAX_ARGS, MAX_CONTAINERS, MAX_ID_LENGTH, MAX_IMAGE_LENGTH, MAX_MULTIADDR_BYTES,
  MAX_MULTIADDRS, MAX_NAME_LENGTH, MAX_OFFERS, MAX_PEER_ID_BYTES, MAX_SLICES, MAX_PORT, MAX_PORT_MAPPINGS,
  MAX_STATE_LENGTH, MAX_STATUS_IDS, MAX_TEXT_LENGTH, RESOURCE_MAP_DIGEST_BYTES, UINT32_MAX
} from './constants.js'
import * as pb from './pb/caravela.js'
import { PeerIdCache } from './peer-id-cache.js'
import type { RequestStatus } from '../errors.js'
import type {
  AvailableOffer, ContainerConfig, ContainerStatus, CreateOfferResult, LogChunk, NetworkConfiguration, NodeRef,
  Offer, PortMapping, RemoteContainerState, Resources, StopTarget
} from '../types.js'
import type { MessageName } from './ids.js'
import type { Uint8ArrayList } from 'uint8arraylist'

/** The arguments of each message, as the server's handlers receive them. */
export interface Requests {
  /** `emptySlices`: indices of the slices the supplier found without a trader, ascending; absent when none */
  createOffer: { offer: Offer, emptySlices?: number[] }
  refreshOffer: { offerId: number }
  updateOffer: { offer: Offer }
  removeOffer: { offerId: number }
  /** `needed` absent when the asker wants every offer */
  getOffers: { relay: boolean, needed?: Resources, own?: boolean }
  advertiseOffersNeighbor: { traderOffering: NodeRef }
  /** `deadlineMs` absent when the buyer sets no deadline */
  launchContainer: { offerId: number, requestId: string, containers: ContainerConfig[], deadlineMs?: number }
  /** distinct ids, 1 to `MAX_STATUS_IDS` */
  containerStatus: { containerIds: string[] }
  stopLocalContainer: StopTarget
  /** `exitCode` absent when unknown */
  containerExited: { containerId: string, exitCode?: number, reason: string }
  obtainConfiguration: Record<string, never>
}

/** The result of each message when its status is OK. */
export interface Results {
  createOffer: CreateOfferResult
  refreshOffer: boolean
  updateOffer: boolean
  removeOffer: void
  getOffers: AvailableOffer[]
  advertiseOffersNeighbor: void
  launchContainer: ContainerStatus[]
  containerStatus: RemoteContainerState[]
  stopLocalContainer: void
  containerExited: void
  obtainConfiguration: NetworkConfiguration
}

/** A status of a response: OK or one of the request statuses. */
export type StatusName = 'OK' | RequestStatus

/** A decoded response: a result when OK, a status message otherwise. */
export type Response<T> = { status: 'OK', result: T } | { status: RequestStatus, message: string }

/** Encoder and decoder of one message's request and response. */
export interface MessageCodec<Req, Res> {
  encodeRequest (request: Req): Uint8Array
  /** @throws {MalformedMessageError} on any input that is not a valid request */
  decodeRequest (bytes: Uint8Array | Uint8ArrayList): Req
  encodeResponse (response: Response<Res>): Uint8Array
  /** @throws {MalformedMessageError} on any input that is not a valid response */
  decodeResponse (bytes: Uint8Array | Uint8ArrayList): Response<Res>
}

const STATUS_TO_PB: Record<StatusName, pb.Status.Code> = {
  OK: pb.Status.Code.OK,
  INVALID_REQUEST: pb.Status.Code.INVALID_REQUEST,
  NOT_FOUND: pb.Status.Code.NOT_FOUND,
  REFUSED: pb.Status.Code.REFUSED,
  UNAVAILABLE: pb.Status.Code.UNAVAILABLE,
  RATE_LIMITED: pb.Status.Code.RATE_LIMITED,
  NOT_IMPLEMENTED: pb.Status.Code.NOT_IMPLEMENTED,
  INTERNAL_ERROR: pb.Status.Code.INTERNAL_ERROR
}

const STATUS_FROM_PB: Record<pb.Status.Code, StatusName> = {
  [pb.Status.Code.OK]: 'OK',
  [pb.Status.Code.INVALID_REQUEST]: 'INVALID_REQUEST',
  [pb.Status.Code.NOT_FOUND]: 'NOT_FOUND',
  [pb.Status.Code.REFUSED]: 'REFUSED',
  [pb.Status.Code.UNAVAILABLE]: 'UNAVAILABLE',
  [pb.Status.Code.RATE_LIMITED]: 'RATE_LIMITED',
  [pb.Status.Code.NOT_IMPLEMENTED]: 'NOT_IMPLEMENTED',
  [pb.Status.Code.INTERNAL_ERROR]: 'INTERNAL_ERROR'
}

/* eslint-disable no-control-regex -- these patterns exist to refuse control characters */
/** printable ASCII without spaces: request and container ids */
const ID_PATTERN = /^[\x21-\x7e]+$/
/** no whitespace, no control characters: image references */
const IMAGE_PATTERN = /^[^\s\x00-\x1f\x7f]+$/
/** one line of text: names and states */
const LINE_PATTERN = /^[^\x00-\x1f\x7f]*$/
/** anything but NUL, which no argv entry can hold */
const ARG_PATTERN = /^[^\x00]*$/
/* eslint-enable no-control-regex */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function fail (field: string, reason: string): never {
  throw new MalformedMessageError(field, reason)
}

function uint (field: string, value: number, max: number = UINT32_MAX): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    fail(field, `must be an integer from 0 to ${max}`)
  }

  return value
}

function int32 (field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    fail(field, `must be an integer from ${INT32_MIN} to ${INT32_MAX}`)
  }

  return value
}

function bool (field: string, value: boolean): boolean {
  if (typeof value !== 'boolean') {
    fail(field, 'must be a boolean')
  }

  return value
}

function text (field: string, value: string, max: number, pattern: RegExp): string {
  if (typeof value !== 'string') {
    fail(field, 'must be a string')
  }

  if (value.length > max) {
    fail(field, `must be at most ${max} characters long`)
  }

  if (!pattern.test(value) || LONE_SURROGATE.test(value)) {
    fail(field, value === '' ? 'must not be empty' : 'contains characters it may not hold')
  }

  return value
}

/** Free text (status messages, reasons): cut, never refused. */
function freeText (value: string | undefined): string {
  return typeof value === 'string' ? value.slice(0, MAX_TEXT_LENGTH) : ''
}

function list<T> (field: string, value: T[], max: number, min = 0): T[] {
  if (!Array.isArray(value)) {
    fail(field, 'must be a list')
  }

  if (value.length < min || value.length > max) {
    fail(field, `must hold ${min} to ${max} entries`)
  }

  return value
}

function present<T> (field: string, value: T | undefined): asserts value is T {
  if (value == null) {
    fail(field, 'is missing')
  }
}

/** A set of slice indices as a bitset: bit i % 8 of byte i / 8 (least significant first) for slice i. */
function sliceSetToPb (field: string, indices: readonly number[]): Uint8Array<ArrayBuffer> {
  list(field, indices as number[], MAX_SLICES)
  let highest = -1

  indices.forEach((index, i) => { highest = Math.max(highest, uint(`${field}[${i}]`, index, MAX_SLICES - 1)) })
  const bytes = new Uint8Array((highest >> 3) + 1)

  for (const index of indices) {
    bytes[index >> 3] |= 1 << (index & 7)
  }

  return bytes
}

/** The slice indices of a bitset, ascending. */
function sliceSetFromPb (field: string, bytes: Uint8Array): number[] {
  if (bytes.byteLength > MAX_SLICES / 8) {
    fail(field, `must be at most ${MAX_SLICES / 8} bytes`)
  }

  const indices: number[] = []

  bytes.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) {
      if ((byte & (1 << bit)) !== 0) {
        indices.push(i * 8 + bit)
      }
    }
  })

  return indices
}

function offerIdToPb (field: string, id: number): bigint {
  return BigInt(uint(field, id, Number.MAX_SAFE_INTEGER))
}

function offerIdFromPb (field: string, id: bigint): number {
  if (id > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail(field, `must be at most ${Number.MAX_SAFE_INTEGER}`)
  }

  return Number(id)
}

/**
 * The multihash of a peer id, through `cache` when the codecs have one (a cached multihash is
 * shared, and only read by the encoder).
 */
function peerIdToPb (field: string, peerId: string, cache: PeerIdCache | undefined): Uint8Array<ArrayBuffer> {
  const cached = cache?.bytesOf(peerId)

  if (cached != null) {
    return cached
  }

  let id

  try {
    id = peerIdFromString(peerId)
  } catch {
    fail(field, 'must be a peer id')
  }

  if (id.type === 'url') {
    fail(field, 'must be the peer id of a key')
  }

  if (cache == null) {
    return new Uint8Array(id.toMultihash().bytes)
  }

  const bytes = cache.rememberBytes(peerId, id.toMultihash().bytes)

  // the text decodes back to itself only in its canonical (base58btc) form
  if (id.toString() === peerId) {
    cache.rememberText(cache.keyOf(bytes), peerId)
  }

  return bytes
}

/** The text of a peer id multihash, through `cache` when the codecs have one. */
function peerIdFromPb (field: string, bytes: Uint8Array, cache: PeerIdCache | undefined): string {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_PEER_ID_BYTES) {
    fail(field, `must be 1 to ${MAX_PEER_ID_BYTES} bytes long`)
  }

  const key = cache?.keyOf(bytes)

  if (key != null) {
    const cached = cache?.textOf(key)

    if (cached != null) {
      return cached
    }
  }

  let id

  try {
    // straight from the multihash: half the cost of a round trip through base58 text
    id = peerIdFromMultihash(Digest.decode(bytes))
  } catch {
    fail(field, 'must be a peer id multihash')
  }

  if (id.type === 'url' || !uint8ArrayEquals(id.toMultihash().bytes, bytes)) {
    fail(field, 'must be the multihash of a key\'s peer id')
  }

  const text = id.toString()

  if (cache == null || key == null) {
    return text
  }

  cache.rememberBytes(text, bytes)
  return cache.rememberText(key, text)
}

/** Multiaddrs each way the multiaddr caches hold, at most. */
export const MULTIADDR_CACHE_SIZE = 1024

/**
 * Multiaddrs converted before: every message names peers by their addresses, the same few again
 * and again, and parsing one (with its text form, checked both ways) is a costly step of a
 * decode. Only what passed validation goes in, keyed by the exact text or bytes, so a hit returns
 * what the full conversion would; bounded, so a peer sending ever new addresses only evicts.
 */
const multiaddrBytes = new LruMap<string, Uint8Array<ArrayBuffer>>(MULTIADDR_CACHE_SIZE)
const multiaddrTexts = new LruMap<string, string>(MULTIADDR_CACHE_SIZE)

/** Entries of the multiaddr caches: texts with their bytes, bytes with their text. */
export function multiaddrCacheSizes (): { bytes: number, texts: number } {
  return { bytes: multiaddrBytes.size, texts: multiaddrTexts.size }
}

/** The bytes of a multiaddr; shared with the cache, so only to be read (as encoders do). */
function multiaddrToPb (field: string, address: string): Uint8Array<ArrayBuffer> {
  const cached = typeof address === 'string' ? multiaddrBytes.get(address) : undefined

  if (cached != null) {
    return cached
  }

  let bytes

  try {
    bytes = multiaddr(address).bytes
  } catch {
    fail(field, 'must be a multiaddr')
  }

  if (bytes.byteLength > MAX_MULTIADDR_BYTES) {
    fail(field, `must be at most ${MAX_MULTIADDR_BYTES} bytes long`)
  }

  const copy = new Uint8Array(bytes)

  if (typeof address === 'string') {
    multiaddrBytes.set(address, copy)
  }

  return copy
}

function multiaddrFromPb (field: string, bytes: Uint8Array): string {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_MULTIADDR_BYTES) {
    fail(field, `must be 1 to ${MAX_MULTIADDR_BYTES} bytes long`)
  }

  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  const cached = multiaddrTexts.get(key)

  if (cached != null) {
    return cached
  }

  try {
    const address = multiaddr(bytes).toString()

    // the text form must parse back to the same bytes, or the address could not be sent on
    if (uint8ArrayEquals(multiaddr(address).bytes, bytes)) {
      multiaddrTexts.set(key, address)
      return address
    }
  } catch {}

  fail(field, 'must be a multiaddr')
}

/** Encodes a `NodeRef`; multiaddrs beyond `MAX_MULTIADDRS` are dropped. */
function nodeToPb (field: string, node: NodeRef, cache: PeerIdCache | undefined): pb.NodeRef {
  present(field, node)

  return {
    peerId: peerIdToPb(`${field}.peerId`, node.peerId, cache),
    multiaddrs: list(`${field}.multiaddrs`, node.multiaddrs, Infinity)
      .slice(0, MAX_MULTIADDRS)
      .map((address, i) => multiaddrToPb(`${field}.multiaddrs[${i}]`, address))
  }
}

function nodeFromPb (field: string, node: pb.NodeRef | undefined, cache: PeerIdCache | undefined): NodeRef {
  present(field, node)

  return {
    peerId: peerIdFromPb(`${field}.peerId`, node.peerId, cache),
    multiaddrs: list(`${field}.multiaddrs`, node.multiaddrs, MAX_MULTIADDRS)
      .map((bytes, i) => multiaddrFromPb(`${field}.multiaddrs[${i}]`, bytes))
  }
}

/** Checks resources in either direction: the domain and the wire shapes are the same. */
function resources (field: string, value: Resources | undefined): Resources {
  present(field, value)

  return {
    cpuClass: uint(`${field}.cpuClass`, value.cpuClass, CPU_CLASS_NAMES.length - 1),
    cpus: uint(`${field}.cpus`, value.cpus),
    memory: uint(`${field}.memory`, value.memory)
  }
}

function offerToPb (field: string, offer: Offer): pb.Offer {
  present(field, offer)

  return {
    id: offerIdToPb(`${field}.id`, offer.id),
    amount: uint(`${field}.amount`, offer.amount),
    freeResources: resources(`${field}.freeResources`, offer.freeResources),
    usedResources: resources(`${field}.usedResources`, offer.usedResources),
    containersRunning: uint(`${field}.containersRunning`, offer.containersRunning)
  }
}

function offerFromPb (field: string, offer: pb.Offer | undefined): Offer {
  present(field, offer)

  return {
    id: offerIdFromPb(`${field}.id`, offer.id),
    amount: uint(`${field}.amount`, offer.amount),
    freeResources: resources(`${field}.freeResources`, offer.freeResources),
    usedResources: resources(`${field}.usedResources`, offer.usedResources),
    containersRunning: uint(`${field}.containersRunning`, offer.containersRunning)
  }
}

function availableOfferToPb (field: string, offer: AvailableOffer, cache: PeerIdCache | undefined): pb.AvailableOffer {
  return {
    offer: offerToPb(field, offer),
    supplier: nodeToPb(`${field}.supplier`, offer.supplier, cache)
  }
}

function availableOfferFromPb (field: string, offer: pb.AvailableOffer, cache: PeerIdCache | undefined): AvailableOffer {
  return {
    ...offerFromPb(field, offer.offer),
    supplier: nodeFromPb(`${field}.supplier`, offer.supplier, cache)
  }
}

function portMappingToPb (field: string, mapping: PortMapping): pb.PortMapping {
  present(field, mapping)

  return {
    hostPort: uint(`${field}.hostPort`, mapping.hostPort, MAX_PORT),
    containerPort: portNumber(`${field}.containerPort`, mapping.containerPort),
    protocol: mapping.protocol === 'tcp'
      ? pb.PortMapping.Protocol.TCP
      : mapping.protocol === 'udp' ? pb.PortMapping.Protocol.UDP : fail(`${field}.protocol`, 'must be tcp or udp')
  }
}

function portMappingFromPb (field: string, mapping: pb.PortMapping): PortMapping {
  return {
    hostPort: uint(`${field}.hostPort`, mapping.hostPort, MAX_PORT),
    containerPort: portNumber(`${field}.containerPort`, mapping.containerPort),
    protocol: mapping.protocol === pb.PortMapping.Protocol.UDP ? 'udp' : 'tcp'
  }
}

function portNumber (field: string, port: number): number {
  if (uint(field, port, MAX_PORT) === 0) {
    fail(field, `must be from 1 to ${MAX_PORT}`)
  }

  return port
}

/** The checks shared by both directions; the enums and the nested lists differ. */
function containerFields (field: string, config: ContainerConfig | pb.ContainerConfig): Pick<ContainerConfig, 'name' | 'image' | 'args' | 'resources'> {
  return {
    name: text(`${field}.name`, config.name, MAX_NAME_LENGTH, LINE_PATTERN),
    image: text(`${field}.image`, config.image, MAX_IMAGE_LENGTH, IMAGE_PATTERN),
    args: list(`${field}.args`, config.args, MAX_ARGS)
      .map((arg, i) => text(`${field}.args[${i}]`, arg, MAX_ARG_LENGTH, ARG_PATTERN)),
    resources: resources(`${field}.resources`, config.resources)
  }
}

function containerToPb (field: string, config: ContainerConfig): pb.ContainerConfig {
  present(field, config)

  return {
    ...containerFields(field, config),
    portMappings: list(`${field}.portMappings`, config.portMappings, MAX_PORT_MAPPINGS)
      .map((mapping, i) => portMappingToPb(`${field}.portMappings[${i}]`, mapping)),
    groupPolicy: config.groupPolicy === 'spread'
      ? pb.ContainerConfig.GroupPolicy.SPREAD
      : config.groupPolicy === 'co-location'
        ? pb.ContainerConfig.GroupPolicy.CO_LOCATION
        : fail(`${field}.groupPolicy`, 'must be spread or co-location')
  }
}

function containerFromPb (field: string, config: pb.ContainerConfig | undefined): ContainerConfig {
  present(field, config)

  return {
    ...containerFields(field, config),
    portMappings: list(`${field}.portMappings`, config.portMappings, MAX_PORT_MAPPINGS)
      .map((mapping, i) => portMappingFromPb(`${field}.portMappings[${i}]`, mapping)),
    groupPolicy: config.groupPolicy === pb.ContainerConfig.GroupPolicy.CO_LOCATION ? 'co-location' : 'spread'
  }
}

function containerStatusToPb (field: string, status: ContainerStatus, cache: PeerIdCache | undefined): pb.ContainerStatus {
  present(field, status)

  return {
    config: containerToPb(field, status),
    supplier: nodeToPb(`${field}.supplier`, status.supplier, cache),
    containerId: text(`${field}.containerId`, status.containerId, MAX_ID_LENGTH, ID_PATTERN),
    state: text(`${field}.state`, status.state, MAX_STATE_LENGTH, LINE_PATTERN)
  }
}

function containerStatusFromPb (field: string, status: pb.ContainerStatus, cache: PeerIdCache | undefined): ContainerStatus {
  return {
    ...containerFromPb(field, status.config),
    supplier: nodeFromPb(`${field}.supplier`, status.supplier, cache),
    containerId: text(`${field}.containerId`, status.containerId, MAX_ID_LENGTH, ID_PATTERN),
    state: text(`${field}.state`, status.state, MAX_STATE_LENGTH, LINE_PATTERN)
  }
}

function configurationJson (field: string, json: string): string {
  if (typeof json !== 'string' || json === '') {
    fail(field, 'must be a JSON object')
  }

  let value: unknown

  try {
    value = JSON.parse(json)
  } catch {}

  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    fail(field, 'must be a JSON object')
  }

  return json
}

function digest (field: string, bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== RESOURCE_MAP_DIGEST_BYTES) {
    fail(field, `must be ${RESOURCE_MAP_DIGEST_BYTES} bytes long`)
  }

  return bytes
}

/** What a generated protons message exposes. */
interface PbCodec<T> {
  encode (message: Partial<T>): Uint8Array
  decode (bytes: Uint8Array | Uint8ArrayList): T
}

/** Conversions of one message; `cache` is the peer-id cache of the codecs, if they have one. */
interface Conversions<Req, Res, PbReq, PbRes> {
  requestToPb (request: Req, cache: PeerIdCache | undefined): PbReq
  requestFromPb (message: PbReq, cache: PeerIdCache | undefined): Req
  resultToPb (result: Res, cache: PeerIdCache | undefined): Omit<PbRes, 'status'>
  resultFromPb (message: PbRes, cache: PeerIdCache | undefined): Res
}

/** The codec of one message, made for the peer-id cache of a set of codecs. */
type CodecOf<Req, Res> = (cache: PeerIdCache | undefined) => MessageCodec<Req, Res>

function decodePb<T> (codec: PbCodec<T>, bytes: Uint8Array | Uint8ArrayList): T {
  try {
    return codec.decode(bytes)
  } catch (err: any) {
    fail('message', `is not a valid protobuf message (${String(err?.message ?? err)})`)
  }
}

function defineCodec<Req, Res, PbReq, PbRes extends { status?: pb.Status }> (
  request: PbCodec<PbReq>,
  response: PbCodec<PbRes>,
  conversions: Conversions<Req, Res, PbReq, PbRes>
): CodecOf<Req, Res> {
  return cache => ({
    encodeRequest: (value) => request.encode(conversions.requestToPb(value, cache)),
    decodeRequest: (bytes) => conversions.requestFromPb(decodePb(request, bytes), cache),
    encodeResponse: (value) => {
      if (value.status === 'OK') {
        return response.encode({
          ...conversions.resultToPb(value.result, cache),
          status: { code: pb.Status.Code.OK, message: '' }
        } as Partial<PbRes>)
      }

      return response.encode({
        status: { code: STATUS_TO_PB[value.status], message: freeText(value.message) }
      } as Partial<PbRes>)
    },
    decodeResponse: (bytes) => {
      const message = decodePb(response, bytes)
      present('status', message.status)
      const status = STATUS_FROM_PB[message.status.code]

      if (status === 'OK') {
        return { status, result: conversions.resultFromPb(message, cache) }
      }

      return { status, message: freeText(message.status.message) }
    }
  })
}

const none = (): Record<string, never> => ({})

/** The checks of a containerExited request, the same both ways: the reason is cut, never refused. */
function exitedFields ({ containerId, exitCode, reason }: Requests['containerExited'] | pb.ContainerExitedRequest): Requests['containerExited'] {
  return {
    containerId: text('containerId', containerId, MAX_ID_LENGTH, ID_PATTERN),
    ...(exitCode == null ? {} : { exitCode: int32('exitCode', exitCode) }),
    reason: freeText(reason)
  }
}

/** The ids of a containerStatus request: 1 to `MAX_STATUS_IDS` distinct container ids. */
function statusIds (containerIds: string[]): string[] {
  const ids = list('containerIds', containerIds, MAX_STATUS_IDS, 1).map((id, i) => text(`containerIds[${i}]`, id, MAX_ID_LENGTH, ID_PATTERN))

  if (new Set(ids).size !== ids.length) {
    fail('containerIds', 'must not repeat an id')
  }

  return ids
}

const STATE_TO_PB: Record<RemoteContainerState['state'], pb.ContainerState.State> = {
  unknown: pb.ContainerState.State.UNKNOWN,
  running: pb.ContainerState.State.RUNNING,
  exited: pb.ContainerState.State.EXITED
}

const STATE_FROM_PB: Record<pb.ContainerState.State, RemoteContainerState['state']> = {
  [pb.ContainerState.State.UNKNOWN]: 'unknown',
  [pb.ContainerState.State.RUNNING]: 'running',
  [pb.ContainerState.State.EXITED]: 'exited'
}

function containerStateToPb (field: string, { containerId, state, exitCode }: RemoteContainerState): pb.ContainerState {
  const code = STATE_TO_PB[state]

  if (code == null) {
    fail(`${field}.state`, 'must be running, exited or unknown')
  }

  if (exitCode != null && state !== 'exited') {
    fail(`${field}.exitCode`, 'only an exited container has one')
  }

  return {
    containerId: text(`${field}.containerId`, containerId, MAX_ID_LENGTH, ID_PATTERN),
    state: code,
    ...(exitCode == null ? {} : { exitCode: int32(`${field}.exitCode`, exitCode) })
  }
}

function containerStateFromPb (field: string, value: pb.ContainerState | undefined): RemoteContainerState {
  present(field, value)
  const state = STATE_FROM_PB[value.state]

  if (state == null) {
    fail(`${field}.state`, 'must be running, exited or unknown')
  }

  if (value.exitCode != null && state !== 'exited') {
    fail(`${field}.exitCode`, 'only an exited container has one')
  }

  return {
    containerId: text(`${field}.containerId`, value.containerId, MAX_ID_LENGTH, ID_PATTERN),
    state,
    ...(value.exitCode == null ? {} : { exitCode: int32(`${field}.exitCode`, value.exitCode) })
  }
}

/** The codec of every message, each made for the peer-id cache of a set of codecs. */
const DEFINITIONS: { [N in MessageName]: CodecOf<Requests[N], Results[N]> } = {
  createOffer: defineCodec(pb.CreateOfferRequest, pb.CreateOfferResponse, {
    requestToPb: ({ offer, emptySlices }) => ({ offer: offerToPb('offer', offer), emptySlices: sliceSetToPb('emptySlices', emptySlices ?? []) }),
    requestFromPb: ({ offer, emptySlices }) => {
      const empty = sliceSetFromPb('emptySlices', emptySlices)
      return empty.length === 0 ? { offer: offerFromPb('offer', offer) } : { offer: offerFromPb('offer', offer), emptySlices: empty }
    },
    resultToPb: ({ accepted, reason }) => ({
      accepted: bool('accepted', accepted),
      reason: reason == null ? undefined : freeText(reason)
    }),
    resultFromPb: ({ accepted, reason }) => reason == null ? { accepted } : { accepted, reason: freeText(reason) }
  }),
  refreshOffer: defineCodec(pb.RefreshOfferRequest, pb.RefreshOfferResponse, {
    requestToPb: ({ offerId }) => ({ offerId: offerIdToPb('offerId', offerId) }),
    requestFromPb: ({ offerId }) => ({ offerId: offerIdFromPb('offerId', offerId) }),
    resultToPb: (refreshed) => ({ refreshed: bool('refreshed', refreshed) }),
    resultFromPb: ({ refreshed }) => refreshed
  }),
  updateOffer: defineCodec(pb.UpdateOfferRequest, pb.UpdateOfferResponse, {
    requestToPb: ({ offer }) => ({ offer: offerToPb('offer', offer) }),
    requestFromPb: ({ offer }) => ({ offer: offerFromPb('offer', offer) }),
    resultToPb: (updated) => ({ updated: bool('updated', updated) }),
    resultFromPb: ({ updated }) => updated
  }),
  removeOffer: defineCodec(pb.RemoveOfferRequest, pb.RemoveOfferResponse, {
    requestToPb: ({ offerId }) => ({ offerId: offerIdToPb('offerId', offerId) }),
    requestFromPb: ({ offerId }) => ({ offerId: offerIdFromPb('offerId', offerId) }),
    resultToPb: none,
    resultFromPb: () => undefined
  }),
  getOffers: defineCodec(pb.GetOffersRequest, pb.GetOffersResponse, {
    requestToPb: ({ relay, needed, own }) => ({
      relay: bool('relay', relay),
      needed: needed == null ? undefined : resources('needed', needed),
      own: bool('own', own ?? false)
    }),
    requestFromPb: ({ relay, needed, own }) => ({
      relay,
      ...(needed == null ? {} : { needed: resources('needed', needed) }),
      ...(own ? { own } : {})
    }),
    resultToPb: (offers, cache) => ({
      offers: list('offers', offers, MAX_OFFERS).map((offer, i) => availableOfferToPb(`offers[${i}]`, offer, cache))
    }),
    resultFromPb: ({ offers }, cache) => list('offers', offers, MAX_OFFERS).map((offer, i) => availableOfferFromPb(`offers[${i}]`, offer, cache))
  }),
  advertiseOffersNeighbor: defineCodec(pb.AdvertiseOffersNeighborRequest, pb.AdvertiseOffersNeighborResponse, {
    requestToPb: ({ traderOffering }, cache) => ({ traderOffering: nodeToPb('traderOffering', traderOffering, cache) }),
    requestFromPb: ({ traderOffering }, cache) => ({ traderOffering: nodeFromPb('traderOffering', traderOffering, cache) }),
    resultToPb: none,
    resultFromPb: () => undefined
  }),
  launchContainer: defineCodec(pb.LaunchContainerRequest, pb.LaunchContainerResponse, {
    requestToPb: ({ offerId, requestId, containers, deadlineMs }) => ({
      offerId: offerIdToPb('offerId', offerId),
      requestId: text('requestId', requestId, MAX_ID_LENGTH, ID_PATTERN),
      containers: list('containers', containers, MAX_CONTAINERS, 1).map((c, i) => containerToPb(`containers[${i}]`, c)),
      // a deadline already passed still says one: 1 ms left, never 0 (none)
      deadlineMs: deadlineMs == null ? 0 : Math.max(1, uint('deadlineMs', Math.ceil(deadlineMs)))
    }),
    requestFromPb: ({ offerId, requestId, containers, deadlineMs }) => ({
      offerId: offerIdFromPb('offerId', offerId),
      requestId: text('requestId', requestId, MAX_ID_LENGTH, ID_PATTERN),
      containers: list('containers', containers, MAX_CONTAINERS, 1).map((c, i) => containerFromPb(`containers[${i}]`, c)),
      ...((deadlineMs ?? 0) === 0 ? {} : { deadlineMs: uint('deadlineMs', deadlineMs) })
    }),
    resultToPb: (containers, cache) => ({
      containers: list('containers', containers, MAX_CONTAINERS).map((c, i) => containerStatusToPb(`containers[${i}]`, c, cache))
    }),
    resultFromPb: ({ containers }, cache) => list('containers', containers, MAX_CONTAINERS).map((c, i) => containerStatusFromPb(`containers[${i}]`, c, cache))
  }),
  containerStatus: defineCodec(pb.ContainerStatusRequest, pb.ContainerStatusResponse, {
    requestToPb: ({ containerIds }) => ({ containerIds: statusIds(containerIds) }),
    requestFromPb: ({ containerIds }) => ({ containerIds: statusIds(containerIds) }),
    resultToPb: (states) => ({ containers: list('containers', states, MAX_STATUS_IDS).map((s, i) => containerStateToPb(`containers[${i}]`, s)) }),
    resultFromPb: ({ containers }) => list('containers', containers, MAX_STATUS_IDS).map((s, i) => containerStateFromPb(`containers[${i}]`, s))
  }),
  stopLocalContainer: defineCodec(pb.StopLocalContainerRequest, pb.StopLocalContainerResponse, {
    requestToPb: target => 'requestId' in target
      ? { containerId: '', requestId: text('requestId', target.requestId, MAX_ID_LENGTH, ID_PATTERN) }
      : { containerId: text('containerId', target.containerId, MAX_ID_LENGTH, ID_PATTERN), requestId: '' },
    requestFromPb: ({ containerId, requestId }) => {
      if ((containerId ?? '') !== '' && (requestId ?? '') !== '') {
        fail('requestId', 'must be empty when containerId is set')
      }

      return (requestId ?? '') !== ''
        ? { requestId: text('requestId', requestId, MAX_ID_LENGTH, ID_PATTERN) }
        : { containerId: text('containerId', containerId, MAX_ID_LENGTH, ID_PATTERN) }
    },
    resultToPb: none,
    resultFromPb: () => undefined
  }),
  containerExited: defineCodec(pb.ContainerExitedRequest, pb.ContainerExitedResponse, {
    requestToPb: exitedFields,
    requestFromPb: exitedFields,
    resultToPb: none,
    resultFromPb: () => undefined
  }),
  obtainConfiguration: defineCodec(pb.ObtainConfigurationRequest, pb.ObtainConfigurationResponse, {
    requestToPb: none,
    requestFromPb: none,
    resultToPb: ({ json, resourceMapDigest }) => ({
      configuration: configurationJson('configuration', json),
      resourceMapDigest: new Uint8Array(digest('resourceMapDigest', resourceMapDigest))
    }),
    resultFromPb: ({ configuration, resourceMapDigest }) => ({
      json: configurationJson('configuration', configuration),
      resourceMapDigest: digest('resourceMapDigest', resourceMapDigest)
    })
  })
}

/** A codec for every message. */
export type Codecs = { [N in MessageName]: MessageCodec<Requests[N], Results[N]> }

/** What a set of codecs is made with. */
export interface CodecsOptions {
  /**
   * Peer ids converted before, to convert each once (the simulator gives one that holds its whole
   * network); without it, every peer id is converted
   */
  peerIdCache?: PeerIdCache
}

/** The codecs of every message, with a peer-id cache of their own when `options` give one. */
export function createCodecs (options: CodecsOptions = {}): Codecs {
  const codecs: Partial<Record<MessageName, MessageCodec<any, any>>> = {}

  for (const name of Object.keys(DEFINITIONS) as MessageName[]) {
    codecs[name] = DEFINITIONS[name](options.peerIdCache)
  }

  return codecs as Codecs
}

/** Peer ids each way the codecs of a real peer remember: more than the peers it talks to. */
export const PEER_ID_CACHE_SIZE = 1024

/** The peer-id cache of `CODECS`. */
export const PEER_ID_CACHE = new PeerIdCache(PEER_ID_CACHE_SIZE)

/**
 * The codecs of a real peer, with a peer-id cache of `PEER_ID_CACHE_SIZE`: it names the same few
 * peers in message after message, and a peer sending ever new ids only evicts.
 */
export const CODECS: Codecs = createCodecs({ peerIdCache: PEER_ID_CACHE })

/** A containerLogs request: which container, and what of its output (`LogsOptions`). */
export interface LogsRequest {
  containerId: string
  follow: boolean
  /** absent: every line */
  tail?: number
  /** ms since the epoch; absent: from the start */
  since?: number
}

function logsRequestFields ({ containerId, follow, tail, since }: { containerId: string, follow: boolean, tail?: number, since?: number }): LogsRequest {
  return {
    containerId: text('containerId', containerId, MAX_ID_LENGTH, ID_PATTERN),
    follow: bool('follow', follow),
    ...(tail == null ? {} : { tail: uint('tail', tail) }),
    ...(since == null || since === 0 ? {} : { since: uint('since', since, Number.MAX_SAFE_INTEGER) })
  }
}

function logChunkData (data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array) || data.byteLength === 0 || data.byteLength > MAX_LOG_CHUNK) {
    fail('data', `must be 1 to ${MAX_LOG_CHUNK} bytes`)
  }

  return data
}

/**
 * The codec of the containerLogs stream: its request, the status that answers it, and the output
 * chunks that follow an OK.
 */
export const LOGS_CODEC = {
  encodeRequest (request: LogsRequest): Uint8Array {
    const fields = logsRequestFields(request)
    return pb.ContainerLogsRequest.encode({ ...fields, since: offerIdToPb('since', fields.since ?? 0) })
  },

  /** @throws {MalformedMessageError} on any input that is not a valid request */
  decodeRequest (bytes: Uint8Array | Uint8ArrayList): LogsRequest {
    const message = decodePb(pb.ContainerLogsRequest, bytes)
    return logsRequestFields({ ...message, since: offerIdFromPb('since', message.since) })
  },

  encodeResponse (response: Response<void>): Uint8Array {
    return pb.ContainerLogsResponse.encode({ status: statusToPb(response) })
  },

  /** @throws {MalformedMessageError} on any input that is not a valid response */
  decodeResponse (bytes: Uint8Array | Uint8ArrayList): Response<void> {
    return statusFromPb(decodePb(pb.ContainerLogsResponse, bytes).status)
  },

  encodeChunk ({ stream, data, time }: LogChunk): Uint8Array {
    if (stream !== 'stdout' && stream !== 'stderr') {
      fail('stream', 'must be stdout or stderr')
    }

    return pb.LogChunk.encode({
      stream: stream === 'stderr' ? pb.LogChunk.Stream.STDERR : pb.LogChunk.Stream.STDOUT,
      data: logChunkData(data) as Uint8Array<ArrayBuffer>,
      time: offerIdToPb('time', time ?? 0)
    })
  },

  /** @throws {MalformedMessageError} on any input that is not a valid chunk */
  decodeChunk (bytes: Uint8Array | Uint8ArrayList): LogChunk {
    const { stream, data, time } = decodePb(pb.LogChunk, bytes)
    const at = offerIdFromPb('time', time)
    return { stream: stream === pb.LogChunk.Stream.STDERR ? 'stderr' : 'stdout', data: logChunkData(data), ...(at === 0 ? {} : { time: at }) }
  }
}

/** The status of a stream's answer that carries nothing else (containerLogs, portForward). */
function statusToPb (response: Response<void>): pb.Status {
  return response.status === 'OK'
    ? { code: pb.Status.Code.OK, message: '' }
    : { code: STATUS_TO_PB[response.status], message: freeText(response.message) }
}

function statusFromPb (status: pb.Status | undefined): Response<void> {
  present('status', status)
  const code = STATUS_FROM_PB[status.code]
  return code === 'OK' ? { status: code, result: undefined } : { status: code, message: freeText(status.message) }
}

/** A portForward request: which container, and which of the TCP ports it was run with. */
export interface PortForwardRequest {
  containerId: string
  containerPort: number
}

function portForwardFields ({ containerId, containerPort }: PortForwardRequest): PortForwardRequest {
  return {
    containerId: text('containerId', containerId, MAX_ID_LENGTH, ID_PATTERN),
    containerPort: portNumber('containerPort', containerPort)
  }
}

/**
 * The codec of the portForward stream: its request and the status that answers it; after an OK
 * the stream carries raw bytes.
 */
export const PORT_FORWARD_CODEC = {
  encodeRequest (request: PortForwardRequest): Uint8Array {
    return pb.PortForwardRequest.encode(portForwardFields(request))
  },

  /** @throws {MalformedMessageError} on any input that is not a valid request */
  decodeRequest (bytes: Uint8Array | Uint8ArrayList): PortForwardRequest {
    return portForwardFields(decodePb(pb.PortForwardRequest, bytes))
  },

  encodeResponse (response: Response<void>): Uint8Array {
    return pb.PortForwardResponse.encode({ status: statusToPb(response) })
  },

  /** @throws {MalformedMessageError} on any input that is not a valid response */
  decodeResponse (bytes: Uint8Array | Uint8ArrayList): Response<void> {
    return statusFromPb(decodePb(pb.PortForwardResponse, bytes).status)
  }
}
