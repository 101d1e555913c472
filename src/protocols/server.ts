/**
 * The inbound side of the Caravela protocols: one libp2p protocol per message, requests served one
 * after the other on a stream. Every request is rate limited per peer and per host, bounded in
 * size and time, decoded and validated, and answered with an in-band status; a domain handler
 * runs only on a valid request.
 */

import { setMaxListeners } from 'node:events'
import { AbortError, TimeoutError } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { raceSignal } from 'race-signal'
import { PROTOCOL_PREFIX } from '../constants.js'
import { MalformedMessageError, NotImplementedError, ProtocolStatusError } from '../errors.js'
import { pipeTunnels } from '../tunnel.js'
import { AddressGroups } from './address.js'
import { CODECS, LOGS_CODEC, PORT_FORWARD_CODEC } from './codec.js'
import { MAX_LOG_CHUNK, STREAM_CLOSE_GRACE } from './constants.js'
import { FrameReader, writeFrame } from './frames.js'
import { copyHandlers } from './handlers.js'
import { logsProtocolId, MESSAGE_NAMES, portForwardProtocolId, protocolIds } from './ids.js'
import { INVOKERS } from './invokers.js'
import { DEFAULT_LIMITS, requestSizeLimit, responseSizeLimit } from './limits.js'
import { createMetrics } from './metrics.js'
import { TokenBuckets } from './rate-limiter.js'
import { streamTunnel } from './stream-tunnel.js'
import type { RequestStatus } from '../errors.js'
import type { ByteTunnel, LogChunk } from '../types.js'
import type { LogsRequest, PortForwardRequest, Requests, Response, Results } from './codec.js'
import type { CaravelaHandlers, RequestContext } from './handlers.js'
import type { MessageName } from './ids.js'
import type { ProtocolLimits } from './limits.js'
import type { MessageCounters, ProtocolMetrics } from './metrics.js'
import type { ComponentLogger, Connection, Logger, Startable, Stream } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface CaravelaProtocolServerComponents {
  registrar: Pick<Registrar, 'handle' | 'unhandle'>
  logger: ComponentLogger
}

export interface CaravelaProtocolServerInit {
  /**
   * Protocol ids are `/<protocolPrefix>/<name>/1.0.0`.
   *
   * @default 'caravela'
   */
  protocolPrefix?: string
  /** Handlers of incoming messages; a missing one answers NOT_IMPLEMENTED. */
  handlers?: Partial<CaravelaHandlers>
  /** Overrides of `DEFAULT_LIMITS`. */
  limits?: Partial<ProtocolLimits>
  /**
   * Networks whose hosts are limited per peer only, not per host (`AddressGroups`), in libp2p's
   * form: `/ip4/127.0.0.0/ipcidr/8`.
   *
   * @default []
   */
  allow?: readonly string[]
}

/**
 * Bytes of a relayed connection's data limit a containerLogs stream leaves for the requests and
 * answers that share the connection: a few launches' worth.
 */
export const RELAY_RESERVE = 1024 * 1024

/** Errors of a request's framing: the peer sent bytes, but not one frame within the limits. */
const FRAMING_ERRORS = new Set([
  'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError', 'UnexpectedEOFError'
])

/**
 * Serves the eleven Caravela message protocols, the logs stream and the portForward tunnel on a
 * libp2p registrar and dispatches valid requests to domain handlers, which may be replaced while
 * the server runs.
 */
export class CaravelaProtocolServer implements Startable {
  /** protocol id of every message */
  readonly protocols: Record<MessageName, string>
  /** protocol id of the logs stream */
  readonly logsProtocol: string
  /** protocol id of the portForward tunnel */
  readonly portForwardProtocol: string
  /** messages and bytes received (requests) and sent (responses), per protocol */
  readonly metrics: ProtocolMetrics = createMetrics()
  readonly limits: Readonly<ProtocolLimits>

  private readonly components: CaravelaProtocolServerComponents
  private readonly log: Logger
  private readonly rateLimiter: TokenBuckets
  /** (host, protocol) buckets, `rateLimitAddressMultiple` times a peer's */
  private readonly hostRateLimiter: TokenBuckets
  private readonly addressGroups: AddressGroups
  private handlers: Partial<CaravelaHandlers>
  private readonly inFlight = new Set<AbortController>()
  /** one per request/response stream open, aborted at stop: an idle stream is then closed */
  private readonly streams = new Set<AbortController>()
  /** peer id → its containerLogs streams open */
  private readonly logStreams = new Map<string, number>()
  /** peer id → its portForward tunnels open */
  private readonly tunnels = new Map<string, number>()
  /** portForward tunnels open, all peers together */
  private tunnelsOpen = 0
  private running = false

  constructor (components: CaravelaProtocolServerComponents, init: CaravelaProtocolServerInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('caravela:protocols')
    this.protocols = protocolIds(init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.logsProtocol = logsProtocolId(init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.portForwardProtocol = portForwardProtocolId(init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.limits = { ...DEFAULT_LIMITS, ...init.limits }
    this.handlers = copyHandlers(init.handlers ?? {})
    this.rateLimiter = new TokenBuckets({
      burst: this.limits.rateLimitBurst,
      perSecond: this.limits.rateLimitPerSecond,
      maxBuckets: this.limits.rateLimitMaxBuckets
    })
    this.hostRateLimiter = new TokenBuckets({
      burst: this.limits.rateLimitBurst * this.limits.rateLimitAddressMultiple,
      perSecond: this.limits.rateLimitPerSecond * this.limits.rateLimitAddressMultiple,
      maxBuckets: this.limits.rateLimitMaxBuckets
    })
    this.addressGroups = new AddressGroups(init.allow)
  }

  /** Register a handler for every protocol. */
  async start (): Promise<void> {
    if (this.running) {
      return
    }

    this.running = true

    for (const name of MESSAGE_NAMES) {
      await this.components.registrar.handle(this.protocols[name], async (stream, connection) => {
        await this.onStream(name, stream, connection)
      }, {
        maxInboundStreams: this.limits.maxInboundStreams,
        maxOutboundStreams: this.limits.maxOutboundStreams,
        // requests and answers are small: they fit a relay's data limit (docs/nat.md)
        runOnLimitedConnection: true
      })
    }

    await this.components.registrar.handle(this.logsProtocol, async (stream, connection) => {
      await this.serveLogs(stream, connection)
    }, {
      maxInboundStreams: this.limits.maxInboundStreams,
      maxOutboundStreams: this.limits.maxOutboundStreams,
      // over a relayed connection the output stops short of the relay's data limit (serveLogs)
      runOnLimitedConnection: true
    })

    // a tunnel works over a relayed (limited) connection too, within the relay's own data and
    // time limits; the buyer's and supplier's libp2p prefer a direct connection when there is one
    await this.components.registrar.handle(this.portForwardProtocol, async (stream, connection) => {
      await this.servePortForward(stream, connection)
    }, {
      maxInboundStreams: this.limits.maxInboundStreams,
      maxOutboundStreams: this.limits.maxOutboundStreams,
      runOnLimitedConnection: true
    })
  }

  /** Unregister the protocols and abort the requests in flight. */
  async stop (): Promise<void> {
    if (!this.running) {
      return
    }

    this.running = false

    for (const name of MESSAGE_NAMES) {
      await this.components.registrar.unhandle(this.protocols[name])
    }

    await this.components.registrar.unhandle(this.logsProtocol)
    await this.components.registrar.unhandle(this.portForwardProtocol)

    for (const request of this.inFlight) {
      request.abort(new AbortError('The server is stopping'))
    }

    for (const life of this.streams) {
      life.abort(new AbortError('The server is stopping'))
    }
  }

  /** Replace all handlers; messages without one answer NOT_IMPLEMENTED. */
  setHandlers (handlers: Partial<CaravelaHandlers>): void {
    this.handlers = copyHandlers(handlers)
  }

  /**
   * Serve the requests of one stream, one after the other: the first must come at once, each
   * later one within `streamIdleTimeout` of the last answer. The stream is closed cleanly only
   * between two requests (a remote that ended its side, the idle time up, the server stopping),
   * never while a request read here waits for its answer: such a request is aborted (the stream
   * reset), so a client whose reused stream ended cleanly knows its request was not served and
   * may send it again.
   */
  private async onStream (name: MessageName, stream: Stream, connection: Connection): Promise<void> {
    const frames = new FrameReader(stream, requestSizeLimit(name, this.limits))
    // aborted when the server stops: an idle stream is then closed
    const life = new AbortController()
    this.streams.add(life)

    try {
      for (let first = true; ; first = false) {
        if (!first) {
          let more

          try {
            more = await this.nextRequest(frames, life.signal)
          } catch (err: any) {
            stream.abort(err instanceof Error ? err : new Error(String(err)))
            return
          }

          if (!more) {
            await closeStream(stream)
            return
          }
        }

        if (!await this.serveRequest(name, stream, frames, connection)) {
          return
        }
      }
    } finally {
      frames.dispose()
      this.streams.delete(life)
    }
  }

  /**
   * Wait for the first byte of the next request: false when the remote ended the stream, the
   * stream was idle for `streamIdleTimeout` or the server stops (`life` aborts) first.
   *
   * @throws when the stream was reset
   */
  private async nextRequest (frames: FrameReader, life: AbortSignal): Promise<boolean> {
    // one timer, cleared once the request came: not AbortSignal.timeout, whose timer would outlive
    // every request by the idle time
    const idle = new AbortController()
    const timer = setTimeout(() => { idle.abort(new TimeoutError('the stream was idle')) }, this.limits.streamIdleTimeout)
    const stop = (): void => { idle.abort(life.reason) }
    life.addEventListener('abort', stop, { once: true })

    try {
      if (life.aborted) {
        return false
      }

      return await frames.ready(idle.signal)
    } catch (err) {
      if (idle.signal.aborted) {
        return false
      }

      throw err
    } finally {
      clearTimeout(timer)
      life.removeEventListener('abort', stop)
    }
  }

  /**
   * Read and answer one request within `requestTimeout`: true when the stream may carry another.
   * A request that cannot be answered (too slow, a stream reset, the server stopping) resets the
   * stream; a badly framed or invalid one is answered, then the stream is closed (its framing is lost).
   */
  private async serveRequest (name: MessageName, stream: Stream, frames: FrameReader, connection: Connection): Promise<boolean> {
    const request = new AbortController()
    const signal = request.signal
    setMaxListeners(Infinity, signal)
    const timer = setTimeout(() => {
      request.abort(new TimeoutError(`${name} took more than ${this.limits.requestTimeout} ms`))
    }, this.limits.requestTimeout)
    this.inFlight.add(request)

    try {
      let answer

      try {
        answer = await this.respond(name, frames, connection, signal)
      } catch (err: any) {
        this.log('%s from %p aborted without a response - %s', name, connection.remotePeer, err?.message)
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        return false
      }

      try {
        await writeFrame(stream, answer.bytes, signal)
        this.metrics[name].messagesSent++
        this.metrics[name].bytesSent += answer.bytes.byteLength
      } catch (err: any) {
        this.log('%s response to %p aborted - %s', name, connection.remotePeer, err?.message)
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        return false
      }

      if (!answer.keep) {
        await closeStream(stream)
      }

      return answer.keep
    } finally {
      clearTimeout(timer)
      this.inFlight.delete(request)
    }
  }

  /**
   * The encoded response to one request, and whether the stream may carry another (not after a
   * request that could not be read or decoded). Throws only when no response can be sent: the
   * peer was too slow or reset the stream, or the server is stopping.
   */
  private async respond<N extends MessageName> (name: N, frames: FrameReader, connection: Connection, signal: AbortSignal): Promise<{ bytes: Uint8Array, keep: boolean }> {
    const codec = CODECS[name]
    const peer = connection.remotePeer.toString()
    const remoteAddr = connection.remoteAddr.toString()
    let request: Requests[N]
    let response: Response<Results[N]>

    try {
      request = await this.readMessage(name, requestSizeLimit(name, this.limits), bytes => codec.decodeRequest(bytes), async s => frames.read(s), peer, remoteAddr, signal, this.metrics[name])
    } catch (err: any) {
      if (err instanceof ProtocolStatusError) {
        this.log('%s from %s refused: %s %s', name, peer, err.status, err.message)
        // a rate-limited request was read whole: the next one starts right after it
        return { bytes: codec.encodeResponse({ status: err.status, message: err.message }), keep: err.status === 'RATE_LIMITED' }
      }

      throw err
    }

    try {
      const handlers = this.handlers

      if (handlers[name] == null) {
        throw new NotImplementedError(`${name} is not implemented by this peer`)
      }

      const ctx: RequestContext = {
        from: { peerId: peer, multiaddrs: [remoteAddr] },
        signal
      }
      const invoke = INVOKERS[name]
      response = { status: 'OK', result: await raceSignal(invoke(handlers as CaravelaHandlers, ctx, request), signal) }
    } catch (err: any) {
      response = this.statusOf(name, peer, err, signal)
    }

    try {
      const bytes = codec.encodeResponse(response)

      if (bytes.byteLength > responseSizeLimit(name, this.limits)) {
        throw new Error(`the response is ${bytes.byteLength} bytes long, more than the limit`)
      }

      return { bytes, keep: true }
    } catch (err: any) {
      this.log.error('%s handler for %s returned a result that cannot be sent - %e', name, peer, err)
      return { bytes: codec.encodeResponse({ status: 'INTERNAL_ERROR', message: 'internal error' }), keep: true }
    }
  }

  /**
   * Read, count and decode one request of protocol `name` (a message's, or the logs stream's or
   * the portForward tunnel's). `read` gives its frame, undefined when the stream ended before one.
   * A request over the rate limit is still read whole, so that the stream's framing holds.
   *
   * @throws {ProtocolStatusError} when over the rate limit of the peer or of its host, badly framed or invalid
   */
  private async readMessage<T> (name: string, maxSize: number, decode: (bytes: Uint8ArrayList) => T, read: (signal: AbortSignal) => Promise<Uint8ArrayList | undefined>, peer: string, remoteAddr: string, signal: AbortSignal, metrics?: MessageCounters): Promise<T> {
    const host = this.addressGroups.groupOf(remoteAddr)?.host
    let limited: string | undefined

    if (!this.rateLimiter.take(`${peer}/${name}`)) {
      limited = `too many ${name} requests, slow down`
    } else if (host != null && !this.hostRateLimiter.take(`${host}/${name}`)) {
      limited = `too many ${name} requests from ${host}, slow down`
    }

    const readSignal = AbortSignal.any([signal, AbortSignal.timeout(this.limits.readTimeout)])
    setMaxListeners(Infinity, readSignal)
    let bytes

    try {
      bytes = await read(readSignal)
    } catch (err: any) {
      if (err instanceof MalformedMessageError || FRAMING_ERRORS.has(err?.name)) {
        throw new ProtocolStatusError('INVALID_REQUEST', `the request is not one length-prefixed message of at most ${maxSize} bytes: ${err.message}`)
      }

      throw err
    }

    if (bytes == null) {
      throw new ProtocolStatusError('INVALID_REQUEST', 'the stream ended before a request')
    }

    if (limited != null) {
      throw new ProtocolStatusError('RATE_LIMITED', limited)
    }

    if (metrics != null) {
      metrics.messagesReceived++
      metrics.bytesReceived += bytes.byteLength
    }

    try {
      return decode(bytes)
    } catch (err: any) {
      if (err instanceof MalformedMessageError) {
        throw new ProtocolStatusError('INVALID_REQUEST', err.message)
      }

      this.log.error('decoding a %s request failed - %e', name, err)
      throw new ProtocolStatusError('INTERNAL_ERROR', 'internal error')
    }
  }

  /**
   * A containerLogs stream: one request, a status, then the output's chunks as the reader takes
   * them (each write waits for the stream to drain, so a slow reader slows the container's reading,
   * not this peer's memory). At most `maxLogStreamsPerPeer` per peer; one without `follow` is cut
   * after `logsTimeout`; every one ends when its reader goes away or the server stops.
   *
   * Over a relayed connection (one with a data limit) the stream is reset before a chunk would
   * leave less than `RELAY_RESERVE` bytes of the limit: the relay resets the whole connection at
   * its limit, and with it the small requests that share it. The reader sees the output cut short
   * and reads the rest once a direct connection is open (DCUtR) or over a new relayed one.
   */
  private async serveLogs (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const controller = new AbortController()
    const signal = controller.signal
    setMaxListeners(Infinity, signal)
    const gone = (): void => { controller.abort(new AbortError('the reader went away')) }
    const end = async (): Promise<void> => {
      stream.removeEventListener('close', gone)
      await stream.close({ signal })
    }
    const open = this.logStreams.get(peer) ?? 0
    const maxSize = this.limits.maxMessageSize
    const lp = lpStream(stream, { maxDataLength: maxSize, maxBufferSize: maxSize + 16 })
    let timer: ReturnType<typeof setTimeout> | undefined
    const cut = (ms: number): void => {
      clearTimeout(timer)
      timer = setTimeout(() => { controller.abort(new TimeoutError(`containerLogs took more than ${ms} ms`)) }, ms)
    }

    this.logStreams.set(peer, open + 1)
    this.inFlight.add(controller)
    stream.addEventListener('close', gone)
    // the request and the answer to it take no longer than any request's
    cut(this.limits.requestTimeout)

    try {
      const counters = this.metrics.containerLogs
      const send = async (bytes: Uint8Array): Promise<void> => {
        await lp.write(bytes, { signal })
        counters.messagesSent++
        counters.bytesSent += bytes.byteLength
      }
      const refuse = async ({ status, message }: { status: RequestStatus, message: string }): Promise<void> => {
        this.log('containerLogs from %s refused: %s %s', peer, status, message)
        this.metrics.logStreams.refused++
        await send(LOGS_CODEC.encodeResponse({ status, message }))
        await end()
      }
      let request: LogsRequest

      try {
        if (open >= this.limits.maxLogStreamsPerPeer) {
          throw new ProtocolStatusError('RATE_LIMITED', `at most ${this.limits.maxLogStreamsPerPeer} containerLogs streams may be open at once`)
        }

        request = await this.readMessage('containerLogs', maxSize, bytes => LOGS_CODEC.decodeRequest(bytes), async s => lp.read({ signal: s }), peer, connection.remoteAddr.toString(), signal, counters)
      } catch (err: any) {
        // a peer too slow to send its request, or gone, gets no answer
        if (!(err instanceof ProtocolStatusError)) {
          throw err
        }

        await refuse(err)
        return
      }

      let chunks: AsyncIterable<LogChunk>

      try {
        const handler = this.handlers.containerLogs

        if (handler == null) {
          throw new NotImplementedError('containerLogs is not implemented by this peer')
        }

        const ctx: RequestContext = { from: { peerId: peer, multiaddrs: [connection.remoteAddr.toString()] }, signal }
        chunks = await raceSignal(handler(ctx, request), signal)
      } catch (err: any) {
        await refuse(this.statusOf('containerLogs', peer, err, signal))
        return
      }

      if (request.follow) {
        clearTimeout(timer)
      } else {
        cut(this.limits.logsTimeout)
      }

      this.metrics.logStreams.opened++
      await send(LOGS_CODEC.encodeResponse({ status: 'OK', result: undefined }))

      for await (const { stream: name, data, time } of chunks) {
        for (let start = 0; start < data.byteLength; start += MAX_LOG_CHUNK) {
          const chunk = LOGS_CODEC.encodeChunk({ stream: name, data: data.subarray(start, start + MAX_LOG_CHUNK), time })
          const left = connection.limits?.bytes

          if (left != null && left < BigInt(chunk.byteLength + RELAY_RESERVE)) {
            throw new Error('the output stops short of the data limit of the relayed connection')
          }

          await send(chunk)
        }

        signal.throwIfAborted()
      }

      // an output cut short (the time is up, the server stops) is no end of it: the stream is reset
      signal.throwIfAborted()
      await end()
    } catch (err: any) {
      this.log('containerLogs to %s aborted - %s', peer, err?.message)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      clearTimeout(timer)
      stream.removeEventListener('close', gone)
      this.inFlight.delete(controller)
      release(this.logStreams, peer)
    }
  }

  /**
   * A portForward tunnel: one request, a status, then raw bytes both ways until both sides closed
   * their writing side (`pipeTunnels`). At most `maxTunnelsPerPeer` per peer and `maxTunnels` in
   * all; the request and the connecting take no longer than any request's; an open tunnel is
   * closed after `tunnelIdleTimeout` without a byte, after `maxTunnelBytes`, or when the server
   * stops.
   */
  private async servePortForward (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const controller = new AbortController()
    const signal = controller.signal
    setMaxListeners(Infinity, signal)
    const open = this.tunnels.get(peer) ?? 0
    const maxSize = this.limits.maxMessageSize
    const lp = lpStream(stream, { maxDataLength: maxSize, maxBufferSize: maxSize + 16 })
    const timer = setTimeout(() => { controller.abort(new TimeoutError(`portForward took more than ${this.limits.requestTimeout} ms to start`)) }, this.limits.requestTimeout)
    let request: PortForwardRequest | undefined
    let tunnel: ByteTunnel | undefined

    this.tunnels.set(peer, open + 1)
    this.tunnelsOpen++
    this.inFlight.add(controller)

    try {
      try {
        if (open >= this.limits.maxTunnelsPerPeer) {
          throw new ProtocolStatusError('RATE_LIMITED', `at most ${this.limits.maxTunnelsPerPeer} portForward tunnels may be open at once`)
        }

        if (this.tunnelsOpen > this.limits.maxTunnels) {
          throw new ProtocolStatusError('RATE_LIMITED', 'this peer has as many portForward tunnels open as it serves')
        }

        request = await this.readMessage('portForward', maxSize, bytes => PORT_FORWARD_CODEC.decodeRequest(bytes), async s => lp.read({ signal: s }), peer, connection.remoteAddr.toString(), signal)
        const handler = this.handlers.portForward

        if (handler == null) {
          throw new NotImplementedError('portForward is not implemented by this peer')
        }

        const ctx: RequestContext = { from: { peerId: peer, multiaddrs: [connection.remoteAddr.toString()] }, signal }
        const connecting = handler(ctx, request)
        // a tunnel that comes after the time is up is closed at once
        connecting.then(late => { if (signal.aborted) late.abort(signal.reason) }, () => {})
        tunnel = await raceSignal(connecting, signal)
      } catch (err: any) {
        // a peer too slow to send its request, or gone, gets no answer
        if (request == null && !(err instanceof ProtocolStatusError)) {
          throw err
        }

        const { status, message } = this.statusOf('portForward', peer, err, signal)
        this.log('portForward from %s refused: %s %s', peer, status, message)
        await lp.write(PORT_FORWARD_CODEC.encodeResponse({ status, message }), { signal })
        await stream.close({ signal })
        return
      }

      await lp.write(PORT_FORWARD_CODEC.encodeResponse({ status: 'OK', result: undefined }), { signal })
      clearTimeout(timer)
      await pipeTunnels(streamTunnel(lp.unwrap()), tunnel, { idleTimeout: this.limits.tunnelIdleTimeout, maxBytes: this.limits.maxTunnelBytes, signal })
    } catch (err: any) {
      this.log('portForward of %s aborted - %s', peer, err?.message)
      tunnel?.abort(err instanceof Error ? err : new Error(String(err)))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      clearTimeout(timer)
      this.inFlight.delete(controller)
      this.tunnelsOpen--
      release(this.tunnels, peer)
    }
  }

  /** The status a handler's error answers with; rethrows when the request can no longer be answered. */
  private statusOf (name: string, peer: string, err: any, signal: AbortSignal): { status: RequestStatus, message: string } {
    if (signal.aborted) {
      throw err
    }

    if (err instanceof ProtocolStatusError) {
      return { status: err.status, message: err.message }
    }

    if (err instanceof NotImplementedError) {
      return { status: 'NOT_IMPLEMENTED', message: err.message }
    }

    this.log.error('%s handler failed for %s - %e', name, peer, err)
    return { status: 'INTERNAL_ERROR', message: 'internal error' }
  }
}

/** One fewer stream of `peer` in `counts`. */
function release (counts: Map<string, number>, peer: string): void {
  const left = (counts.get(peer) ?? 1) - 1

  if (left > 0) {
    counts.set(peer, left)
  } else {
    counts.delete(peer)
  }
}

/**
 * Close our writing side and wait a little for the remote to close its own (a client sees the end
 * and closes): a remote that does not is reset.
 */
async function closeStream (stream: Stream): Promise<void> {
  const signal = AbortSignal.timeout(STREAM_CLOSE_GRACE)

  try {
    await stream.close({ signal })
    await remoteClosed(stream, signal)
  } catch (err: any) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** Wait until the remote closes its end too, so a peer cannot hold a stream past `signal`. */
async function remoteClosed (stream: Stream, signal: AbortSignal): Promise<void> {
  if (stream.status !== 'open') {
    return
  }

  await raceSignal(new Promise<void>(resolve => {
    stream.addEventListener('close', () => { resolve() }, { once: true })
  }), signal)
}
