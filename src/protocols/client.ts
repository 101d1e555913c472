/**
 * The outbound side of the Caravela protocols: `CaravelaClient` over libp2p streams. Each call
 * opens a stream to the target peer, writes one request, half-closes, reads one response within
 * the size limit and maps a non-OK status to `RemoteRequestError`.
 *
 * The messages are small, so they also travel over a relayed connection (one with limits, to a
 * peer behind a NAT), but only when no direct one is open: libp2p's dialler never reuses a
 * limited connection, it dials again, so a relayed connection already open is used as it is
 * rather than dialled anew for every request.
 */

import { AbortError, InvalidParametersError, TimeoutError } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { raceSignal } from 'race-signal'
import { Uint8ArrayList } from 'uint8arraylist'
import { PROTOCOL_PREFIX } from '../constants.js'
import { MalformedMessageError, RemoteRequestError } from '../errors.js'
import { LruMap } from '../lru.js'
import { CODECS, LOGS_CODEC, PEER_ID_CACHE_SIZE, PORT_FORWARD_CODEC } from './codec.js'
import { CLIENT_TIMEOUT, LOGS_READ_BUFFER, MAX_LOG_CHUNK } from './constants.js'
import { logsProtocolId, portForwardProtocolId, protocolIds } from './ids.js'
import { DEFAULT_LIMITS, responseSizeLimit } from './limits.js'
import { logsRequest, MessageClient } from './message-client.js'
import { createMetrics } from './metrics.js'
import { readBytes, streamTunnel } from './stream-tunnel.js'
import type { AbortOptions, ByteTunnel, LogChunk, LogsOptions, NodeRef } from '../types.js'
import type { Requests, Results } from './codec.js'
import type { MessageName } from './ids.js'
import type { SizeLimits } from './limits.js'
import type { MessageCounters, ProtocolMetrics } from './metrics.js'
import type { ComponentLogger, Logger, PeerId, PeerStore, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface Libp2pCaravelaClientComponents {
  connectionManager: Pick<ConnectionManager, 'openStream' | 'getConnections'>
  /** when present, the multiaddrs of a target we are not connected to are added before dialling */
  peerStore?: Pick<PeerStore, 'merge'>
  logger: ComponentLogger
}

export interface Libp2pCaravelaClientInit {
  /**
   * Protocol ids are `/<protocolPrefix>/<name>/1.0.0`.
   *
   * @default 'caravela'
   */
  protocolPrefix?: string
  /**
   * Time allowed for one call when the caller passes no signal, in ms; a function is read at
   * every call (the configuration in force may change when a peer joins a network).
   *
   * @default 5_000
   */
  timeout?: number | (() => number)
  /** Overrides of the response size limits of `DEFAULT_LIMITS`. */
  limits?: Partial<SizeLimits>
}

/** `CaravelaClient` over libp2p: one stream per call. */
export class Libp2pCaravelaClient extends MessageClient {
  /** protocol id of every message */
  readonly protocols: Record<MessageName, string>
  /** protocol id of the logs stream */
  readonly logsProtocol: string
  /** protocol id of the portForward tunnel */
  readonly portForwardProtocol: string
  /** messages and bytes sent (requests) and received (responses), per protocol */
  readonly metrics: ProtocolMetrics = createMetrics()

  private readonly components: Libp2pCaravelaClientComponents
  private readonly log: Logger
  private readonly timeout: number | (() => number)
  private readonly limits: SizeLimits

  constructor (components: Libp2pCaravelaClientComponents, init: Libp2pCaravelaClientInit = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('caravela:protocols:client')
    this.protocols = protocolIds(init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.logsProtocol = logsProtocolId(init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.portForwardProtocol = portForwardProtocolId(init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.timeout = init.timeout ?? CLIENT_TIMEOUT
    this.limits = {
      maxMessageSize: init.limits?.maxMessageSize ?? DEFAULT_LIMITS.maxMessageSize,
      maxLargeMessageSize: init.limits?.maxLargeMessageSize ?? DEFAULT_LIMITS.maxLargeMessageSize
    }
  }

  /**
   * One request/response exchange.
   *
   * @throws {MalformedMessageError} when the arguments cannot be encoded or the response is invalid
   * @throws {RemoteRequestError} when the peer answers with a status other than OK
   */
  protected async request<N extends MessageName> (name: N, to: NodeRef, request: Requests[N], options: AbortOptions = {}): Promise<Results[N]> {
    const codec = CODECS[name]
    const bytes = codec.encodeRequest(request)
    const peerId = targetPeerId(to)
    const signal = options.signal ?? AbortSignal.timeout(typeof this.timeout === 'function' ? this.timeout() : this.timeout)
    const counters = this.metrics[name]

    await this.learnAddresses(peerId, to.multiaddrs, signal)
    const stream = await this.openStream(peerId, this.protocols[name], signal)

    try {
      const maxDataLength = responseSizeLimit(name, this.limits)
      const lp = lpStream(stream, { maxDataLength, maxBufferSize: maxDataLength + 16 })
      await lp.write(bytes, { signal })
      counters.messagesSent++
      counters.bytesSent += bytes.byteLength
      await stream.close({ signal })

      const responseBytes = await lp.read({ signal })
      counters.messagesReceived++
      counters.bytesReceived += responseBytes.byteLength
      const response = codec.decodeResponse(responseBytes)

      if (response.status !== 'OK') {
        throw new RemoteRequestError(response.status, response.message)
      }

      return response.result
    } catch (err: any) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  /**
   * Open a containerLogs stream: the request, then the supplier's status within the client's
   * timeout; the chunks come as the caller reads them (a reader that stops reading stops the
   * supplier's writes), until the supplier ends the stream or `options.signal` aborts. A reader
   * that breaks off resets the stream, which ends it at the supplier.
   *
   * @throws {RemoteRequestError} when the supplier refuses
   */
  override async containerLogs (to: NodeRef, containerId: string, options: LogsOptions = {}): Promise<AsyncIterable<LogChunk>> {
    const bytes = LOGS_CODEC.encodeRequest(logsRequest(containerId, options))
    const peerId = targetPeerId(to)
    const ms = typeof this.timeout === 'function' ? this.timeout() : this.timeout
    // the signal a stream is opened with stays bound to it: one that times out would cut a
    // followed output short, so the time limit of the answer is disarmed once it came
    const controller = new AbortController()
    const signal = controller.signal
    const timer = setTimeout(() => { controller.abort(new TimeoutError(`no answer to containerLogs within ${ms} ms`)) }, ms)
    const stop = (): void => { controller.abort(options.signal?.reason) }
    options.signal?.addEventListener('abort', stop, { once: true })
    const counters = this.metrics.containerLogs
    let frames: FrameReader | undefined
    let stream: Stream | undefined

    try {
      if (options.signal?.aborted === true) {
        stop()
      }

      await this.learnAddresses(peerId, to.multiaddrs, signal)
      stream = await this.openStream(peerId, this.logsProtocol, signal)
      stream.maxReadBufferLength = LOGS_READ_BUFFER
      frames = new FrameReader(stream, Math.max(this.limits.maxMessageSize, MAX_LOG_CHUNK + 64))
      stream.send(new Uint8ArrayList(Uint8Array.from(varint(bytes.byteLength)), bytes))
      counters.messagesSent++
      counters.bytesSent += bytes.byteLength
      await stream.close({ signal })
      const status = await frames.read(signal)

      if (status == null) {
        throw new MalformedMessageError('status', 'the supplier closed the stream without an answer')
      }

      counters.messagesReceived++
      counters.bytesReceived += status.byteLength
      const response = LOGS_CODEC.decodeResponse(status)

      if (response.status !== 'OK') {
        this.metrics.logStreams.refused++
        throw new RemoteRequestError(response.status, response.message)
      }

      this.metrics.logStreams.opened++
    } catch (err: any) {
      options.signal?.removeEventListener('abort', stop)
      frames?.dispose()
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    } finally {
      clearTimeout(timer)
    }

    return readChunks(stream, frames, counters, options.signal, () => { options.signal?.removeEventListener('abort', stop) })
  }

  /**
   * A stream of `protocol` to the peer: on a direct connection when one is open or can be
   * dialled, else on the relayed connection open to it, else on a new relayed one.
   */
  private async openStream (peerId: PeerId, protocol: string, signal: AbortSignal): Promise<Stream> {
    // optimistic protocol selection: the request travels with the protocol id, saving a round trip
    const options = { signal, negotiateFully: false, runOnLimitedConnection: true }
    const open = this.components.connectionManager.getConnections(peerId).filter(connection => connection.status === 'open')

    if (open.length > 0 && open.every(connection => connection.limits != null)) {
      return open[0].newStream(protocol, options)
    }

    return this.components.connectionManager.openStream(peerId, protocol, options)
  }

  /**
   * Open a portForward tunnel: the request, then the supplier's status within the client's timeout
   * (or until `options.signal` aborts); after OK the stream is the tunnel's, raw bytes both ways.
   * It may run over a relayed connection, within the relay's limits.
   *
   * @throws {RemoteRequestError} when the supplier refuses
   */
  override async portForward (to: NodeRef, containerId: string, containerPort: number, options: AbortOptions = {}): Promise<ByteTunnel> {
    const bytes = PORT_FORWARD_CODEC.encodeRequest({ containerId, containerPort })
    const peerId = targetPeerId(to)
    const ms = typeof this.timeout === 'function' ? this.timeout() : this.timeout
    // as for the logs, the signal a stream is opened with stays bound to it: the tunnel must outlive the wait for the answer
    const controller = new AbortController()
    const signal = controller.signal
    const timer = setTimeout(() => { controller.abort(new TimeoutError(`no answer to portForward within ${ms} ms`)) }, ms)
    const stop = (): void => { controller.abort(options.signal?.reason) }
    options.signal?.addEventListener('abort', stop, { once: true })
    let stream: Stream | undefined

    try {
      if (options.signal?.aborted === true) {
        stop()
      }

      await this.learnAddresses(peerId, to.multiaddrs, signal)
      stream = await this.openStream(peerId, this.portForwardProtocol, signal)
      const maxSize = this.limits.maxMessageSize
      const lp = lpStream(stream, { maxDataLength: maxSize, maxBufferSize: maxSize + 16 })
      await lp.write(bytes, { signal })
      const response = PORT_FORWARD_CODEC.decodeResponse(await lp.read({ signal }))

      if (response.status !== 'OK') {
        throw new RemoteRequestError(response.status, response.message)
      }

      return streamTunnel(lp.unwrap())
    } catch (err: any) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', stop)
    }
  }

  /** Tell the peer store where a peer we are not connected to can be reached. */
  private async learnAddresses (peerId: PeerId, addresses: string[], signal: AbortSignal): Promise<void> {
    const peerStore = this.components.peerStore

    if (peerStore == null || !Array.isArray(addresses) || addresses.length === 0 ||
      this.components.connectionManager.getConnections(peerId).length > 0) {
      return
    }

    const multiaddrs: Multiaddr[] = []

    for (const address of addresses) {
      try {
        multiaddrs.push(multiaddr(address))
      } catch {
        this.log('ignoring %s of %p: not a multiaddr', address, peerId)
      }
    }

    if (multiaddrs.length > 0) {
      await peerStore.merge(peerId, { multiaddrs }, { signal })
    }
  }
}

/** The peers requests went to, by their id's text: parsing it is a costly step of each request. */
const targetIds = new LruMap<string, PeerId>(PEER_ID_CACHE_SIZE)

function targetPeerId (to: NodeRef): PeerId {
  const text = to?.peerId
  const cached = typeof text === 'string' ? targetIds.get(text) : undefined

  if (cached != null) {
    return cached
  }

  let peerId

  try {
    peerId = peerIdFromString(text)
  } catch {
    throw new InvalidParametersError(`Not a peer id: ${String(text)}`)
  }

  targetIds.set(text, peerId)
  return peerId
}

/** The chunks of a containerLogs stream until the supplier ends it; one the reader leaves is reset. */
async function * readChunks (stream: Stream, frames: FrameReader, counters: MessageCounters, signal: AbortSignal | undefined, done: () => void): AsyncGenerator<LogChunk> {
  let ended = false

  try {
    for (let frame = await frames.read(signal); frame != null; frame = await frames.read(signal)) {
      counters.messagesReceived++
      counters.bytesReceived += frame.byteLength
      yield LOGS_CODEC.decodeChunk(frame)
    }

    ended = true
  } finally {
    done()
    frames.dispose()

    if (!ended) {
      stream.abort(new AbortError('the reader stopped reading the logs'))
    }
  }
}

/**
 * Length-prefixed frames read off a stream, with the backpressure of `readBytes`: bytes are taken
 * from the stream only while no whole frame waits here, so a reader that does not keep up leaves
 * them in the paused stream, and the sender's writes wait.
 */
class FrameReader {
  private readonly bytes: AsyncGenerator<Uint8Array>
  private readonly maxFrame: number
  private readonly buffer = new Uint8ArrayList()

  constructor (stream: Stream, maxFrame: number) {
    this.maxFrame = maxFrame
    this.bytes = readBytes(stream, 4 * maxFrame)
  }

  /**
   * The next frame, or undefined when the stream ended between two frames.
   *
   * @throws {MalformedMessageError} on a frame longer than the limit or cut off by the end of the stream
   */
  async read (signal?: AbortSignal): Promise<Uint8ArrayList | undefined> {
    let frame = this.take()

    while (frame == null) {
      const next = await raceSignal(this.bytes.next(), signal)

      if (next.done === true) {
        if (this.buffer.byteLength > 0) {
          throw new MalformedMessageError('frame', 'the stream ended inside a frame')
        }

        return undefined
      }

      this.buffer.append(next.value)
      frame = this.take()
    }

    return frame
  }

  /** Stop reading: a read under way ends with the stream (its owner aborts or closes it). */
  dispose (): void {
    this.bytes.return(undefined).catch(() => {})
  }

  /** A whole frame off the buffer, if one is there. */
  private take (): Uint8ArrayList | undefined {
    let length = 0

    for (let i = 0; i < this.buffer.byteLength; i++) {
      const byte = this.buffer.get(i)
      length += (byte & 0x7f) * 2 ** (7 * i)

      if (byte < 0x80) {
        if (length > this.maxFrame) {
          throw new MalformedMessageError('frame', `is ${length} bytes long, more than ${this.maxFrame}`)
        }

        const end = i + 1 + length

        if (this.buffer.byteLength < end) {
          return undefined
        }

        const frame = this.buffer.sublist(i + 1, end)
        this.buffer.consume(end)
        return frame
      }

      if (i >= 4) {
        throw new MalformedMessageError('frame', 'has a length prefix longer than 5 bytes')
      }
    }

    return undefined
  }
}

/** The unsigned varint of a length. */
function varint (value: number): number[] {
  const bytes: number[] = []

  while (value >= 0x80) {
    bytes.push((value & 0x7f) | 0x80)
    value = Math.floor(value / 128)
  }

  bytes.push(value)
  return bytes
}
