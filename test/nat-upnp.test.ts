/**
 * UPnP on a testnet behind NATs (`startTestnet({ nat, upnp })`, netns-lib.ts): a peer behind a
 * router offering UPnP maps its port there, announces the router's WAN address, and a buyer
 * behind another NAT reaches it directly; between two NATs without UPnP connections stay relayed.
 * These tests need root, as CI has: without it they fail, they do not skip. `DirectUpgrade`, which
 * makes a relayed connection direct when the other side has a public address, has a unit test.
 */

import { execFile, execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as assert from 'uvu/assert'
import { cleanNetns, createTopology, inNamespace, listNamespaces } from '../scripts/netns-lib.js'
import { apiClientOf, BENCH_NETWORK_CONFIG, NETNS_PORT, startTestnet } from '../scripts/testnet-lib.js'
import { DirectUpgrade } from '../src/nat.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { Testnet, TestnetPeer } from '../scripts/testnet-lib.js'
import type { ContainerConfig } from '../src/types.js'

/** Time the testnet has to come up. */
const START_TIMEOUT = 60_000
/** Time a peer has to find its router, map its port and announce the mapping (a few seconds). */
const MAPPING_TIMEOUT = 30_000
/** Time the buyer has to place, while the suppliers' offers reach the traders. */
const PLACE_TIMEOUT = 90_000
/** Time a relayed connection has to become direct. */
const DIRECT_TIMEOUT = 30_000

/** Runs `argv` in `namespace` and resolves with its stdout. */
async function runIn (namespace: string, argv: string[]): Promise<string> {
  const [command, args] = inNamespace(namespace, argv)
  return (await promisify(execFile)(command, args)).stdout
}

/** The addresses of `buyer`'s connection to `supplier`, undefined when they are not connected. */
async function connectionAddresses (buyer: TestnetPeer, supplier: TestnetPeer): Promise<string[] | undefined> {
  const peer = (await (await apiClientOf(buyer)).peers()).find(peer => peer.peerId === supplier.peerId && peer.connected)
  return peer?.multiaddrs
}

const isDirect = (addresses: string[] | undefined): boolean => addresses?.some(address => !address.includes('/p2p-circuit')) === true

function container (name: string): ContainerConfig {
  return { name, image: 'busybox', args: ['sleep', '3600'], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 256 }, groupPolicy: 'spread' }
}

const Unit = suite('nat: DirectUpgrade')

Unit('dials, forced, the public addresses of a peer reached through a relay; not when a direct connection is open, nor private or relayed addresses', async () => {
  const events = new EventTarget()
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const dials: Array<{ addresses: string[], force?: boolean }> = []
  let open: Array<{ status: string, limits?: object }> = []
  const upgrade = new DirectUpgrade({
    events,
    logger: defaultLogger(),
    transportManager: { dialTransportForMultiaddr: () => ({}) },
    connectionManager: {
      getConnections: () => open,
      openConnection: async (addresses: any[], options: { force?: boolean }) => {
        dials.push({ addresses: addresses.map(String), force: options.force })
        return { remoteAddr: addresses[0] }
      }
    }
  } as any)
  const relayed = { status: 'open', limits: { bytes: 1024n } }
  const identified = (connection: object, addresses: string[]): void => {
    events.dispatchEvent(new CustomEvent('peer:identify', { detail: { peerId, connection, listenAddrs: addresses.map(address => multiaddr(address)) } }))
  }
  const mapped = '/ip4/11.231.0.12/tcp/4001'
  const circuit = `/ip4/11.231.0.10/tcp/4001/p2p/${peerId.toString()}/p2p-circuit/p2p/${peerId.toString()}`
  upgrade.start()

  try {
    identified(relayed, ['/ip4/10.231.3.2/tcp/4001', mapped, circuit])
    await waitFor(() => dials.length > 0, { timeout: 1_000, message: 'a direct dial' })
    assert.equal(dials, [{ addresses: [`${mapped}/p2p/${peerId.toString()}`], force: true }])

    identified({ status: 'open' }, [mapped])
    identified(relayed, ['/ip4/10.231.3.2/tcp/4001', circuit])
    open = [{ status: 'open' }]
    identified(relayed, [mapped])
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.is(dials.length, 1, 'no dial over a direct connection\'s identify, to private or relayed addresses, or with a direct connection open')
  } finally {
    upgrade.stop()
  }
})

Unit('a topology has at most as many UPnP routers as NATs', () => {
  assert.throws(() => createTopology({ public: 1, nat: 1, upnp: 2 }), /upnp counts NATs offering UPnP, 0 to 1, got 2/)
  assert.throws(() => createTopology({ public: 1, nat: 1, upnp: -1 }), RangeError)
})

Unit.run()

const Upnp = suite<{ dir: string, testnet?: Testnet }>('nat: UPnP', { dir: '' })

Upnp.before(async (ctx) => {
  assert.is(process.getuid?.(), 0, 'the UPnP testnet tests need root (CI runs them as root): run them as root')
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-nat-upnp-'))
  // offers sent every 10 s rather than 45: the traders change as the UPnP peer becomes a DHT server
  const configFile = join(ctx.dir, 'caravela.toml')
  await writeFile(configFile, BENCH_NETWORK_CONFIG)
  // peers 0 and 1 public, 2 behind a NAT with UPnP, 3 and 4 behind NATs without; only 2 and 3
  // supply, so that the buyer, 4, places on one NATed supplier with UPnP and one without
  ctx.testnet = await startTestnet({
    peers: 5,
    nat: 3,
    upnp: 1,
    dir: join(ctx.dir, 'testnet'),
    protocolPrefix: 'caravela-test-upnp',
    runtime: 'memory',
    cpus: 2,
    memory: '1g',
    argsOf: index => index === 2 || index === 3 ? [] : ['--runtime', 'none'],
    extraArgs: ['--config', configFile],
    startTimeout: START_TIMEOUT
  })
})

Upnp.after(async (ctx) => {
  await ctx.testnet?.stop()
  await rm(ctx.dir, { recursive: true, force: true })
})

Upnp('the first NAT offers UPnP; its peer maps port 4001 there, in the router\'s namespace', async (ctx) => {
  const [, , upnpPeer, natPeer] = ctx.testnet!.peers
  assert.equal(ctx.testnet!.peers.map(peer => peer.host?.upnp), [false, false, true, false, false])
  const router = upnpPeer.host!.router!

  const redirect = await waitFor(async () => (await runIn(router, ['iptables-legacy', '-w', '-t', 'nat', '-S', 'MINIUPNPD'])).split('\n').find(rule => rule.includes(`--dport ${NETNS_PORT}`)), {
    timeout: MAPPING_TIMEOUT,
    message: `a port mapping in ${router}`
  })
  assert.match(redirect, '-p tcp')
  const allowed = await runIn(router, ['iptables-legacy', '-w', '-S', 'MINIUPNPD'])
  assert.match(allowed, `-d ${upnpPeer.host!.address}/32 -p tcp -m tcp --dport ${NETNS_PORT} -j ACCEPT`, 'the mapped port passes the router\'s DROP')

  // the router without UPnP runs no daemon, and its rules have no chain for one
  const otherRouter = natPeer.host!.router!
  assert.not.match(await runIn(otherRouter, ['iptables', '-w', '-S']), 'MINIUPNPD')
  assert.is((await promisify(execFile)('ip', ['netns', 'pids', otherRouter])).stdout.trim(), '')
})

Upnp('the UPnP peer announces its router\'s WAN address; a peer behind a NAT without UPnP only its relayed one', async (ctx) => {
  const [, , upnpPeer, natPeer] = ctx.testnet!.peers
  const mapped = `/ip4/${upnpPeer.host!.publicAddress}/tcp/${NETNS_PORT}/p2p/${upnpPeer.peerId}`
  await waitFor(async () => (await (await apiClientOf(upnpPeer)).node()).multiaddrs.includes(mapped), {
    timeout: MAPPING_TIMEOUT,
    message: `peer 2 to announce ${mapped}`
  })

  const announced = (await (await apiClientOf(natPeer)).node()).multiaddrs.filter(address => address.startsWith('/ip4/11.231.0.') && !address.includes('/p2p-circuit'))
  assert.equal(announced, [], 'no public address without UPnP')
})

Upnp('a buyer behind another NAT reaches the UPnP supplier directly, the other NATed supplier only through a relay', async (ctx) => {
  const [, , upnpPeer, natPeer, buyer] = ctx.testnet!.peers
  const client = await apiClientOf(buyer, 60_000)
  // the network's offers go round every few seconds: retry until both suppliers are known
  let lastError = ''
  const placed = await waitFor(async () => {
    try {
      return await client.run([container('upnp-a'), container('upnp-b')])
    } catch (err: any) {
      lastError = err.message
      return undefined
    }
  }, { timeout: PLACE_TIMEOUT, interval: 1_000, message: () => `two containers placed by peer 4 (last error: ${lastError})` })
  assert.equal(placed.map(status => status.supplier.peerId).sort(), [upnpPeer.peerId, natPeer.peerId].sort(), 'spread over the two NATed suppliers')

  const direct = await waitFor(async () => {
    const addresses = await connectionAddresses(buyer, upnpPeer)
    return isDirect(addresses) ? addresses : undefined
  }, { timeout: DIRECT_TIMEOUT, interval: 500, message: 'a direct connection from peer 4 to peer 2' })
  assert.ok(direct.some(address => address.startsWith(`/ip4/${upnpPeer.host!.publicAddress}/tcp/${NETNS_PORT}`)), direct.join(', '))

  const relayed = await connectionAddresses(buyer, natPeer)
  assert.ok(relayed != null && relayed.length > 0 && !isDirect(relayed), `peer 4 reaches peer 3 through a relay only: ${relayed?.join(', ')}`)
})

Upnp('stop() ends the routers\' daemons with the namespaces, and removes their files', async (ctx) => {
  const { topology } = ctx.testnet!
  await ctx.testnet!.stop()
  assert.equal(listNamespaces().filter(name => name.startsWith(`${topology!.id}-`)), [])
  assert.equal((await readdir(tmpdir())).filter(entry => entry.startsWith(topology!.id)), [])
})

Upnp('cleanNetns removes the UPnP files of a topology whose owner is gone', async () => {
  // the pid of a process that has exited
  const pid = Number(execFileSync(process.execPath, ['-p', 'process.pid'], { encoding: 'utf8' }))
  const leftover = join(tmpdir(), `cvl-${pid.toString(36)}-zz-upnp`)
  await mkdir(leftover)
  await writeFile(join(leftover, 'r1.conf'), 'ext_ifname=wan\n')
  cleanNetns()
  assert.not.ok((await readdir(tmpdir())).includes(`cvl-${pid.toString(36)}-zz-upnp`))
})

Upnp.run()
