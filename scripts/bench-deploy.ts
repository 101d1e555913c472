/**
 * `npm run bench:deploy`: deploy latency (request → container running) through Caravela on a
 * 3-peer testnet with the Docker runtime, next to a bare `docker run` on the same engine, in the
 * same run.
 *
 * Every round times four ways of starting the same container (`caravela/busybox:test` running
 * `sleep 3600` with 1 CPU and 128 MB), in an order that alternates from round to round:
 *
 * 1. `caravela run` from peer 0: the `node bin/caravela.js run` process, from spawn to exit;
 * 2. `docker run -d`: the `docker` CLI process, from spawn to exit (both include a CLI start);
 * 3. Caravela's control API alone: `POST /v1/containers` through `ApiClient`;
 * 4. the engine API alone: `POST /containers/create` and `POST /containers/{id}/start` on its socket.
 *
 * and, to tell the CLIs' own start-up apart, `caravela --help` and `docker --version` (no container).
 *
 * Each container is removed after it was measured (not timed): Caravela's through `caravela stop`'s
 * API call, so that its supplier gets its resources back, the others through the engine API.
 * Ports are not published, so nothing leaves 127.0.0.1.
 *
 * Flags: --rounds N (default 30), --json. Needs the engine and the image of
 * `node scripts/docker-setup.mjs`.
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient } from '../src/api/client.js'
import { DEFAULT_DOCKER_SOCKET } from '../src/runtime/docker-runtime.js'
import { parseScriptArgs } from './script-args.js'
import { BENCH_NETWORK_CONFIG, startTestnet } from './testnet-lib.js'
import type { ContainerConfig, ContainerStatus } from '../src/types.js'

const IMAGE = 'caravela/busybox:test'
const ARGS = ['sleep', '3600']
const CPUS = 1
const MEMORY_MB = 128
const PEERS = 3
const CARAVELA = 'bin/caravela.js'
/** Label of the containers this benchmark starts with Docker directly, to remove them. */
const BENCH_LABEL = 'caravela.bench'
/** Target: Caravela's p50 at most this many times a bare `docker run`'s. */
const TARGET_RATIO = 1.1
/** Longest time one measured command or request may take. */
const STEP_TIMEOUT = 60_000
/** Attempts, half a second apart, at the first placement while the suppliers' offers go out. */
const WARM_UP_ATTEMPTS = 60

const METHODS = {
  caravelaCli: 'caravela run (CLI process, spawn → exit)',
  dockerCli: 'docker run -d (CLI process, spawn → exit)',
  caravelaApi: 'Caravela API POST /v1/containers',
  engineApi: 'engine API create + start',
  caravelaStart: 'caravela --help (CLI start alone)',
  dockerStart: 'docker --version (CLI start alone)'
} as const

type Method = keyof typeof METHODS
const METHOD_KEYS = Object.keys(METHODS) as Method[]

interface Stats {
  samples: number
  failed: number
  p50: number
  p99: number
  mean: number
  min: number
  max: number
}

const { values } = parseScriptArgs('bench:deploy', {
  options: {
    rounds: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})
const rounds = Number(values.rounds)

if (!Number.isInteger(rounds) || rounds < 1) {
  console.error('bench:deploy: --rounds must be a whole number ≥ 1')
  process.exit(2)
}

const log = (line: string): void => { if (!values.json) console.error(line) }
const benchId = randomBytes(4).toString('hex')

/** One request to the engine API on its socket, on a connection of its own. */
async function engine (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body)

  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: DEFAULT_DOCKER_SOCKET,
      method,
      path,
      agent: false,
      timeout: STEP_TIMEOUT,
      headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
    }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: any = text
        try { parsed = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`the engine did not answer ${method} ${path} within ${STEP_TIMEOUT / 1000} s`)) })
    req.on('error', reject)
    req.end(payload)
  })
}

/** Runs a command to its end; `ms` is the time from spawn to exit. */
async function timeProcess (command: string, args: string[]): Promise<{ ms: number, code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: STEP_TIMEOUT })
    let ms = 0
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.once('exit', () => { ms = performance.now() - started })
    child.once('error', reject)
    child.once('close', code => { resolve({ ms, code, stdout, stderr }) })
  })
}

async function timed<T> (fn: () => Promise<T>): Promise<{ ms: number, value: T }> {
  const started = performance.now()
  const value = await fn()
  return { ms: performance.now() - started, value }
}

/** Nearest-rank percentile of sorted samples. */
function percentile (sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]
}

/** Milliseconds to 0.01 ms. */
function round (ms: number): number {
  return Math.round(ms * 100) / 100
}

function stats (samples: number[], failed: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    samples: sorted.length,
    failed,
    p50: round(percentile(sorted, 0.5)),
    p99: round(percentile(sorted, 0.99)),
    mean: round(sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length),
    min: round(sorted[0]),
    max: round(sorted[sorted.length - 1])
  }
}

function firstLine (text: string): string {
  return text.split('\n').find(line => line.trim() !== '') ?? '(no output)'
}

const ping = await engine('GET', '/_ping').catch((err: Error) => ({ status: 0, body: err.message }))
if (ping.status !== 200 || (await engine('GET', `/images/${IMAGE}/json`)).status !== 200) {
  console.error(`bench:deploy: no Docker engine with ${IMAGE} answers on ${DEFAULT_DOCKER_SOCKET} (${String(ping.body).trim()}): run \`node scripts/docker-setup.mjs\` (as root) first`)
  process.exit(1)
}
const engineVersion: string = (await engine('GET', '/version')).body.Version

const dir = await mkdtemp(join(tmpdir(), 'caravela-bench-deploy-'))
const configFile = join(dir, 'caravela.toml')
await writeFile(configFile, BENCH_NETWORK_CONFIG)

log(`starting a testnet of ${PEERS} peer processes with the Docker runtime (engine ${engineVersion})…`)
const testnet = await startTestnet({
  peers: PEERS,
  dir: join(dir, 'testnet'),
  protocolPrefix: `caravela-bench-deploy-${benchId}`,
  runtime: 'docker',
  cpus: 2,
  memory: '2g',
  extraArgs: ['--publish-ip', '127.0.0.1', '--config', configFile]
})

try {
  const [buyer] = testnet.peers
  const client = await ApiClient.fromDataDir(buyer.dataDir, { timeout: STEP_TIMEOUT })
  const request: ContainerConfig = {
    name: '',
    image: IMAGE,
    args: ARGS,
    portMappings: [],
    resources: { cpuClass: 0, cpus: CPUS, memory: MEMORY_MB },
    groupPolicy: 'spread'
  }
  const cliArgs = ['--cpus', String(CPUS), '--memory', `${MEMORY_MB}m`, IMAGE, ...ARGS]
  const engineCreate = {
    Image: IMAGE,
    Cmd: ARGS,
    Labels: { [BENCH_LABEL]: benchId },
    HostConfig: { NanoCpus: CPUS * 1e9, Memory: MEMORY_MB * 1024 * 1024, MemorySwap: MEMORY_MB * 1024 * 1024 }
  }
  const samples = Object.fromEntries(METHOD_KEYS.map(method => [method, [] as number[]])) as Record<Method, number[]>
  const failures = Object.fromEntries(METHOD_KEYS.map(method => [method, [] as string[]])) as Record<Method, string[]>
  /** placements by where they landed */
  const landed = { buyer: 0, other: 0 }

  const removeFromCaravela = async (status: ContainerStatus): Promise<void> => {
    landed[status.supplier.peerId === buyer.peerId ? 'buyer' : 'other']++
    const [result] = await client.stop([status.containerId])
    if (!result.stopped) throw new Error(`caravela stop ${status.containerId}: ${result.error ?? 'not stopped'}`)
  }
  const removeFromEngine = async (id: string): Promise<void> => {
    const removed = await engine('DELETE', `/containers/${id}?force=1`)
    if (removed.status !== 204) throw new Error(`removing ${id}: HTTP ${removed.status} ${JSON.stringify(removed.body)}`)
  }

  const measure: Record<Method, () => Promise<void>> = {
    caravelaCli: async () => {
      const run = await timeProcess(process.execPath, [CARAVELA, 'run', '--json', '--data-dir', buyer.dataDir, ...cliArgs])
      if (run.code !== 0) throw new Error(firstLine(run.stderr))
      samples.caravelaCli.push(run.ms)
      await removeFromCaravela(JSON.parse(run.stdout))
    },
    dockerCli: async () => {
      const run = await timeProcess('docker', ['run', '-d', '--label', `${BENCH_LABEL}=${benchId}`, '--cpus', String(CPUS), '--memory', `${MEMORY_MB}m`, '--memory-swap', `${MEMORY_MB}m`, IMAGE, ...ARGS])
      if (run.code !== 0) throw new Error(firstLine(run.stderr))
      samples.dockerCli.push(run.ms)
      await removeFromEngine(run.stdout.trim())
    },
    caravelaApi: async () => {
      const { ms, value: [status] } = await timed(async () => client.run([request]))
      samples.caravelaApi.push(ms)
      await removeFromCaravela(status)
    },
    engineApi: async () => {
      let id = ''
      const { ms } = await timed(async () => {
        const created = await engine('POST', '/containers/create', engineCreate)
        if (created.status !== 201) throw new Error(`create: HTTP ${created.status} ${JSON.stringify(created.body)}`)
        id = created.body.Id
        const started = await engine('POST', `/containers/${id}/start`)
        if (started.status !== 204) throw new Error(`start: HTTP ${started.status} ${JSON.stringify(started.body)}`)
      }).finally(async () => { if (id !== '') await removeFromEngine(id) })
      samples.engineApi.push(ms)
    },
    caravelaStart: async () => {
      const run = await timeProcess(process.execPath, [CARAVELA, '--help'])
      if (run.code !== 0) throw new Error(firstLine(run.stderr))
      samples.caravelaStart.push(run.ms)
    },
    dockerStart: async () => {
      const run = await timeProcess('docker', ['--version'])
      if (run.code !== 0) throw new Error(firstLine(run.stderr))
      samples.dockerStart.push(run.ms)
    }
  }

  // not timed: until the suppliers' offers are out, then once more each way (first-call costs)
  log('waiting for the suppliers\' offers…')
  for (let attempt = 1; ; attempt++) {
    try {
      await removeFromCaravela((await client.run([request]))[0])
      break
    } catch (err: any) {
      if (attempt >= WARM_UP_ATTEMPTS) throw new Error(`no placement succeeded in ${WARM_UP_ATTEMPTS} attempts: ${err.message}`)
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  }
  for (const method of METHOD_KEYS) await measure[method]()
  for (const method of METHOD_KEYS) samples[method] = []
  landed.buyer = landed.other = 0

  log(`measuring ${rounds} rounds, each way once per round, in alternating order…`)
  const orders: Method[][] = [
    ['caravelaCli', 'dockerCli', 'caravelaApi', 'engineApi', 'caravelaStart', 'dockerStart'],
    ['dockerCli', 'caravelaCli', 'engineApi', 'caravelaApi', 'dockerStart', 'caravelaStart']
  ]
  for (let round = 0; round < rounds; round++) {
    for (const method of orders[round % orders.length]) {
      await measure[method]().catch((err: Error) => { failures[method].push(err.message) })
    }
  }

  const results = Object.fromEntries(METHOD_KEYS.map(method => [method, stats(samples[method], failures[method].length)])) as Record<Method, Stats>
  const cliRatio = results.caravelaCli.p50 / results.dockerCli.p50
  const apiRatio = results.caravelaApi.p50 / results.engineApi.p50
  const report = {
    date: new Date().toISOString(),
    peers: PEERS,
    engine: engineVersion,
    rounds,
    container: { image: IMAGE, args: ARGS, cpus: CPUS, memoryMb: MEMORY_MB },
    results,
    ratios: { cliP50: round(cliRatio), apiP50: round(apiRatio) },
    target: { cliP50Ratio: TARGET_RATIO, met: cliRatio <= TARGET_RATIO },
    caravelaPlacements: { onTheBuyer: landed.buyer, onAnotherPeer: landed.other },
    errors: Object.fromEntries(Object.entries(failures).filter(([, list]) => list.length > 0))
  }

  if (values.json) {
    console.info(JSON.stringify(report, null, 2))
  } else {
    const row = (cells: string[]): string => cells.map((cell, i) => i === 0 ? cell.padEnd(44) : cell.padStart(9)).join('')
    const ms = (value: number): string => Number.isFinite(value) ? value.toFixed(1) : '-'
    console.info(`deploy latency on a ${PEERS}-peer testnet (Docker runtime, engine ${engineVersion}): ${IMAGE} \`${ARGS.join(' ')}\`, ${CPUS} CPU ${MEMORY_MB} MB, ${rounds} rounds each, interleaved`)
    console.info(row(['method', 'p50 ms', 'p99 ms', 'mean ms', 'failed']))
    for (const method of METHOD_KEYS) {
      const s = results[method]
      console.info(row([METHODS[method], ms(s.p50), ms(s.p99), ms(s.mean), String(s.failed)]))
    }
    console.info(`caravela run p50 / docker run -d p50: ${cliRatio.toFixed(2)}× (target ≤ ${TARGET_RATIO}×: ${report.target.met ? 'met' : 'NOT met'})`)
    console.info(`Caravela API p50 / engine API p50:    ${apiRatio.toFixed(2)}×`)
    console.info(`Caravela placed ${landed.buyer} containers on the buyer's own peer and ${landed.other} on another peer`)
    for (const [method, list] of Object.entries(report.errors)) console.info(`  ${method} failed ${list.length}×, first: ${list[0]}`)
  }
} finally {
  await testnet.stop()
  // whatever a failed step left behind: the peers' containers and our own
  const labels = [...testnet.peers.map(peer => `caravela.supplier=${peer.peerId}`), `${BENCH_LABEL}=${benchId}`]
  for (const label of labels) {
    const listed = await engine('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`)
    for (const container of listed.body as Array<{ Id: string }>) await engine('DELETE', `/containers/${container.Id}?force=1`)
  }
  await rm(dir, { recursive: true, force: true })
}
