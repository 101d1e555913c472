/**
 * LAN discovery over mDNS (src/mdns.ts): when it is on, the service name that keeps networks
 * apart, a peer that serves its configuration only once in a network, and, end to end, daemons
 * that find each other with no --bootstrap.
 *
 * Loopback carries no multicast, so the end-to-end test runs its daemons in two network
 * namespaces joined by a veth pair (needs root and `ip`). It creates only its own namespaces,
 * `cvmdns-a` and `cvmdns-b` with 10.231.0.1/24 and 10.231.0.2/24, and deletes them at its start
 * (leftovers of a crashed run) and at its end; the host's own networks are never touched.
 */

import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { prefixLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { caravela, caravelaDHT } from '../src/index.js'
import { LanDiscovery, MAX_LAN_PEERS, MAX_PENDING_ATTEMPTS, mdnsEnabled, mdnsServiceTag } from '../src/mdns.js'
import { testConfig, TEST_PROTOCOL_PREFIX } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { Caravela } from '../src/service.js'
import type { CaravelaStatus, PeerSummary } from '../src/types.js'
import type { Libp2p } from '@libp2p/interface'
import type { ChildProcess } from 'node:child_process'
import type { NetworkInterfaceInfo } from 'node:os'

const DAEMON = 'dist/src/cli/daemon.js'
const CARAVELA = 'bin/caravela.js'
const PREFIX = 'caravela-test-mdns'
const NAMESPACES = { a: 'cvmdns-a', b: 'cvmdns-b' } as const
const ADDRESSES = { a: '10.231.0.1', b: '10.231.0.2' } as const
const START_TIMEOUT = 60_000

const run = promisify(execFile)

function iface (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo {
  return { address, family, internal, netmask: '', mac: '', cidr: null, scopeid: 0 }
}

const Unit = suite('mdns: when on, and the service name')

Unit('on for private listen addresses, off for public and loopback ones; the key decides when set', () => {
  const none = {}
  const listen = (...addresses: string[]): { listen: string[], mdns?: boolean } => ({ listen: addresses })

  for (const address of ['/ip4/10.1.2.3/tcp/7800', '/ip4/172.20.0.1/tcp/7800', '/ip4/192.168.1.5/tcp/0', '/ip4/169.254.3.4/tcp/1', '/ip6/fd00::7/tcp/1', '/ip6/fe80::1/tcp/1']) {
    assert.ok(mdnsEnabled(listen(address), none), address)
  }

  for (const address of ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0', '/ip4/203.0.113.9/tcp/7800', '/ip4/172.32.0.1/tcp/1', '/ip6/2001:db8::1/tcp/1', '/dns4/example.com/tcp/1']) {
    assert.not.ok(mdnsEnabled(listen(address), none), address)
  }

  assert.ok(mdnsEnabled(listen('/ip4/127.0.0.1/tcp/0', '/ip4/192.168.1.5/tcp/0'), none), 'one private address is enough')
  assert.ok(mdnsEnabled({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: true }, none), '--mdns')
  assert.not.ok(mdnsEnabled({ listen: ['/ip4/192.168.1.5/tcp/0'], mdns: false }, none), '--no-mdns')

  // a wildcard address listens on the host's addresses: private ones of its family count
  const lan = { lo: [iface('127.0.0.1', 'IPv4', true)], eth0: [iface('192.168.1.5', 'IPv4')] }
  const publicOnly = { lo: [iface('127.0.0.1', 'IPv4', true)], eth0: [iface('203.0.113.9', 'IPv4'), iface('fd00::2', 'IPv6')] }
  assert.ok(mdnsEnabled(listen('/ip4/0.0.0.0/tcp/7800'), lan))
  assert.not.ok(mdnsEnabled(listen('/ip4/0.0.0.0/tcp/7800'), publicOnly), 'an IPv6 address does not count for 0.0.0.0')
  assert.ok(mdnsEnabled(listen('/ip6/::/tcp/7800'), publicOnly), ':: takes both families')
  assert.not.ok(mdnsEnabled(listen('/ip4/0.0.0.0/tcp/7800'), { lo: [iface('127.0.0.1', 'IPv4', true)] }), 'loopback only')
})

Unit('the service name tells networks apart by prefix and key, not by how a key file is written', () => {
  const key = (hex: string, eol = '\n'): Uint8Array => new TextEncoder().encode(['/key/swarm/psk/1.0.0/', '/base16/', hex, ''].join(eol))
  const hex = 'ab'.repeat(32)
  const open = mdnsServiceTag('caravela')
  const tags = [open, mdnsServiceTag('caravela-2'), mdnsServiceTag('Caravela'), mdnsServiceTag('caravela', key(hex)), mdnsServiceTag('caravela', key('cd'.repeat(32)))]

  assert.is(new Set(tags).size, tags.length, tags.join(' '))
  assert.is(mdnsServiceTag('caravela', key(hex.toUpperCase(), '\r\n')), mdnsServiceTag('caravela', key(hex)))
  assert.is(mdnsServiceTag('caravela'), open, 'deterministic')
  assert.match(open, /^_caravela-[0-9a-f]{16}\._udp\.local$/)
  assert.not.equal(open, '_p2p._udp.local')

  for (const tag of [...tags, mdnsServiceTag('a.b_c'), mdnsServiceTag('x'.repeat(200))]) {
    const label = tag.split('.')[0]
    assert.ok(label.length <= 63 && /^_[a-z0-9-]+$/.test(label), tag)
  }
})

Unit('--mdns and --no-mdns together are a usage error', async () => {
  const failed = await run(process.execPath, [DAEMON, '--mdns', '--no-mdns']).then(() => undefined, (err: any) => err)
  assert.is(failed?.code, 2)
  assert.match(failed?.stderr, /^caravela: error: --mdns and --no-mdns contradict each other \(see --help\)\n$/)
})

Unit('a peer not yet in a network does not serve a configuration to take: it answers once it runs', async () => {
  const peer = (name: string): Promise<Libp2p<{ caravela: Caravela }>> => createLibp2p({
    logger: prefixLogger(name),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: { identify: identify(), ping: ping(), dht: caravelaDHT({ protocolPrefix: TEST_PROTOCOL_PREFIX }), caravela: caravela({ config: testConfig(), selfQueryTimeout: 1_000 }) }
  })
  const [waiting, joiner] = await Promise.all([peer('waiting'), peer('joiner')])

  try {
    const address = waiting.getMultiaddrs()[0].toString()
    const refused = await joiner.services.caravela.join([address]).then(() => undefined, (err: Error) => err)
    assert.is(refused?.name, 'JoinFailedError')
    assert.match(refused?.message ?? '', /not in a network yet/)

    await waiting.services.caravela.create()
    await joiner.services.caravela.join([address])
    assert.is(joiner.services.caravela.status().networkConfigDigest, waiting.services.caravela.status().networkConfigDigest)
  } finally {
    await Promise.all([waiting.stop(), joiner.stop()])
  }
})

Unit('a peer refused for another network configuration is hung up on and kept out of the routing table, also when it connects again', async () => {
  const peer = (name: string, requestTimeout: number): Promise<Libp2p<{ caravela: Caravela }>> => createLibp2p({
    logger: prefixLogger(name),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      dht: caravelaDHT({ protocolPrefix: TEST_PROTOCOL_PREFIX }),
      caravela: caravela({ config: testConfig(c => { c.network.requestTimeout = requestTimeout }), selfQueryTimeout: 1_000 })
    }
  })
  // two networks of one prefix on one LAN, as two mDNS groups that find each other
  const [ours, theirs] = await Promise.all([peer('ours', 5_000), peer('theirs', 7_000)])

  try {
    await Promise.all([ours.services.caravela.create(), theirs.services.caravela.create()])
    const theirId = theirs.peerId.toString()
    const entry = (): PeerSummary | undefined => ours.services.caravela.peers().find(p => p.peerId === theirId)

    // what LAN discovery does with a peer it finds
    const refused = await ours.services.caravela.rejoin([`${theirs.getMultiaddrs()[0].toString()}`]).then(() => undefined, (err: Error) => err)
    assert.is(refused?.name, 'JoinFailedError')
    assert.match(refused?.message ?? '', /another network configuration/)
    await waitFor(() => entry() == null, { timeout: 5_000, message: () => `the refused peer to be hung up on and out of the table: ${JSON.stringify(entry())}` })

    // it dials us again (its own discovery): connected, identified as a DHT server, but not in our table
    await waitFor(() => theirs.getConnections(ours.peerId).length === 0, { timeout: 5_000, message: 'the hang-up to reach the other end' })
    await theirs.dial(ours.getMultiaddrs()[0])
    await waitFor(async () => (await ours.peerStore.get(theirs.peerId)).protocols.some(p => p.includes('/kad/')), { timeout: 5_000, message: 'identify to tell the DHT of it' })
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal([entry()?.connected, entry()?.inRoutingTable], [true, false])
  } finally {
    await Promise.all([ours.stop(), theirs.stop()])
  }
})

Unit('a LAN host announcing peer ids by the hundred fills neither memory nor the queue of attempts', async () => {
  const lan = new LanDiscovery('caravela-test')
  const discovery = lan.discovery({ logger: prefixLogger('mdns-flood'), addressManager: { getAddresses: () => [] } } as any)
  const rejoins: string[] = []
  // attempts that hang until the gate opens, as towards ids nobody answers for
  let open = (): void => {}
  const gate = new Promise<void>(resolve => { open = resolve })
  const node = {
    status: 'started',
    logger: prefixLogger('mdns-flood'),
    addEventListener: () => {},
    services: { caravela: { rejoin: async (addresses: string[]) => { rejoins.push(addresses[0]); await gate } } }
  }
  lan.watch(node as any)

  for (let i = 0; i < 300; i++) {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    discovery.dispatchEvent(new CustomEvent('peer', { detail: { id, multiaddrs: [] } }))
  }

  await new Promise(resolve => setTimeout(resolve, 50))
  assert.is(lan.size, MAX_LAN_PEERS, 'the peers heard of last, no more')
  assert.is(rejoins.length, 1, 'one attempt at a time')
  open()
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.is(rejoins.length, MAX_PENDING_ATTEMPTS, 'the queue held a few attempts; the others wait for their next announcement')
})

Unit.run()

interface Daemon {
  child: ChildProcess
  dataDir: string
  output: string
}

interface Context {
  dir: string
  daemons: Daemon[]
}

async function ip (...args: string[]): Promise<void> {
  await run('ip', args)
}

async function deleteNamespaces (): Promise<void> {
  for (const namespace of Object.values(NAMESPACES)) {
    await ip('netns', 'del', namespace).catch(() => {})
  }
}

/** Two namespaces, each with loopback up (the control API) and one end of a veth pair between them. */
async function createNamespaces (): Promise<void> {
  await deleteNamespaces()
  await ip('netns', 'add', NAMESPACES.a)
  await ip('netns', 'add', NAMESPACES.b)
  await ip('link', 'add', 'cvmdns-a0', 'netns', NAMESPACES.a, 'type', 'veth', 'peer', 'name', 'cvmdns-b0', 'netns', NAMESPACES.b)

  for (const side of ['a', 'b'] as const) {
    const exec = ['netns', 'exec', NAMESPACES[side], 'ip']
    await ip(...exec, 'link', 'set', 'lo', 'up')
    await ip(...exec, 'addr', 'add', `${ADDRESSES[side]}/24`, 'dev', `cvmdns-${side}0`)
    await ip(...exec, 'link', 'set', `cvmdns-${side}0`, 'up')
    // without a default route, multicast needs one of its own
    await ip(...exec, 'route', 'add', '224.0.0.0/4', 'dev', `cvmdns-${side}0`)
  }
}

function startDaemon (ctx: Context, side: 'a' | 'b', name: string, args: string[]): Daemon {
  const dataDir = join(ctx.dir, name)
  const child = spawn('ip', ['netns', 'exec', NAMESPACES[side], process.execPath, DAEMON, '--data-dir', dataDir, '--runtime', 'none', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBUG: process.env.DEBUG ?? '' }
  })
  const daemon: Daemon = { child, dataDir, output: '' }
  child.stdout?.on('data', (chunk: Buffer) => { daemon.output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { daemon.output += chunk.toString() })
  ctx.daemons.push(daemon)
  return daemon
}

async function peerIdOf (daemon: Daemon): Promise<string> {
  return waitFor(() => {
    if (daemon.child.exitCode != null) {
      throw new Error(`the daemon exited with ${daemon.child.exitCode}:\n${daemon.output}`)
    }

    return /^Control API: /m.test(daemon.output) ? /^Caravela peer (\S+) listening on:$/m.exec(daemon.output)?.[1] : undefined
  }, { timeout: START_TIMEOUT, message: () => `the daemon to come up:\n${daemon.output}` })
}

async function caravelaIn<T> (side: 'a' | 'b', daemon: Daemon, command: string): Promise<T> {
  const { stdout } = await run('ip', ['netns', 'exec', NAMESPACES[side], process.execPath, CARAVELA, command, '--json', '--data-dir', daemon.dataDir], { timeout: 20_000 })
  return JSON.parse(stdout)
}

async function peersOf (side: 'a' | 'b', daemon: Daemon): Promise<PeerSummary[]> {
  return caravelaIn(side, daemon, 'peers')
}

const Lan = suite<Context>('mdns: daemons on one LAN', { dir: '', daemons: [] })

Lan.before(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-mdns-'))
  await createNamespaces()
})

Lan.after(async (ctx) => {
  for (const { child } of ctx.daemons) {
    if (child.exitCode == null && child.signalCode == null) {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('close', resolve))
    }
  }

  await deleteNamespaces()
  await rm(ctx.dir, { recursive: true, force: true })
})

Lan('two new peers without --bootstrap find each other, a third joins their network; a peer of another prefix does not', async (ctx) => {
  // one by the flag, one by default (it listens on a private address)
  const a = startDaemon(ctx, 'a', 'a', ['--protocol-prefix', PREFIX, '--listen', `/ip4/${ADDRESSES.a}/tcp/7800`, '--mdns'])
  const b = startDaemon(ctx, 'b', 'b', ['--protocol-prefix', PREFIX, '--listen', `/ip4/${ADDRESSES.b}/tcp/7800`])
  const other = startDaemon(ctx, 'a', 'other', ['--protocol-prefix', `${PREFIX}-other`, '--listen', `/ip4/${ADDRESSES.a}/tcp/7801`, '--mdns'])
  const [idA, idB, idOther] = await Promise.all([peerIdOf(a), peerIdOf(b), peerIdOf(other)])

  assert.match(b.output, /^LAN discovery: mDNS/m)

  let peers: Record<'a' | 'b', PeerSummary[]> = { a: [], b: [] }
  await waitFor(async () => {
    peers = { a: await peersOf('a', a), b: await peersOf('b', b) }
    return peers.a.some(peer => peer.peerId === idB && peer.connected) && peers.b.some(peer => peer.peerId === idA && peer.connected)
  }, { timeout: 60_000, interval: 1_000, message: () => `a and b to connect: ${JSON.stringify(peers)}\n--- a:\n${a.output}\n--- b:\n${b.output}` })

  // the other network's peer announced itself all along (every 10 s) on the same LAN
  const otherPeers = await peersOf('a', other)
  assert.equal(otherPeers.map(peer => peer.peerId), [], 'the other prefix found nobody')
  assert.not.ok([...peers.a, ...peers.b].some(peer => peer.peerId === idOther), 'nobody found the other prefix')

  // a new peer whose own [network] differs joins the LAN's network and takes its configuration
  const ownConfig = join(ctx.dir, 'own.toml')
  await writeFile(ownConfig, '[network]\nrequestTimeout = "7s"\n')
  const late = startDaemon(ctx, 'b', 'late', ['--protocol-prefix', PREFIX, '--listen', `/ip4/${ADDRESSES.b}/tcp/7801`, '--config', ownConfig])
  await peerIdOf(late)
  const [network, joined] = await Promise.all([caravelaIn<CaravelaStatus>('a', a, 'node'), caravelaIn<CaravelaStatus>('b', late, 'node')])
  assert.is(joined.networkConfigDigest, network.networkConfigDigest, late.output)
  assert.ok((await peersOf('b', late)).some(peer => peer.connected && (peer.peerId === idA || peer.peerId === idB)))
})

Lan.run()
