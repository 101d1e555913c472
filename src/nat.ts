/**
 * NAT traversal (`[nat]`, `docs/nat.md`): which of libp2p's own protocols a peer runs, decided
 * from its configuration and the addresses it listens on.
 *
 * Every peer dials `/p2p-circuit` addresses (the circuit relay transport), so it reaches a
 * supplier behind a NAT through the supplier's relay. A peer that listens on private addresses
 * only (a home or office network) reserves a slot on a relay and announces the address it gets,
 * and maps its port over UPnP; a peer with a public address relays for others, within limits
 * sized for Caravela's small messages. AutoNAT (peers dial an address back to confirm it) and
 * DCUtR (a relayed connection becomes a direct one by hole punching) run everywhere. A UPnP
 * mapping is announced as soon as the router makes it.
 * Loopback-only peers (tests, testnets on one machine) neither reserve nor relay nor map.
 */

import { BlockList } from 'node:net'
import { networkInterfaces } from 'node:os'
import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { uPnPNAT } from '@libp2p/upnp-nat'
import type { NatConfig, NodeConfig } from './config/types.js'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { ComponentLogger, IdentifyResult, Libp2pEvents, Logger, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import type { UPnPNAT } from '@libp2p/upnp-nat'
import type { ServiceFactoryMap } from 'libp2p'
import type { NetworkInterfaceInfo } from 'node:os'

/** The listen address that makes the circuit relay transport find a relay and reserve a slot on it. */
export const CIRCUIT_LISTEN = '/p2p-circuit'

/**
 * A relay's limits per peer: relayed connections one peer opens through it at once (each holds a
 * hop stream on the peer's connection to the relay), and relayed connections into one peer that
 * holds a slot (each a stop stream). A buyer talks to a few suppliers at once and a supplier
 * serves a few buyers; libp2p's defaults, 32 and 300, suit relays of bigger traffic.
 */
export const RELAY_HOP_STREAMS_PER_PEER = 16
export const RELAY_STOP_STREAMS_PER_PEER = 64

/** Time a direct dial replacing a relayed connection has (`DirectUpgrade`). */
export const DIRECT_DIAL_TIMEOUT = 10_000

/** Bytes in one MB of `nat.relayDataLimit`. */
const MB = 1024 * 1024

/** RFC 1918, IPv4 and IPv6 link-local, IPv6 unique-local: addresses of a local network. */
const PRIVATE_NETWORKS = new BlockList()
PRIVATE_NETWORKS.addSubnet('10.0.0.0', 8, 'ipv4')
PRIVATE_NETWORKS.addSubnet('172.16.0.0', 12, 'ipv4')
PRIVATE_NETWORKS.addSubnet('192.168.0.0', 16, 'ipv4')
PRIVATE_NETWORKS.addSubnet('169.254.0.0', 16, 'ipv4')
PRIVATE_NETWORKS.addSubnet('100.64.0.0', 10, 'ipv4')
PRIVATE_NETWORKS.addSubnet('fc00::', 7, 'ipv6')
PRIVATE_NETWORKS.addSubnet('fe80::', 10, 'ipv6')

const LOOPBACK_NETWORKS = new BlockList()
LOOPBACK_NETWORKS.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK_NETWORKS.addAddress('::1', 'ipv6')

/** Where an address reaches: the host only, a local network, or the internet. */
export type AddressScope = 'loopback' | 'private' | 'public'

/**
 * The scopes of a peer's addresses (multiaddr strings). A wildcard address (`0.0.0.0`, `::`)
 * counts as each address of the host (`::` takes IPv4 connections too); a DNS name counts as
 * public; addresses of other kinds (`/p2p-circuit`) count as nothing.
 */
export function addressScopes (addresses: readonly string[], interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): Set<AddressScope> {
  const scopes = new Set<AddressScope>()
  const hostAddresses = Object.values(interfaces).flat().filter((info): info is NetworkInterfaceInfo => info != null && !info.internal)

  for (const address of addresses) {
    const [, protocol, host] = address.split('/')

    if (protocol === 'dns' || protocol === 'dns4' || protocol === 'dns6' || protocol === 'dnsaddr') {
      scopes.add('public')
    } else if ((protocol === 'ip4' || protocol === 'ip6') && host != null) {
      if (host === '0.0.0.0' || host === '::') {
        hostAddresses
          .filter(info => host === '::' || info.family === 'IPv4')
          .forEach(info => scopes.add(scopeOf(info.address, info.family === 'IPv4' ? 'ipv4' : 'ipv6')))
      } else {
        scopes.add(scopeOf(host, protocol === 'ip4' ? 'ipv4' : 'ipv6'))
      }
    }
  }

  return scopes
}

function scopeOf (ip: string, family: 'ipv4' | 'ipv6'): AddressScope {
  return LOOPBACK_NETWORKS.check(ip, family) ? 'loopback' : PRIVATE_NETWORKS.check(ip, family) ? 'private' : 'public'
}

/** What a peer runs of NAT traversal, each part decided (`natPlan`). */
export interface NatPlan {
  /** reserve a relay slot and announce its `/p2p-circuit` address */
  relay: boolean
  /** relay for others */
  relayServer: boolean
  holePunching: boolean
  autoNat: boolean
  upnp: boolean
}

/**
 * The parts of NAT traversal a peer runs: each `[nat]` switch as set, and those left undefined
 * from the scopes of its addresses. A peer with a private address and no public one is taken to
 * be behind a NAT (relay and UPnP on); one with a public address (listened on or announced)
 * relays for others. A `/p2p-circuit` listen address reserves a slot whatever `nat.relay` says.
 */
export function natPlan (nat: NatConfig, node: Pick<NodeConfig, 'listen' | 'announce'>, interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>): NatPlan {
  const scopes = addressScopes([...node.listen, ...node.announce], interfaces)
  const behindNat = scopes.has('private') && !scopes.has('public')
  // a relay listed among the listen addresses is reserved on whatever `nat.relay` says
  const listensOnRelay = node.listen.some(isCircuit)

  return {
    relay: listensOnRelay || (nat.relay ?? behindNat),
    relayServer: nat.relayServer ?? scopes.has('public'),
    holePunching: nat.holePunching,
    autoNat: nat.autoNat,
    upnp: nat.upnp ?? behindNat
  }
}

// a type, not an interface: libp2p's ServiceMap needs an index signature
export type NatServices = {
  relay?: CircuitRelayService
  autoNAT?: unknown
  dcutr?: unknown
  upnp?: UPnPNAT
  directUpgrade?: DirectUpgrade
}

/** The libp2p services of a plan: the relay server, AutoNAT, DCUtR with `DirectUpgrade`, and UPnP, those it runs. */
export function natServices (plan: NatPlan, nat: NatConfig): ServiceFactoryMap<NatServices> {
  return {
    ...(plan.relayServer
      ? {
          relay: circuitRelayServer({
            maxInboundHopStreams: RELAY_HOP_STREAMS_PER_PEER,
            maxOutboundStopStreams: RELAY_STOP_STREAMS_PER_PEER,
            reservations: {
              maxReservations: nat.relayMaxReservations,
              defaultDataLimit: BigInt(nat.relayDataLimit * MB),
              defaultDurationLimit: nat.relayDurationLimit
            }
          })
        }
      : {}),
    ...(plan.autoNat ? { autoNAT: autoNAT() } : {}),
    ...(plan.holePunching ? { dcutr: dcutr(), directUpgrade: (components) => new DirectUpgrade(components) } : {}),
    // the router's word is taken for its mapping (its WAN address must be public, or the mapping is
    // not made): AutoNAT 3.0.28 cannot confirm it, as the peer asked to dial the address back finds
    // the asker's own connection open, takes it for the dial (at another port, so the check fails)
    // and closes it; the asker reconnects, asks again, and so on
    ...(plan.upnp ? { upnp: uPnPNAT({ autoConfirmAddress: true }) } : {})
  }
}

/** The listen addresses with the relay search address added when the plan reserves a slot and none is listed. */
export function natListen (listen: readonly string[], plan: NatPlan): string[] {
  return plan.relay && !listen.some(isCircuit) ? [...listen, CIRCUIT_LISTEN] : [...listen]
}

function isCircuit (address: string): boolean {
  return address.split('/').includes('p2p-circuit')
}

interface DirectUpgradeComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: ConnectionManager
  transportManager: TransportManager
  logger: ComponentLogger
}

/**
 * Makes a relayed connection direct when the other peer has a public address (a UPnP mapping, a
 * public host): each time a relayed connection is identified (as it opens, and when the other
 * peer pushes new addresses), it dials those addresses unless a direct connection is open. DCUtR
 * alone leaves such a connection relayed when this side dialled it: it tries a direct dial only
 * from the side that received the relayed connection, towards the dialler, and hole punching
 * needs a public address on both sides; and a Caravela client reuses the relayed connection
 * while it is open (protocols/client.ts), so it would not dial the new address either. The
 * relayed connection stays until the relay's limits end it: closing it at once could cut a
 * request under way, and the client takes the direct one from now on.
 */
export class DirectUpgrade implements Startable {
  private readonly components: DirectUpgradeComponents
  private readonly log: Logger
  /** peers a direct dial is under way to */
  private readonly dialling = new Set<string>()

  constructor (components: DirectUpgradeComponents) {
    this.components = components
    this.log = components.logger.forComponent('caravela:nat:direct-upgrade')
    this.onIdentify = this.onIdentify.bind(this)
  }

  readonly [Symbol.toStringTag] = 'caravela/direct-upgrade'

  start (): void {
    this.components.events.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
  }

  private onIdentify (event: CustomEvent<IdentifyResult>): void {
    const { connection, peerId, listenAddrs } = event.detail
    const key = peerId.toString()

    if (connection.limits == null || this.dialling.has(key) ||
      this.components.connectionManager.getConnections(peerId).some(open => open.status === 'open' && open.limits == null)) {
      return
    }

    const direct = listenAddrs
      .filter(address => !isCircuit(address.toString()) && addressScopes([address.toString()], {}).has('public') &&
        this.components.transportManager.dialTransportForMultiaddr(address) != null)
      .map(address => address.getComponents().some(component => component.name === 'p2p') ? address : address.encapsulate(`/p2p/${key}`))

    if (direct.length === 0) {
      return
    }

    this.dialling.add(key)
    this.log('dialling %p directly on %s, reached through a relay', peerId, direct.map(String).join(', '))
    // forced: the dialler would otherwise hand back the relayed connection
    this.components.connectionManager.openConnection(direct, { force: true, signal: AbortSignal.timeout(DIRECT_DIAL_TIMEOUT) })
      .then(opened => { this.log('direct connection to %p on %a', peerId, opened.remoteAddr) })
      .catch(err => { this.log('no direct connection to %p: %e', peerId, err) })
      .finally(() => { this.dialling.delete(key) })
  }
}
