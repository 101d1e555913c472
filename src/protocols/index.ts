/**
 * @packageDocumentation
 *
 * The Caravela wire protocols (`protocols/README.md`): one libp2p protocol per remote
 * message, protobuf schemas in `protocols/caravela/v1/caravela.proto`, a server that dispatches
 * valid requests to domain handlers and a `CaravelaClient` over libp2p streams.
 */

export { CaravelaProtocolServer } from './server.js'
export type { CaravelaProtocolServerComponents, CaravelaProtocolServerInit } from './server.js'
export type { CaravelaHandlers, RequestContext } from './handlers.js'
export { Libp2pCaravelaClient } from './client.js'
export type { Libp2pCaravelaClientComponents, Libp2pCaravelaClientInit } from './client.js'
export { CODECS } from './codec.js'
export type { MessageCodec, Requests, Response, Results, StatusName } from './codec.js'
export { MESSAGE_NAMES, PROTOCOL_NAMES, protocolIds } from './ids.js'
export type { MessageName } from './ids.js'
export { DEFAULT_LIMITS, requestSizeLimit, responseSizeLimit } from './limits.js'
export type { ProtocolLimits, SizeLimits } from './limits.js'
export { createMetrics } from './metrics.js'
export type { MessageCounters, ProtocolMetrics } from './metrics.js'
export * from './constants.js'
