/**
 * End to end: daemon processes (`dist/src/cli/daemon.js`) that form a network, queried with the
 * `caravela` command (`bin/caravela.js`) as a user would.
 */

import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { LevelDatastore } from 'datastore-level'
import * as assert from 'uvu/assert'
import { startTestnet } from '../scripts/testnet-lib.js'
import { defaultConfig, networkConfigDigest } from '../src/config/config.js'
import { Ledger } from '../src/roles/ledger.js'
import { DEFAULT_DOCKER_SOCKET } from '../src/runtime/docker-runtime.js'
import { DatastoreStore } from '../src/store/datastore-store.js'
import { suite } from './fixtures/suite.js'
import { FAST_NETWORK_CONFIG } from './fixtures/testnet-config.js'
import { waitFor } from './fixtures/wait.js'
import type { HostedRecord } from '../src/roles/ledger.js'
import type { CaravelaStatus, ContainerView, PeerSummary } from '../src/types.js'
import type { ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'

const DAEMON = 'dist/src/cli/daemon.js'
const CARAVELA = 'bin/caravela.js'
const PROTOCOL_PREFIX = 'caravela-test-daemon'
/** Time a daemon has to come up, or to exit when it should. */
const START_TIMEOUT = 60_000

interface Daemon {
  child: ChildProcess
  dataDir: string
  stdout: string
  stderr: string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

interface Up {
  peerId: string
  multiaddr: string
  apiUrl: string
}

interface Context {
  dir: string
  daemons: Daemon[]
  first?: Up
  second?: Up
}

function startDaemon (ctx: Context, dataDir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Daemon {
  const child = spawn(process.execPath, [DAEMON, '--data-dir', dataDir, '--protocol-prefix', PROTOCOL_PREFIX, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBUG: '', ...env }
  })
  const daemon: Daemon = {
    child,
    dataDir,
    stdout: '',
    stderr: '',
    exited: new Promise(resolve => { child.once('close', (code, signal) => { resolve({ code, signal }) }) })
  }
  child.stdout?.on('data', (chunk: Buffer) => { daemon.stdout += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { daemon.stderr += chunk.toString() })
  ctx.daemons.push(daemon)
  return daemon
}

async function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what}: no result within ${ms / 1000} s`)) }, ms)
  })

  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves when the daemon has printed its peer id, addresses and control API. */
async function waitUntilUp (daemon: Daemon): Promise<Up> {
  return waitFor(() => {
    const api = /^Control API: (\S+)$/m.exec(daemon.stdout)

    if (api != null) {
      const peerId = /^Caravela peer (\S+) listening on:$/m.exec(daemon.stdout)?.[1]
      const multiaddr = /^\s+(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)$/m.exec(daemon.stdout)?.[1]
      assert.ok(peerId != null && multiaddr != null, `unexpected output:\n${daemon.stdout}`)
      assert.ok(multiaddr.endsWith(`/p2p/${peerId}`))
      return { peerId, multiaddr, apiUrl: api[1] }
    }

    if (daemon.child.exitCode != null) {
      throw new Error(`the daemon exited with ${daemon.child.exitCode}:\n${daemon.stdout}${daemon.stderr}`)
    }

    return undefined
  }, { timeout: START_TIMEOUT, message: () => `the daemon to come up:\n${daemon.stdout}${daemon.stderr}` })
}

/** Polls `caravela peers --json` on `dataDir` until it lists every one of `peerIds`. */
async function waitForPeers (dataDir: string, peerIds: string[]): Promise<PeerSummary[]> {
  let peers: PeerSummary[] = []

  await waitFor(async () => {
    peers = await caravela<PeerSummary[]>('peers', '--json', '--data-dir', dataDir)
    return peerIds.every(peerId => peers.some(peer => peer.peerId === peerId))
  }, { timeout: 30_000, interval: 250, message: () => `${dataDir} to list ${peerIds.join(', ')}: ${JSON.stringify(peers)}` })

  return peers
}

async function caravela<T> (...args: string[]): Promise<T> {
  const { stdout } = await promisify(execFile)(process.execPath, [CARAVELA, ...args], { timeout: 20_000 })
  return JSON.parse(stdout)
}

/** Asserts a daemon that should not start exits with `code` and one `caravela: error:` line. */
async function assertFailsWith (daemon: Daemon, code: number, message: RegExp, within = START_TIMEOUT): Promise<void> {
  const exit = await withTimeout(daemon.exited, within, 'exit')
  assert.is(exit.code, code, daemon.stderr)
  assert.match(daemon.stderr, /^caravela: error: [^\n]+\n$/)
  assert.match(daemon.stderr, message)
  assert.not.match(daemon.stderr, /^\s+at /m, 'no stack frames')
  assert.is(daemon.stdout, '')
}

const Daemons = suite<Context>('daemon: end to end', { dir: '', daemons: [] })

Daemons.before(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-daemon-'))
})

Daemons.after(async (ctx) => {
  for (const daemon of ctx.daemons) {
    if (daemon.child.exitCode == null && daemon.child.signalCode == null) {
      daemon.child.kill('SIGKILL')
      await daemon.exited
    }
  }
  await rm(ctx.dir, { recursive: true, force: true })
})

Daemons('two daemons form a network and `caravela peers` on each lists the other', async (ctx) => {
  const first = startDaemon(ctx, join(ctx.dir, 'first'), ['--listen', '/ip4/127.0.0.1/tcp/0'])
  ctx.first = await waitUntilUp(first)
  const second = startDaemon(ctx, join(ctx.dir, 'second'), ['--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', ctx.first.multiaddr])
  ctx.second = await waitUntilUp(second)

  await waitForPeers(first.dataDir, [ctx.second.peerId])
  await waitForPeers(second.dataDir, [ctx.first.peerId])
})

Daemons('`caravela node --json` shows the peer id the daemon printed', async (ctx) => {
  for (const [name, up] of [['first', ctx.first], ['second', ctx.second]] as const) {
    assert.ok(up, 'the daemons are up')
    const status = await caravela<CaravelaStatus>('node', '--json', '--data-dir', join(ctx.dir, name))
    assert.is(status.peerId, up.peerId)
    assert.ok(status.multiaddrs.some(address => address.endsWith(`/p2p/${up.peerId}`)))
    assert.is(status.protocolPrefix, PROTOCOL_PREFIX)
    // the digest of the configuration in force, in the banner too: the joiner took the first's
    const banner = ctx.daemons.find(daemon => daemon.dataDir === join(ctx.dir, name))?.stdout ?? ''
    assert.is(status.networkConfigDigest, networkConfigDigest(defaultConfig().network))
    assert.match(banner, `\nNetwork configuration: ${status.networkConfigDigest} (sha256, for --network-config)\n`)
    // loopback peers neither reserve relay slots nor relay nor look for a router
    assert.match(banner, '\nNAT traversal: hole punching, AutoNAT (--relay, --relay-server, --upnp for more)\n')
  }
})

Daemons('a second daemon on a data dir in use exits 1 with one line', async (ctx) => {
  const daemon = startDaemon(ctx, join(ctx.dir, 'first'), ['--listen', '/ip4/127.0.0.1/tcp/0'])
  await assertFailsWith(daemon, 1, /data dir/)
})

Daemons('a listen port in use exits 1 with one line', async (ctx) => {
  assert.ok(ctx.first, 'the first daemon is up')
  const port = /\/tcp\/(\d+)\//.exec(ctx.first.multiaddr)?.[1]
  const daemon = startDaemon(ctx, join(ctx.dir, 'port-in-use'), ['--listen', `/ip4/127.0.0.1/tcp/${port}`])
  await assertFailsWith(daemon, 1, /in use/)
})

Daemons('SIGTERM exits 0 and removes api.json; a restart keeps the peer id', async (ctx) => {
  const dataDir = join(ctx.dir, 'second')
  const running = ctx.daemons.find(daemon => daemon.dataDir === dataDir && daemon.child.exitCode == null)
  assert.ok(running != null && ctx.first != null && ctx.second != null, 'the second daemon is running')

  running.child.kill('SIGTERM')
  const exit = await withTimeout(running.exited, 30_000, 'exit after SIGTERM')
  assert.equal(exit, { code: 0, signal: null }, running.stderr)
  assert.not.ok(await stat(join(dataDir, 'api.json')).catch(() => undefined), 'api.json removed')

  const restarted = startDaemon(ctx, dataDir, ['--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', ctx.first.multiaddr])
  const up = await waitUntilUp(restarted)
  assert.is(up.peerId, ctx.second.peerId)

  restarted.child.kill('SIGTERM')
  assert.is((await withTimeout(restarted.exited, 30_000, 'exit after SIGTERM')).code, 0)
})

Daemons('a bad flag exits 2 with one line and no stack', async (ctx) => {
  await assertFailsWith(startDaemon(ctx, join(ctx.dir, 'bad-flag'), ['--no-such-flag']), 2, /--no-such-flag/, 20_000)
  await assertFailsWith(startDaemon(ctx, join(ctx.dir, 'bad-flag'), ['--memory', 'lots']), 2, /--memory/, 20_000)
  await assertFailsWith(startDaemon(ctx, join(ctx.dir, 'bad-flag'), ['--network-config', 'abc']), 2, /^caravela: error: --network-config: must be the sha256 digest .*64 hex digits.*got "abc"/, 20_000)
  await assertFailsWith(startDaemon(ctx, join(ctx.dir, 'bad-flag'), ['--network-config', 'g'.repeat(64)]), 2, /--network-config/, 20_000)
  await assertFailsWith(startDaemon(ctx, join(ctx.dir, 'bad-flag'), ['--relay-server', '--no-relay-server']), 2, /^caravela: error: --relay-server and --no-relay-server contradict each other \(see --help\)$/m, 20_000)
})

Daemons('a daemon pinned to another configuration digest refuses to join, naming both, and exits 1', async (ctx) => {
  assert.ok(ctx.first, 'the first daemon is up')
  const pin = 'ab'.repeat(32)
  const served = networkConfigDigest(defaultConfig().network)
  const daemon = startDaemon(ctx, join(ctx.dir, 'pinned'), ['--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', ctx.first.multiaddr, '--network-config', pin])
  await assertFailsWith(daemon, 1, new RegExp(`has digest ${served}, not ${pin}`))
})

Daemons('a bad supplier policy flag exits 2 naming the flag', async (ctx) => {
  const bad: Array<[string[], RegExp]> = [
    [['--host-ports', '2000-1000'], /--host-ports: must be ports from 1 to 65535, the lower first/],
    [['--container-network', 'host'], /--container-network: must be one of "bridge", "none"/],
    [['--allow-buyer', 'somebody'], /--allow-buyer: is not a peer id/],
    [['--allow-image', 'nginx;reboot'], /--allow-image: is not an image pattern/],
    [['--allow-registry', 'http://registry'], /--allow-registry: must be a registry host/]
  ]

  for (const [args, message] of bad) {
    await assertFailsWith(startDaemon(ctx, join(ctx.dir, 'bad-policy'), args), 2, message, 20_000)
  }
})

Daemons('an unreachable bootstrap peer exits 1 with one line within 20 s', async (ctx) => {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const started = Date.now()
  const daemon = startDaemon(ctx, join(ctx.dir, 'unreachable'), ['--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', `/ip4/127.0.0.1/tcp/1/p2p/${peerId}`])
  await assertFailsWith(daemon, 1, /--bootstrap/, 30_000)
  assert.ok(Date.now() - started < 25_000, `took ${Date.now() - started} ms`)
})

Daemons('--runtime docker with no engine answering: the peer starts, says so and offers nothing; once an engine answers on the socket it offers', async (ctx) => {
  const socket = join(ctx.dir, 'engine.sock')
  const dataDir = join(ctx.dir, 'engine-down')
  const configFile = join(ctx.dir, 'check-often.toml')
  await writeFile(configFile, '[node]\nruntimeCheckInterval = "1s"\n')
  const daemon = startDaemon(ctx, dataDir, ['--listen', '/ip4/127.0.0.1/tcp/0', '--runtime', 'docker', '--cpus', '1', '--memory', '512m', '--config', configFile], { DOCKER_HOST: `unix://${socket}` })
  await waitUntilUp(daemon)
  assert.match(daemon.stdout, /^Runtime: docker, but its engine does not answer: this peer offers nothing until it does, then offers its capacity \(checked every 1s; No Docker engine answers on \S+engine\.sock/m)

  const down = await caravela<CaravelaStatus>('node', '--json', '--data-dir', dataDir)
  assert.is(down.runtime.state, 'unavailable')
  assert.match(down.runtime.reason ?? '', /engine\.sock/)
  assert.is(down.capacity.cpus, 0)

  // an engine answers on that socket: the machine's, through a proxy (the engine itself is left alone)
  const connections = new Set<Socket>()
  const proxy = createServer(client => {
    const engine = connect(DEFAULT_DOCKER_SOCKET)
    for (const socket of [client, engine]) {
      connections.add(socket)
      socket.on('error', () => { client.destroy(); engine.destroy() })
    }
    client.pipe(engine).pipe(client)
  })
  await new Promise<void>(resolve => { proxy.listen(socket, resolve) })

  try {
    const up = await waitFor(async () => {
      const status = await caravela<CaravelaStatus>('node', '--json', '--data-dir', dataDir)
      return status.runtime.state === 'ok' ? status : undefined
    }, { timeout: 10_000, interval: 250, message: 'the runtime to be ok once the engine answers' })
    assert.ok(up.capacity.cpus > 0, `capacity ${JSON.stringify(up.capacity)}`)
    assert.is(up.runtime.outages, 1)

    daemon.child.kill('SIGTERM')
    assert.is((await withTimeout(daemon.exited, 30_000, 'exit after SIGTERM')).code, 0, daemon.stderr)
  } finally {
    connections.forEach(socket => { socket.destroy() })
    proxy.close()
  }
})

Daemons('a runtimeCheckInterval out of bounds in the configuration file exits 1 with one line naming the file and the key', async (ctx) => {
  const configFile = join(ctx.dir, 'never-check.toml')
  await writeFile(configFile, '[node]\nruntimeCheckInterval = "0"\n')
  const daemon = startDaemon(ctx, join(ctx.dir, 'never-check'), ['--config', configFile])
  await assertFailsWith(daemon, 1, /^caravela: error: invalid configuration in \S+never-check\.toml: node\.runtimeCheckInterval: must be a duration from "1s" to "10m" \(the checks of the container engine cannot be turned off\), got "0s"$/m, 20_000)
})

Daemons('a bad [nat] key in the configuration file exits 1 naming it', async (ctx) => {
  const configFile = join(ctx.dir, 'bad-nat.toml')
  await writeFile(configFile, '[nat]\nrelayDataLimit = "0m"\n')
  const daemon = startDaemon(ctx, join(ctx.dir, 'bad-nat'), ['--config', configFile])
  await assertFailsWith(daemon, 1, /^caravela: error: invalid configuration in \S+bad-nat\.toml: nat\.relayDataLimit: /m, 20_000)
})

Daemons('a DOCKER_HOST other than a unix socket exits 2 with one line', async (ctx) => {
  const daemon = startDaemon(ctx, join(ctx.dir, 'tcp-docker'), ['--runtime', 'docker'], { DOCKER_HOST: 'tcp://127.0.0.1:2375' })
  await assertFailsWith(daemon, 2, /DOCKER_HOST="tcp:\/\/127\.0\.0\.1:2375": a peer talks to a Docker engine on a unix socket only/, 20_000)
})

Daemons.run()

const Testnet = suite<{ dir: string }>('daemon: testnet-lib', { dir: '' })

Testnet.before(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-testnet-'))
})

Testnet.after(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true })
})

Testnet('startTestnet starts peers that find each other, and stop() ends them', async (ctx) => {
  const testnet = await startTestnet({ peers: 3, dir: join(ctx.dir, 'net'), protocolPrefix: PROTOCOL_PREFIX, waveSize: 2 })

  try {
    assert.equal(testnet.peers.map(peer => peer.index), [0, 1, 2])

    for (const peer of testnet.peers) {
      assert.match(peer.multiaddr, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${peer.peerId}$`))
      assert.match(peer.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
      const others = testnet.peers.filter(other => other !== peer).map(other => other.peerId)
      await waitForPeers(peer.dataDir, others)
    }
  } finally {
    await testnet.stop()
  }

  assert.ok(testnet.peers.every(peer => peer.process.exitCode === 0), 'every peer exited with 0')
})

/** Runs `caravela` and returns its exit code and output, failing or not. */
async function caravelaRaw (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [CARAVELA, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : Number((err as any).code ?? 1), stdout, stderr })
    })
  })
}

Testnet('on a memory-runtime testnet `caravela run` places a container, `ps` shows it, `stop` removes it; a killed supplier\'s offers go', async (ctx) => {
  const configFile = join(ctx.dir, 'fast.toml')
  await writeFile(configFile, FAST_NETWORK_CONFIG)
  const testnet = await startTestnet({ peers: 3, dir: join(ctx.dir, 'memory-net'), protocolPrefix: PROTOCOL_PREFIX, waveSize: 2, runtime: 'memory', cpus: 2, memory: '2g', extraArgs: ['--config', configFile] })

  try {
    const [buyer, ...suppliers] = testnet.peers
    let placed: { code: number, stdout: string, stderr: string } | undefined

    // the suppliers publish their offers within moments of joining
    for (let i = 0; i < 40 && placed?.code !== 0; i++) {
      placed = await caravelaRaw('run', '--json', '--data-dir', buyer.dataDir, '--cpus', '1', '--memory', '256m', '--name', 'web', 'busybox', 'httpd', '-f')
      if (placed.code !== 0) await new Promise(resolve => setTimeout(resolve, 500))
    }

    assert.is(placed?.code, 0, placed?.stderr)
    const status = JSON.parse(placed!.stdout)
    assert.equal(status.args, ['httpd', '-f'])
    const supplier = testnet.peers.find(peer => peer.peerId === status.supplier.peerId)
    assert.ok(supplier, 'the container landed on a peer of the testnet')

    const ps = await caravela<Array<{ containerId: string, state: string, supplier: { peerId: string } }>>('ps', '--json', '--data-dir', buyer.dataDir)
    assert.equal(ps.map(c => [c.containerId, c.state, c.supplier.peerId]), [[status.containerId, 'running', supplier.peerId]])

    const stopped = await caravelaRaw('stop', '--data-dir', buyer.dataDir, status.containerId.slice(0, 12))
    assert.is(stopped.code, 0, stopped.stderr)
    assert.is((await caravela<unknown[]>('ps', '--json', '--data-dir', buyer.dataDir)).length, 0)

    const tooBig = await caravelaRaw('run', '--data-dir', buyer.dataDir, '--cpus', '2', '--memory', '64g', 'busybox')
    assert.is(tooBig.code, 1)
    assert.is(tooBig.stderr.trim().split('\n').length, 1, tooBig.stderr)
    assert.match(tooBig.stderr, /^caravela: error: /)

    // kill a supplier without warning: no trader may hand out its offers for long
    const victim = suppliers[0]
    const offersOf = async (peer: typeof victim): Promise<Array<{ peerId: string }>> => (await caravela<{ trading: { offers: Array<{ peerId: string }> } }>('offers', '--json', '--data-dir', peer.dataDir)).trading.offers
    const survivors = testnet.peers.filter(peer => peer !== victim)
    victim.process.kill('SIGKILL')
    await waitFor(async () => {
      const held = await Promise.all(survivors.map(offersOf))
      return !held.some(offers => offers.some(offer => offer.peerId === victim.peerId))
    }, { timeout: 20_000, interval: 500, message: 'the traders to drop the killed supplier\'s offers' })
  } finally {
    await testnet.stop()
  }
})

Testnet('a supplier killed (SIGKILL) as soon as it answered a launch has the container in its LevelDB, and its buyer has the placement', async (ctx) => {
  const configFile = join(ctx.dir, 'fast-for-kill.toml')
  await writeFile(configFile, FAST_NETWORK_CONFIG)
  // peer 0 only buys: the container lands on peer 1
  const testnet = await startTestnet({
    peers: 2, dir: join(ctx.dir, 'kill-net'), protocolPrefix: PROTOCOL_PREFIX, runtime: 'memory', memory: '2g', extraArgs: ['--config', configFile], cpus: 2, argsOf: i => i === 0 ? ['--runtime', 'none'] : []
  })

  try {
    const [buyer, supplier] = testnet.peers
    let placed: { code: number, stdout: string, stderr: string } | undefined

    for (let i = 0; i < 40 && placed?.code !== 0; i++) {
      placed = await caravelaRaw('run', '--json', '--data-dir', buyer.dataDir, '--cpus', '1', '--memory', '256m', 'busybox', 'httpd', '-f')
      if (placed.code !== 0) await new Promise(resolve => setTimeout(resolve, 500))
    }

    // killed the moment the answer is out, before anything else can be written
    supplier.process.kill('SIGKILL')
    buyer.process.kill('SIGKILL')
    assert.is(placed?.code, 0, placed?.stderr)
    const status = JSON.parse(placed!.stdout)
    assert.is(status.supplier.peerId, supplier.peerId)
    await Promise.all([supplier, buyer].map(async peer => { if (peer.process.exitCode == null && peer.process.signalCode == null) await once(peer.process, 'exit') }))

    const ledgerOf = async (dataDir: string): Promise<{ hosted: HostedRecord[], placed: ContainerView[] }> => {
      const datastore = new LevelDatastore(join(dataDir, 'datastore'))
      await datastore.open()

      try {
        const ledger = new Ledger(new DatastoreStore(datastore), defaultLogger().forComponent('test'))
        return { hosted: await ledger.hosted(), placed: await ledger.placed() }
      } finally {
        await datastore.close()
      }
    }
    const [recorded] = (await ledgerOf(buyer.dataDir)).placed
    assert.equal([recorded?.containerId, recorded?.supplier.peerId], [status.containerId, supplier.peerId])
    const { hosted } = await ledgerOf(supplier.dataDir)
    // `creating` or `running`: either brings the container back at the supplier's restart
    // the supplier's request id is the placement's, with the launch attempt
    assert.equal(hosted.map(r => [r.buyer, r.requestId.startsWith(`${recorded.requestId}-`), r.index, r.containerId ?? status.containerId]), [[buyer.peerId, true, 0, status.containerId]])
    assert.ok(hosted[0].state === 'creating' || hosted[0].state === 'running', hosted[0].state)
  } finally {
    await testnet.stop()
  }
})

Testnet('startTestnet takes a configuration file and a backend; a wrong one is refused before any peer starts', async (ctx) => {
  const refusal = async (init: Partial<Parameters<typeof startTestnet>[0]>): Promise<any> =>
    startTestnet({ peers: 2, dir: join(ctx.dir, 'bad'), protocolPrefix: PROTOCOL_PREFIX, ...init }).then(async testnet => {
      await testnet.stop()
      throw new Error('the testnet started')
    }, (err: unknown) => err)
  const badBackend = await refusal({ backend: 'no-such-backend' })
  assert.is(badBackend.name, 'InvalidConfigurationError')
  assert.match(badBackend.message, /network\.discoveryBackend/)
  assert.match((await refusal({ configFile: join(ctx.dir, 'missing.toml') })).message, /configuration file not found/)
  assert.not.ok(existsSync(join(ctx.dir, 'bad', 'peer-0')), 'no peer started')

  const configFile = join(ctx.dir, 'fast-for-backend.toml')
  await writeFile(configFile, FAST_NETWORK_CONFIG)
  const testnet = await startTestnet({ peers: 2, dir: join(ctx.dir, 'random-net'), protocolPrefix: PROTOCOL_PREFIX, configFile, backend: 'random' })

  try {
    for (const peer of testnet.peers) {
      const status = await caravela<{ discoveryBackend: string }>('node', '--json', '--data-dir', peer.dataDir)
      assert.is(status.discoveryBackend, 'random')
    }

    // the file's other settings hold too
    assert.match(await readFile(join(ctx.dir, 'random-net', 'caravela.toml'), 'utf8'), /supplyingInterval = 2000/)
  } finally {
    await testnet.stop()
  }
})

Testnet('on fresh 3-peer testnets of 2-CPU peers, with the default configuration, `caravela run --cpus 2` is placed at the first try', async (ctx) => {
  for (let round = 0; round < 2; round++) {
    const testnet = await startTestnet({ peers: 3, dir: join(ctx.dir, `fresh-${round}`), protocolPrefix: `${PROTOCOL_PREFIX}-fresh-${round}`, waveSize: 2, runtime: 'memory', cpus: 2, memory: '2g' })

    try {
      const placed = await caravelaRaw('run', '--json', '--data-dir', testnet.peers[round + 1].dataDir, '--cpus', '2', '--memory', '512', 'busybox')
      assert.is(placed.code, 0, placed.stderr)
      assert.equal(JSON.parse(placed.stdout).resources, { cpuClass: 0, cpus: 2, memory: 512 })
    } finally {
      await testnet.stop()
    }
  }
})

Testnet.run()
