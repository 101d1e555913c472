/**
 * The methods of `CaravelaClient`, each one request of its message: what the libp2p client, the
 * in-process `LocalNetwork` and the simulator have in common. A transport implements `request`
 * alone.
 */

import { NotImplementedError } from '../errors.js'
import type {
  AbortOptions, AvailableOffer, ByteTunnel, CaravelaClient, ContainerConfig, ContainerStatus, CreateOfferOptions, CreateOfferResult,
  GetOffersOptions, LaunchOptions, LogChunk, LogsOptions, NetworkConfiguration, NodeRef, Offer, RemoteContainerState
} from '../types.js'
import type { LogsRequest, Requests, Results } from './codec.js'
import type { MessageName } from './ids.js'

/** A `CaravelaClient` whose transport sends one request of message `name` to `to` and returns its result. */
export abstract class MessageClient implements CaravelaClient {
  /**
   * One request/response exchange.
   *
   * @throws {RemoteRequestError} when the peer answers with a status other than OK
   */
  protected abstract request<N extends MessageName> (name: N, to: NodeRef, request: Requests[N], options?: AbortOptions): Promise<Results[N]>

  async createOffer (toTrader: NodeRef, offer: Offer, options?: CreateOfferOptions): Promise<CreateOfferResult> {
    return this.request('createOffer', toTrader, { offer, ...(options?.emptySlices == null ? {} : { emptySlices: [...options.emptySlices] }) }, options)
  }

  async refreshOffer (toSupplier: NodeRef, offerId: number, options?: AbortOptions): Promise<boolean> {
    return this.request('refreshOffer', toSupplier, { offerId }, options)
  }

  async updateOffer (toTrader: NodeRef, offer: Offer, options?: AbortOptions): Promise<boolean> {
    return this.request('updateOffer', toTrader, { offer }, options)
  }

  async removeOffer (toTrader: NodeRef, offerId: number, options?: AbortOptions): Promise<void> {
    await this.request('removeOffer', toTrader, { offerId }, options)
  }

  async getOffers (toTrader: NodeRef, relay: boolean, options?: GetOffersOptions): Promise<AvailableOffer[]> {
    return this.request('getOffers', toTrader, { relay, needed: options?.needed, ...(options?.own === true ? { own: true } : {}) }, options)
  }

  async advertiseOffersNeighbor (toNeighbor: NodeRef, traderOffering: NodeRef, options?: AbortOptions): Promise<void> {
    await this.request('advertiseOffersNeighbor', toNeighbor, { traderOffering }, options)
  }

  async launchContainer (toSupplier: NodeRef, offerId: number, requestId: string, containers: ContainerConfig[], options?: LaunchOptions): Promise<ContainerStatus[]> {
    return this.request('launchContainer', toSupplier, { offerId, requestId, containers, ...(options?.deadlineMs == null ? {} : { deadlineMs: options.deadlineMs }) }, options)
  }

  async containerStatus (toSupplier: NodeRef, containerIds: string[], options?: AbortOptions): Promise<RemoteContainerState[]> {
    return this.request('containerStatus', toSupplier, { containerIds: [...containerIds] }, options)
  }

  async stopLocalContainer (toSupplier: NodeRef, containerId: string, options?: AbortOptions): Promise<void> {
    await this.request('stopLocalContainer', toSupplier, { containerId }, options)
  }

  async cancelLaunch (toSupplier: NodeRef, requestId: string, options?: AbortOptions): Promise<void> {
    await this.request('stopLocalContainer', toSupplier, { requestId }, options)
  }

  async containerExited (toBuyer: NodeRef, containerId: string, exitCode: number | undefined, reason: string, options?: AbortOptions): Promise<void> {
    await this.request('containerExited', toBuyer, { containerId, exitCode, reason }, options)
  }

  async obtainConfiguration (node: NodeRef, options?: AbortOptions): Promise<NetworkConfiguration> {
    return this.request('obtainConfiguration', node, {}, options)
  }

  /** A transport that carries streams (libp2p, a local network's) overrides it. */
  async containerLogs (toSupplier: NodeRef, containerId: string, options: LogsOptions = {}): Promise<AsyncIterable<LogChunk>> {
    throw new NotImplementedError('this transport carries no containerLogs stream')
  }

  /** A transport that carries byte streams (libp2p) overrides it. */
  async portForward (toSupplier: NodeRef, containerId: string, containerPort: number, options?: AbortOptions): Promise<ByteTunnel> {
    throw new NotImplementedError('this transport carries no portForward tunnel')
  }
}

/** The containerLogs request of a container id and `LogsOptions`. */
export function logsRequest (containerId: string, options: LogsOptions = {}): LogsRequest {
  return {
    containerId,
    follow: options.follow === true,
    ...(options.tail == null ? {} : { tail: options.tail }),
    ...(options.since == null ? {} : { since: options.since })
  }
}

/** Opens a containerLogs stream to `to` and resolves once it was accepted. */
export type OpenLogs = (to: NodeRef, request: LogsRequest, options?: AbortOptions) => Promise<AsyncIterable<LogChunk>>

/** Sends one request of message `name` to `to` and returns its result. */
export type SendRequest = <N extends MessageName> (name: N, to: NodeRef, request: Requests[N], options?: AbortOptions) => Promise<Results[N]>

/**
 * A `CaravelaClient` over a function that sends one request, and one that opens a logs stream
 * when the transport has them: the in-process networks' clients.
 */
export function messageClient (send: SendRequest, openLogs?: OpenLogs): CaravelaClient {
  return new FunctionClient(send, openLogs)
}

class FunctionClient extends MessageClient {
  private readonly send: SendRequest
  private readonly openLogs?: OpenLogs

  constructor (send: SendRequest, openLogs?: OpenLogs) {
    super()
    this.send = send
    this.openLogs = openLogs
  }

  override async containerLogs (toSupplier: NodeRef, containerId: string, options: LogsOptions = {}): Promise<AsyncIterable<LogChunk>> {
    return this.openLogs == null ? super.containerLogs(toSupplier, containerId, options) : this.openLogs(toSupplier, logsRequest(containerId, options), options)
  }

  protected async request<N extends MessageName> (name: N, to: NodeRef, request: Requests[N], options?: AbortOptions): Promise<Results[N]> {
    return this.send(name, to, request, options)
  }
}
