/**
 * `caravelaDefaults`: the libp2p options of a Caravela peer — TCP and the circuit relay
 * transport, Noise, Yamux, identify, ping, kad-dht on `/<prefix>/kad/1.0.0`, the NAT traversal
 * services of `[nat]` (nat.ts) and the Caravela service — built from one configuration, for an
 * application to edit and pass to `createLibp2p`.
 *
 * `createCaravelaNode`: a complete peer from those options, with its private key and peer store
 * kept in a data directory, so a restarted peer keeps its identity.
 */

import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { loadOrCreateSelfKey } from '@libp2p/config'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { defaultConfig, validateConfig } from './config/config.js'
import { dhtProtocol } from './constants.js'
import { DataDirInUseError, UnsafePermissionsError } from './errors.js'
import { LanDiscovery, mdnsEnabled, mdnsServiceTag } from './mdns.js'
import { natListen, natPlan, natServices, RELAY_STOP_STREAMS_PER_PEER } from './nat.js'
import { checkNetworkKey, readNetworkKey } from './network-key.js'
import { caravela, caravelaDHT } from './service.js'
import type { CaravelaConfig } from './config/types.js'
import type { NatServices } from './nat.js'
import type { Caravela, CaravelaInit } from './service.js'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { ComponentLogger, Libp2p, PrivateKey, ServiceMap } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions, ServiceFactoryMap } from 'libp2p'

/** Known peers a restarted peer tries when it was given no bootstrap address. */
export const MAX_REJOIN_PEERS = 5

// a type, not an interface: libp2p's ServiceMap needs an index signature
export type CaravelaServices = {
  identify: Identify
  identifyPush?: IdentifyPush
  ping: Ping
  dht: KadDHT
  caravela: Caravela
} & NatServices

/** A Caravela peer, with the services of `S` its application added. */
export type CaravelaNode<S extends ServiceMap = Record<never, never>> = Libp2p<CaravelaServices & S>

export interface CaravelaDefaultsInit extends CaravelaInit {
  /**
   * The network key (a swarm key file's bytes, `readNetworkKey`): the peer then talks only to
   * peers holding the same key; a peer without it cannot complete a connection.
   */
  networkKey?: Uint8Array
}

/**
 * The libp2p options of a Caravela peer, from one configuration (`init.config`, default
 * `defaultConfig()`): its listen and announce addresses (with `/p2p-circuit` when it reserves a
 * relay slot), TCP and the circuit relay transport, Noise, Yamux, the connection manager's `allow`
 * list, the network key's protector, and the services `identify`, `identifyPush`, `ping`, `dht`
 * (`caravelaDHT()` with the configuration's protocol prefix), those of NAT traversal the
 * configuration's `[nat]` runs (`relay`, `autoNAT`, `dcutr`, `upnp`: nat.ts) and `caravela`. Edit
 * them and pass them to `createLibp2p`, as Helia's `libp2pDefaults()`:
 *
 * ```ts
 * const options = caravelaDefaults({ config, runtime: dockerRuntime() })
 * const node = await createLibp2p({ ...options, services: { ...options.services, myService: myService() } })
 * ```
 *
 * @throws {InvalidConfigurationError} for a configuration `validateConfig` refuses
 */
export function caravelaDefaults (init: CaravelaDefaultsInit = {}): Libp2pOptions<CaravelaServices> & { services: ServiceFactoryMap<CaravelaServices> } {
  const { networkKey, ...serviceInit } = init
  const config = init.config ?? defaultConfig()
  validateConfig(config)

  if (networkKey != null) {
    checkNetworkKey(networkKey)
  }

  const nat = natPlan(config.nat, config.node)

  return {
    addresses: {
      listen: natListen(config.node.listen, nat),
      announce: [...config.node.announce]
    },
    // every peer dials /p2p-circuit addresses: a supplier behind a NAT is reached through its relay
    // (the stop streams a relay opens are counted by the transport's limit as well as its own)
    transports: [tcp(), circuitRelayTransport({ maxOutboundStopStreams: RELAY_STOP_STREAMS_PER_PEER })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(networkKey == null ? {} : { connectionProtector: preSharedKey({ psk: networkKey }) }),
    // libp2p's per-host limits on inbound connections, except for the networks the
    // configuration allows: a testnet's peers all connect from one host
    connectionManager: {
      allow: [...config.node.allow]
    },
    services: {
      identify: identify(),
      // tells connected peers of new addresses: a relay slot's /p2p-circuit address comes after
      // the connections to them, and traders hand out what their peer store holds
      identifyPush: identifyPush(),
      // the connection monitor and kad-dht's routing table both ping: with ping's default of one
      // outbound stream, two pings at once fail and the monitor aborts the connection, cutting
      // a followed container's output
      ping: ping({ maxInboundStreams: 4, maxOutboundStreams: 4 }),
      // a peer reached through a relay is a DHT client, so that no overlay walk goes through a
      // relay (kad-dht does not run on limited connections); kad-dht's automatic mode makes it a
      // server, and a trader, once it has a public address (UPnP, AutoNAT)
      dht: caravelaDHT({ protocolPrefix: config.node.protocolPrefix, ...(nat.relay ? { clientMode: undefined } : {}) }),
      ...natServices(nat, config.nat),
      caravela: caravela({ ...serviceInit, config })
    }
  }
}

export interface CreateCaravelaNodeInit<S extends ServiceMap = Record<never, never>> extends Omit<CaravelaDefaultsInit, 'networkKey'> {
  /**
   * Directory for the private key and the datastore (peer store, DHT records, Caravela state).
   * Without one the peer keeps everything in memory and gets a new identity each start.
   */
  dataDir?: string
  /**
   * The peer's identity. Default: the key kept in `dataDir`, or a new one (kept there). A key
   * given here is used as it is and not written to `dataDir`.
   */
  privateKey?: PrivateKey
  /**
   * The network key (a swarm key file's bytes, `readNetworkKey`): the peer then talks only to
   * peers holding the same key; a peer without it cannot complete a connection.
   *
   * @default the key in `config.networkKeyFile` (`[network] keyFile`), when one is named
   */
  networkKey?: Uint8Array
  /** e.g. `prefixLogger('peer-3')` to tell several peers of one process apart */
  logger?: ComponentLogger
  /**
   * libp2p options merged over `caravelaDefaults()`: the application's own `services` join
   * Caravela's, and a service of the same name as one of Caravela's (`identify`, `ping`, `dht`,
   * `caravela`, ...) replaces it; `addresses` and `connectionManager` are merged key by key; any other
   * option given replaces Caravela's (`transports: [tcp(), webSockets()]`; for tests:
   * `{ connectionMonitor: { enabled: false } }`).
   */
  libp2p?: Partial<Libp2pOptions<S>>
}

/**
 * Create and start a Caravela peer. With `config.node.bootstrap` it joins that network and adopts
 * its configuration (and keeps it in its datastore); otherwise it carries on in the network whose
 * configuration it kept, or starts a new network, and rejoins through the peers it remembers that
 * serve that same configuration. With LAN discovery (`config.node.mdns`, see mdns.ts) a new peer
 * first joins the network of a LAN peer when one answers within a few seconds, and every peer
 * connects to the LAN peers of its network it finds. A failed join stops the peer and throws
 * `JoinFailedError` or `IncompatibleNetworkError`.
 */
export async function createCaravelaNode<S extends ServiceMap = Record<never, never>> (init: CreateCaravelaNodeInit<S> = {}): Promise<CaravelaNode<S>> {
  const { dataDir, privateKey: givenKey, logger, libp2p = {}, networkKey: givenNetworkKey, ...caravelaInit } = init
  const config = init.config ?? defaultConfig()
  validateConfig(config)
  const networkKey = givenNetworkKey ?? (config.networkKeyFile == null ? undefined : await readNetworkKey(config.networkKeyFile))
  const defaults = caravelaDefaults({ ...caravelaInit, config, networkKey })
  const datastore = await openDatastore(dataDir)
  let node: CaravelaNode<S> | undefined

  try {
    const privateKey = givenKey ?? await loadOrCreateSelfKey(datastore)
    const lan = mdnsEnabled(config.node) ? new LanDiscovery(mdnsServiceTag(config.node.protocolPrefix, networkKey)) : undefined

    node = await createLibp2p<CaravelaServices & S>({
      privateKey,
      datastore,
      logger,
      ...defaults,
      ...libp2p,
      addresses: { ...defaults.addresses, ...libp2p.addresses },
      connectionManager: { ...defaults.connectionManager, ...libp2p.connectionManager },
      peerDiscovery: [...(lan == null ? [] : [lan.discovery]), ...(libp2p.peerDiscovery ?? [])],
      services: { ...defaults.services, ...libp2p.services } as ServiceFactoryMap<CaravelaServices & S>
    })

    // what createCaravelaNode opened it closes (the service closes a runtime its factory made)
    node.addEventListener('stop', () => { void datastore.close() }, { once: true })

    if (config.node.bootstrap.length > 0) {
      await node.services.caravela.join(config.node.bootstrap)
    } else if (lan == null || !await lan.joinFound(node, datastore, dhtProtocol(config.node.protocolPrefix))) {
      await node.services.caravela.create()
      rejoinKnownPeers(node, config)
    }

    lan?.watch(node)

    return node
  } catch (err) {
    if (node != null) {
      await node.stop()
    } else {
      await datastore.close()
    }

    throw err
  }
}

/**
 * A restarted peer started without bootstrap addresses rejoins through the Caravela peers its
 * peer store remembers, in the background; when none answers it carries on alone. It never takes
 * a configuration from them: anyone who once connected is remembered, so a remembered peer that
 * serves another configuration than the one in force is refused, not followed (`rejoin`).
 */
function rejoinKnownPeers (node: CaravelaNode, config: CaravelaConfig): void {
  const log = node.logger.forComponent('caravela:node')
  const protocol = dhtProtocol(config.node.protocolPrefix)

  void (async () => {
    const peers = await node.peerStore.all({ filters: [peer => peer.protocols.includes(protocol) && peer.addresses.length > 0] })
    const addresses = peers.slice(0, MAX_REJOIN_PEERS).map(peer => `${peer.addresses[0].multiaddr.toString()}/p2p/${peer.id.toString()}`)

    if (addresses.length === 0 || node.status !== 'started') {
      return
    }

    log('rejoining through %d known peers', addresses.length)
    await node.services.caravela.rejoin(addresses)
  })().catch(err => {
    log('could not rejoin through known peers, carrying on alone - %e', err)
  })
}

async function openDatastore (dataDir?: string): Promise<Datastore & { close(): Promise<void> }> {
  if (dataDir == null) {
    const store = new MemoryDatastore()
    return Object.assign(store, { close: async () => {} })
  }

  await mkdir(dataDir, { recursive: true, mode: 0o700 })

  // checked at every start, not only when created: a directory opened up later is refused too
  const { mode } = await stat(dataDir)

  if ((mode & 0o077) !== 0) {
    throw new UnsafePermissionsError(dataDir, mode, 'The data directory', '700')
  }

  const store = new LevelDatastore(join(dataDir, 'datastore'))

  try {
    // open the level database directly: LevelDatastore.open() drops the cause that tells a lock apart
    await store.db.open()
    await store.open()
  } catch (err: any) {
    if (err.cause?.code === 'LEVEL_LOCKED') {
      throw new DataDirInUseError(dataDir)
    }

    throw err
  }

  return store
}
