/**
 * `createCaravelaNode`: a complete libp2p peer running Caravela — TCP, Noise, Yamux, identify,
 * ping, kad-dht on `/<prefix>/kad/1.0.0` in server mode and the Caravela service — with its
 * private key and peer store kept in a data directory, so a restarted peer keeps its identity.
 */

import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { loadOrCreateSelfKey } from '@libp2p/config'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { defaultConfig, validateConfig } from './config/config.js'
import { dhtProtocol } from './constants.js'
import { DataDirInUseError, UnsafePermissionsError } from './errors.js'
import { checkNetworkKey, readNetworkKey } from './network-key.js'
import { caravela, caravelaDHT } from './service.js'
import type { CaravelaConfig } from './config/types.js'
import type { Caravela, CaravelaInit } from './service.js'
import type { ContainerRuntime } from './types.js'
import type { Identify } from '@libp2p/identify'
import type { ComponentLogger, Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'

/** Known peers a restarted peer tries when it was given no bootstrap address. */
export const MAX_REJOIN_PEERS = 5

// a type, not an interface: libp2p's ServiceMap needs an index signature
export type CaravelaServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  caravela: Caravela
}

export type CaravelaNode = Libp2p<CaravelaServices>

export interface CreateCaravelaNodeInit extends Omit<CaravelaInit, 'config' | 'runtime'> {
  /**
   * Where this peer runs containers, or a function that makes the runtime once the peer's id is
   * known (the Docker runtime labels containers with it). None: the peer offers nothing.
   */
  runtime?: ContainerRuntime | ((peerId: PeerId) => ContainerRuntime | Promise<ContainerRuntime>)
  /** @default defaultConfig() */
  config?: CaravelaConfig
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
  /** libp2p options merged over Caravela's (for tests: `{ connectionMonitor: { enabled: false } }`) */
  libp2p?: Partial<Libp2pOptions<any>>
}

/**
 * Create and start a Caravela peer. With `config.node.bootstrap` it joins that network and adopts
 * its configuration (and keeps it in its datastore); otherwise it carries on in the network whose
 * configuration it kept, or starts a new network, and rejoins through the peers it remembers that
 * serve that same configuration. A failed join stops the peer and throws `JoinFailedError` or
 * `IncompatibleNetworkError`.
 */
export async function createCaravelaNode (init: CreateCaravelaNodeInit = {}): Promise<CaravelaNode> {
  const config = init.config ?? defaultConfig()
  validateConfig(config)
  const networkKey = init.networkKey ?? (config.networkKeyFile == null ? undefined : await readNetworkKey(config.networkKeyFile))

  if (networkKey != null) {
    checkNetworkKey(networkKey)
  }

  const datastore = await openDatastore(init.dataDir)
  let node: CaravelaNode | undefined

  try {
    const privateKey = init.privateKey ?? await loadOrCreateSelfKey(datastore)
    const { config: _, dataDir, privateKey: __, logger, libp2p, runtime: runtimeInit, networkKey: ___, ...serviceInit } = init
    const runtime = typeof runtimeInit === 'function' ? await runtimeInit(peerIdFromPrivateKey(privateKey)) : runtimeInit

    node = await createLibp2p({
      privateKey,
      datastore,
      logger,
      addresses: {
        listen: config.node.listen,
        announce: config.node.announce
      },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(networkKey == null ? {} : { connectionProtector: preSharedKey({ psk: networkKey }) }),
      // libp2p's per-host limits on inbound connections, except for the networks the
      // configuration allows: a testnet's peers all connect from one host
      connectionManager: {
        allow: [...config.node.allow]
      },
      ...libp2p,
      services: {
        identify: identify(),
        // the connection monitor and kad-dht's routing table both ping: with ping's default of one
        // outbound stream, two pings at once fail and the monitor aborts the connection, cutting
        // a followed container's output
        ping: ping({ maxInboundStreams: 4, maxOutboundStreams: 4 }),
        dht: caravelaDHT({ protocolPrefix: config.node.protocolPrefix }),
        caravela: caravela({ ...serviceInit, config, runtime })
      }
    })

    // what createCaravelaNode opened it closes: the datastore, and a runtime it made itself
    const onStop = (): void => {
      void datastore.close()
      if (typeof runtimeInit === 'function') void runtime?.close?.()
    }
    node.addEventListener('stop', onStop, { once: true })

    if (config.node.bootstrap.length > 0) {
      await node.services.caravela.join(config.node.bootstrap)
    } else {
      await node.services.caravela.create()
      rejoinKnownPeers(node, config)
    }

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
