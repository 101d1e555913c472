/**
 * Testnets behind NATs (scripts/netns-lib.ts, `startTestnet({ nat })`): the topology lets out
 * what a NAT lets out and nothing in, leaves nothing behind, and a testnet's peers run inside.
 * These tests need root, as CI has: without it they fail, they do not skip.
 */

import { execFile, execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as assert from 'uvu/assert'
import { cleanNetns, createTopology, HOST_LINK_ADDRESS, inNamespace, listLinks, listNamespaces } from '../scripts/netns-lib.js'
import { apiClientOf, startTestnet } from '../scripts/testnet-lib.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { Topology } from '../scripts/netns-lib.js'
import type { Testnet } from '../scripts/testnet-lib.js'
import type { ChildProcess } from 'node:child_process'

const HOLDER = 'dist/test/fixtures/netns-holder.js'
/** Time a connection attempt gets before it counts as dropped. */
const CONNECT_TIMEOUT = 2_000
/** Time a testnet has to come up. */
const START_TIMEOUT = 60_000
const PORT = 7_431

const NOT_ROOT = 'the network-namespace tests need root (CI runs them as root): run them as root'

function requireRoot (): void {
  assert.is(process.getuid?.(), 0, NOT_ROOT)
}

/** The namespaces and root links of the topology `id` still there. */
function leftovers (id: string): string[] {
  return [...listNamespaces(), ...listLinks()].filter(name => name.startsWith(`${id}-`))
}

/** A TCP server in `namespace` on `host:PORT` answering each connection with the address it came from. */
async function listenIn (namespace: string, host: string): Promise<ChildProcess> {
  const code = `require('node:net').createServer(s => s.end(s.remoteAddress)).listen(${PORT}, '${host}', () => console.log('listening'))`
  const [command, args] = inNamespace(namespace, [process.execPath, '-e', code])
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => { resolve() })
    child.once('exit', code => { reject(new Error(`the server in ${namespace} exited with ${code}`)) })
  })
  return child
}

/** Connects from `namespace` to `host:PORT`: the server's answer, or `error: <code>`. */
async function connectFrom (namespace: string, host: string): Promise<string> {
  const code = `const s = require('node:net').connect(${PORT}, '${host}'); let d = ''; s.setTimeout(${CONNECT_TIMEOUT}, () => { console.log('error: timeout'); s.destroy() }); s.on('data', c => { d += c }); s.on('end', () => console.log(d)); s.on('error', e => console.log('error: ' + e.code))`
  const [command, args] = inNamespace(namespace, [process.execPath, '-e', code])
  return (await promisify(execFile)(command, args)).stdout.trim()
}

const Topologies = suite<{ topology?: Topology, servers: ChildProcess[] }>('netns: topology', { servers: [] })

Topologies.before(async (ctx) => {
  requireRoot()
  ctx.topology = createTopology({ public: 2, nat: 2, hostLink: true })
})

Topologies.after.each(async (ctx) => {
  ctx.servers.forEach(server => server.kill('SIGKILL'))
  ctx.servers = []
})

Topologies.after(async (ctx) => {
  ctx.topology?.teardown()
})

Topologies('hosts 0 and 1 are public, 2 and 3 each behind a NAT of its own', async (ctx) => {
  const hosts = ctx.topology!.hosts
  assert.equal(hosts.map(host => host.behindNat), [false, false, true, true])
  assert.equal(hosts.map(host => host.publicAddress), ['11.231.0.10', '11.231.0.11', '11.231.0.12', '11.231.0.13'])
  assert.equal(hosts.map(host => host.address), ['11.231.0.10', '11.231.0.11', '10.231.3.2', '10.231.4.2'])
  assert.ok(hosts.every(host => host.namespace.startsWith(`${ctx.topology!.id}-`)), 'every namespace is named with the topology id')
})

Topologies('a NATed host opens TCP to a public host, which sees its router\'s WAN address', async (ctx) => {
  const [publicHost, , natHost] = ctx.topology!.hosts
  ctx.servers.push(await listenIn(publicHost.namespace, publicHost.address))
  assert.is(await connectFrom(natHost.namespace, publicHost.address), natHost.publicAddress)
})

Topologies('a NATed host reaches another NAT only through the public side, and not unsolicited', async (ctx) => {
  const [, , natHost, otherNatHost] = ctx.topology!.hosts
  ctx.servers.push(await listenIn(otherNatHost.namespace, '0.0.0.0'))
  assert.match(await connectFrom(natHost.namespace, otherNatHost.address), /^error: /, 'no route to another NAT\'s LAN')
  assert.is(await connectFrom(natHost.namespace, otherNatHost.publicAddress), 'error: ECONNREFUSED', 'the other router forwards nothing unsolicited')
})

Topologies('a public host reaches neither a NATed host\'s private address, even routed to its router, nor its router\'s WAN address', async (ctx) => {
  const [publicHost, , natHost] = ctx.topology!.hosts
  ctx.servers.push(await listenIn(natHost.namespace, '0.0.0.0'))
  assert.match(await connectFrom(publicHost.namespace, natHost.address), /^error: (ENETUNREACH|EHOSTUNREACH)$/, 'no route to a private address')

  // as if the internet routed the LAN's subnet to the router: its firewall still drops what
  // no connection from inside asked for
  const [command, args] = inNamespace(publicHost.namespace, ['ip', 'route', 'add', natHost.address, 'via', natHost.publicAddress])
  await promisify(execFile)(command, args)
  assert.is(await connectFrom(publicHost.namespace, natHost.address), 'error: timeout', 'the router drops it')
  assert.is(await connectFrom(publicHost.namespace, natHost.publicAddress), 'error: ECONNREFUSED', 'the router forwards no port')
})

Topologies('the host link joins this namespace to the internet: it reaches public hosts, NATed hosts reach it', async (ctx) => {
  const [publicHost, , natHost] = ctx.topology!.hosts
  assert.is(ctx.topology!.hostLink?.address, HOST_LINK_ADDRESS)
  ctx.servers.push(await listenIn(publicHost.namespace, publicHost.address))
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(PORT, publicHost.address)
    let data = ''
    socket.on('data', chunk => { data += chunk.toString() })
    socket.on('end', () => { resolve(data) })
    socket.on('error', reject)
  })
  assert.is(answer, HOST_LINK_ADDRESS)

  const server = createServer(socket => { socket.end(socket.remoteAddress ?? '') })
  await new Promise<void>(resolve => { server.listen(PORT, HOST_LINK_ADDRESS, resolve) })

  try {
    assert.is(await connectFrom(natHost.namespace, HOST_LINK_ADDRESS), natHost.publicAddress)
  } finally {
    server.close()
  }
})

Topologies('teardown removes every namespace and link of the topology', async () => {
  requireRoot()
  const topology = createTopology({ public: 1, nat: 1 })
  assert.is(leftovers(topology.id).length, 4, 'the internet, a public host, a NATed host and its router')
  topology.teardown()
  assert.equal(leftovers(topology.id), [])
})

/** Starts the holder (with `dir`: a testnet) and SIGKILLs it once it holds its namespaces. */
async function crashHolder (dir?: string): Promise<{ id: string, pids: number[] }> {
  const holder = spawn(process.execPath, [HOLDER, ...(dir == null ? [] : [dir])], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise(resolve => { holder.once('exit', resolve) })

  try {
    const line = await new Promise<string>((resolve, reject) => {
      holder.stdout.once('data', (chunk: Buffer) => { resolve(chunk.toString()) })
      holder.once('exit', code => { reject(new Error(`the holder exited with ${code}`)) })
    })
    return JSON.parse(line)
  } finally {
    holder.kill('SIGKILL')
    await exited
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

Topologies('cleanNetns removes the topology of a process that was SIGKILLed, and what ran inside', async (ctx) => {
  requireRoot()
  const { id, pids: [pid] } = await crashHolder()

  try {
    assert.is(leftovers(id).length, 4, 'a crash leaves the topology')
    assert.ok(isAlive(pid), 'and what runs inside')

    const removed = cleanNetns()
    assert.equal(leftovers(id), [])
    assert.ok(removed.namespaces.includes(`${id}-net`))
    assert.ok(removed.kept.includes(ctx.topology!.internet), 'the topology of a live owner, this process, is kept')
    assert.ok(listNamespaces().includes(ctx.topology!.internet))
    await waitFor(() => !isAlive(pid), { timeout: 5_000, message: `process ${pid} in the namespace to be killed` })
  } finally {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  }
})

Topologies('SIGKILL to a --nat testnet\'s process ends its peers and their forwarders; cleanNetns removes its namespaces', async () => {
  requireRoot()
  const dir = await mkdtemp(join(tmpdir(), 'caravela-netns-holder-'))

  try {
    const { id, pids } = await crashHolder(dir)
    assert.is(pids.length, 2)
    const namespaces = leftovers(id)
    assert.is(namespaces.length, 4, 'a crash leaves the topology')
    const inside = (): string => namespaces.map(namespace => execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' })).join('').trim()
    // the peers and their API forwarders: the namespaces empty as they exit, their pids once reaped
    await waitFor(() => inside() === '' && !pids.some(isAlive), {
      timeout: 10_000,
      message: () => `the processes in the namespaces to go with their holder: ${inside()} (peers ${pids.filter(isAlive).join(', ')})`
    })

    cleanNetns()
    assert.equal(leftovers(id), [])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

Topologies.run()

const Testnets = suite<{ dir: string, testnet?: Testnet }>('netns: testnet', { dir: '' })

Testnets.before(async (ctx) => {
  requireRoot()
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-netns-testnet-'))
  ctx.testnet = await startTestnet({
    peers: 3,
    nat: 1,
    dir: join(ctx.dir, 'testnet'),
    protocolPrefix: 'caravela-test-netns',
    runtime: 'memory',
    cpus: 1,
    memory: '512m',
    startTimeout: START_TIMEOUT
  })
})

Testnets.after(async (ctx) => {
  await ctx.testnet?.stop()
  await rm(ctx.dir, { recursive: true, force: true })
})

Testnets('every peer runs in its namespace on its address, the last one behind a NAT, and answers on its control API', async (ctx) => {
  const { peers } = ctx.testnet!
  assert.equal(peers.map(peer => peer.host?.behindNat), [false, false, true])

  for (const peer of peers) {
    assert.ok(peer.multiaddr.startsWith(`/ip4/${peer.host!.address}/tcp/`), peer.multiaddr)
    const status = await (await apiClientOf(peer)).node()
    assert.is(status.peerId, peer.peerId)
  }

  // the `caravela` command, run inside a namespace, finds its peer's API through the data dir
  const [command, args] = inNamespace(peers[2].host!.namespace, [process.execPath, 'bin/caravela.js', 'node', '--data-dir', peers[2].dataDir])
  assert.match((await promisify(execFile)(command, args)).stdout, peers[2].peerId)
})

Testnets('the NATed peer joined through peer 0: they are connected, and peer 0 sees it at its router\'s WAN address', async (ctx) => {
  const [bootstrap, , natPeer] = ctx.testnet!.peers
  const seen = await waitFor(async () => (await (await apiClientOf(bootstrap)).peers()).find(peer => peer.peerId === natPeer.peerId && peer.connected), {
    timeout: 10_000,
    message: 'peer 0 to be connected to the NATed peer'
  })
  assert.ok(seen.multiaddrs.length > 0 && seen.multiaddrs.every(address => address.startsWith(`/ip4/${natPeer.host!.publicAddress}/tcp/`)), seen.multiaddrs.join(', '))
  const fromInside = await (await apiClientOf(natPeer)).peers()
  assert.ok(fromInside.some(peer => peer.peerId === bootstrap.peerId && peer.connected), 'the NATed peer is connected to peer 0')
})

Testnets('stop() removes the testnet\'s namespaces', async (ctx) => {
  const { topology } = ctx.testnet!
  assert.ok(topology != null && leftovers(topology.id).length === 5, 'the internet, 3 peers and a router')
  await ctx.testnet!.stop()
  assert.equal(leftovers(topology.id), [])
})

Testnets.run()
