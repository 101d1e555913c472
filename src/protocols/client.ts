/**
 * The outbound side of the Caravela protocols: `CaravelaClient` over libp2p streams. Each call
 * opens a stream to the target peer, writes one request, half-closes, reads one response within
 * the size limit and maps a non-OK status to `RemoteRequestError`.
 */

import { InvalidParametersError } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL_PREFIX } from '../constants.js'
import { RemoteRequestError } from '../errors.js'
import { CODECS } from './codec.js'
import { CLIENT_TIMEOUT } from './constants.js'
import { protocolIds } from './ids.js'
import { DEFAULT_LIMITS, responseSizeLimit } from './limits.js'
import { MessageClient } from './message-client.js'
import { createMetrics } from './metrics.js'
import type { AbortOptions, NodeRef } from '../types.js'
import type { Requests, Results } from './codec.js'
import type { MessageName } from './ids.js'
import type { SizeLimits } from './limits.js'
import type { ProtocolMetrics } from './metrics.js'
import type { ComponentLogger, Logger, PeerId, PeerStore } from '@libp2p/interface'
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
    // optimistic protocol selection: the request travels with the protocol id, saving a round trip
    const stream = await this.components.connectionManager.openStream(peerId, this.protocols[name], { signal, negotiateFully: false })

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

function targetPeerId (to: NodeRef): PeerId {
  try {
    return peerIdFromString(to?.peerId)
  } catch {
    throw new InvalidParametersError(`Not a peer id: ${String(to?.peerId)}`)
  }
}
