/**
 * `npm run bench:discovery`: placement latency and throughput on a testnet of peer processes with
 * the memory runtime, measured through the control API as a user's `caravela run` would see it.
 *
 * 1. Latency: `--sequential` requests one after the other, each from a random peer: time from the
 *    API request to the placed container (p50/p99).
 * 2. Throughput: `--burst` requests with `--concurrency` in flight across every peer at once:
 *    placements per second over the whole burst.
 * 3. Messages per request: from every peer's metrics (`GET /v1/node`).
 *
 * Flags: --peers N (default 8), --sequential N (300), --burst N (1000), --concurrency N (32),
 * --cpus C --memory M (capacity of each peer, room for every request of the run; default 512 and
 * 512g: the memory runtime only accounts), --json.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ApiClient } from '../src/api/client.js'
import { BENCH_NETWORK_CONFIG, startTestnet } from './testnet-lib.js'
import type { ContainerConfig } from '../src/types.js'

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '8' },
    sequential: { type: 'string', default: '300' },
    burst: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    cpus: { type: 'string', default: '512' },
    memory: { type: 'string', default: '512g' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})
const peers = Number(values.peers)
const sequential = Number(values.sequential)
const burst = Number(values.burst)
const concurrency = Number(values.concurrency)

for (const [name, value] of Object.entries({ peers, sequential, burst, concurrency })) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench:discovery: --${name} must be a whole number ≥ 1`)
    process.exit(2)
  }
}

const log = (line: string): void => { if (!values.json) console.error(line) }
const dir = await mkdtemp(join(tmpdir(), 'caravela-bench-discovery-'))
const configFile = join(dir, 'caravela.toml')
await writeFile(configFile, BENCH_NETWORK_CONFIG)

log(`starting a testnet of ${peers} peer processes with the memory runtime (${values.cpus} CPUs, ${values.memory} each)…`)
const testnet = await startTestnet({
  peers,
  dir: join(dir, 'testnet'),
  protocolPrefix: 'caravela-bench',
  runtime: 'memory',
  cpus: Number(values.cpus),
  memory: values.memory,
  extraArgs: ['--config', configFile]
})

try {
  const clients = await Promise.all(testnet.peers.map(async peer => ApiClient.fromDataDir(peer.dataDir, { timeout: 60_000 })))
  const request = (i: number): ContainerConfig => ({
    name: `bench-${i}`,
    image: 'busybox',
    args: ['sleep', '3600'],
    portMappings: [],
    resources: { cpuClass: 0, cpus: 1, memory: 256 },
    groupPolicy: 'spread'
  })
  const place = async (client: ApiClient, i: number): Promise<{ ms: number, ok: boolean, error?: string }> => {
    const started = performance.now()

    try {
      await client.run([request(i)])
      return { ms: performance.now() - started, ok: true }
    } catch (err: any) {
      return { ms: performance.now() - started, ok: false, error: err.message }
    }
  }

  // wait until every peer's offers are out: one placement per peer must succeed
  const ready = Date.now() + 60_000
  while (Date.now() < ready) {
    const probes = await Promise.all(clients.map(async (client, i) => place(client, -1 - i)))
    if (probes.every(p => p.ok)) break
    await new Promise(resolve => setTimeout(resolve, 500))
  }

  log(`latency: ${sequential} placements, one at a time…`)
  const latencies: number[] = []
  let sequentialFailed = 0
  for (let i = 0; i < sequential; i++) {
    const result = await place(clients[Math.floor(Math.random() * clients.length)], i)
    if (result.ok) latencies.push(result.ms)
    else sequentialFailed++
  }

  log(`throughput: ${burst} placements, ${concurrency} in flight…`)
  let next = 0
  let burstPlaced = 0
  let burstFailed = 0
  const errors = new Map<string, number>()
  const burstStarted = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (next < burst) {
      const i = next++
      const result = await place(clients[(worker + i) % clients.length], sequential + i)
      if (result.ok) {
        burstPlaced++
      } else {
        burstFailed++
        errors.set(result.error ?? '?', (errors.get(result.error ?? '?') ?? 0) + 1)
      }
    }
  }))
  const burstSeconds = (performance.now() - burstStarted) / 1000

  const metrics = await Promise.all(clients.map(async client => (await client.node() as any).metrics))
  const requests = metrics.reduce((sum, m) => sum + m.requests.messages.count, 0)
  const messages = metrics.reduce((sum, m) => sum + m.requests.messages.sum, 0)
  // every message of the run, background traffic (offer updates, refreshes) included, per placement
  const placements = latencies.length + burstPlaced
  const perProtocol: Record<string, number> = {}
  for (const m of metrics) {
    for (const [name, counters] of Object.entries(m.protocols as Record<string, { messagesSent: number, messagesReceived: number }>)) {
      // a request is sent by a client and received by a server: count each once, at the receiver
      perProtocol[name] = (perProtocol[name] ?? 0) + counters.messagesReceived / 2
    }
  }
  const sorted = latencies.sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  const result = {
    peers,
    capacityPerPeer: { cpus: Number(values.cpus), memory: values.memory },
    backend: 'multi-offer-updates',
    latency: { placements: sorted.length, failed: sequentialFailed, p50: at(0.5), p99: at(0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length },
    throughput: { placements: burstPlaced, failed: burstFailed, concurrency, seconds: burstSeconds, perSecond: burstPlaced / burstSeconds },
    messagesPerRequest: messages / requests,
    lookupsAnsweredLocally: metrics.reduce((sum, m) => sum + m.lookups.local, 0) / Math.max(1, metrics.reduce((sum, m) => sum + m.lookups.lookups, 0)),
    networkMessagesPerPlacement: Object.fromEntries(Object.entries(perProtocol).map(([name, count]) => [name, count / placements])),
    errors: Object.fromEntries(errors)
  }

  if (values.json) {
    console.info(JSON.stringify(result, null, 2))
  } else {
    console.info(`placement on a ${peers}-peer testnet (memory runtime, ${values.cpus} CPUs and ${values.memory} per peer, ${result.backend}), requests of 1 CPU and 256 MB through the control API`)
    console.info(`latency, one at a time:      p50 ${result.latency.p50.toFixed(1)} ms  p99 ${result.latency.p99.toFixed(1)} ms  (${result.latency.placements} placed, ${sequentialFailed} failed)`)
    console.info(`throughput, ${concurrency} in flight:    ${result.throughput.perSecond.toFixed(1)} placements/s  (${burstPlaced} placed, ${burstFailed} failed in ${burstSeconds.toFixed(1)} s)`)
    console.info(`messages per request:        ${result.messagesPerRequest.toFixed(2)} (sent by the buyer: submission, lookup requests, get-offers, launches); ${(result.lookupsAnsweredLocally * 100).toFixed(0)} % of lookups answered from the routing table`)
    console.info(`all request/response exchanges in the network per placement: ${Object.entries(result.networkMessagesPerPlacement).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')}`)
    for (const [error, count] of errors) console.info(`  failed ${count}×: ${error}`)
  }
} finally {
  await testnet.stop()
  await rm(dir, { recursive: true, force: true })
}
