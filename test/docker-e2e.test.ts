/**
 * End to end with the real Docker engine: a testnet of three daemon processes with the Docker
 * runtime, driven with the `caravela` command (`bin/caravela.js`) as a user would, the engine
 * checked independently through its API on the default socket.
 *
 * Run `node scripts/docker-setup.mjs` first (it starts an engine and builds `caravela/busybox:test`);
 * without an engine the suite fails, it never skips. Ports are published on 127.0.0.1 only, and
 * every container a peer of this testnet ran is removed in `after`, by its `caravela.supplier` label.
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import * as assert from 'uvu/assert'
import { DAEMON_PATH, startTestnet } from '../scripts/testnet-lib.js'
import { caravela, placeWithRetries } from './fixtures/cli.js'
import { engine, requireEngine, supplierContainers } from './fixtures/docker-engine.js'
import { suite } from './fixtures/suite.js'
import { FAST_NETWORK_CONFIG } from './fixtures/testnet-config.js'
import { waitFor } from './fixtures/wait.js'
import type { Testnet, TestnetPeer } from '../scripts/testnet-lib.js'
import type { ContainerStatus, ContainerView, OffersView, StopResult } from '../src/types.js'
import type { ChildProcess } from 'node:child_process'

const IMAGE = 'caravela/busybox:test'
/** Of this run only: runs of this file at the same time (on one engine) never meet. */
const PROTOCOL_PREFIX = `caravela-test-docker-e2e-${randomBytes(4).toString('hex')}`
const LABEL_SUPPLIER = 'caravela.supplier'
const MB = 1024 * 1024
/** Capacity every peer advertises: a share of the one engine. */
const PEER_CPUS = 2
const PEER_MEMORY = '2g'
/** Time one `caravela` command may take. */
/** Attempts, half a second apart, at a placement while the suppliers' offers go out or update. */
/** Time a published port has to answer. */
const HTTP_WAIT = 10_000
/** Time a restarted daemon has to come up. */
const START_TIMEOUT = 60_000
/** Time the buyer has to list a restarted supplier's container as running. */
const SETTLE_TIMEOUT = 30_000
/** Time a restarted supplier's container is watched for a duplicate or a removal. */
const WATCH_MS = 6_000

interface Context {
  dir: string
  configFile: string
  testnet?: Testnet
  /** every supplier's peer id: the labels of the containers to clean up */
  peerIds: string[]
  /** daemons this suite restarted itself */
  restarted: ChildProcess[]
}

/** Runs `caravela <command> --json …`, which must succeed, and parses its answer. */
async function caravelaJson<T> (command: string, ...args: string[]): Promise<T> {
  // before the rest: everything after a `run` IMAGE is the container's
  const result = await caravela(command, '--json', ...args)
  assert.is(result.code, 0, `caravela ${command} ${args.join(' ')}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

async function runContainer (buyer: TestnetPeer, ...args: string[]): Promise<ContainerStatus> {
  return placeWithRetries<ContainerStatus>('run', '--data-dir', buyer.dataDir, ...args)
}

async function ps (buyer: TestnetPeer): Promise<ContainerView[]> {
  return caravelaJson<ContainerView[]>('ps', '--data-dir', buyer.dataDir)
}

async function inspect (containerId: string): Promise<{ status: number, body: any }> {
  return engine('GET', `/containers/${encodeURIComponent(containerId)}/json`)
}

const containersOf = supplierContainers

/** The ids of every container the peers of this testnet run, sorted. */
async function allContainers (peerIds: string[]): Promise<string[]> {
  return (await Promise.all(peerIds.map(containersOf))).flat().map(c => c.Id).sort()
}

/** GET http://127.0.0.1:port/, retried until the server answers. */
async function httpGet (port: number): Promise<string> {
  const deadline = Date.now() + HTTP_WAIT
  let last: unknown

  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) })
      return await res.text()
    } catch (err) {
      last = err
      await sleep(200)
    }
  }

  throw new Error(`nothing answered on 127.0.0.1:${port} within ${HTTP_WAIT / 1000} s: ${String(last)}`)
}

function isRunning (child: ChildProcess): boolean {
  return child.exitCode == null && child.signalCode == null
}

async function kill (child: ChildProcess): Promise<void> {
  if (!isRunning(child)) {
    return
  }

  const exited = new Promise(resolve => { child.once('exit', resolve) })
  child.kill('SIGKILL')
  await exited
}

/**
 * Starts the daemon of `peer` again on its data dir and port, with the flags the testnet gave it;
 * resolves with the peer id it prints once its control API is up.
 */
async function restart (ctx: Context, peer: TestnetPeer, bootstrap: TestnetPeer): Promise<string> {
  const port = /\/tcp\/(\d+)\//.exec(peer.multiaddr)?.[1]
  assert.ok(port != null, `a TCP port in ${peer.multiaddr}`)
  const child = spawn(process.execPath, [
    DAEMON_PATH,
    '--listen', `/ip4/127.0.0.1/tcp/${port}`,
    '--data-dir', peer.dataDir,
    '--bootstrap', bootstrap.multiaddr,
    '--protocol-prefix', PROTOCOL_PREFIX,
    '--cpus', String(PEER_CPUS),
    '--memory', PEER_MEMORY,
    '--runtime', 'docker',
    ...daemonArgs(ctx)
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  ctx.restarted.push(child)
  // `after` ends it; should this process end without `after`, it goes too
  process.once('exit', () => { child.kill('SIGKILL') })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })

  return waitFor(async () => {
    if (!isRunning(child)) {
      throw new Error(`the restarted daemon exited with ${child.exitCode ?? child.signalCode}:\n${output}`)
    }

    return /^Control API: \S+$/m.test(output) ? /^Caravela peer (\S+) listening on:$/m.exec(output)?.[1] : undefined
  }, { timeout: START_TIMEOUT, interval: 500, message: () => `the restarted daemon to come up: ${output}` })
}

function daemonArgs (ctx: Context): string[] {
  return ['--publish-ip', '127.0.0.1', '--config', ctx.configFile]
}

function peers (ctx: Context): TestnetPeer[] {
  assert.ok(ctx.testnet, 'the testnet is up')
  return ctx.testnet.peers
}

function peerOf (ctx: Context, status: { supplier: { peerId: string } }): TestnetPeer {
  const peer = peers(ctx).find(peer => peer.peerId === status.supplier.peerId)
  assert.ok(peer, `the container landed on a peer of the testnet, not on ${status.supplier.peerId}`)
  return peer
}

async function stop (buyer: TestnetPeer, ...args: string[]): Promise<StopResult[]> {
  const stopped = await caravela('stop', '--json', '--data-dir', buyer.dataDir, ...args)
  assert.is(stopped.code, 0, `${stopped.stderr}${stopped.stdout}`)
  return JSON.parse(stopped.stdout)
}

const E2E = suite<Context>('docker: end to end', { dir: '', configFile: '', peerIds: [], restarted: [] })

E2E.before(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-docker-e2e-'))
  ctx.configFile = join(ctx.dir, 'fast.toml')
  await writeFile(ctx.configFile, FAST_NETWORK_CONFIG)
})

E2E.after(async (ctx) => {
  try {
    try {
      await Promise.all(ctx.restarted.map(kill))
      await ctx.testnet?.stop()
    } finally {
      // the peers leave their containers running when they stop: remove every one they ran
      for (const id of await allContainers(ctx.peerIds)) {
        await engine('DELETE', `/containers/${id}?force=1`)
      }
    }
  } finally {
    await rm(ctx.dir, { recursive: true, force: true })
  }
})

E2E('the engine answers, has the test image, and three Docker-runtime peers come up', async (ctx) => {
  await requireEngine(IMAGE)

  ctx.testnet = await startTestnet({
    peers: 3,
    dir: join(ctx.dir, 'net'),
    protocolPrefix: PROTOCOL_PREFIX,
    runtime: 'docker',
    cpus: PEER_CPUS,
    memory: PEER_MEMORY,
    extraArgs: daemonArgs(ctx)
  })
  ctx.peerIds = ctx.testnet.peers.map(peer => peer.peerId)
  assert.equal(await allContainers(ctx.peerIds), [], 'no container of these peers yet')
})

E2E('`caravela run -p` places a container whose port answers on 127.0.0.1; `ps` shows it; `stop` removes it from the engine', async (ctx) => {
  const [buyer] = peers(ctx)
  const status = await runContainer(buyer, '-p', '0:8080', '--cpus', '1', '--memory', '128m', IMAGE,
    'sh', '-c', 'mkdir -p /www && echo hello-caravela > /www/index.html && httpd -f -p 8080 -h /www')
  const supplier = peerOf(ctx, status)
  const [port] = status.portMappings
  assert.ok(port?.containerPort === 8080 && port.hostPort > 0, `a host port for 8080: ${JSON.stringify(status.portMappings)}`)
  assert.equal(await allContainers(ctx.peerIds), [status.containerId], 'exactly one container in the engine')

  assert.is((await httpGet(port.hostPort)).trim(), 'hello-caravela')

  const listed = (await ps(buyer)).find(c => c.containerId === status.containerId)
  assert.ok(listed, '`ps` on the buyer lists the container')
  assert.is(listed.state, 'running')
  assert.is(listed.supplier.peerId, supplier.peerId)
  assert.equal(listed.portMappings, status.portMappings)

  const { status: found, body: info } = await inspect(status.containerId)
  assert.is(found, 200)
  assert.ok(info.State.Running, `the engine runs it: ${info.State.Status}`)
  assert.is(info.Config.Image, IMAGE)
  assert.is(info.HostConfig.NanoCpus, 1e9)
  assert.is(info.HostConfig.Memory, 128 * MB)
  assert.is(info.HostConfig.MemorySwap, 128 * MB)
  assert.ok(info.HostConfig.PidsLimit > 0, 'a pids limit')
  assert.is(info.HostConfig.Privileged, false)
  assert.ok(info.HostConfig.SecurityOpt?.includes('no-new-privileges'), `no-new-privileges: ${JSON.stringify(info.HostConfig.SecurityOpt)}`)
  assert.equal(info.HostConfig.PortBindings['8080/tcp'].map((b: any) => b.HostIp), ['127.0.0.1'])
  assert.is(info.Config.Labels['caravela.supplier'], supplier.peerId)
  assert.is(info.Config.Labels['caravela.buyer'], buyer.peerId)
  assert.ok(info.Config.Labels['caravela.request'], 'a request id label')
  assert.ok(info.Config.Labels['caravela.offer'], 'an offer label')

  const results = await stop(buyer, status.containerId.slice(0, 12))
  assert.equal(results.map(r => r.stopped), [true], JSON.stringify(results))
  assert.is((await inspect(status.containerId)).status, 404, 'the engine no longer has it')
  assert.not.ok((await ps(buyer)).some(c => c.containerId === status.containerId), '`ps` no longer lists it')
})

E2E('a request larger than any free capacity fails with one line and creates no container', async (ctx) => {
  const [buyer] = peers(ctx)
  const before = await allContainers(ctx.peerIds)

  const tooBig = await caravela('run', '--data-dir', buyer.dataDir, '--cpus', String(PEER_CPUS), '--memory', '64g', IMAGE, 'sleep', '600')
  assert.is(tooBig.code, 1, tooBig.stderr)
  assert.is(tooBig.stdout, '')
  assert.match(tooBig.stderr, /^caravela: error: [^\n]+\n$/)
  assert.not.match(tooBig.stderr, /^\s+at /m, 'no stack frames')

  assert.equal(await allContainers(ctx.peerIds), before, 'no container was created')
  assert.equal((await ps(buyer)).length, before.length)
})

E2E('a supplier killed with SIGKILL and restarted keeps its peer id and its container, once; the buyer still sees and stops it', async (ctx) => {
  const [buyer, ...others] = peers(ctx)
  const request = ['--cpus', '1', '--memory', '128m', IMAGE, 'sleep', '3600']
  // the buyer may place on itself, but holds PEER_CPUS such containers at most: then one lands elsewhere
  const onBuyer: ContainerStatus[] = []
  let status = await runContainer(buyer, ...request)

  while (status.supplier.peerId === buyer.peerId && onBuyer.length < PEER_CPUS) {
    onBuyer.push(status)
    status = await runContainer(buyer, ...request)
  }

  if (onBuyer.length > 0) {
    assert.ok((await stop(buyer, ...onBuyer.map(c => c.containerId))).every(r => r.stopped), 'the containers on the buyer are stopped')
  }

  const supplier = peerOf(ctx, status)
  assert.ok(others.includes(supplier), 'the container runs on another peer than the buyer')
  assert.equal((await containersOf(supplier.peerId)).map(c => c.Id), [status.containerId])

  const killed = new Promise(resolve => { supplier.process.once('exit', resolve) })
  supplier.process.kill('SIGKILL')
  await killed

  assert.is(await restart(ctx, supplier, buyer), supplier.peerId, 'the restarted peer has the same peer id')

  // the buyer shows the container running on its supplier, and the engine has it exactly once
  let listed: ContainerView | undefined
  await waitFor(async () => {
    listed = (await ps(buyer)).find(c => c.containerId === status.containerId)
    return listed?.state === 'running' && listed.supplier.peerId === supplier.peerId
  }, { timeout: SETTLE_TIMEOUT, interval: 500, message: () => `the buyer to list the container running on the restarted supplier: ${JSON.stringify(listed)}` })

  // a deliberate watch, bounded by WATCH_MS: no duplicate appears and the container is not removed
  for (const deadline = Date.now() + WATCH_MS; Date.now() < deadline; await sleep(1_000)) {
    const owned = await containersOf(supplier.peerId)
    assert.equal(owned.map(c => [c.Id, c.State]), [[status.containerId, 'running']], 'one container of the supplier, still running: no duplicate, no orphan')
  }

  // the restarted supplier accounts the container it runs
  const offers = await caravelaJson<OffersView>('offers', '--data-dir', supplier.dataDir)
  const { available, max } = offers.supplying
  assert.equal([available.cpus, available.memory], [max.cpus - 1, max.memory - 128], `free resources after the restart: ${JSON.stringify(offers.supplying)}`)

  const results = await stop(buyer, status.containerId)
  assert.equal(results.map(r => r.stopped), [true], JSON.stringify(results))
  assert.is((await inspect(status.containerId)).status, 404, 'the engine no longer has it')
  assert.equal(await containersOf(supplier.peerId), [], 'no container of the supplier is left')
  assert.not.ok((await ps(buyer)).some(c => c.containerId === status.containerId), '`ps` no longer lists it')
})

E2E('`caravela deploy`: a co-location stack lands on one supplier, a spread stack on two', async (ctx) => {
  const [buyer] = peers(ctx)
  const before = await allContainers(ctx.peerIds)
  const service = (policy: string): string => [
    `  image: ${IMAGE}`,
    '  args: [sleep, "600"]',
    '  cpus: 1',
    '  memory: 128',
    `  group_policy: ${policy}`
  ].join('\n')

  for (const [stack, policy, suppliers] of [['together', 'co-location', 1], ['apart', 'spread', 2]] as const) {
    const file = join(ctx.dir, `${stack}.yml`)
    await writeFile(file, `first:\n${service(policy)}\nsecond:\n${service(policy)}\n`)

    const deployed = await placeWithRetries<{ stack: string, containers: ContainerStatus[] }>('deploy', '-f', file, '--data-dir', buyer.dataDir)
    assert.is(deployed.stack, stack)
    assert.equal(deployed.containers.map(c => c.name).sort(), ['first', 'second'])
    assert.is(new Set(deployed.containers.map(c => c.supplier.peerId)).size, suppliers, `${policy}: ${deployed.containers.map(c => c.supplier.peerId).join(', ')}`)

    for (const container of deployed.containers) {
      const { status, body: info } = await inspect(container.containerId)
      assert.is(status, 200)
      assert.ok(info.State.Running, `${container.name} runs: ${info.State.Status}`)
      assert.is(info.Config.Labels[LABEL_SUPPLIER], peerOf(ctx, container).peerId)
    }

    const listed = await caravelaJson<ContainerView[]>('ps', '--stack', stack, '--data-dir', buyer.dataDir)
    assert.equal(listed.map(c => c.containerId).sort(), deployed.containers.map(c => c.containerId).sort())

    const results = await stop(buyer, '--stack', stack)
    assert.ok(results.length === 2 && results.every(r => r.stopped), JSON.stringify(results))

    for (const container of deployed.containers) {
      assert.is((await inspect(container.containerId)).status, 404, `${container.name} is removed from the engine`)
    }
  }

  assert.equal(await allContainers(ctx.peerIds), before, 'no container of the stacks is left')
})

E2E.run()
