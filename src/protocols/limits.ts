/**
 * The limits every handler enforces, overridable per server (and, for sizes, per client).
 */

import {
  LOGS_TIMEOUT, MAX_LOG_STREAMS_PER_PEER, MAX_INBOUND_STREAMS, MAX_LARGE_MESSAGE_SIZE, MAX_MESSAGE_SIZE, MAX_OUTBOUND_STREAMS, MAX_TUNNEL_BYTES, MAX_TUNNELS,
  MAX_TUNNELS_PER_PEER, RATE_LIMIT_ADDRESS_MULTIPLE, RATE_LIMIT_BURST, RATE_LIMIT_MAX_BUCKETS, RATE_LIMIT_PER_SECOND, READ_TIMEOUT, REQUEST_TIMEOUT, STREAM_IDLE_TIMEOUT,
  TUNNEL_IDLE_TIMEOUT
} from './constants.js'
import type { MessageName } from './ids.js'

export interface ProtocolLimits {
  /**
   * Largest request or response of most messages, in bytes.
   *
   * @default 65_536
   */
  maxMessageSize: number
  /**
   * Largest launchContainer request or response and getOffers response, in bytes.
   *
   * @default 262_144
   */
  maxLargeMessageSize: number
  /**
   * Time a peer has to send its whole request, in ms: the first request of a stream from the
   * opening of the stream, each later one from its first byte.
   *
   * @default 5_000
   */
  readTimeout: number
  /**
   * Time one request may take, in ms: reading, the handler and writing the response; the first
   * request of a stream from the opening of the stream, each later one from its first byte. A
   * stream whose request is still unanswered then is aborted.
   *
   * @default 10_000
   */
  requestTimeout: number
  /**
   * Time a request/response stream may stay open without a request, between two requests, in
   * ms; the server then closes it.
   *
   * @default 30_000
   */
  streamIdleTimeout: number
  /**
   * Inbound streams per protocol and connection at the same time; the idle streams a client keeps
   * for its next requests count too (it keeps at most 4 per peer and protocol).
   *
   * @default 32
   */
  maxInboundStreams: number
  /**
   * Outbound streams per protocol and connection at the same time.
   *
   * @default 64
   */
  maxOutboundStreams: number
  /**
   * Requests a peer may send on one protocol in a burst.
   *
   * @default 200
   */
  rateLimitBurst: number
  /**
   * Requests per second a peer may send on one protocol after its burst.
   *
   * @default 100
   */
  rateLimitPerSecond: number
  /**
   * How many peers' worth of requests the peers connected from one host (an IPv4 address, an IPv6
   * /64) may send together on one protocol: its burst and rate are this multiple of one peer's,
   * so that many peer ids from one machine do not get a rate each. Hosts on the server's allow
   * list are limited per peer only.
   *
   * @default 4
   */
  rateLimitAddressMultiple: number
  /**
   * (peer, protocol) rate-limit buckets kept, and as many (host, protocol) ones; the least
   * recently used is evicted.
   *
   * @default 4096
   */
  rateLimitMaxBuckets: number
  /**
   * containerLogs streams one peer may have open at the same time; one more is answered
   * RATE_LIMITED.
   *
   * @default 4
   */
  maxLogStreamsPerPeer: number
  /**
   * Time a containerLogs stream without `follow` may take, from its opening to its end, in ms;
   * a stream still open then is aborted. A `follow` stream lasts as long as the container.
   *
   * @default 60_000
   */
  logsTimeout: number
  /**
   * portForward tunnels one peer may have open at the same time; one more is answered
   * RATE_LIMITED.
   *
   * @default 16
   */
  maxTunnelsPerPeer: number
  /**
   * portForward tunnels open at the same time, all peers together; one more is answered
   * RATE_LIMITED.
   *
   * @default 128
   */
  maxTunnels: number
  /**
   * Time a portForward tunnel may carry nothing, either way, in ms; it is then closed (reset).
   *
   * @default 600_000
   */
  tunnelIdleTimeout: number
  /**
   * Bytes one portForward tunnel may carry, both ways together; it is then closed (reset).
   * 0: no cap.
   *
   * @default 1_073_741_824
   */
  maxTunnelBytes: number
}

export const DEFAULT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxMessageSize: MAX_MESSAGE_SIZE,
  maxLargeMessageSize: MAX_LARGE_MESSAGE_SIZE,
  readTimeout: READ_TIMEOUT,
  requestTimeout: REQUEST_TIMEOUT,
  streamIdleTimeout: STREAM_IDLE_TIMEOUT,
  maxInboundStreams: MAX_INBOUND_STREAMS,
  maxOutboundStreams: MAX_OUTBOUND_STREAMS,
  rateLimitBurst: RATE_LIMIT_BURST,
  rateLimitPerSecond: RATE_LIMIT_PER_SECOND,
  rateLimitAddressMultiple: RATE_LIMIT_ADDRESS_MULTIPLE,
  rateLimitMaxBuckets: RATE_LIMIT_MAX_BUCKETS,
  maxLogStreamsPerPeer: MAX_LOG_STREAMS_PER_PEER,
  logsTimeout: LOGS_TIMEOUT,
  maxTunnelsPerPeer: MAX_TUNNELS_PER_PEER,
  maxTunnels: MAX_TUNNELS,
  tunnelIdleTimeout: TUNNEL_IDLE_TIMEOUT,
  maxTunnelBytes: MAX_TUNNEL_BYTES
})

export type SizeLimits = Pick<ProtocolLimits, 'maxMessageSize' | 'maxLargeMessageSize'>

const LARGE_REQUESTS: ReadonlySet<MessageName> = new Set(['launchContainer'])
const LARGE_RESPONSES: ReadonlySet<MessageName> = new Set(['launchContainer', 'getOffers'])

/** Largest request of a message, in bytes. */
export function requestSizeLimit (name: MessageName, limits: SizeLimits): number {
  return LARGE_REQUESTS.has(name) ? limits.maxLargeMessageSize : limits.maxMessageSize
}

/** Largest response of a message, in bytes. */
export function responseSizeLimit (name: MessageName, limits: SizeLimits): number {
  return LARGE_RESPONSES.has(name) ? limits.maxLargeMessageSize : limits.maxMessageSize
}
