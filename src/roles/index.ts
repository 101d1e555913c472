/**
 * The roles of a Caravela peer: supplier, trader, buyer (scheduler), containers manager and user
 * manager, written against interfaces only.
 */

export { PeerRoles, keyOfPeerId } from './peer-roles.js'
export type { PeerRolesInit } from './peer-roles.js'
export type { RunOptions, PlacedRequest } from './buyer.js'
export type { HostedContainer } from './containers-manager.js'
export { LABEL_BUYER, LABEL_CPU_CLASS, LABEL_CPUS, LABEL_INDEX, LABEL_MEMORY, LABEL_OFFER, LABEL_REQUEST, LABEL_SUPPLIER } from './containers-manager.js'
export { Ledger, LEDGER_VERSION, HOSTED_PREFIX, PLACED_PREFIX } from './ledger.js'
export type { HostedRecord, HostedState } from './ledger.js'
export { computeCapacity } from './supplier.js'
export { planOffers, OFFERING_STRATEGIES } from './offer-strategies.js'
export type { OfferingStrategy, OfferPlan, OfferTarget, SupplierOffer } from './offer-strategies.js'
export { rankOffers, topOffers, weightOf } from './ranking.js'
export { SWARM_MASTER_KEY, SWARM_MAX_WORKERS } from './swarm.js'
export { ANSWER_OFFERS } from './ranking.js'
export type { RankedOffer } from './ranking.js'
export type { Distribution, RoleStats } from './stats.js'
export type { RandomSource } from './random.js'
export * from './errors.js'
