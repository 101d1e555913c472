/**
 * Protocol ids: one per message, `/<prefix>/<name>/<version>` (`protocols/README.md`).
 */

import { PROTOCOL_VERSION } from './constants.js'

/** The protocol name of each message, keyed by its `CaravelaClient` method. */
export const PROTOCOL_NAMES = {
  createOffer: 'offer/create',
  refreshOffer: 'offer/refresh',
  updateOffer: 'offer/update',
  removeOffer: 'offer/remove',
  getOffers: 'offer/get',
  advertiseOffersNeighbor: 'offer/advertise',
  launchContainer: 'container/launch',
  stopLocalContainer: 'container/stop',
  containerExited: 'container/exited',
  containerStatus: 'container/status',
  obtainConfiguration: 'configuration'
} as const

/** One of the eleven remote messages, named after its `CaravelaClient` method. */
export type MessageName = keyof typeof PROTOCOL_NAMES

/** The eleven message names. */
export const MESSAGE_NAMES = Object.keys(PROTOCOL_NAMES) as MessageName[]

/**
 * The protocol id of every message under one prefix, e.g.
 * `protocolIds('caravela').createOffer === '/caravela/offer/create/1.0.0'`.
 */
export function protocolIds (prefix: string): Record<MessageName, string> {
  const ids: Partial<Record<MessageName, string>> = {}

  for (const name of MESSAGE_NAMES) {
    ids[name] = `/${prefix}/${PROTOCOL_NAMES[name]}/${PROTOCOL_VERSION}`
  }

  return ids as Record<MessageName, string>
}

/**
 * The protocol of a container's output (`CaravelaClient.containerLogs`): a stream, not one
 * request and one response, so it stands apart from the messages.
 */
export const LOGS_PROTOCOL_NAME = 'container/logs'

/** The logs protocol id under one prefix, e.g. `/caravela/container/logs/1.0.0`. */
export function logsProtocolId (prefix: string): string {
  return `/${prefix}/${LOGS_PROTOCOL_NAME}/${PROTOCOL_VERSION}`
}

/**
 * The protocol of a TCP tunnel to a container's port (`CaravelaClient.portForward`): a request,
 * a status, then raw bytes both ways.
 */
export const PORT_FORWARD_PROTOCOL_NAME = 'container/port-forward'

/** The portForward protocol id under one prefix, e.g. `/caravela/container/port-forward/1.0.0`. */
export function portForwardProtocolId (prefix: string): string {
  return `/${prefix}/${PORT_FORWARD_PROTOCOL_NAME}/${PROTOCOL_VERSION}`
}
