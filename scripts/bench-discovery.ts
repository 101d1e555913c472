/**
 * `npm run bench:discovery`: placement latency and throughput on a testnet of peer processes with
 * the memory runtime, measured through the control API as a user's `caravela run` would see it.
 *
 * 0. Warm-up: `--warmup` requests (default 50) one after the other from random peers, not timed:
 *    the peers' code is compiled by then, as in a peer that has run for a while.
 * 1. Latency: `--sequential` requests one after the other, each from a random peer: time from the
 *    API request to the placed container (p50/p99).
 * 2. Throughput: `--burst` requests with `--concurrency` in flight across every peer at once:
 *    placements per second over the whole burst.
 * 3. Messages per request: from every peer's metrics (`GET /v1/node`).
 * 4. What a placement costs the peers, per phase: CPU time of every peer process (utime + stime
 *    of /proc/<pid>/stat before and after, summed over the peers, per placement), the event
 *    loop's delay p99 of each peer (measured afresh at the start of each phase; the worst and the
 *    median peer), and where a placement's time goes at its buyer: lookups, get-offers, launches
 *    and the ledger record (`stageMsPerRequest`; the means exact per phase, the p50 the median
 *    peer's and the p99 the worst peer's, over the buyers' recent placements of the whole run).
 *
 * The peers run the default configuration, as a user's do, so that the figures are the ones a
 * user gets: intervals shortened for the benchmark would add background traffic (offer updates,
 * refreshes) no real network has. `--config FILE` runs them with a configuration file instead,
 * and `--short-intervals` with the shorter supply and refresh intervals earlier runs used
 * (`BENCH_NETWORK_CONFIG`).
 *
 * The benchmark's API clients keep their connections alive (one per peer, reused by its requests):
 * a thousand requests through one client should not each pay a TCP handshake, which a user's
 * `caravela run`, one request per process, cannot avoid.
 *
 * Flags: --peers N (default 8), --warmup N (50), --sequential N (300), --burst N (1000), --concurrency N (32),
 * --cpus C --memory M (capacity of each peer, room for every request of the run; default 512 and
 * 512g: the memory runtime only accounts), --config FILE, --short-intervals, --json.
 *
 * `--nat K` (root only) runs it on a testnet in network namespaces with the last K peers behind
 * NATs, and adds where the placements went (public or NATed buyer and supplier) and how each
 * buyer reached its supplier, from the buyer's connections (`GET /v1/peers`): direct, or relayed
 * when every connection's address has `/p2p-circuit`. The sequential placements are classified
 * just after each one, for the latency of each kind; the share of direct connections counts
 * every buyer–supplier pair of the run, at its end. `--upnp U` gives the routers of the first U
 * NATed peers UPnP; the pairs then tell those peers (`upnp`) from the other NATed ones (`nat`).
 */

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseScriptArgs } from './script-args.js'
import { apiClientOf, BENCH_NETWORK_CONFIG, startTestnet } from './testnet-lib.js'
import type { ApiClient } from '../src/api/client.js'
import type { EventLoopDelay } from '../src/metrics.js'
import type { Distribution } from '../src/roles/stats.js'
import type { ContainerConfig } from '../src/types.js'

const { values } = parseScriptArgs('bench:discovery', {
  options: {
    peers: { type: 'string', default: '8' },
    sequential: { type: 'string', default: '300' },
    burst: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '50' },
    cpus: { type: 'string', default: '512' },
    memory: { type: 'string', default: '512g' },
    nat: { type: 'string' },
    upnp: { type: 'string' },
    config: { type: 'string' },
    'short-intervals': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  },
  strict: true
})
const peers = Number(values.peers)
const sequential = Number(values.sequential)
const burst = Number(values.burst)
const concurrency = Number(values.concurrency)
const warmup = Number(values.warmup)
const nat = values.nat == null ? undefined : Number(values.nat)
const upnp = values.upnp == null ? undefined : Number(values.upnp)

for (const [name, value] of Object.entries({ peers, sequential, burst, concurrency })) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench:discovery: --${name} must be a whole number ≥ 1`)
    process.exit(2)
  }
}

if (!Number.isInteger(warmup) || warmup < 0) {
  console.error('bench:discovery: --warmup must be a whole number ≥ 0')
  process.exit(2)
}

if (nat != null && (!Number.isInteger(nat) || nat < 0 || nat >= peers)) {
  console.error('bench:discovery: --nat must be a whole number below --peers (peer 0 stays public)')
  process.exit(2)
}

if (upnp != null && (nat == null || !Number.isInteger(upnp) || upnp < 0 || upnp > nat)) {
  console.error('bench:discovery: --upnp needs --nat and must be a whole number up to it')
  process.exit(2)
}

if (values.config != null && values['short-intervals']) {
  console.error('bench:discovery: --config and --short-intervals exclude each other')
  process.exit(2)
}

const log = (line: string): void => { if (!values.json) console.error(line) }
const dir = await mkdtemp(join(tmpdir(), 'caravela-bench-discovery-'))
let configFile = values.config
const configuration = configFile ?? (values['short-intervals'] ? 'short intervals (BENCH_NETWORK_CONFIG)' : 'default')

if (values['short-intervals']) {
  configFile = join(dir, 'caravela.toml')
  await writeFile(configFile, BENCH_NETWORK_CONFIG)
}

log(`starting a testnet of ${peers} peer processes with the memory runtime (${values.cpus} CPUs, ${values.memory} each, ${configuration} configuration)${nat == null ? '' : `, ${nat} behind NATs${upnp == null ? '' : `, ${upnp} of them with UPnP`}`}…`)
let testnet

try {
  testnet = await startTestnet({
    peers,
    nat,
    upnp,
    dir: join(dir, 'testnet'),
    protocolPrefix: 'caravela-bench',
    runtime: 'memory',
    cpus: Number(values.cpus),
    memory: values.memory,
    configFile
  })
} catch (err: any) {
  console.error(`bench:discovery: error: ${err.message}`)
  await rm(dir, { recursive: true, force: true })
  process.exit(1)
}

/** one API client per peer, kept alive across the run's requests */
let clients: ApiClient[] = []

/** How a buyer reaches its supplier. */
type Path = 'local' | 'direct' | 'relayed' | 'unconnected'

interface NatReport {
  natPeers: number
  /** NATed peers whose router offers UPnP */
  upnpPeers: number
  /** buyer–supplier pairs of the run, by where each stands (`nat->public`, …, `local`: the buyer itself) */
  pairs: Record<string, number>
  /** the same pairs, by how the buyer reaches the supplier at the end of the run */
  connections: Record<Path, number>
  /** the same pairs by where each stands and how the buyer reaches the supplier */
  pathsByPair: Record<string, Partial<Record<Path, number>>>
  /** direct / (direct + relayed) */
  directShare: number
  /** the sequential placements' latency, by how the buyer reached the supplier just after */
  latencyByPath: Record<string, { placements: number, p50: number, p99: number }>
}

try {
  clients = await Promise.all(testnet.peers.map(async peer => apiClientOf(peer, 60_000, true)))
  const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  /** CPU ms (user + system) every peer process has used so far */
  const cpuMs = (): number[] => testnet.peers.map(peer => {
    // the fields after the command name, which is in parentheses and may hold spaces
    const fields = readFileSync(`/proc/${peer.process.pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / clockTicks
  })
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)
  const metricsNow = async (): Promise<any[]> => Promise.all(clients.map(async client => (await client.node() as any).metrics))
  /** each peer's event-loop delay since the phase began, worst and median p99 */
  const loopDelays = (metrics: any[]): { worstP99: number, medianP99: number, worstMax: number } => {
    const p99s = metrics.map(m => (m.eventLoopDelay as EventLoopDelay).p99).sort((a, b) => a - b)
    return { worstP99: p99s[p99s.length - 1], medianP99: p99s[Math.floor((p99s.length - 1) / 2)], worstMax: Math.max(...metrics.map(m => (m.eventLoopDelay as EventLoopDelay).max)) }
  }
  const stageNames = ['lookup', 'getOffers', 'launch', 'record', 'total'] as const
  /** per stage, the sum and count of every buyer's placements so far */
  const stageTotals = (metrics: any[]): Record<string, { sum: number, count: number }> => Object.fromEntries(stageNames.map(stage => [stage, {
    sum: sum(metrics.map(m => (m.requests.stages[stage] as Distribution).sum)),
    count: sum(metrics.map(m => (m.requests.stages[stage] as Distribution).count))
  }]))
  const indexOf = new Map(testnet.peers.map(peer => [peer.peerId, peer.index]))
  const behindNat = (index: number): boolean => testnet.peers[index].host?.behindNat === true
  /** where a peer stands: public, behind a NAT with UPnP (`upnp`), or without (`nat`) */
  const standing = (index: number): string => testnet.peers[index].host?.upnp === true ? 'upnp' : behindNat(index) ? 'nat' : 'public'
  /** buyer index → supplier indexes it placed on */
  const pairs = new Map<number, Set<number>>()
  const pathOf = async (buyer: number, supplier: number): Promise<Path> => {
    if (buyer === supplier) return 'local'
    const connection = (await clients[buyer].peers()).find(peer => peer.peerId === testnet.peers[supplier].peerId && peer.connected)
    if (connection == null) return 'unconnected'
    return connection.multiaddrs.every(address => address.includes('/p2p-circuit')) ? 'relayed' : 'direct'
  }
  const request = (i: number): ContainerConfig => ({
    name: `bench-${i}`,
    image: 'busybox',
    args: ['sleep', '3600'],
    portMappings: [],
    resources: { cpuClass: 0, cpus: 1, memory: 256 },
    groupPolicy: 'spread'
  })
  const place = async (client: ApiClient, i: number): Promise<{ ms: number, ok: boolean, supplier?: number, error?: string }> => {
    const started = performance.now()

    try {
      const [placed] = await client.run([request(i)])
      const ms = performance.now() - started
      const supplier = indexOf.get(placed.supplier.peerId)
      const buyer = clients.indexOf(client)
      if (supplier != null) pairs.set(buyer, (pairs.get(buyer) ?? new Set()).add(supplier))
      return { ms, ok: true, supplier }
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

  log(`warm-up: ${warmup} placements, one at a time, not timed…`)
  // the peers' hot paths compiled (JIT) before anything is timed: a peer runs for days, and the
  // first placements through each pair of processes say more about V8 than about placing
  for (let i = 0; i < warmup; i++) {
    await place(clients[Math.floor(Math.random() * clients.length)], -100 - i)
  }

  const startMetrics = await metricsNow()
  await Promise.all(clients.map(async client => { await client.resetEventLoopDelay() }))
  const cpuStart = cpuMs()
  log(`latency: ${sequential} placements, one at a time…`)
  const latencies: number[] = []
  const latenciesByPath = new Map<Path, number[]>()
  let sequentialFailed = 0
  for (let i = 0; i < sequential; i++) {
    const buyer = Math.floor(Math.random() * clients.length)
    const result = await place(clients[buyer], i)
    if (result.ok) latencies.push(result.ms)
    else sequentialFailed++
    if (nat != null && result.supplier != null) {
      const path = await pathOf(buyer, result.supplier)
      latenciesByPath.set(path, [...(latenciesByPath.get(path) ?? []), result.ms])
    }
  }

  const cpuSequential = cpuMs()
  const sequentialMetrics = await metricsNow()
  const sequentialLoop = loopDelays(sequentialMetrics)
  await Promise.all(clients.map(async client => { await client.resetEventLoopDelay() }))
  const cpuBurstStart = cpuMs()
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
  const cpuBurst = cpuMs()

  const metrics = await metricsNow()
  const burstLoop = loopDelays(metrics)
  const stagesBefore = stageTotals(startMetrics)
  const stagesSequential = stageTotals(sequentialMetrics)
  const stagesAfter = stageTotals(metrics)
  const mean = (to: Record<string, { sum: number, count: number }>, from: Record<string, { sum: number, count: number }>, stage: string): number =>
    (to[stage].sum - from[stage].sum) / Math.max(1, to[stage].count - from[stage].count)
  const stages = Object.fromEntries(stageNames.map(stage => {
    const p50s = metrics.map(m => (m.requests.stages[stage] as Distribution).p50).sort((a, b) => a - b)
    return [stage, {
      meanSequential: mean(stagesSequential, stagesBefore, stage),
      meanBurst: mean(stagesAfter, stagesSequential, stage),
      p50: p50s[Math.floor((p50s.length - 1) / 2)],
      p99: Math.max(...metrics.map(m => (m.requests.stages[stage] as Distribution).p99))
    }]
  }))
  const offersCache = { hits: sum(metrics.map(m => m.requests.offersCache.hits)), misses: sum(metrics.map(m => m.requests.offersCache.misses)) }
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
  const at = (q: number, values = sorted): number => values[Math.min(values.length - 1, Math.floor(q * values.length))]
  const reportNat = async (natPeers: number): Promise<NatReport> => {
    const pairKinds: Record<string, number> = {}
    const connections: Record<Path, number> = { local: 0, direct: 0, relayed: 0, unconnected: 0 }
    const pathsByPair: Record<string, Partial<Record<Path, number>>> = {}
    for (const [buyer, suppliers] of pairs) {
      for (const supplier of suppliers) {
        const kind = buyer === supplier ? 'local' : `${standing(buyer)}->${standing(supplier)}`
        const path = await pathOf(buyer, supplier)
        pairKinds[kind] = (pairKinds[kind] ?? 0) + 1
        connections[path]++
        pathsByPair[kind] = { ...pathsByPair[kind], [path]: (pathsByPair[kind]?.[path] ?? 0) + 1 }
      }
    }
    return {
      natPeers,
      upnpPeers: upnp ?? 0,
      pairs: pairKinds,
      connections,
      pathsByPair,
      directShare: connections.direct / Math.max(1, connections.direct + connections.relayed),
      latencyByPath: Object.fromEntries([...latenciesByPath].map(([path, values]) => {
        const byPath = values.sort((a, b) => a - b)
        return [path, { placements: byPath.length, p50: at(0.5, byPath), p99: at(0.99, byPath) }]
      }))
    }
  }
  const natReport = nat == null ? undefined : await reportNat(nat)
  const result = {
    peers,
    capacityPerPeer: { cpus: Number(values.cpus), memory: values.memory },
    backend: 'multi-offer-updates',
    latency: { placements: sorted.length, failed: sequentialFailed, p50: at(0.5), p99: at(0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length },
    throughput: { placements: burstPlaced, failed: burstFailed, concurrency, seconds: burstSeconds, perSecond: burstPlaced / burstSeconds },
    configuration,
    warmup,
    apiKeepAlive: clients[0].keepAlive,
    peerCpuMsPerPlacement: {
      sequential: (sum(cpuSequential) - sum(cpuStart)) / Math.max(1, latencies.length + sequentialFailed),
      burst: (sum(cpuBurst) - sum(cpuBurstStart)) / Math.max(1, burst),
      clockTicksPerSecond: clockTicks
    },
    eventLoopDelayMs: { sequential: sequentialLoop, burst: burstLoop },
    stageMs: stages,
    offersCache,
    messagesPerRequest: messages / requests,
    lookupsAnsweredLocally: metrics.reduce((sum, m) => sum + m.lookups.local, 0) / Math.max(1, metrics.reduce((sum, m) => sum + m.lookups.lookups, 0)),
    networkMessagesPerPlacement: Object.fromEntries(Object.entries(perProtocol).map(([name, count]) => [name, count / placements])),
    errors: Object.fromEntries(errors),
    ...(natReport == null ? {} : { nat: natReport })
  }

  if (values.json) {
    console.info(JSON.stringify(result, null, 2))
  } else {
    console.info(`placement on a ${peers}-peer testnet (memory runtime, ${values.cpus} CPUs and ${values.memory} per peer, ${result.backend}), requests of 1 CPU and 256 MB through the control API`)
    console.info(`latency, one at a time:      p50 ${result.latency.p50.toFixed(1)} ms  p99 ${result.latency.p99.toFixed(1)} ms  (${result.latency.placements} placed, ${sequentialFailed} failed)`)
    console.info(`throughput, ${concurrency} in flight:    ${result.throughput.perSecond.toFixed(1)} placements/s  (${burstPlaced} placed, ${burstFailed} failed in ${burstSeconds.toFixed(1)} s)`)
    console.info(`configuration: ${configuration}; ${result.warmup} placements of warm-up, not timed; API client ${result.apiKeepAlive ? 'with keep-alive (one connection per peer, reused)' : 'with a connection per request'}`)
    console.info(`peer CPU per placement (all ${peers} peers): ${result.peerCpuMsPerPlacement.sequential.toFixed(1)} ms one at a time, ${result.peerCpuMsPerPlacement.burst.toFixed(1)} ms in the burst (clock ticks of ${(1000 / clockTicks).toFixed(0)} ms)`)
    console.info(`event-loop delay p99 of the peers: one at a time worst ${sequentialLoop.worstP99.toFixed(1)} ms, median ${sequentialLoop.medianP99.toFixed(1)} ms; burst worst ${burstLoop.worstP99.toFixed(1)} ms, median ${burstLoop.medianP99.toFixed(1)} ms (longest ${burstLoop.worstMax.toFixed(1)} ms)`)
    console.info('stages at the buyers (ms):    mean one at a time / mean burst / p50 (median peer) / p99 (worst peer), whole run')
    for (const stage of stageNames) {
      const st = stages[stage]
      console.info(`  ${stage.padEnd(10)} ${st.meanSequential.toFixed(2).padStart(7)} ${st.meanBurst.toFixed(2).padStart(7)} ${st.p50.toFixed(2).padStart(7)} ${st.p99.toFixed(2).padStart(7)}`)
    }
    console.info(`get-offers answers taken from the buyers' recent ones: ${offersCache.hits} of ${offersCache.hits + offersCache.misses}`)
    console.info(`messages per request:        ${result.messagesPerRequest.toFixed(2)} (sent by the buyer: submission, lookup requests, get-offers, launches); ${(result.lookupsAnsweredLocally * 100).toFixed(0)} % of lookups answered from the routing table`)
    console.info(`all request/response exchanges in the network per placement: ${Object.entries(result.networkMessagesPerPlacement).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')}`)
    if (natReport != null) {
      console.info(`behind NATs: ${nat} of ${peers} peers${upnp == null ? '' : `, ${upnp} of them with UPnP (upnp)`}; buyer->supplier pairs ${Object.entries(natReport.pairs).map(([kind, n]) => `${kind} ${n}`).join(', ')}`)
      console.info(`paths by pair: ${Object.entries(natReport.pathsByPair).map(([kind, paths]) => `${kind} ${Object.entries(paths).map(([path, n]) => `${path} ${n}`).join('/')}`).join(', ')}`)
      console.info(`connections at the end: ${Object.entries(natReport.connections).map(([path, n]) => `${path} ${n}`).join(', ')}; direct share ${(natReport.directShare * 100).toFixed(0)} %`)
      console.info(`latency by path (sequential): ${Object.entries(natReport.latencyByPath).map(([path, l]) => `${path} p50 ${l.p50.toFixed(1)} ms p99 ${l.p99.toFixed(1)} ms (${l.placements})`).join(', ')}`)
    }
    for (const [error, count] of errors) console.info(`  failed ${count}×: ${error}`)
  }
} finally {
  clients.forEach(client => { client.close() })
  await testnet.stop()
  await rm(dir, { recursive: true, force: true })
}
