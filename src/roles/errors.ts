/**
 * Why a request could not be placed: one class per reason, matched by `name`, with a message a
 * user can act on.
 */

import { describeResources } from './resources.js'
import type { Resources } from '../types.js'

/** The containers of a request are not a valid request (empty, too many, bad resources). */
export class InvalidContainerRequestError extends Error {
  static override name = 'InvalidContainerRequestError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidContainerRequestError'
  }
}

/** Discovery found no offer that could hold the request. */
export class NoOffersError extends Error {
  static override name = 'NoOffersError'
  readonly resources: Resources
  /** what the search did */
  readonly searched: string

  /** @param searched - what the search did, e.g. `slices (0, 2, 2048) (3 traders asked)` */
  constructor (resources: Resources, searched: string) {
    super(`No supplier offers ${describeResources(resources)}: no offers found in ${searched}`)
    this.name = 'NoOffersError'
    this.resources = resources
    this.searched = searched
  }
}

/** Why one supplier did not take a launch. */
export interface OfferRejection {
  supplier: string
  offerId: number
  reason: string
  /** the offer was not tried: its supplier let this buyer down too often lately */
  skipped?: boolean
}

/** Every offer found was tried and every supplier refused or failed. */
export class AllOffersRejectedError extends Error {
  static override name = 'AllOffersRejectedError'
  readonly resources: Resources
  readonly rejections: OfferRejection[]

  constructor (resources: Resources, rejections: OfferRejection[]) {
    // the same refusal on a second discovery is said once
    const reasons = [...new Set(rejections.map(r => `${r.supplier.slice(-8)} offer ${r.offerId}: ${r.reason}`))].join('; ')
    super(`Every offer for ${describeResources(resources)} was rejected (${rejections.filter(r => r.skipped !== true).length} tried): ${reasons}`)
    this.name = 'AllOffersRejectedError'
    this.resources = resources
    this.rejections = rejections
  }
}

/** Part of a request was placed, the rest could not be, and what was placed has been stopped. */
export class RequestRolledBackError extends Error {
  static override name = 'RequestRolledBackError'
  override readonly cause: Error
  /** containers stopped again */
  readonly rolledBack: number
  /** launches whose answer never came, cancelled at their supplier (with whatever they started) */
  readonly cancelledLaunches: number
  /** containers, or unanswered launches (`launch <id> at <peer>`), that could not be stopped: their supplier did not answer */
  readonly leftRunning: string[]

  constructor (cause: Error, rolledBack: number, leftRunning: string[], cancelledLaunches = 0) {
    const cancelled = cancelledLaunches === 0 ? '' : `, ${cancelledLaunches} unanswered launch${cancelledLaunches === 1 ? '' : 'es'} cancelled`
    const left = leftRunning.length === 0 ? '' : `; ${leftRunning.length} could not be stopped: ${leftRunning.join(', ')}`
    super(`${cause.message} (the request was rolled back: ${rolledBack} container${rolledBack === 1 ? '' : 's'} placed for it stopped again${cancelled}${left})`)
    this.name = 'RequestRolledBackError'
    this.cause = cause
    this.rolledBack = rolledBack
    this.cancelledLaunches = cancelledLaunches
    this.leftRunning = leftRunning
  }
}

/** The configured discovery backend is not one the roles implement. */
export class UnsupportedBackendError extends Error {
  static override name = 'UnsupportedBackendError'

  constructor (backend: string) {
    super(`The discovery backend "${backend}" is not supported; use single-offer, single-offer-full-walk, multi-offer, multi-offer-updates, random or swarm`)
    this.name = 'UnsupportedBackendError'
  }
}

/** An id names no container this peer placed, or more than one (a short id). */
export class ContainerNotPlacedError extends Error {
  static override name = 'ContainerNotPlacedError'

  constructor (message: string) {
    super(message)
    this.name = 'ContainerNotPlacedError'
  }
}
