/**
 * Network-namespace topologies for testnets whose peers sit behind NATs (`npm run testnet --
 * --nat K`, root only).
 *
 * A topology is made of namespaces only, so that the machine's own interfaces, routes and
 * iptables rules stay untouched:
 *
 * - the "internet": a namespace holding one bridge, subnet 11.231.0.0/24;
 * - a public host i: a namespace with one veth on the bridge, address 11.231.0.(10+i);
 * - a NATed host i: a namespace with address 10.231.(1+i).2 on a LAN of its own, whose default
 *   route is a router namespace: LAN address 10.231.(1+i).1, WAN address 11.231.0.(10+i) on the
 *   bridge, masquerading what leaves through its WAN and dropping what comes in unsolicited.
 *
 * The internet's addresses are public ones (11.0.0.0/8 is a block no network of this machine
 * uses), not private ones: libp2p treats private addresses as unreachable from the internet (its
 * AutoNAT and DCUtR skip them, a peer on one reserves a relay slot), so the public hosts would not
 * behave as public. Its traffic never leaves the topology's namespaces; with the host link, the
 * root namespace routes this one /24 into the topology, nothing else.
 *
 * Each NAT has a LAN subnet of its own (not the same 192.168.1.0/24 everywhere as at home), so
 * that an address in a log names one host. Optionally (`hostLink`) one veth joins the root
 * namespace to the bridge with address 11.231.0.1: the only change to the root namespace, for
 * services running there that the hosts must reach (the Docker engine publishes container ports
 * on the root namespace's addresses). Only one topology at a time can have it.
 *
 * Every name starts with `cvl-<owner pid in base 36>-<2 random characters>-`: namespaces, and the
 * root end of the host link (an interface name has at most 15 characters). The interfaces inside
 * the namespaces have plain names (`eth0`, `wan`, `lan`, `br0`) and go with their namespace.
 * `teardown()` removes a topology; `cleanNetns()` removes every topology whose owner process is
 * gone, however it ended (SIGKILL included), and what still runs inside.
 */

import { execFileSync, spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'

/** Start of every name a topology makes. */
export const NETNS_PREFIX = 'cvl-'
/** First three bytes of the internet's addresses (a /24). */
export const INTERNET_PREFIX = '11.231.0'
/**
 * `--allow` of peers in namespaces: every address of every topology, the internet's and the
 * LANs', as 127.0.0.0/8 on loopback (the NATs' WAN addresses share the internet's /24, which a
 * trader would otherwise count as one subnet).
 */
export const NETNS_ALLOW = [`/ip4/${INTERNET_PREFIX}.0/ipcidr/24`, '/ip4/10.231.0.0/ipcidr/16']
/** Address of the root namespace on the internet bridge, with `hostLink`. */
export const HOST_LINK_ADDRESS = `${INTERNET_PREFIX}.1`
/** Most hosts of a topology: the last one has internet address 11.231.0.254. */
export const MAX_HOSTS = 245

/** The compiled forwarder `forwardIntoNamespace` starts. */
const FORWARDER_PATH = join(dirname(fileURLToPath(import.meta.url)), 'netns-forward.js')

/** Network namespaces cannot be made here: not root, or no `ip netns`, `iptables` or `sysctl`. */
export class NetnsUnavailableError extends Error {
  static override name = 'NetnsUnavailableError'

  constructor (message: string) {
    super(message)
    this.name = 'NetnsUnavailableError'
  }
}

export interface TopologyInit {
  /** hosts on the internet segment, hosts 0 to `public - 1` */
  public: number
  /** hosts behind a NAT of their own, after the public ones */
  nat: number
  /** join the root namespace to the internet at HOST_LINK_ADDRESS */
  hostLink?: boolean
}

export interface NetnsHost {
  index: number
  /** run a command here with `ip netns exec <namespace> …` */
  namespace: string
  /** the host's own address: on the internet, or on its NAT's LAN */
  address: string
  behindNat: boolean
  /** the address the internet sees: its own, or its router's WAN address */
  publicAddress: string
  /** the namespace of its NAT's router, when behind one */
  router?: string
}

export interface Topology {
  /** `cvl-<pid>-<random>`: the start of every name of this topology */
  id: string
  /** the namespace of the internet bridge */
  internet: string
  hosts: NetnsHost[]
  /** the root end of the host link, with `hostLink` */
  hostLink?: { name: string, address: string }
  /** Removes every namespace and link of the topology and ends what runs inside. Synchronous, for exit handlers. */
  teardown(): void
}

export interface CleanResult {
  /** namespaces removed */
  namespaces: string[]
  /** root-namespace links removed */
  links: string[]
  /** namespaces left alone: their owner process still runs */
  kept: string[]
}

/** `[command, args]` running `argv` in `namespace`: `ip netns exec` execs it, so the pid is the command's. */
export function inNamespace (namespace: string, argv: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', namespace, ...argv]]
}

/**
 * Listens on 127.0.0.1 here and forwards each connection to 127.0.0.1:`port` in `namespace`,
 * through a small process running there (netns-forward.ts): how this process reaches the
 * control API of a peer in a namespace, which listens on that namespace's loopback only. The
 * forwarder goes with this process, as the testnet's peers do.
 */
export async function forwardIntoNamespace (namespace: string, port: number): Promise<{ url: string, process: ChildProcess }> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve() })
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const [command, args] = inNamespace(namespace, [process.execPath, FORWARDER_PATH, String(port)])
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true })

  try {
    await new Promise((resolve, reject) => {
      child.once('message', resolve)
      child.once('exit', code => { reject(new Error(`the forwarder into ${namespace} exited with ${code}`)) })
      child.send('server', server)
    })
  } finally {
    // the forwarder accepts on its copy of the socket from now on
    server.close()
  }

  child.channel?.unref()
  return { url, process: child }
}

/**
 * Throws `NetnsUnavailableError` saying what is missing: root, `ip netns`, and with `nat`
 * `iptables` and `sysctl`.
 */
export function requireNetns (nat: boolean): void {
  if (process.getuid?.() !== 0) {
    throw new NetnsUnavailableError('network namespaces need root: run this as root (e.g. sudo npm run testnet -- …)')
  }

  const tools: Array<[string, string[]]> = [['ip', ['netns', 'list']], ...(nat ? [['iptables', ['--version']], ['sysctl', ['--version']]] as Array<[string, string[]]> : [])]

  for (const [command, args] of tools) {
    try {
      execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err: any) {
      const why = err.code === 'ENOENT' ? 'not found' : String(err.stderr ?? err.message).trim()
      throw new NetnsUnavailableError(`\`${command} ${args.join(' ')}\` failed (${why}): testnets behind NATs need iproute2 with \`ip netns\`, iptables and sysctl`)
    }
  }
}

/**
 * Builds a topology of `public` + `nat` hosts. Leftovers of dead owners are removed first. On
 * failure, what was made is removed and the error thrown.
 *
 * The NAT is Linux's MASQUERADE: a connection keeps its source port when that port is free on
 * the WAN address, so the mapping is in practice endpoint-independent; only the replies of
 * connections made from inside get in (address-and-port-dependent filtering, with an explicit
 * DROP of the rest in FORWARD so that even a host routing the LAN's subnet to the router gets
 * nothing through): a "port-restricted cone" NAT. Hole punching can work through it: a TCP
 * simultaneous open succeeds when each side dials from the port the other side observed, since
 * each side's outgoing SYN opens the mapping that the other's SYN then matches.
 */
export function createTopology (init: TopologyInit): Topology {
  const total = init.public + init.nat

  if (!Number.isInteger(init.public) || !Number.isInteger(init.nat) || init.public < 0 || init.nat < 0 || total < 1 || total > MAX_HOSTS) {
    throw new RangeError(`a topology has 1 to ${MAX_HOSTS} hosts, public and NATed, got ${init.public} public and ${init.nat} behind NATs`)
  }

  requireNetns(init.nat > 0)
  cleanNetns()

  if (init.hostLink === true && ip('-o', '-4', 'addr', 'show', 'to', `${HOST_LINK_ADDRESS}/32`).trim() !== '') {
    throw new Error(`${HOST_LINK_ADDRESS} is already on a root-namespace link (another topology's host link?): only one topology at a time can have one`)
  }

  const id = `${NETNS_PREFIX}${process.pid.toString(36)}-${randomInt(36 ** 2).toString(36).padStart(2, '0')}`
  const internet = `${id}-net`
  const namespaces: string[] = []
  const hostLinkName = init.hostLink === true ? `${id}-h` : undefined
  const teardown = (): void => {
    if (hostLinkName != null) {
      removeLink(hostLinkName)
    }
    namespaces.forEach(removeNamespace)
  }
  const addNamespace = (name: string): void => {
    ip('netns', 'add', name)
    namespaces.push(name)
    ip('-n', name, 'link', 'set', 'lo', 'up')
  }
  /** a veth from `namespace` (named `name` there) to the bridge */
  const plug = (namespace: string, name: string, address: string, port: string): void => {
    ip('-n', namespace, 'link', 'add', name, 'type', 'veth', 'peer', 'name', port, 'netns', internet)
    ip('-n', internet, 'link', 'set', port, 'master', 'br0', 'up')
    ip('-n', namespace, 'addr', 'add', `${address}/24`, 'dev', name)
    ip('-n', namespace, 'link', 'set', name, 'up')
  }

  try {
    addNamespace(internet)
    ip('-n', internet, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', internet, 'link', 'set', 'br0', 'up')

    const hosts: NetnsHost[] = []

    for (let index = 0; index < total; index++) {
      const namespace = `${id}-p${index}`
      const publicAddress = `${INTERNET_PREFIX}.${10 + index}`
      addNamespace(namespace)

      if (index < init.public) {
        plug(namespace, 'eth0', publicAddress, `p${index}`)
        hosts.push({ index, namespace, address: publicAddress, behindNat: false, publicAddress })
        continue
      }

      const router = `${id}-r${index}`
      const lan = `10.231.${1 + index}`
      addNamespace(router)
      plug(router, 'wan', publicAddress, `r${index}`)
      ip('-n', namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan', 'netns', router)
      ip('-n', router, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan')
      ip('-n', router, 'link', 'set', 'lan', 'up')
      ip('-n', namespace, 'addr', 'add', `${lan}.2/24`, 'dev', 'eth0')
      ip('-n', namespace, 'link', 'set', 'eth0', 'up')
      ip('-n', namespace, 'route', 'add', 'default', 'via', `${lan}.1`)
      inside(router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
      inside(router, 'iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE')
      inside(router, 'iptables', '-w', '-A', 'FORWARD', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
      inside(router, 'iptables', '-w', '-A', 'FORWARD', '-i', 'wan', '-j', 'DROP')
      hosts.push({ index, namespace, address: `${lan}.2`, behindNat: true, publicAddress, router })
    }

    if (hostLinkName != null) {
      ip('link', 'add', hostLinkName, 'type', 'veth', 'peer', 'name', 'host', 'netns', internet)
      ip('-n', internet, 'link', 'set', 'host', 'master', 'br0', 'up')
      ip('addr', 'add', `${HOST_LINK_ADDRESS}/24`, 'dev', hostLinkName)
      ip('link', 'set', hostLinkName, 'up')
    }

    return {
      id,
      internet,
      hosts,
      hostLink: hostLinkName == null ? undefined : { name: hostLinkName, address: HOST_LINK_ADDRESS },
      teardown
    }
  } catch (err) {
    teardown()
    throw err
  }
}

/**
 * Removes every namespace and root-namespace link named with NETNS_PREFIX whose owner process
 * (the pid in its name) is gone, after killing the processes still inside; a name not of the
 * form `cvl-<pid>-…` counts as a leftover too.
 */
export function cleanNetns (): CleanResult {
  requireNetns(false)
  const result: CleanResult = { namespaces: [], links: [], kept: [] }
  const isLeftover = (name: string): boolean => {
    const pid = parseInt(/^cvl-([0-9a-z]+)-/.exec(name)?.[1] ?? '', 36)
    return !(Number.isSafeInteger(pid) && isAlive(pid))
  }

  // the root ends first: a namespace's veths go when the kernel frees it, which is deferred
  for (const link of listLinks()) {
    if (isLeftover(link)) {
      removeLink(link)
      result.links.push(link)
    }
  }

  for (const namespace of listNamespaces()) {
    if (isLeftover(namespace)) {
      removeNamespace(namespace)
      result.namespaces.push(namespace)
    } else {
      result.kept.push(namespace)
    }
  }

  return result
}

/** The namespaces named with NETNS_PREFIX. */
export function listNamespaces (): string[] {
  return ip('netns', 'list').split('\n').map(line => line.split(' ')[0]).filter(name => name.startsWith(NETNS_PREFIX))
}

/** The root namespace's links named with NETNS_PREFIX. */
export function listLinks (): string[] {
  // `5: cvl-1a2b-xy-h@if3: <BROADCAST,…`
  return ip('-o', 'link', 'show').split('\n').map(line => line.split(': ')[1]?.split('@')[0] ?? '').filter(name => name.startsWith(NETNS_PREFIX))
}

/** Kills what runs in `namespace`, then deletes it (quietly when it is gone already). */
function removeNamespace (namespace: string): void {
  try {
    for (const pid of ip('netns', 'pids', namespace).split('\n').filter(line => line !== '')) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // gone already
      }
    }
    ip('netns', 'del', namespace)
  } catch (err: any) {
    if (!/No such file|Invalid netns name|not found/i.test(err.message)) {
      throw err
    }
  }
}

function removeLink (name: string): void {
  try {
    ip('link', 'del', name)
  } catch (err: any) {
    if (!/Cannot find device|does not exist/i.test(err.message)) {
      throw err
    }
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}

function inside (namespace: string, ...argv: string[]): string {
  return run(...inNamespace(namespace, argv))
}

function ip (...args: string[]): string {
  return run('ip', args)
}

/** Runs a command, and throws an error with its stderr when it fails. */
function run (command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err: any) {
    throw new Error(`\`${command} ${args.join(' ')}\` failed: ${String(err.stderr ?? '').trim() || err.message}`)
  }
}
