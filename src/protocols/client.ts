/**
 * The outbound side of the Caravela protocols: `CaravelaClient` over libp2p streams. Each call
 * takes an idle stream of its (peer, protocol) from the pool or opens one, writes one request,
 * reads one response within the size limit, puts the stream back for the next call and maps a
 * non-OK status to `RemoteRequestError`.
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
import { PROTOCOL_PREFIX } from '../constants.js'
import { MalformedMessageError, RemoteRequestError } from '../errors.js'
import { LruMap } from '../lru.js'
import { CODECS, LOGS_CODEC, PEER_ID_CACHE_SIZE, PORT_FORWARD_CODEC } from './codec.js'
import { CLIENT_TIMEOUT, LOGS_READ_BUFFER, MAX_LOG_CHUNK } from './constants.js'
import { FrameReader, writeFrame } from './frames.js'
import { logsProtocolId, portForwardProtocolId, protocolIds } from './ids.js'
import { DEFAULT_LIMITS, responseSizeLimit } from './limits.js'
import { logsRequest, MessageClient } from './message-client.js'
import { createMetrics } from './metrics.js'
import { carries, release, StreamPool } from './stream-pool.js'
import { streamTunnel } from './stream-tunnel.js'
import type { AbortOptions, ByteTunnel, LogChunk, LogsOptions, NodeRef } from '../types.js'
import type { Requests, Results } from './codec.js'
import type { MessageName } from './ids.js'
import type { SizeLimits } from './limits.js'
import type { MessageCounters, ProtocolMetrics } from './metrics.js'
import type { PooledStream, StreamPoolInit } from './stream-pool.js'
import type { ComponentLogger, Logger, PeerId, PeerStore, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

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
  /**
   * Keep request/response streams open for later calls to the same peer and protocol; false:
   * one stream per call, half-closed after the request (the baseline of `npm run bench:rpc`).
   *
   * @default true
   */
  reuseStreams?: boolean
  /** Bounds of the idle streams kept. */
  pool?: StreamPoolInit
}

/** Streams the request/response calls opened, took from the pool, and opened again for a retry. */
export interface StreamCounters {
  opened: number
  reused: number
  retried: number
}

/**
 * A reused stream that the server had closed, idle, before the request came, or that was found
 * closed when writing: the server never closes a stream cleanly while it holds a request it read
 * and did not answer, so the request was not served, and goes again on a new stream.
 */
class StaleStreamError extends Error {
  override name = 'StaleStreamError'
}

/** `CaravelaClient` over libp2p: requests on streams kept per (peer, protocol). */
export class Libp2pCaravelaClient extends MessageClient implements Startable {
  /** protocol id of every message */
  readonly protocols: Record<MessageName, string>
  /** protocol id of the logs stream */
  readonly logsProtocol: string
  /** protocol id of the portForward tunnel */
  readonly portForwardProtocol: string
  /** messages and bytes sent (requests) and received (responses), per protocol */
  readonly metrics: ProtocolMetrics = createMetrics()
  /** the request/response calls' streams */
  readonly streams: StreamCounters = { opened: 0, reused: 0, retried: 0 }

  private readonly components: Libp2pCaravelaClientComponents
  private readonly log: Logger
  private readonly timeout: number | (() => number)
  private readonly limits: SizeLimits
  private readonly reuseStreams: boolean
  private readonly pool: StreamPool

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
    this.reuseStreams = init.reuseStreams ?? true
    this.pool = new StreamPool(init.pool)
  }

  start (): void {}

  /** Close the idle streams; a call under way ends as it would. */
  stop (): void {
    this.pool.clear()
  }

  /**
   * One request/response exchange, on a stream of the pool when one is idle. A reused stream
   * that ended before the answer began is retried once on a new stream (`StaleStreamError`);
   * no other failure is: a request may have been served, and a launch must not run twice.
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
    const protocol = this.protocols[name]
    const key = `${peerId.toString()}/${protocol}`

    await this.learnAddresses(peerId, to.multiaddrs, signal)

    for (let fresh = !this.reuseStreams; ; fresh = true) {
      let pooled = fresh ? undefined : this.pool.take(key)

      if (pooled == null) {
        const stream = await this.openStream(peerId, protocol, signal)
        // a relayed connection's data and time limits are for a few small requests, and a direct
        // connection may replace it: a stream over one is not kept
        const limited = this.components.connectionManager.getConnections(peerId).some(c => c.limits != null && c.streams.includes(stream))
        pooled = { stream, frames: new FrameReader(stream, responseSizeLimit(name, this.limits)), reused: false, keep: this.reuseStreams && !limited }
        this.streams.opened++
      } else {
        this.streams.reused++
      }

      let result: Results[N]

      try {
        const responseBytes = await this.exchange(pooled, bytes, counters, signal)
        const response = codec.decodeResponse(responseBytes)

        if (response.status !== 'OK') {
          throw new RemoteRequestError(response.status, response.message)
        }

        result = response.result
      } catch (err: any) {
        if (err instanceof RemoteRequestError) {
          // an answer came whole: the stream carries the next request as well
          this.done(key, pooled)
          throw err
        }

        pooled.frames.dispose()
        pooled.stream.abort(err instanceof Error ? err : new Error(String(err)))

        if (err instanceof StaleStreamError) {
          this.log('%s to %p: %s; sending it on a new stream', name, peerId, err.message)
          this.streams.retried++
          continue
        }

        throw err
      }

      this.done(key, pooled)
      return result
    }
  }

  /** Write one request on `pooled` and read its answer's frame. */
  private async exchange (pooled: PooledStream, bytes: Uint8Array, counters: MessageCounters, signal: AbortSignal): Promise<Uint8ArrayList> {
    const { stream, frames } = pooled

    if (pooled.reused && !carries(stream)) {
      throw new StaleStreamError('the stream was closed')
    }

    await writeFrame(stream, bytes, signal)
    counters.messagesSent++
    counters.bytesSent += bytes.byteLength

    if (!this.reuseStreams) {
      await stream.close({ signal })
    }

    const response = await frames.read(signal)

    if (response == null) {
      if (pooled.reused) {
        throw new StaleStreamError('the server closed the stream before answering')
      }

      throw new MalformedMessageError('response', 'the peer closed the stream without an answer')
    }

    counters.messagesReceived++
    counters.bytesReceived += response.byteLength
    return response
  }

  /** A stream whose answer came: back to the pool, unless it is not to be kept (`PooledStream.keep`). */
  private done (key: string, pooled: PooledStream): void {
    pooled.reused = true

    if (!pooled.keep) {
      release(pooled)
      return
    }

    this.pool.put(key, pooled)
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
      await writeFrame(stream, bytes, signal)
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
