/**
 * @packageDocumentation
 *
 * Caravela: a decentralized container cloud on libp2p. Every peer offers its spare CPU and
 * memory; traders found through a Kademlia DHT keep the offers, each for one slice of the
 * resource space; any peer places containers on peers with room.
 *
 * Add Caravela to your own libp2p node: `caravelaDefaults()` gives the libp2p options it needs,
 * from one configuration, for you to edit (add your own services) and pass to `createLibp2p`:
 *
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { caravelaDefaults, dockerRuntime } from 'caravela'
 *
 * const options = caravelaDefaults({ runtime: dockerRuntime() })
 * const node = await createLibp2p({ ...options, services: { ...options.services, myService: myService() } })
 * await node.services.caravela.join(['/ip4/192.0.2.7/tcp/7800/p2p/12D3KooW…'])
 * console.info(node.services.caravela.status())
 * ```
 *
 * Or let `createCaravelaNode()` build the whole peer, with a data directory for its identity.
 * The Docker runtime's class is in `caravela/runtime/docker` (it loads dockerode);
 * `dockerRuntime()` loads it only when a peer using it starts.
 */

export { caravela, caravelaDHT, CaravelaService, dockerRuntime } from './service.js'
export type { Caravela, CaravelaInit, CaravelaComponents, RuntimeFactory, RuntimeInfo } from './service.js'
export { caravelaDefaults, createCaravelaNode } from './node.js'
export { createNetworkKey, InvalidNetworkKeyError, readNetworkKey, writeNetworkKey } from './network-key.js'
export type { CaravelaDefaultsInit, CaravelaNode, CaravelaServices, CreateCaravelaNodeInit } from './node.js'
export { MemoryRuntime } from './runtime/memory-runtime.js'
export type { MemoryRuntimeInit } from './runtime/memory-runtime.js'
// types only: importing the package does not load dockerode
export type { DockerRuntime, DockerRuntimeInit } from './runtime/docker-runtime.js'
export { defaultConfig, loadConfigFile, parseConfigToml, validateConfig } from './config/config.js'
export type * from './config/types.js'
export { ResourceMap, pointOf } from './resources/resource-map.js'
export type { Slice, Block } from './resources/resource-map.js'
export { KadOverlay } from './overlay/kad-overlay.js'
export * from './errors.js'
export * from './constants.js'
export type * from './types.js'
