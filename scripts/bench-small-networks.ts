/**
 * `npm run bench:small-networks`: does a fresh small testnet place what fits? Starts `--networks`
 * fresh testnets of `--peers` peer processes (memory runtime, each peer `--cpus` CPUs and
 * `--memory` of memory, new random identities every time), and as soon as each is up sends
 * `--requests` requests of `--request-cpus` CPUs and `--request-memory` MB through the control
 * API of the peers in turn, one at a time, as a user of `caravela run` would. Prints, per testnet,
 * how many were placed (and why the others were not), then the totals, the messages per request
 * and how many placements had to ask every peer because the traders' offers were not enough.
 *
 * Runs the default configuration unless `--backend` or `--config` say otherwise.
 *
 *   npm run bench:small-networks                                          # 10 × 8 peers of 4 CPUs and 4096 MB, 22 × (1 CPU, 512 MB)
 *   npm run bench:small-networks -- --networks 20 --peers 3 --cpus 2 --memory 2048 --requests 1 --request-cpus 2
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient } from '../src/api/client.js'
import { defaultConfig } from '../src/config/config.js'
import { parseScriptArgs } from './script-args.js'
import { startTestnet } from './testnet-lib.js'
import type { ContainerConfig } from '../src/types.js'

const { values } = parseScriptArgs('bench:small-networks', {
  options: {
    networks: { type: 'string', default: '10' },
    peers: { type: 'string', default: '8' },
    cpus: { type: 'string', default: '4' },
    memory: { type: 'string', default: '4096' },
    requests: { type: 'string', default: '22' },
    'request-cpus': { type: 'string', default: '1' },
    'request-memory': { type: 'string', default: '512' },
    backend: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})

const counts = {
  networks: Number(values.networks),
  peers: Number(values.peers),
  cpus: Number(values.cpus),
  requests: Number(values.requests),
  requestCpus: Number(values['request-cpus']),
  requestMemory: Number(values['request-memory'])
}

for (const [name, value] of Object.entries(counts)) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench:small-networks: --${name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)} must be a whole number ≥ 1`)
    process.exit(2)
  }
}

const log = (line: string): void => { if (!values.json) console.error(line) }
const backend = values.backend ?? (values.config == null ? defaultConfig().network.discoveryBackend : `the one of ${values.config}`)
const request = (i: number): ContainerConfig => ({
  name: `small-${i}`,
  image: 'busybox',
  args: ['sleep', '3600'],
  portMappings: [],
  resources: { cpuClass: 0, cpus: counts.requestCpus, memory: counts.requestMemory },
  groupPolicy: 'spread'
})

interface NetworkResult {
  placed: number
  failed: number
  errors: string[]
  messages: number
  requests: number
  askingEveryPeer: number
  seconds: number
}

const results: NetworkResult[] = []
const dir = await mkdtemp(join(tmpdir(), 'caravela-bench-small-'))

try {
  for (let n = 0; n < counts.networks; n++) {
    const started = performance.now()
    const testnet = await startTestnet({
      peers: counts.peers,
      dir: join(dir, 'testnet'),
      protocolPrefix: `caravela-small-${process.pid}-${n}`,
      runtime: 'memory',
      cpus: counts.cpus,
      memory: values.memory,
      backend: values.backend,
      configFile: values.config
    })
    const result: NetworkResult = { placed: 0, failed: 0, errors: [], messages: 0, requests: 0, askingEveryPeer: 0, seconds: 0 }

    try {
      const clients = await Promise.all(testnet.peers.map(async peer => ApiClient.fromDataDir(peer.dataDir, { timeout: 60_000 })))

      // right away, as a user who has just started the testnet
      for (let i = 0; i < counts.requests; i++) {
        try {
          await clients[i % clients.length].run([request(i)])
          result.placed++
        } catch (err: any) {
          result.failed++
          result.errors.push(`request ${i} from peer ${i % clients.length}: ${err.message}`)
        }
      }

      for (const client of clients) {
        const metrics = (await client.node() as any).metrics
        result.messages += metrics.requests.messages.sum
        result.requests += metrics.requests.messages.count
        result.askingEveryPeer += metrics.requests.askingEveryPeer
      }
    } finally {
      await testnet.stop()
    }

    result.seconds = (performance.now() - started) / 1000
    results.push(result)
    log(`testnet ${n + 1}/${counts.networks}: ${result.placed} of ${counts.requests} placed, ${(result.messages / Math.max(1, result.requests)).toFixed(1)} messages per request, ` +
      `${result.askingEveryPeer} asked every peer (${result.seconds.toFixed(1)} s)${result.errors.length > 0 ? `\n  ${result.errors.join('\n  ')}` : ''}`)
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

const placed = results.reduce((sum, r) => sum + r.placed, 0)
const messages = results.reduce((sum, r) => sum + r.messages, 0)
const requests = results.reduce((sum, r) => sum + r.requests, 0)
const summary = {
  backend,
  networks: counts.networks,
  peers: counts.peers,
  capacityPerPeer: { cpus: counts.cpus, memory: values.memory },
  request: { cpus: counts.requestCpus, memory: counts.requestMemory, count: counts.requests },
  placedPerNetwork: results.map(r => r.placed),
  networksAllPlaced: results.filter(r => r.failed === 0).length,
  placed,
  requested: counts.networks * counts.requests,
  messagesPerRequest: messages / Math.max(1, requests),
  placementsAskingEveryPeer: results.reduce((sum, r) => sum + r.askingEveryPeer, 0),
  errors: results.flatMap(r => r.errors)
}

if (values.json) {
  console.info(JSON.stringify(summary, null, 2))
} else {
  console.info(`${counts.networks} fresh testnets of ${counts.peers} peers (${counts.cpus} CPUs, ${values.memory} MB each; ${backend}), ` +
    `${counts.requests} requests of ${counts.requestCpus} CPU(s) and ${counts.requestMemory} MB each from the peers in turn:`)
  console.info(`placed per testnet: ${summary.placedPerNetwork.join(', ')} (${summary.networksAllPlaced} of ${counts.networks} testnets placed every request; ${placed} of ${summary.requested} in all)`)
  console.info(`messages per request: ${summary.messagesPerRequest.toFixed(2)}; placements that asked every peer: ${summary.placementsAskingEveryPeer}`)
}
