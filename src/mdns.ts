/**
 * LAN discovery over mDNS (`node.mdns`, `--mdns`): the peers of one network on one local network
 * find each other without bootstrap addresses.
 *
 * Peers announce themselves under a service name made of the protocol prefix and, in a closed
 * network, a digest of the network key: peers of other Caravela networks and plain libp2p nodes
 * (`_p2p._udp.local`) never hear of each other. A peer found this way passes the usual checks
 * all the same: the network key (pnet) and the network configuration's digest.
 *
 * A new peer (started without bootstrap addresses, never in a network: no configuration kept, no
 * peer remembered) first listens for a few seconds and joins the network of the first LAN peer
 * that runs one, adopting its configuration as `--bootstrap` would; it creates a network only when
 * none answers. Every peer then connects to the LAN peers it finds, as it rejoins remembered
 * peers: never adopting their configuration, refusing one that serves another (hung up on and
 * kept out of the routing table by the service, so that two networks do not mix DHTs). A peer serves its
 * configuration only once it runs in a network, so two new peers started together do not take each
 * other's: both create one after the wait, then connect, and they are one network when their
 * configurations are the same.
 */

import { createHash } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { mdns } from '@libp2p/mdns'
import { Key } from 'interface-datastore'
import { addressScopes } from './nat.js'
import { ADOPTED_NETWORK_KEY } from './service.js'
import type { NodeConfig } from './config/types.js'
import type { Caravela } from './service.js'
import type { Libp2p, Logger, PeerDiscovery, PeerInfo } from '@libp2p/interface'
import type { MulticastDNSComponents } from '@libp2p/mdns'
import type { Datastore } from 'interface-datastore'
import type { NetworkInterfaceInfo } from 'node:os'

/** How long a new peer listens for LAN peers before it creates a network. */
export const LAN_WAIT = 3_000
/** Time before a LAN peer that could not be joined is tried again, doubled at each failure in a row. */
const LAN_RETRY = 10_000
/** The longest time between two attempts through one LAN peer (one serving another configuration). */
const MAX_LAN_RETRY = 600_000
/** Time one attempt to join through a LAN peer may take. */
const LAN_JOIN_TIMEOUT = 10_000
/** Addresses of one LAN peer tried, the non-loopback ones first. */
const MAX_LAN_ADDRESSES = 4

/**
 * Whether LAN discovery runs: `node.mdns` when set, else whether the peer listens on a private
 * address (`addressScopes`: a wildcard address counts when one of the host's is private).
 * Loopback does not count: it carries no multicast, and peers of separate test networks on one
 * machine must not find each other.
 */
export function mdnsEnabled (node: Pick<NodeConfig, 'mdns' | 'listen'>, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): boolean {
  if (node.mdns != null) {
    return node.mdns
  }

  return addressScopes(node.listen, interfaces).has('private')
}

/**
 * The mDNS service name of a network: `_<prefix>-<digest>._udp.local`. The digest covers the exact
 * prefix (the label only shows it in DNS form) and the key of a closed network, never the key
 * itself.
 */
export function mdnsServiceTag (protocolPrefix: string, networkKey?: Uint8Array): string {
  const hash = createHash('sha256').update(`caravela mdns\n${protocolPrefix}\n`)

  if (networkKey != null) {
    // the key's hex digits, so that two files of one key written differently (case, line ends) agree
    hash.update(Buffer.from(networkKey).toString('utf8').split(/\r?\n/)[2]?.toLowerCase() ?? '')
  }

  const label = protocolPrefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40)
  return `_${label}-${hash.digest('hex').slice(0, 16)}._udp.local`
}

type LanNode = Libp2p<{ caravela: Caravela }>

/**
 * LAN peers kept at most. mDNS answers are not authenticated: any host of the LAN may announce any
 * number of peer ids, and the oldest heard of go first.
 */
export const MAX_LAN_PEERS = 64
/** Connection attempts to LAN peers waiting at most, one running at a time. */
export const MAX_PENDING_ATTEMPTS = 8

/** Sets `key` as the most recent entry of `map`, dropping the oldest past `MAX_LAN_PEERS`. */
function remember<V> (map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)

  if (map.size > MAX_LAN_PEERS) {
    map.delete(map.keys().next().value as string)
  }
}

/** The LAN peers mDNS finds, and what the peer does with them (see the top of this file). */
export class LanDiscovery {
  /** for the `peerDiscovery` of `createLibp2p` */
  readonly discovery: (components: MulticastDNSComponents) => PeerDiscovery
  /** the last `MAX_LAN_PEERS` LAN peers heard of, the most recent last */
  private readonly found = new Map<string, PeerInfo>()
  /** LAN peers this peer connected through, until they disconnect */
  private readonly joined = new Set<string>()
  /** when each LAN peer that failed may be tried again, and its failures in a row (as many as `found`) */
  private readonly retryAt = new Map<string, { at: number, failures: number }>()
  private onFound = (peer: PeerInfo): void => {}
  private attempts: Promise<void> = Promise.resolve()
  /** attempts queued on `attempts` and not done */
  private pending = 0

  /** `serviceTag`: the network's mDNS service name (`mdnsServiceTag`) */
  constructor (serviceTag: string) {
    this.discovery = components => {
      const discovery = mdns({ serviceTag })(components)
      discovery.addEventListener('peer', event => {
        remember(this.found, event.detail.id.toString(), event.detail)
        this.onFound(event.detail)
      })
      return discovery
    }
  }

  /** LAN peers heard of, at most `MAX_LAN_PEERS` */
  get size (): number {
    return this.found.size
  }

  /**
   * A new peer joins the network of the first LAN peer that serves one within the wait. False when
   * the peer was in a network before, or no LAN peer could be joined: it then creates or carries on.
   */
  async joinFound (node: LanNode, datastore: Datastore, dhtProtocol: string): Promise<boolean> {
    const log = this.logOf(node)
    // not those that connected since the start: LAN peers reach a new peer while it listens
    const remembered = await node.peerStore.all({ filters: [peer => peer.protocols.includes(dhtProtocol) && node.getConnections(peer.id).length === 0], limit: 1 })

    if (remembered.length > 0 || await datastore.has(new Key(ADOPTED_NETWORK_KEY))) {
      return false
    }

    log('listening %d ms for LAN peers before creating a network', LAN_WAIT)
    const deadline = Date.now() + LAN_WAIT
    const tried = new Set<string>()

    while (node.status === 'started') {
      for (const [id, peer] of this.found) {
        if (tried.has(id)) {
          continue
        }

        // announcements cost nothing to forge: after this many failures the peer carries on alone
        if (tried.size >= MAX_PENDING_ATTEMPTS) {
          break
        }

        tried.add(id)

        try {
          await node.services.caravela.join(addressesOf(peer), { signal: AbortSignal.timeout(LAN_JOIN_TIMEOUT) })
          log('joined the network of LAN peer %s', id)
          this.joined.add(id)
          return true
        } catch (err) {
          log('could not join through LAN peer %s - %e', id, err)
        }
      }

      const left = deadline - Date.now()

      if (left <= 0) {
        break
      }

      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.onFound = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.onFound = () => {}
    }

    log('no LAN peer runs a network')
    return false
  }

  /**
   * From now on connect to every LAN peer found, one at a time, requiring the configuration in
   * force (`rejoin`); one that fails is tried again after 10 s, twice as long after each failure
   * in a row (up to 10 min): a LAN peer serving another configuration is refused at each attempt.
   */
  watch (node: LanNode): void {
    const log = this.logOf(node)
    node.addEventListener('peer:disconnect', event => { this.joined.delete(event.detail.toString()) })

    const connect = (peer: PeerInfo): void => {
      const id = peer.id.toString()
      const failed = this.retryAt.get(id)

      if (this.joined.has(id) || (failed?.at ?? 0) > Date.now()) {
        return
      }

      // a LAN where hosts announce ids by the hundred does not queue attempts without end: a peer
      // found while the queue is full is tried at its next announcement
      if (this.pending >= MAX_PENDING_ATTEMPTS) {
        return
      }

      const failures = failed?.failures ?? 0
      const delay = Math.min(LAN_RETRY * 2 ** failures, MAX_LAN_RETRY)
      // set before the attempt, so that the peer's next announcements do not queue another
      remember(this.retryAt, id, { at: Date.now() + delay, failures })
      this.pending++
      this.attempts = this.attempts.then(async () => {
        if (node.status !== 'started') {
          return
        }

        try {
          await node.services.caravela.rejoin(addressesOf(peer), { signal: AbortSignal.timeout(LAN_JOIN_TIMEOUT) })
          log('connected to LAN peer %s', id)
          this.joined.add(id)
          this.retryAt.delete(id)
        } catch (err) {
          remember(this.retryAt, id, { at: Date.now() + delay, failures: failures + 1 })
          log('could not connect to LAN peer %s, trying again in %d s - %e', id, delay / 1000, err)
        } finally {
          this.pending--
        }
      })
    }

    this.onFound = connect
    this.found.forEach(connect)
  }

  private logOf (node: LanNode): Logger {
    return node.logger.forComponent('caravela:mdns')
  }
}

/** The dialable addresses of a LAN peer, with its id: the non-loopback ones first. */
function addressesOf (peer: PeerInfo): string[] {
  const loopback = (address: string): boolean => /^\/ip4\/127\.|^\/ip6\/::1\//.test(address)
  const addresses = [...new Set(peer.multiaddrs.map(address => `${address.toString()}/p2p/${peer.id.toString()}`))]

  return [...addresses.filter(address => !loopback(address)), ...addresses.filter(loopback)].slice(0, MAX_LAN_ADDRESSES)
}
