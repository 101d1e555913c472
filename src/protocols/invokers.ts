/**
 * How each decoded request reaches its handler: one line per message, shared by the libp2p
 * server and the in-process LocalNetwork.
 */

import type { Requests, Results } from './codec.js'
import type { CaravelaHandlers, RequestContext } from './handlers.js'
import type { MessageName } from './ids.js'

export type Invoker<N extends MessageName> = (handlers: CaravelaHandlers, ctx: RequestContext, request: Requests[N]) => Promise<Results[N]>

export const INVOKERS: { [N in MessageName]: Invoker<N> } = {
  createOffer: async (h, ctx, r) => h.createOffer(ctx, r.offer, r.emptySlices),
  refreshOffer: async (h, ctx, r) => h.refreshOffer(ctx, r.offerId),
  updateOffer: async (h, ctx, r) => h.updateOffer(ctx, r.offer),
  removeOffer: async (h, ctx, r) => h.removeOffer(ctx, r.offerId),
  getOffers: async (h, ctx, r) => h.getOffers(ctx, r.relay, r.needed, r.own),
  advertiseOffersNeighbor: async (h, ctx, r) => h.advertiseOffersNeighbor(ctx, r.traderOffering),
  launchContainer: async (h, ctx, r) => h.launchContainer(ctx, r.offerId, r.requestId, r.containers, r.deadlineMs),
  containerStatus: async (h, ctx, r) => h.containerStatus(ctx, r.containerIds),
  stopLocalContainer: async (h, ctx, r) => h.stopLocalContainer(ctx, r),
  containerExited: async (h, ctx, r) => h.containerExited(ctx, r.containerId, r.exitCode, r.reason),
  obtainConfiguration: async (h, ctx) => h.obtainConfiguration(ctx)
}
