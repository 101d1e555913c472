/**
 * The address a request came from, as the per-address limits see it. A peer id costs nothing to
 * make, an address does: so that many peer ids from one machine or one network share one
 * allowance, the server's request rate and the trader's offers are also limited per host (an IPv4
 * address, or an IPv6 /64, what one machine usually gets) and per subnet (an IPv4 /24, or an IPv6
 * /48, what one site usually gets).
 *
 * Addresses on an allow list (libp2p's own form, `/ip4/127.0.0.0/ipcidr/8`) are limited per peer
 * only: a testnet of many peers on one machine, or a lab behind one address, shares one host.
 *
 * A relayed connection's remote address is the relay's, with `/p2p-circuit/p2p/<peer>` after
 * it: every peer reached through one relay would share the relay's host allowance. Its host is
 * the circuit (relay and peer, so each relayed peer has its own allowance, as a peer id through a
 * relay costs the relay a connection) and its subnet the relay (all the peers of one relay count
 * as one site).
 */

import { isIPv4, isIPv6 } from 'node:net'

/** Bits of the host an address is counted under: IPv4 /32, IPv6 /64. */
export const HOST_PREFIX = { 4: 32, 6: 64 } as const
/** Bits of the subnet an address is counted under: IPv4 /24, IPv6 /48. */
export const SUBNET_PREFIX = { 4: 24, 6: 48 } as const

/** What sets a relayed address apart: the relay's address before it, the relayed peer after it. */
const CIRCUIT = '/p2p-circuit'

/** An IP address: its family and bytes (4 or 16). */
interface Ip {
  family: 4 | 6
  bytes: Uint8Array
}

/** An IP network of an allow list. */
interface IpNetwork extends Ip {
  prefix: number
}

/** The host and the subnet a remote address is counted under, e.g. `10.1.2.3` and `10.1.2.0/24`. */
export interface AddressGroup {
  host: string
  subnet: string
}

/** Groups remote addresses into the host and subnet they are limited under. */
export class AddressGroups {
  private readonly allowed: IpNetwork[]

  /**
   * @param allow - networks limited per peer only, in libp2p's form: `/ip4/<address>` or
   * `/ip6/<address>`, optionally followed by `/ipcidr/<prefix>`
   * @throws {Error} when an entry is not such a multiaddr
   */
  constructor (allow: readonly string[] = []) {
    this.allowed = allow.map(parseNetwork)
  }

  /**
   * The host and subnet of `multiaddr`, the remote address of a connection; undefined when the
   * address names no IP (in-process transports give made-up or no addresses) or is allowed.
   */
  groupOf (multiaddr: string | undefined): AddressGroup | undefined {
    const circuit = typeof multiaddr === 'string' ? multiaddr.indexOf(CIRCUIT) : -1
    const ip = multiaddr == null ? undefined : ipOf(circuit === -1 ? multiaddr : multiaddr.slice(0, circuit))

    if (ip == null || this.allowed.some(network => contains(network, ip))) {
      return undefined
    }

    const host = prefixText(ip, HOST_PREFIX[ip.family])

    if (circuit !== -1) {
      const relay = `${host}${CIRCUIT}`
      return { host: `${relay}${multiaddr?.slice(circuit + CIRCUIT.length) ?? ''}`, subnet: relay }
    }

    return { host, subnet: prefixText(ip, SUBNET_PREFIX[ip.family]) }
  }
}

/**
 * Checks one entry of an allow list (`AddressGroups`).
 *
 * @throws {Error} saying what is wrong with it
 */
export function checkAllowedNetwork (text: string): void {
  parseNetwork(text)
}

/** The IP address a multiaddr starts with (after an `/ip6zone`); an IPv4-mapped IPv6 address as IPv4. */
export function ipOf (multiaddr: string): Ip | undefined {
  const parts = typeof multiaddr === 'string' ? multiaddr.split('/') : []
  const at = parts[1] === 'ip6zone' ? 3 : 1
  return parseIp(parts[at], parts[at + 1])
}

function parseIp (protocol: string | undefined, text: string | undefined): Ip | undefined {
  if (protocol === 'ip4' && text != null && isIPv4(text)) {
    return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) }
  }

  if (protocol !== 'ip6' || text == null || !isIPv6(text)) {
    return undefined
  }

  const bytes = ipv6Bytes(text)
  const mapped = bytes.subarray(0, 10).every(b => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes }
}

/** The 16 bytes of a valid IPv6 address text (`isIPv6`), with `::` and a dotted IPv4 tail. */
function ipv6Bytes (text: string): Uint8Array {
  let address = text.split('%')[0]
  const tail = address.lastIndexOf(':')

  if (address.includes('.', tail)) {
    const [a, b, c, d] = address.slice(tail + 1).split('.').map(Number)
    address = `${address.slice(0, tail + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }

  const [head, rest] = address.split('::')
  const groupsOf = (part: string | undefined): number[] => part == null || part === '' ? [] : part.split(':').map(g => parseInt(g, 16))
  const first = groupsOf(head)
  const last = groupsOf(rest)
  const groups = rest == null ? first : [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last]
  const bytes = new Uint8Array(16)
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8
    bytes[2 * i + 1] = group & 0xff
  })
  return bytes
}

function parseNetwork (text: string): IpNetwork {
  const parts = typeof text === 'string' ? text.split('/') : []
  const ip = parts[0] === '' ? parseIp(parts[1], parts[2]) : undefined
  const bits = ip == null ? 0 : ip.bytes.length * 8

  if (ip == null || (parts.length !== 3 && (parts.length !== 5 || parts[3] !== 'ipcidr'))) {
    throw new Error(`"${String(text)}" is not an IP network: it must be /ip4/<address> or /ip6/<address>, optionally followed by /ipcidr/<prefix length>`)
  }

  const prefix = parts.length === 5 ? Number(parts[4]) : bits

  if (!/^\d+$/.test(parts[4] ?? '0') || prefix > bits) {
    throw new Error(`"${text}": the prefix length must be a whole number from 0 to ${bits}`)
  }

  return { ...ip, prefix }
}

function contains (network: IpNetwork, ip: Ip): boolean {
  if (network.family !== ip.family) {
    return false
  }

  for (let bit = 0; bit < network.prefix; bit += 8) {
    const mask = network.prefix - bit >= 8 ? 0xff : (0xff << (8 - (network.prefix - bit))) & 0xff

    if ((network.bytes[bit / 8] & mask) !== (ip.bytes[bit / 8] & mask)) {
      return false
    }
  }

  return true
}

/** The network of the first `prefix` bits of `ip` (a multiple of 8), as text: `10.1.2.0/24`, `2001:db8:1::/48`; the host itself at full length. */
function prefixText (ip: Ip, prefix: number): string {
  const kept = ip.bytes.slice(0, prefix / 8)

  if (ip.family === 4) {
    const octets = [...kept, ...new Array<number>(4 - kept.length).fill(0)]
    return prefix === 32 ? octets.join('.') : `${octets.join('.')}/${prefix}`
  }

  const groups: string[] = []

  for (let i = 0; i < kept.length; i += 2) {
    groups.push(((kept[i] << 8) | kept[i + 1]).toString(16))
  }

  return `${groups.join(':')}::/${prefix}`
}
