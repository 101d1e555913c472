/**
 * What a peer does with each incoming request, whatever carries it: the libp2p server, the
 * in-process transports of the tests and the simulator, or a peer's requests to itself. The
 * roles implement these handlers, so they live apart from the libp2p server.
 */

import { MESSAGE_NAMES } from './ids.js'
import type {
  AvailableOffer, ByteTunnel, ContainerConfig, ContainerStatus, CreateOfferResult, LogChunk, NetworkConfiguration, NodeRef, Offer, RemoteContainerState, Resources, StopTarget
} from '../types.js'
import type { LogsRequest, PortForwardRequest } from './codec.js'

/** Who sent a request, and when to give up on it. */
export interface RequestContext {
  /** the remote peer of the connection and the connection's remote multiaddr */
  from: NodeRef
  /** aborted when the request's time is up or the server stops */
  signal: AbortSignal
}

/**
 * What a peer does with each incoming message. A handler may throw `ProtocolStatusError` to
 * answer with a status, or `NotImplementedError`; anything else answers INTERNAL_ERROR.
 */
export interface CaravelaHandlers {
  /** `emptySlices`: indices of the slices the supplier found without a trader */
  createOffer (ctx: RequestContext, offer: Offer, emptySlices?: readonly number[]): Promise<CreateOfferResult>
  refreshOffer (ctx: RequestContext, offerId: number): Promise<boolean>
  updateOffer (ctx: RequestContext, offer: Offer): Promise<boolean>
  removeOffer (ctx: RequestContext, offerId: number): Promise<void>
  /**
   * `needed` when the asker wants only offers whose free resources contain it; `own` when it asks
   * for this peer's own free resources rather than the offers its trader keeps
   */
  getOffers (ctx: RequestContext, relay: boolean, needed?: Resources, own?: boolean): Promise<AvailableOffer[]>
  advertiseOffersNeighbor (ctx: RequestContext, traderOffering: NodeRef): Promise<void>
  /** `deadlineMs`: milliseconds the buyer still waits for the answer, absent when it sets none */
  launchContainer (ctx: RequestContext, offerId: number, requestId: string, containers: ContainerConfig[], deadlineMs?: number): Promise<ContainerStatus[]>
  /** the state of containers the sender placed here, one per id in order; claims them */
  containerStatus (ctx: RequestContext, containerIds: string[]): Promise<RemoteContainerState[]>
  /** a container, or a launch to cancel (`StopTarget`) */
  stopLocalContainer (ctx: RequestContext, target: StopTarget): Promise<void>
  containerExited (ctx: RequestContext, containerId: string, exitCode: number | undefined, reason: string): Promise<void>
  obtainConfiguration (ctx: RequestContext): Promise<NetworkConfiguration>
  /**
   * The output of a container the sender placed here: resolves (or throws a status) once it may
   * be read, then gives its chunks until it ends. `ctx.signal` aborts when the reader goes away.
   */
  containerLogs (ctx: RequestContext, request: LogsRequest): Promise<AsyncIterable<LogChunk>>
  /**
   * A tunnel to a TCP port of a container the sender placed here: resolves (or throws a status)
   * once the port was reached. The server pipes the stream through it and aborts it when the
   * stream breaks; `ctx.signal` bounds only the connecting.
   */
  portForward (ctx: RequestContext, request: PortForwardRequest): Promise<ByteTunnel>
}

/** Every handler's name: the messages' and the two streams'. */
const HANDLER_NAMES: ReadonlyArray<keyof CaravelaHandlers> = [...MESSAGE_NAMES, 'containerLogs', 'portForward']

/**
 * The handlers of `handlers`, its own or inherited ones (a class's methods), bound to it: a copy
 * that later changes to the object do not reach.
 */
export function copyHandlers (handlers: Partial<CaravelaHandlers>): Partial<CaravelaHandlers> {
  const copy: Record<string, unknown> = {}

  for (const name of HANDLER_NAMES) {
    const handler = handlers[name]

    if (handler != null) {
      copy[name] = handler.bind(handlers)
    }
  }

  return copy
}
