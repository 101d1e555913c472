/**
 * A `CaravelaClient` that delivers messages addressed to this peer itself to its own handlers, as
 * a function call from itself, and every other message through the network client. A supplier may
 * pick its own peer as the trader of its slice and a buyer may place on itself, but a peer cannot
 * open a stream to itself.
 */

import { raceSignal } from 'race-signal'
import { ProtocolStatusError, RemoteRequestError } from '../errors.js'
import { logsRequest } from '../protocols/message-client.js'
import type { CaravelaHandlers, RequestContext } from '../protocols/handlers.js'
import type { AbortOptions, AvailableOffer, ByteTunnel, CaravelaClient, ContainerConfig, ContainerStatus, CreateOfferOptions, CreateOfferResult, GetOffersOptions, LaunchOptions, LogChunk, LogsOptions, NetworkConfiguration, NodeRef, Offer, RemoteContainerState } from '../types.js'

/** The handlers the roles serve. */
export type RoleHandlers = Omit<CaravelaHandlers, 'obtainConfiguration'>

/** `CaravelaClient` that short-circuits messages to this peer itself to its own handlers. */
export class LoopbackClient implements CaravelaClient {
  private readonly client: CaravelaClient
  private readonly self: () => NodeRef
  private readonly handlers: RoleHandlers

  constructor (client: CaravelaClient, self: () => NodeRef, handlers: RoleHandlers) {
    this.client = client
    this.self = self
    this.handlers = handlers
  }

  async createOffer (toTrader: NodeRef, offer: Offer, options?: CreateOfferOptions): Promise<CreateOfferResult> {
    return this.isSelf(toTrader)
      ? this.local(async ctx => this.handlers.createOffer(ctx, offer, options?.emptySlices), options)
      : this.client.createOffer(toTrader, offer, options)
  }

  async refreshOffer (toSupplier: NodeRef, offerId: number, options?: AbortOptions): Promise<boolean> {
    return this.isSelf(toSupplier)
      ? this.local(async ctx => this.handlers.refreshOffer(ctx, offerId), options)
      : this.client.refreshOffer(toSupplier, offerId, options)
  }

  async updateOffer (toTrader: NodeRef, offer: Offer, options?: AbortOptions): Promise<boolean> {
    return this.isSelf(toTrader)
      ? this.local(async ctx => this.handlers.updateOffer(ctx, offer), options)
      : this.client.updateOffer(toTrader, offer, options)
  }

  async removeOffer (toTrader: NodeRef, offerId: number, options?: AbortOptions): Promise<void> {
    await (this.isSelf(toTrader)
      ? this.local(async ctx => this.handlers.removeOffer(ctx, offerId), options)
      : this.client.removeOffer(toTrader, offerId, options))
  }

  async getOffers (toTrader: NodeRef, relay: boolean, options?: GetOffersOptions): Promise<AvailableOffer[]> {
    return this.isSelf(toTrader)
      ? this.local(async ctx => this.handlers.getOffers(ctx, relay, options?.needed, options?.own), options)
      : this.client.getOffers(toTrader, relay, options)
  }

  async advertiseOffersNeighbor (toNeighbor: NodeRef, traderOffering: NodeRef, options?: AbortOptions): Promise<void> {
    await (this.isSelf(toNeighbor)
      ? this.local(async ctx => this.handlers.advertiseOffersNeighbor(ctx, traderOffering), options)
      : this.client.advertiseOffersNeighbor(toNeighbor, traderOffering, options))
  }

  async launchContainer (toSupplier: NodeRef, offerId: number, requestId: string, containers: ContainerConfig[], options?: LaunchOptions): Promise<ContainerStatus[]> {
    return this.isSelf(toSupplier)
      ? this.local(async ctx => this.handlers.launchContainer(ctx, offerId, requestId, containers, options?.deadlineMs), options)
      : this.client.launchContainer(toSupplier, offerId, requestId, containers, options)
  }

  async containerStatus (toSupplier: NodeRef, containerIds: string[], options?: AbortOptions): Promise<RemoteContainerState[]> {
    return this.isSelf(toSupplier)
      ? this.local(async ctx => this.handlers.containerStatus(ctx, containerIds), options)
      : this.client.containerStatus(toSupplier, containerIds, options)
  }

  async stopLocalContainer (toSupplier: NodeRef, containerId: string, options?: AbortOptions): Promise<void> {
    await (this.isSelf(toSupplier)
      ? this.local(async ctx => this.handlers.stopLocalContainer(ctx, { containerId }), options)
      : this.client.stopLocalContainer(toSupplier, containerId, options))
  }

  async cancelLaunch (toSupplier: NodeRef, requestId: string, options?: AbortOptions): Promise<void> {
    await (this.isSelf(toSupplier)
      ? this.local(async ctx => this.handlers.stopLocalContainer(ctx, { requestId }), options)
      : this.client.cancelLaunch(toSupplier, requestId, options))
  }

  async containerExited (toBuyer: NodeRef, containerId: string, exitCode: number | undefined, reason: string, options?: AbortOptions): Promise<void> {
    await (this.isSelf(toBuyer)
      ? this.local(async ctx => this.handlers.containerExited(ctx, containerId, exitCode, reason), options)
      : this.client.containerExited(toBuyer, containerId, exitCode, reason, options))
  }

  async obtainConfiguration (node: NodeRef, options?: AbortOptions): Promise<NetworkConfiguration> {
    return this.client.obtainConfiguration(node, options)
  }

  async containerLogs (toSupplier: NodeRef, containerId: string, options?: LogsOptions): Promise<AsyncIterable<LogChunk>> {
    return this.isSelf(toSupplier)
      ? this.local(async ctx => this.handlers.containerLogs(ctx, logsRequest(containerId, options)), options)
      : this.client.containerLogs(toSupplier, containerId, options)
  }

  async portForward (toSupplier: NodeRef, containerId: string, containerPort: number, options?: AbortOptions): Promise<ByteTunnel> {
    return this.isSelf(toSupplier)
      ? this.local(async ctx => this.handlers.portForward(ctx, { containerId, containerPort }), options)
      : this.client.portForward(toSupplier, containerId, containerPort, options)
  }

  private isSelf (to: NodeRef): boolean {
    return to.peerId === this.self().peerId
  }

  /**
   * Run a handler as a request from ourselves; a status it answers becomes a `RemoteRequestError`,
   * and the caller stops waiting when its signal aborts (the handler runs on), as over the wire.
   */
  private async local<T> (handle: (ctx: RequestContext) => Promise<T>, options: AbortOptions = {}): Promise<T> {
    const ctx: RequestContext = { from: this.self(), signal: options.signal ?? new AbortController().signal }

    try {
      return await raceSignal(handle(ctx), options.signal)
    } catch (err: any) {
      if (err instanceof ProtocolStatusError) {
        throw new RemoteRequestError(err.status, err.message)
      }

      throw err
    }
  }
}
