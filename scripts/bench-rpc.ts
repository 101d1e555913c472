/**
 * `npm run bench:rpc`: the cost of one Caravela RPC (`obtainConfiguration`) on a reused stream,
 * next to the same RPC on a new stream per call, measured in the same run.
 *
 * Two Caravela peers in this process, each `createCaravelaNode` with the default configuration
 * (TCP on 127.0.0.1, a LevelDB datastore in a temporary directory); the second joins the first.
 * The second peer's own client (streams reused) and a client with `reuseStreams: false` (a stream
 * opened, half-closed and closed per call, as before streams were reused) alternate, one call
 * each per round, the first of the pair changing every round. Per call: the wall time and the
 * process CPU time (both peers, user + system). Calls are paced below the server's rate limit per
 * peer and protocol (100/s).
 *
 * Flags: --rounds N (default 1000), --warmup N (default 50), --json.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig } from '../src/config/config.js'
import { createCaravelaNode } from '../src/node.js'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import { RATE_LIMIT_PER_SECOND } from '../src/protocols/constants.js'
import { parseScriptArgs } from './script-args.js'
import type { CaravelaConfig } from '../src/config/types.js'
import type { CaravelaNode } from '../src/node.js'
import type { NodeRef } from '../src/types.js'

const PROTOCOL_PREFIX = 'caravela-bench-rpc'

const { values } = parseScriptArgs('bench:rpc', {
  options: {
    rounds: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '50' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})
const rounds = Number(values.rounds)
const warmup = Number(values.warmup)

if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(warmup) || warmup < 0) {
  console.error('bench:rpc: --rounds must be a whole number ≥ 1 and --warmup ≥ 0')
  process.exit(2)
}

interface Stats { p50: number, p99: number, mean: number }
interface ModeResult { ms: Stats, cpuUs: Stats, streamsOpened: number }

const log = (line: string): void => { if (!values.json) console.error(line) }
// two calls per round on one protocol, from one peer: keep under its rate (90 %)
const roundMs = 2 * 1000 / (0.9 * RATE_LIMIT_PER_SECOND)

function config (bootstrap: string[]): CaravelaConfig {
  const c = defaultConfig()
  c.node.listen = ['/ip4/127.0.0.1/tcp/0']
  c.node.protocolPrefix = PROTOCOL_PREFIX
  c.node.bootstrap = bootstrap
  c.node.mdns = false
  return c
}

/** Nearest-rank percentile of sorted samples. */
function percentile (sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]
}

function stats (samples: number[], digits: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b)
  const round = (n: number): number => Math.round(n * 10 ** digits) / 10 ** digits
  return { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), mean: round(sorted.reduce((sum, n) => sum + n, 0) / sorted.length) }
}

const dirs: string[] = []
const nodes: CaravelaNode[] = []

try {
  const serverDir = await mkdtemp(join(tmpdir(), 'caravela-bench-rpc-'))
  const clientDir = await mkdtemp(join(tmpdir(), 'caravela-bench-rpc-'))
  dirs.push(serverDir, clientDir)
  const server = await createCaravelaNode({ config: config([]), dataDir: serverDir })
  nodes.push(server)
  const client = await createCaravelaNode({
    config: config([server.getMultiaddrs()[0].toString()]),
    dataDir: clientDir,
    libp2p: {
      services: {
        oneShot: (components: any) => new Libp2pCaravelaClient(components, { protocolPrefix: PROTOCOL_PREFIX, reuseStreams: false })
      }
    }
  })
  nodes.push(client)
  const target: NodeRef = { peerId: server.peerId.toString(), multiaddrs: server.getMultiaddrs().map(a => a.toString()) }
  const modes = {
    reused: client.services.caravela.client,
    newStream: client.services.oneShot
  }
  const samples = { reused: { ms: [] as number[], cpuUs: [] as number[] }, newStream: { ms: [] as number[], cpuUs: [] as number[] } }
  const opened = { reused: modes.reused.streams.opened, newStream: modes.newStream.streams.opened }
  log(`measuring ${rounds} rounds (after ${warmup} of warm-up), one round every ${roundMs.toFixed(1)} ms…`)

  for (let round = -warmup; round < rounds; round++) {
    const started = performance.now()
    const order: Array<keyof typeof modes> = round % 2 === 0 ? ['reused', 'newStream'] : ['newStream', 'reused']

    for (const mode of order) {
      const cpu = process.cpuUsage()
      const t0 = performance.now()
      await modes[mode].obtainConfiguration(target, { signal: AbortSignal.timeout(10_000) })
      const ms = performance.now() - t0
      const used = process.cpuUsage(cpu)

      if (round >= 0) {
        samples[mode].ms.push(ms)
        samples[mode].cpuUs.push(used.user + used.system)
      }
    }

    const left = roundMs - (performance.now() - started)

    if (left > 0) {
      await new Promise(resolve => setTimeout(resolve, left))
    }

    if (round === -1) {
      opened.reused = modes.reused.streams.opened
      opened.newStream = modes.newStream.streams.opened
    }
  }

  const result = {
    rounds,
    rpc: 'obtainConfiguration',
    reused: { ms: stats(samples.reused.ms, 3), cpuUs: stats(samples.reused.cpuUs, 0), streamsOpened: modes.reused.streams.opened - opened.reused } satisfies ModeResult,
    newStream: { ms: stats(samples.newStream.ms, 3), cpuUs: stats(samples.newStream.cpuUs, 0), streamsOpened: modes.newStream.streams.opened - opened.newStream } satisfies ModeResult,
    ratio: {} as Record<string, number>
  }
  const ratio = (a: number, b: number): number => Math.round(a / b * 100) / 100
  result.ratio = {
    p50: ratio(result.newStream.ms.p50, result.reused.ms.p50),
    p99: ratio(result.newStream.ms.p99, result.reused.ms.p99),
    cpuP50: ratio(result.newStream.cpuUs.p50, result.reused.cpuUs.p50),
    cpuMean: ratio(result.newStream.cpuUs.mean, result.reused.cpuUs.mean)
  }

  if (values.json) {
    console.log(JSON.stringify(result, null, 2))
  } else {
    const row = (name: string, r: ModeResult): string =>
      `${name.padEnd(12)} ${r.ms.p50.toFixed(3).padStart(8)} ${r.ms.p99.toFixed(3).padStart(8)} ${String(r.cpuUs.p50).padStart(8)} ${String(r.cpuUs.p99).padStart(8)} ${String(r.cpuUs.mean).padStart(8)} ${String(r.streamsOpened).padStart(8)}`
    console.log(`obtainConfiguration, ${rounds} calls each (CPU: this process, both peers)`)
    console.log(`${'mode'.padEnd(12)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'cpu p50'.padStart(8)} ${'cpu p99'.padStart(8)} ${'cpu mean'.padStart(8)} ${'streams'.padStart(8)}`)
    console.log(row('reused', result.reused))
    console.log(row('new stream', result.newStream))
    console.log(`new stream / reused: p50 ×${result.ratio.p50}, p99 ×${result.ratio.p99}, CPU p50 ×${result.ratio.cpuP50}, CPU mean ×${result.ratio.cpuMean}`)
  }
} finally {
  for (const node of nodes.reverse()) {
    await Promise.resolve(node.stop()).catch(() => {})
  }

  for (const dir of dirs) {
    await rm(dir, { recursive: true, force: true })
  }
}
