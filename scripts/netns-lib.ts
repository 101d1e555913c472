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
 *   bridge, masquerading what leaves through its WAN and dropping what comes in unsolicited;
 *   with `upnp`, the first routers also run miniupnpd, offering UPnP IGD on their LAN, so that
 *   their host can map a port on the WAN address (`startMiniupnpd`).
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
import { randomInt, randomUUID } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
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

/** Debian's package of miniupnpd writing its port mappings with iptables (libiptc). */
export const MINIUPNPD_PACKAGE = 'miniupnpd-iptables'
/** Port of the UPnP routers' HTTP server (device description and SOAP control), on their LAN address. */
export const UPNP_HTTP_PORT = 5000
/** Port miniupnpd listens on for SSDP searches. */
const SSDP_PORT = 1900
/** Time a UPnP router's daemon has to listen once started. */
const MINIUPNPD_START_TIMEOUT = 5_000

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
  /** the first `upnp` NATs offer UPnP IGD (miniupnpd): hosts `public` to `public + upnp - 1` */
  upnp?: number
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
  /** its router offers UPnP IGD: the host can map a port on the WAN address */
  upnp: boolean
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
 * Throws `NetnsUnavailableError` saying what is missing: root, `ip netns`, with `nat` `iptables`
 * and `sysctl`, and with `upnp` `iptables-legacy` and miniupnpd, which it installs when missing
 * (`ensureMiniupnpd`).
 */
export function requireNetns (nat: boolean, upnp = false): void {
  if (process.getuid?.() !== 0) {
    throw new NetnsUnavailableError('network namespaces need root: run this as root (e.g. sudo npm run testnet -- …)')
  }

  const tools: Array<[string, string[]]> = [
    ['ip', ['netns', 'list']],
    ...(nat ? [['iptables', ['--version']], ['sysctl', ['--version']]] as Array<[string, string[]]> : []),
    ...(upnp ? [['iptables-legacy', ['--version']]] as Array<[string, string[]]> : [])
  ]

  for (const [command, args] of tools) {
    try {
      execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err: any) {
      const why = err.code === 'ENOENT' ? 'not found' : String(err.stderr ?? err.message).trim()
      throw new NetnsUnavailableError(`\`${command} ${args.join(' ')}\` failed (${why}): testnets behind NATs need iproute2 with \`ip netns\`, iptables (with iptables-legacy for UPnP) and sysctl`)
    }
  }

  if (upnp) {
    ensureMiniupnpd()
  }
}

/**
 * Installs Debian's `miniupnpd-iptables` when no `miniupnpd` is found (root, done by
 * `requireNetns`): only the tests and testnets that ask for UPnP routers need it, so it is
 * installed then rather than before every `npm test`. That package holds the daemon and its
 * iptables scripts only, no service and no configuration (the `miniupnpd` package, with its init
 * script and debconf questions, is left out), so nothing runs in the root namespace: each router
 * starts its own daemon.
 */
export function ensureMiniupnpd (): void {
  if (hasCommand('miniupnpd', ['--version'])) {
    return
  }

  if (!hasCommand('apt-get', ['--version'])) {
    throw new NetnsUnavailableError(`UPnP routers need miniupnpd with the iptables backend, and this is not a Debian-like system (no apt-get): install it (Debian's ${MINIUPNPD_PACKAGE})`)
  }

  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }

  try {
    // `apt-get update` only when apt knows no candidate, as scripts/docker-setup.mjs does
    if (!/Candidate: (?!\(none\))/.test(run('apt-cache', ['policy', MINIUPNPD_PACKAGE]))) {
      run('apt-get', ['update'], env)
    }

    run('apt-get', ['install', '-y', '--no-install-recommends', MINIUPNPD_PACKAGE], env)
  } catch (err: any) {
    throw new NetnsUnavailableError(`installing ${MINIUPNPD_PACKAGE} failed (${err.message}): run apt-get update && apt-get install -y ${MINIUPNPD_PACKAGE}`)
  }

  if (!hasCommand('miniupnpd', ['--version'])) {
    throw new NetnsUnavailableError(`${MINIUPNPD_PACKAGE} was installed but no miniupnpd runs`)
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
  const upnp = init.upnp ?? 0

  if (!Number.isInteger(init.public) || !Number.isInteger(init.nat) || init.public < 0 || init.nat < 0 || total < 1 || total > MAX_HOSTS) {
    throw new RangeError(`a topology has 1 to ${MAX_HOSTS} hosts, public and NATed, got ${init.public} public and ${init.nat} behind NATs`)
  }

  if (!Number.isInteger(upnp) || upnp < 0 || upnp > init.nat) {
    throw new RangeError(`upnp counts NATs offering UPnP, 0 to ${init.nat}, got ${upnp}`)
  }

  requireNetns(init.nat > 0, upnp > 0)
  cleanNetns()

  if (init.hostLink === true && ip('-o', '-4', 'addr', 'show', 'to', `${HOST_LINK_ADDRESS}/32`).trim() !== '') {
    throw new Error(`${HOST_LINK_ADDRESS} is already on a root-namespace link (another topology's host link?): only one topology at a time can have one`)
  }

  const id = `${NETNS_PREFIX}${process.pid.toString(36)}-${randomInt(36 ** 2).toString(36).padStart(2, '0')}`
  const internet = `${id}-net`
  const namespaces: string[] = []
  const hostLinkName = init.hostLink === true ? `${id}-h` : undefined
  // the UPnP daemons' configurations, leases and logs
  const upnpDir = upnp > 0 ? join(tmpdir(), `${id}-upnp`) : undefined
  const teardown = (): void => {
    if (hostLinkName != null) {
      removeLink(hostLinkName)
    }
    // the daemons inside are killed with their namespaces
    namespaces.forEach(removeNamespace)
    if (upnpDir != null) {
      rmSync(upnpDir, { recursive: true, force: true })
    }
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
    if (upnpDir != null) {
      mkdirSync(upnpDir)
    }

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
        hosts.push({ index, namespace, address: publicAddress, behindNat: false, publicAddress, upnp: false })
        continue
      }

      const router = `${id}-r${index}`
      const lan = `10.231.${1 + index}`
      const withUpnp = index < init.public + upnp
      // miniupnpd writes its rules through libiptc, into the legacy iptables tables: a router
      // with UPnP keeps all its rules there, so that its port mappings sit in the same FORWARD
      // chain as the DROP they must come before
      const iptables = withUpnp ? 'iptables-legacy' : 'iptables'
      addNamespace(router)
      plug(router, 'wan', publicAddress, `r${index}`)
      ip('-n', namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan', 'netns', router)
      ip('-n', router, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan')
      ip('-n', router, 'link', 'set', 'lan', 'up')
      ip('-n', namespace, 'addr', 'add', `${lan}.2/24`, 'dev', 'eth0')
      ip('-n', namespace, 'link', 'set', 'eth0', 'up')
      ip('-n', namespace, 'route', 'add', 'default', 'via', `${lan}.1`)
      inside(router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')

      if (withUpnp) {
        // miniupnpd's chains (its iptables_init.sh): port mappings (DNAT) as packets come in on
        // the WAN, the filter rules letting them through, and its source NAT of mapped ports
        // before the masquerade
        inside(router, iptables, '-w', '-t', 'nat', '-N', 'MINIUPNPD')
        inside(router, iptables, '-w', '-t', 'nat', '-A', 'PREROUTING', '-i', 'wan', '-j', 'MINIUPNPD')
        inside(router, iptables, '-w', '-t', 'nat', '-N', 'MINIUPNPD-POSTROUTING')
        inside(router, iptables, '-w', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MINIUPNPD-POSTROUTING')
        inside(router, iptables, '-w', '-t', 'filter', '-N', 'MINIUPNPD')
      }

      inside(router, iptables, '-w', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE')
      inside(router, iptables, '-w', '-A', 'FORWARD', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')

      if (withUpnp) {
        inside(router, iptables, '-w', '-A', 'FORWARD', '-i', 'wan', '!', '-o', 'wan', '-j', 'MINIUPNPD')
      }

      inside(router, iptables, '-w', '-A', 'FORWARD', '-i', 'wan', '-j', 'DROP')

      if (withUpnp && upnpDir != null) {
        startMiniupnpd(router, lan, join(upnpDir, `r${index}`))
      }

      hosts.push({ index, namespace, address: `${lan}.2`, behindNat: true, publicAddress, router, upnp: withUpnp })
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

  // the UPnP routers' files, once their daemons are gone with the namespaces
  for (const entry of readdirSync(tmpdir())) {
    if (entry.startsWith(NETNS_PREFIX) && entry.endsWith('-upnp') && isLeftover(entry)) {
      rmSync(join(tmpdir(), entry), { recursive: true, force: true })
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

/**
 * Starts miniupnpd in `router`'s namespace, in the foreground as a child of this process (its
 * files at `base`.conf, .leases, .log, .pid), and waits until it listens for SSDP searches and on
 * its HTTP port. It goes with its namespace (`removeNamespace` kills what runs inside).
 *
 * It offers UPnP IGD v2 on the LAN (what @libp2p/upnp-nat searches for), maps the WAN address
 * (`ext_ifname=wan`, a public one) to the LAN, and lets a LAN host map unprivileged ports to
 * itself only (`secure_mode`).
 */
function startMiniupnpd (router: string, lan: string, base: string): void {
  writeFileSync(`${base}.conf`, [
    'ext_ifname=wan',
    'listening_ip=lan',
    `http_port=${UPNP_HTTP_PORT}`,
    'enable_upnp=yes',
    'enable_natpmp=no',
    'ipv6_disable=yes',
    'secure_mode=yes',
    'system_uptime=yes',
    `uuid=${randomUUID()}`,
    `lease_file=${base}.leases`,
    `allow 1024-65535 ${lan}.0/24 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    ''
  ].join('\n'))
  const log = openSync(`${base}.log`, 'a')
  const [command, args] = inNamespace(router, ['miniupnpd', '-d', '-f', `${base}.conf`, '-P', `${base}.pid`])
  // in a session of its own, as the testnet's peers: Ctrl-C reaches the owner, whose teardown ends it
  const child = spawn(command, args, { stdio: ['ignore', log, log], detached: true })
  closeSync(log)
  child.unref()

  // synchronous as the rest of createTopology: the peers started next search for it at once
  const deadline = Date.now() + MINIUPNPD_START_TIMEOUT
  const hex = (port: number): string => `:${port.toString(16).toUpperCase().padStart(4, '0')} `

  for (;;) {
    let sockets = ''

    try {
      // the tables of the namespace the daemon runs in
      sockets = readFileSync(`/proc/${child.pid}/net/udp`, 'utf8') + readFileSync(`/proc/${child.pid}/net/tcp`, 'utf8')
    } catch {
      // not started yet, or gone
    }

    if (sockets.includes(hex(SSDP_PORT)) && sockets.includes(hex(UPNP_HTTP_PORT))) {
      return
    }

    if (Date.now() > deadline || hasExited(child.pid)) {
      const output = readFileSync(`${base}.log`, 'utf8').trim().split('\n').slice(-10).join('\n')
      throw new Error(`miniupnpd in ${router} does not listen on ports ${SSDP_PORT} and ${UPNP_HTTP_PORT} after ${MINIUPNPD_START_TIMEOUT / 1000} s; its last lines:\n${output}`)
    }

    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
  }
}

/** The process is gone or a zombie (this process reaps its children only once its event loop runs). */
function hasExited (pid: number | undefined): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''))
  } catch {
    return true
  }
}

function hasCommand (command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function inside (namespace: string, ...argv: string[]): string {
  return run(...inNamespace(namespace, argv))
}

function ip (...args: string[]): string {
  return run('ip', args)
}

/** Runs a command, and throws an error with its stderr when it fails. */
function run (command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env })
  } catch (err: any) {
    throw new Error(`\`${command} ${args.join(' ')}\` failed: ${String(err.stderr ?? '').trim() || err.message}`)
  }
}
