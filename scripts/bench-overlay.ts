/**
 * `npm run bench:overlay`: overlay lookup latency and RPCs per lookup on a 20-peer testnet of
 * separate processes, next to a plain kad-dht `getClosestPeers` measured in the same run.
 *
 * 19 peers run as daemon processes; the 20th runs in this process and measures. For every round it
 * draws a key in a random slice and times, in rotating order: `overlay.lookup(key)` (routing table,
 * cache, then a walk that stops at the first slice member), `overlay.lookup(key, { fresh: true })`
 * (the walk alone) and `getClosestPeers(key)` run to completion (the 20 closest peers).
 *
 * Flags: --peers N (default 20), --rounds N (default 300), --json.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig } from '../src/config/config.js'
import { createCaravelaNode } from '../src/node.js'
import { parseScriptArgs } from './script-args.js'
import { startTestnet } from './testnet-lib.js'
import type { CaravelaNode } from '../src/node.js'
import type { LookupStats } from '../src/types.js'

const PROTOCOL_PREFIX = 'caravela-bench'

interface Sample { ms: number, rpcs: number, local: boolean, inSlice: boolean }

const { values } = parseScriptArgs('bench:overlay', {
  options: {
    peers: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '300' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})
const peers = Number(values.peers)
const rounds = Number(values.rounds)

if (!Number.isInteger(peers) || peers < 3 || !Number.isInteger(rounds) || rounds < 1) {
  console.error('bench:overlay: --peers must be an integer ≥ 3 and --rounds ≥ 1')
  process.exit(2)
}

const dir = await mkdtemp(join(tmpdir(), 'caravela-bench-overlay-'))
const log = (line: string): void => { if (!values.json) console.error(line) }

log(`starting a testnet of ${peers - 1} peer processes…`)
const testnet = await startTestnet({ peers: peers - 1, dir, protocolPrefix: PROTOCOL_PREFIX })
let node: CaravelaNode | undefined

try {
  const config = defaultConfig()
  config.node.listen = ['/ip4/127.0.0.1/tcp/0']
  config.node.protocolPrefix = PROTOCOL_PREFIX
  config.node.bootstrap = [testnet.peers[0].multiaddr]
  node = await createCaravelaNode({ config })
  const caravela = node.services.caravela
  const map = caravela.resourceMap

  // let routing tables settle as they would in a running network
  const settleUntil = Date.now() + 20_000
  while (caravela.status().routingTableSize < peers - 2 && Date.now() < settleUntil) {
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  log(`measuring peer joined; routing table holds ${caravela.status().routingTableSize} of ${peers - 1} peers`)

  const overlaySamples: Sample[] = []
  const walkSamples: Sample[] = []
  const closestSamples: Sample[] = []

  const overlayLookup = async (key: Uint8Array, fresh: boolean): Promise<Sample> => {
    let stats: LookupStats | undefined
    const started = performance.now()
    await caravela.overlay.lookup(key, { fresh, signal: AbortSignal.timeout(30_000), onStats: s => { stats = s } })
    return { ms: performance.now() - started, rpcs: stats?.rpcs ?? 0, local: stats?.source === 'local', inSlice: stats?.inSlice ?? false }
  }

  const closestPeers = async (key: Uint8Array): Promise<Sample> => {
    let rpcs = 0
    const started = performance.now()
    for await (const event of node!.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(30_000) })) {
      if (event.name === 'SEND_QUERY') rpcs++
    }
    return { ms: performance.now() - started, rpcs, local: false, inSlice: false }
  }

  for (let round = -10; round < rounds; round++) {
    const slice = map.slices[Math.floor(Math.random() * map.slices.length)]
    const key = map.randomKeyIn(slice)
    const runs: Array<() => Promise<void>> = [
      async () => { const s = await overlayLookup(key, false); if (round >= 0) overlaySamples.push(s) },
      async () => { const s = await overlayLookup(key, true); if (round >= 0) walkSamples.push(s) },
      async () => { const s = await closestPeers(key); if (round >= 0) closestSamples.push(s) }
    ]
    const offset = ((round % 3) + 3) % 3
    for (let i = 0; i < runs.length; i++) await runs[(i + offset) % runs.length]()
  }

  const summary = (samples: Sample[]): { p50: number, p99: number, mean: number, rpcs: number, local: number, inSlice: number } => {
    const ms = samples.map(s => s.ms).sort((a, b) => a - b)
    const at = (q: number): number => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]
    return {
      p50: at(0.5),
      p99: at(0.99),
      mean: ms.reduce((a, b) => a + b, 0) / ms.length,
      rpcs: samples.reduce((a, s) => a + s.rpcs, 0) / samples.length,
      local: samples.filter(s => s.local).length / samples.length,
      inSlice: samples.filter(s => s.inSlice).length / samples.length
    }
  }

  const overlay = summary(overlaySamples)
  const walk = summary(walkSamples)
  const closest = summary(closestSamples)
  const result = {
    peers,
    rounds,
    routingTableSize: caravela.status().routingTableSize,
    overlayLookup: overlay,
    overlayWalk: walk,
    getClosestPeers: closest,
    ratioP50: overlay.p50 / closest.p50,
    walkRatioP50: walk.p50 / closest.p50
  }

  if (values.json) {
    console.info(JSON.stringify(result, null, 2))
  } else {
    const row = (name: string, s: typeof overlay): string =>
      `${name.padEnd(34)} ${s.p50.toFixed(2).padStart(9)} ${s.p99.toFixed(2).padStart(9)} ${s.rpcs.toFixed(1).padStart(9)} ${(s.local * 100).toFixed(0).padStart(7)}%`
    console.info(`overlay lookup on a ${peers}-peer testnet (${peers - 1} processes + the measuring peer), ${rounds} keys in random slices`)
    console.info(`${'method'.padEnd(34)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'RPCs'.padStart(9)} ${'local'.padStart(8)}`)
    console.info(row('overlay.lookup', overlay))
    console.info(row('overlay.lookup (fresh: walk only)', walk))
    console.info(row('kad-dht getClosestPeers', closest))
    console.info(`ratio p50 overlay.lookup / getClosestPeers: ${result.ratioP50.toFixed(3)}`)
    console.info(`ratio p50 walk only / getClosestPeers:      ${result.walkRatioP50.toFixed(3)}`)
  }
} finally {
  await node?.stop()
  await testnet.stop()
  await rm(dir, { recursive: true, force: true })
}
