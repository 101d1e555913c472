/**
 * `caravela logs` and `caravela inspect` with the real Docker engine: a testnet of a buyer (no
 * runtime) and a Docker supplier; the buyer follows the output of a container on the supplier as
 * it is written, and a stranger peer asking the supplier directly over the logs protocol is refused.
 *
 * Run `node scripts/docker-setup.mjs` first (it starts an engine and builds `caravela/busybox:test`);
 * without an engine the suite fails. Every container a peer of this testnet ran is removed in `after`.
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import { CARAVELA, caravela, placeWithRetries } from './fixtures/cli.js'
import { engine, removeSupplierContainers, requireEngine, startDockerPair } from './fixtures/docker-engine.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { Testnet } from '../scripts/testnet-lib.js'
import type { ContainerInspect, ContainerStatus } from '../src/types.js'
import type { Libp2p } from 'libp2p'
import type { ChildProcess } from 'node:child_process'

const IMAGE = 'caravela/busybox:test'
const PROTOCOL_PREFIX = `caravela-test-docker-logs-${randomBytes(4).toString('hex')}`
/** A line a second, numbered. */
const TICKER = 'i=0; while true; do echo line $i; i=$((i+1)); sleep 1; done'
/** Lines the follower must see arrive one by one. */
const FOLLOWED = 4

interface Context {
  dir: string
  testnet?: Testnet
  peerIds: string[]
  follower?: ChildProcess
  stranger?: Libp2p<{ caravela: Libp2pCaravelaClient }>
}

const Logs = suite<Context>('docker: logs and inspect', { dir: '', peerIds: [] })

Logs.before(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-docker-logs-'))
})

Logs.after(async (ctx) => {
  try {
    ctx.follower?.kill('SIGKILL')
    await ctx.stranger?.stop()
    await ctx.testnet?.stop()
  } finally {
    await removeSupplierContainers(ctx.peerIds)

    await rm(ctx.dir, { recursive: true, force: true })
  }
})

Logs('`caravela logs -f` shows a container\'s output on another peer as it is written; a stranger is refused; the follow ends with the container', async (ctx) => {
  await requireEngine(IMAGE)

  ctx.testnet = await startDockerPair(ctx.dir, PROTOCOL_PREFIX)
  ctx.peerIds = ctx.testnet.peers.map(peer => peer.peerId)
  const [buyer, supplier] = ctx.testnet.peers

  const status = await placeWithRetries<ContainerStatus>('run', '--data-dir', buyer.dataDir, '--cpus', '1', '--memory', '64m', IMAGE, 'sh', '-c', TICKER)
  assert.is(status.supplier.peerId, supplier.peerId)
  const shortId = status.containerId.slice(0, 12)

  // -f: lines arrive as the container writes them, about a second apart
  const arrivals: Array<{ line: string, at: number }> = []
  const follower = ctx.follower = spawn(process.execPath, [CARAVELA, 'logs', '-f', '--data-dir', buyer.dataDir, shortId], { stdio: ['ignore', 'pipe', 'pipe'] })
  let pending = ''
  let errors = ''
  follower.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8')
    let end: number

    while ((end = pending.indexOf('\n')) >= 0) {
      arrivals.push({ line: pending.slice(0, end), at: Date.now() })
      pending = pending.slice(end + 1)
    }
  })
  follower.stderr?.on('data', (chunk: Buffer) => { errors += chunk.toString('utf8') })
  const exited = new Promise<number | null>(resolve => { follower.once('exit', code => { resolve(code) }) })

  await waitFor(() => arrivals.length > 0, { timeout: 20_000, message: () => `the first line of the logs: ${errors}` })
  // what was written before the follower started comes at once, maybe in pieces: count from a
  // line written after it started
  await sleep(300)
  const first = arrivals.length + 1
  await waitFor(() => arrivals.length >= first + FOLLOWED, { timeout: 20_000, interval: 100, message: () => `${FOLLOWED} more lines: ${JSON.stringify(arrivals)} ${errors}` })
  const numbers = arrivals.map(({ line }) => Number(/^line (\d+)$/.exec(line)?.[1]))
  assert.equal(numbers, numbers.map((_, i) => numbers[0] + i), `consecutive lines: ${JSON.stringify(arrivals)}`)
  const gaps = arrivals.slice(first).map(({ at }, i) => at - arrivals[first + i - 1].at)
  assert.ok(gaps.every(gap => gap > 500 && gap < 1_700), `lines arrive about 1 s apart, as written: ${JSON.stringify(gaps)} ms`)

  // without -f: what was written so far, the last lines only with --tail
  const tail = await caravela('logs', '--tail', '2', '--data-dir', buyer.dataDir, shortId)
  assert.is(tail.code, 0, tail.stderr)
  assert.is(tail.stdout.trim().split('\n').length, 2, tail.stdout)
  assert.match(tail.stdout, /^line \d+\nline \d+\n$/)

  const inspected = await caravela('inspect', '--data-dir', buyer.dataDir, shortId)
  assert.is(inspected.code, 0, inspected.stderr)
  const view: ContainerInspect = JSON.parse(inspected.stdout)
  assert.is(view.containerId, status.containerId)
  assert.equal(view.args, ['sh', '-c', TICKER])
  assert.equal(view.remote, { containerId: status.containerId, state: 'running' })

  // a stranger, asking the supplier directly over the protocol, is refused
  ctx.stranger = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { caravela: (components: any) => new Libp2pCaravelaClient(components, { protocolPrefix: PROTOCOL_PREFIX }) }
  })
  const refusal = await ctx.stranger.services.caravela.containerLogs({ peerId: supplier.peerId, multiaddrs: [supplier.multiaddr.replace(/\/p2p\/\w+$/, '')] }, status.containerId)
    .then(() => undefined, (err: any) => err)
  assert.is(refusal?.name, 'RemoteRequestError', String(refusal))
  assert.is(refusal.status, 'REFUSED')

  // the follow ends when the container does
  const stopped = await caravela('stop', '--data-dir', buyer.dataDir, shortId)
  assert.is(stopped.code, 0, stopped.stderr)
  const code = await Promise.race([exited, sleep(15_000).then(() => 'still running')])
  assert.is(code, 0, `caravela logs -f ended with the container: ${errors}`)
})

Logs('`caravela logs` of a container that crashed: its supplier keeps it stopped, the buyer reads its output and `inspect` shows its exit; `stop` removes it', async (ctx) => {
  const [buyer, supplier] = ctx.testnet?.peers ?? []
  assert.ok(buyer != null && supplier != null, 'the testnet of the first test')
  const placed = await caravela('run', '--json', '--data-dir', buyer.dataDir, '--cpus', '1', '--memory', '64m', IMAGE, 'sh', '-c', 'echo boom; echo oops >&2; sleep 1; exit 3')
  assert.is(placed.code, 0, `caravela run: ${placed.stderr}`)
  const { containerId }: ContainerStatus = JSON.parse(placed.stdout)
  const inspect = async (): Promise<ContainerInspect> => JSON.parse((await caravela('inspect', '--data-dir', buyer.dataDir, containerId)).stdout)

  let view: ContainerInspect | undefined
  await waitFor(async () => (view = await inspect()).state === 'exited (3)', { timeout: 30_000, interval: 500, message: () => `the buyer hears of the exit: ${JSON.stringify(view)}` })
  assert.is(view?.exitCode, 3)
  assert.type(view?.finishedAt, 'number')
  assert.equal(view?.remote, { containerId, state: 'exited', exitCode: 3 })

  const logs = await caravela('logs', '--data-dir', buyer.dataDir, containerId.slice(0, 12))
  assert.is(logs.code, 0, logs.stderr)
  assert.is(logs.stdout, 'boom\n')
  assert.match(logs.stderr, /oops/)
  const kept = await engine('GET', `/containers/${containerId}/json`)
  assert.is(kept.status, 200, 'the engine keeps the stopped container')
  assert.is(kept.body.State.Status, 'exited')

  const stopped = await caravela('stop', '--data-dir', buyer.dataDir, containerId)
  assert.is(stopped.code, 0, stopped.stderr)
  await waitFor(async () => (await engine('GET', `/containers/${containerId}/json`)).status === 404, { timeout: 10_000, message: () => 'stop removes the kept container' })
})

Logs('`caravela logs -f` goes on across a restart of the supplier: no line twice, none missing', async (ctx) => {
  const testnet = ctx.testnet as Testnet
  const [buyer] = testnet.peers
  const placed = await caravela('run', '--json', '--data-dir', buyer.dataDir, '--cpus', '1', '--memory', '64m', IMAGE, 'sh', '-c', TICKER)
  assert.is(placed.code, 0, `caravela run: ${placed.stderr}`)
  const { containerId }: ContainerStatus = JSON.parse(placed.stdout)
  const lines: string[] = []
  const follower = ctx.follower = spawn(process.execPath, [CARAVELA, 'logs', '-f', '--data-dir', buyer.dataDir, containerId], { stdio: ['ignore', 'pipe', 'pipe'] })
  let pending = ''
  let errors = ''
  follower.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8')
    const complete = pending.split('\n')
    pending = complete.pop() ?? ''
    lines.push(...complete)
  })
  follower.stderr?.on('data', (chunk: Buffer) => { errors += chunk.toString('utf8') })
  const exited = new Promise<number | null>(resolve => { follower.once('exit', code => { resolve(code) }) })
  await waitFor(() => lines.length >= 2, { timeout: 20_000, message: () => `the first lines: ${errors}` })

  // the supplier crashes and comes back; its container ran on in the engine
  await testnet.kill(1)
  await testnet.restart(1)
  const seen = lines.length
  await waitFor(() => lines.length >= seen + 3, { timeout: 45_000, interval: 200, message: () => `lines after the restart: ${JSON.stringify(lines)} ${errors}` })
  const numbers = lines.map(line => Number(/^line (\d+)$/.exec(line)?.[1]))
  assert.equal(numbers, numbers.map((_, i) => i), `every line once, in order: ${JSON.stringify(lines)}`)

  const stopped = await caravela('stop', '--data-dir', buyer.dataDir, containerId)
  assert.is(stopped.code, 0, stopped.stderr)
  assert.is(await Promise.race([exited, sleep(15_000).then(() => 'still running')]), 0, errors)
})

Logs.run()
