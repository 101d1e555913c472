/**
 * NAT traversal (`[nat]`, `docs/nat.md`): which of libp2p's own protocols a peer runs, decided
 * from its configuration and the addresses it listens on.
 *
 * Every peer dials `/p2p-circuit` addresses (the circuit relay transport), so it reaches a
 * supplier behind a NAT through the supplier's relay. A peer that listens on private addresses
 * only (a home or office network) reserves a slot on a relay and announces the address it gets,
 * and maps its port over UPnP; a peer with a public address relays for others, within limits
 * sized for Caravela's small messages. AutoNAT (peers dial an address back to confirm it) and
 * DCUtR (a relayed connection becomes a direct one by hole punching) run everywhere.
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
}

/** The libp2p services of a plan: the relay server, AutoNAT, DCUtR and UPnP, those it runs. */
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
    ...(plan.holePunching ? { dcutr: dcutr() } : {}),
    ...(plan.upnp ? { upnp: uPnPNAT() } : {})
  }
}

/** The listen addresses with the relay search address added when the plan reserves a slot and none is listed. */
export function natListen (listen: readonly string[], plan: NatPlan): string[] {
  return plan.relay && !listen.some(isCircuit) ? [...listen, CIRCUIT_LISTEN] : [...listen]
}

function isCircuit (address: string): boolean {
  return address.split('/').includes('p2p-circuit')
}
