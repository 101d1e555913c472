/**
 * @packageDocumentation
 *
 * Caravela: a decentralized container cloud on libp2p. Every peer offers its spare CPU and
 * memory; traders found through a Kademlia DHT keep the offers, each for one slice of the
 * resource space; any peer places containers on peers with room.
 *
 * Add Caravela to your own libp2p node as one more service, next to a kad-dht configured for it:
 *
 * ```ts
 * import { noise } from '@chainsafe/libp2p-noise'
 * import { yamux } from '@chainsafe/libp2p-yamux'
 * import { identify } from '@libp2p/identify'
 * import { ping } from '@libp2p/ping'
 * import { tcp } from '@libp2p/tcp'
 * import { createLibp2p } from 'libp2p'
 * import { caravela, caravelaDHT } from 'caravela'
 *
 * const node = await createLibp2p({
 *   addresses: { listen: ['/ip4/0.0.0.0/tcp/0'] },
 *   transports: [tcp()],
 *   connectionEncrypters: [noise()],
 *   streamMuxers: [yamux()],
 *   services: { identify: identify(), ping: ping(), dht: caravelaDHT(), caravela: caravela() }
 * })
 * await node.services.caravela.join(['/ip4/192.0.2.7/tcp/7800/p2p/12D3KooW…'])
 * console.info(node.services.caravela.status())
 * ```
 *
 * Or let `createCaravelaNode()` build the whole peer, with a data directory for its identity.
 */

export { caravela, caravelaDHT, CaravelaService } from './service.js'
export type { Caravela, CaravelaInit, CaravelaComponents } from './service.js'
export { createCaravelaNode } from './node.js'
export { createNetworkKey, InvalidNetworkKeyError, readNetworkKey, writeNetworkKey } from './network-key.js'
export type { CaravelaNode, CaravelaServices, CreateCaravelaNodeInit } from './node.js'
export { defaultConfig, loadConfigFile, parseConfigToml, validateConfig } from './config/config.js'
export type * from './config/types.js'
export { ResourceMap, pointOf } from './resources/resource-map.js'
export type { Slice, Block } from './resources/resource-map.js'
export { KadOverlay } from './overlay/kad-overlay.js'
export * from './errors.js'
export * from './constants.js'
export type * from './types.js'
