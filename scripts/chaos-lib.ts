/**
 * The chaos harness behind `npm run chaos` and its test: a testnet of peer processes, a steady
 * stream of placements from random live peers (peer 0, the bootstrap, places but runs nothing), K
 * peers SIGKILLed mid-stream and R of them started
 * again later; at the end every live buyer's view (`ps`) is compared with the truth, the
 * containers the live suppliers run (`GET /v1/hosted`).
 *
 * What it counts:
 * - `placed`: placements that succeeded; `failed`: those that did not
 * - `lost`: containers placed on a peer that was then killed (the victims are drawn among the
 *   peers that run containers at the kill)
 * - `lostDetectedMs`: for each of those, the time from the kill to its buyer's view first saying
 *   anything but `running` (p50, p99; `undetected` counts those never detected that do not run at
 *   the end)
 * - `rescheduled`: lost containers that run again, under the same name, on another supplier
 *   (every other placement asks for `--restart always`, by peer 0; `always` counts those lost and how many
 *   of them run at the end, placed again or back with their supplier)
 * - `duplicated`: names that run on more than one supplier at the end
 * - `orphaned`: containers a live supplier runs for a live buyer that the buyer does not know of;
 *   on the Docker runtime also containers the engine runs for a live supplier that does not know of them
 * - `wrongState`: containers of live buyers' views whose state differs from the truth after the
 *   settle time (`running` in the view but not running; not `running` but running); on the Docker
 *   runtime also containers a live supplier says it runs that its engine does not
 *
 * On the Docker runtime the placements run `DOCKER_IMAGE` (built by `scripts/docker-setup.mjs`),
 * and every container of the testnet's peers is removed from the engine in the end, also those of
 * the peers killed for good (their containers outlive them, as on any machine whose peer dies).
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiClient } from '../src/api/client.js'
import { seededUniform } from '../src/roles/random.js'
import { DockerRuntime } from '../src/runtime/docker-runtime.js'
import { startTestnet } from './testnet-lib.js'
import type { ContainerView, HostedView } from '../src/types.js'

export interface ChaosInit {
  /** peers of the testnet, peer 0 (the bootstrap) included; peer 0 is never killed, and runs no containers, so that every kill can hit some */
  peers: number
  /** peers SIGKILLed a third into the stream */
  kill: number
  /** of those, peers started again two thirds into the stream */
  restart: number
  /** `memory` (default) or `docker` */
  runtime?: 'memory' | 'docker'
  /** seconds of the placement stream */
  duration: number
  /** placements started per second */
  rate: number
  /** seconds after the stream before the views are compared with the truth */
  settle: number
  /** a configuration file for every peer (default: the built-in configuration) */
  configFile?: string
  /** random choices (buyers, victims) are drawn from this seed */
  seed?: number
  /** progress lines */
  log?: (line: string) => void
}

export interface ChaosResult {
  peers: number
  killed: number[]
  restarted: number[]
  placed: number
  failed: number
  lost: number
  lostDetectedMs: { p50: number | null, p99: number | null, undetected: number }
  rescheduled: number
  /** the lost containers placed with `--restart always` whose buyer is up, and those of them running again */
  always: { lost: number, runningAgain: number }
  duplicated: number
  orphaned: number
  wrongState: number
  /** a few examples of each kind of discrepancy, for the log */
  examples: string[]
}

/** Memory of every peer: never the limit; CPUs are (`capacities`). */
const PEER_MEMORY = '64g'
/** CPUs of room each large supplier has beyond its share. */
const SPARE_CPUS = 2
/** The image the placements run on the Docker runtime: local, as there is no registry to pull from. */
export const DOCKER_IMAGE = 'caravela/busybox:test'
/** Time one placement may take through the control API. */
const PLACE_TIMEOUT = 60_000
/** How often the buyers' views are read after the kill, to time the detection. */
const POLL_INTERVAL = 1_000

function percentile (sorted: number[], q: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

/** One placement of the stream: by whom, where, when, and whether with `--restart always`. */
interface Placement {
  buyer: number
  supplier: string
  containerId: string
  at: number
  always: boolean
}

/** Runs one chaos experiment and returns what it counted; the testnet is stopped in the end. */
export async function runChaos (init: ChaosInit): Promise<ChaosResult> {
  const log = init.log ?? (() => {})
  const random = seededUniform(init.seed ?? 1)

  if (init.kill >= init.peers - 1 || init.restart > init.kill) {
    throw new RangeError(`kill (${init.kill}) must be below peers - 1 (${init.peers - 1}: peer 0 supplies nothing) and restart (${init.restart}) at most kill`)
  }

  const total = Math.max(1, Math.round(init.duration * init.rate))
  const { small, large } = capacities(total, init.peers - 1, init.kill)
  const dir = await mkdtemp(join(tmpdir(), 'caravela-chaos-'))
  log(`starting a testnet of ${init.peers} peer processes (${init.runtime ?? 'memory'} runtime)…`)
  const testnet = await startTestnet({
    peers: init.peers,
    dir: join(dir, 'testnet'),
    protocolPrefix: 'caravela-chaos',
    runtime: init.runtime ?? 'memory',
    argsOf: index => index === 0 ? ['--runtime', 'none'] : ['--cpus', String(index <= init.kill ? small : large)],
    memory: PEER_MEMORY,
    ...(init.configFile == null ? {} : { configFile: init.configFile })
  })

  const docker = init.runtime === 'docker'
  const image = docker ? DOCKER_IMAGE : 'busybox'

  try {
    const clients: ApiClient[] = await Promise.all(testnet.peers.map(async peer => ApiClient.fromDataDir(peer.dataDir, { timeout: PLACE_TIMEOUT })))
    const live = new Set(testnet.peers.map(p => p.index))
    const peerIdOf = new Map(testnet.peers.map(p => [p.index, p.peerId]))
    /** container name → where it was placed, by whom */
    const placements = new Map<string, Placement>()
    let failed = 0
    // chosen at the kill, among the peers that run containers then, so that a kill hits some
    let victims: number[] = []
    let revived: number[] = []
    const killAt = new Map<string, number>()

    const place = async (n: number): Promise<void> => {
      const always = n % 2 === 0
      const buyers = [...live]
      // peer 0, never killed, places those with a restart policy: each that is lost is then
      // checked to run again
      const buyer = always ? 0 : buyers[Math.floor(random() * buyers.length)]
      const name = `chaos-${n}`

      try {
        const [status] = await clients[buyer].run([{ name, image, args: ['sleep', '86400'], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 64 }, groupPolicy: 'spread', ...(always ? { restart: { name: 'always' as const } } : {}) }])
        placements.set(name, { buyer, supplier: status.supplier.peerId, containerId: status.containerId, at: Date.now(), always })
      } catch {
        failed++
      }
    }

    // the stream: one placement every 1/rate seconds, each awaited in the background
    const inFlight: Array<Promise<void>> = []
    // the detection of lost containers, timed from each kill: the buyers' views are read every
    // second from the kill to the end of the settle time
    const detected = new Map<string, number>()
    let polling = true
    let poller: Promise<void> = Promise.resolve()
    const poll = async (): Promise<void> => {
      while (polling) {
        await pollDetection(clients, live, placements, killAt, detected)
        await sleep(POLL_INTERVAL)
      }
    }
    const started = Date.now()
    let killed = false
    let restarted = false
    log(`placing ${total} containers over ${init.duration} s; killing ${init.kill} peers at ${Math.round(init.duration / 3)} s, restarting ${init.restart} of them at ${Math.round(2 * init.duration / 3)} s…`)

    for (let n = 0; n < total; n++) {
      const due = started + n * 1000 / init.rate
      await sleep(Math.max(0, due - Date.now()))
      const elapsed = (Date.now() - started) / 1000

      if (!killed && elapsed >= init.duration / 3) {
        killed = true
        const hosting = new Set<number>()
        for (const index of live) {
          if (index !== 0 && (await clients[index].hosted().catch(() => [])).length > 0) hosting.add(index)
        }
        victims = pickVictims(init.peers, init.kill, hosting, random)
        revived = victims.slice(0, init.restart)
        log(`killing ${victims.join(', ')}; restarting ${revived.join(', ') || 'none'} later`)
        await Promise.all(victims.map(async index => {
          live.delete(index)
          await testnet.kill(index)
          killAt.set(peerIdOf.get(index) ?? '', Date.now())
        }))
        poller = poll()
      }

      if (!restarted && elapsed >= 2 * init.duration / 3) {
        restarted = true
        for (const index of revived) {
          await testnet.restart(index)
          clients[index] = await ApiClient.fromDataDir(testnet.peers[index].dataDir, { timeout: PLACE_TIMEOUT })
          live.add(index)
        }
      }

      inFlight.push(place(n))
    }

    // the stream has ended; the views settle while the detection goes on
    await Promise.all(inFlight)
    await sleep(init.settle * 1000)
    polling = false
    await poller

    // the views and the truth, after the settle time
    const views = new Map<number, ContainerView[]>()
    const truth: Array<HostedView & { supplier: string }> = []

    for (const index of live) {
      views.set(index, await clients[index].ps())
      truth.push(...(await clients[index].hosted()).map(h => ({ ...h, supplier: peerIdOf.get(index) ?? '' })))
    }

    // on Docker, what the engine runs for each live supplier
    const engine = docker ? await engineTruth([...live].map(index => peerIdOf.get(index) ?? '')) : undefined

    return compare({ init, placements, failed, killAt, detected, views, truth, engine, peerIdOf, victims, revived })
  } finally {
    await testnet.stop()

    if (docker) {
      await removeEngineContainers(testnet.peers.map(peer => peer.peerId), log)
    }

    await rm(dir, { recursive: true, force: true })
  }
}

/** The ids of the containers the engine runs for each supplier. */
async function engineTruth (suppliers: string[]): Promise<Map<string, Set<string>>> {
  const truth = new Map<string, Set<string>>()

  for (const supplier of suppliers) {
    const owned = await new DockerRuntime({ ownerPeerId: supplier, imageCleanupIntervalMs: 0 }).listOwned()
    truth.set(supplier, new Set(owned.filter(c => c.state === 'running').map(c => c.containerId)))
  }

  return truth
}

/** Every container of these peers, running or not, removed from the engine. */
async function removeEngineContainers (peerIds: string[], log: (line: string) => void): Promise<void> {
  let removed = 0

  for (const peerId of peerIds) {
    const runtime = new DockerRuntime({ ownerPeerId: peerId, imageCleanupIntervalMs: 0 })

    for (const { containerId } of await runtime.listOwned().catch(() => [])) {
      await runtime.removeContainer(containerId).then(() => { removed++ }, err => { log(`could not remove ${containerId}: ${String(err)}`) })
    }
  }

  log(`removed the testnet's ${removed} containers from the engine`)
}

/**
 * CPUs of the suppliers (peers 1…): the first `kill` are small, with room for a little more than
 * the first third of the stream between them, the others large, with room for the whole stream
 * between those that are never killed. The default binpack policy fills the fullest supplier that
 * fits first, so the stream fills the small ones before the kill: the kill hits containers on every
 * victim, and the large ones hold what comes after, and what is placed again.
 */
function capacities (total: number, suppliers: number, kill: number): { small: number, large: number } {
  return {
    small: Math.ceil(total / (3 * Math.max(1, kill))) + 1,
    large: Math.ceil(total / (suppliers - kill)) + SPARE_CPUS
  }
}

/**
 * `kill` distinct peers among 1..peers-1 (peer 0, the bootstrap, stays), drawn first among those
 * in `hosting` (the peers running containers), then among the others.
 */
function pickVictims (peers: number, kill: number, hosting: Set<number>, random: () => number): number[] {
  const shuffled = (list: number[]): number[] => {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[list[i], list[j]] = [list[j], list[i]]
    }
    return list
  }
  const candidates = Array.from({ length: peers - 1 }, (_, i) => i + 1)

  return [...shuffled(candidates.filter(i => hosting.has(i))), ...shuffled(candidates.filter(i => !hosting.has(i)))].slice(0, kill)
}

/**
 * Notes, for each container placed on a killed supplier, when its buyer's view first stops saying
 * `running` (a state of its own, or the container gone from the view).
 */
async function pollDetection (clients: ApiClient[], live: Set<number>, placements: Map<string, Placement>, killAt: Map<string, number>, detected: Map<string, number>): Promise<void> {
  const views = new Map<number, ContainerView[] | undefined>()

  for (const p of placements.values()) {
    const at = killAt.get(p.supplier)

    if (at == null || p.at >= at || !live.has(p.buyer) || detected.has(p.containerId)) {
      continue
    }

    if (!views.has(p.buyer)) {
      views.set(p.buyer, await clients[p.buyer].ps().catch(() => undefined))
    }

    const view = views.get(p.buyer)
    const container = view?.find(c => c.containerId === p.containerId)

    if (view != null && container?.state !== 'running') {
      detected.set(p.containerId, Date.now() - at)
    }
  }
}

interface Observed {
  init: ChaosInit
  placements: Map<string, Placement>
  failed: number
  killAt: Map<string, number>
  detected: Map<string, number>
  views: Map<number, ContainerView[]>
  truth: Array<HostedView & { supplier: string }>
  /** on Docker: live supplier → the ids of the containers its engine runs */
  engine?: Map<string, Set<string>>
  peerIdOf: Map<number, string>
  victims: number[]
  revived: number[]
}

function compare (o: Observed): ChaosResult {
  const examples: string[] = []
  const note = (line: string): void => { if (examples.length < 20) examples.push(line) }
  const truthById = new Map(o.truth.map(t => [t.containerId, t]))
  const liveBuyers = new Set([...o.views.keys()].map(index => o.peerIdOf.get(index)))

  // placed on a supplier before it was killed (one placed after its restart is not lost)
  const lostPlacements = [...o.placements.entries()].filter(([, p]) => p.at < (o.killAt.get(p.supplier) ?? -Infinity))
  const delays = lostPlacements.map(([, p]) => o.detected.get(p.containerId)).filter((ms): ms is number => ms != null).sort((a, b) => a - b)
  // a container that never stopped (on Docker its supplier's death does not end it, and the peer
  // came back before it could be seen lost) was rightly never seen lost
  const undetected = lostPlacements.filter(([, p]) => o.views.has(p.buyer) && !o.detected.has(p.containerId) && !truthById.has(p.containerId)).length
  const revivedIds = new Set(o.revived.map(index => o.peerIdOf.get(index)))

  for (const [name, p] of lostPlacements) {
    const state = o.views.get(p.buyer)?.find(c => c.containerId === p.containerId)?.state ?? (o.views.has(p.buyer) ? 'gone from the view' : 'its buyer is down')
    note(`lost: ${name} on ${p.supplier.slice(-6)} (${revivedIds.has(p.supplier) ? 'restarted' : 'down'}): ${state}${truthById.has(p.containerId) ? ', runs' : ', does not run'}`)
  }

  // a lost container runs again under its name, on another supplier, in its buyer's view
  let rescheduled = 0
  const always = { lost: 0, runningAgain: 0 }
  for (const [name, p] of lostPlacements) {
    const copies = o.views.get(p.buyer)?.filter(c => c.name === name && c.state === 'running' && truthById.has(c.containerId)) ?? []
    if (copies.some(c => c.containerId !== p.containerId)) rescheduled++
    if (p.always && o.views.has(p.buyer)) {
      always.lost++
      // placed again, or the first copy itself, on a supplier that came back with it
      if (copies.length > 0) always.runningAgain++
      else note(`not running again: ${name} (restart always) of ${o.peerIdOf.get(p.buyer)?.slice(-6) ?? '?'}`)
    }
  }

  // one name, several running copies
  const copies = new Map<string, number>()
  for (const t of o.truth) {
    if (t.name != null) copies.set(t.name, (copies.get(t.name) ?? 0) + 1)
  }
  const duplicated = [...copies.values()].filter(n => n > 1).length
  for (const [name, n] of copies) if (n > 1) note(`duplicated: ${name} runs ${n} times`)

  // what live suppliers run for live buyers that those buyers do not know of
  let orphaned = 0
  for (const t of o.truth) {
    const buyerIndex = [...o.peerIdOf.entries()].find(([, id]) => id === t.buyer)?.[0]
    if (buyerIndex == null || !liveBuyers.has(t.buyer)) continue
    if (o.views.get(buyerIndex)?.some(c => c.containerId === t.containerId) !== true) {
      orphaned++
      note(`orphaned: ${t.containerId.slice(0, 12)} (${t.name ?? '?'}) on ${t.supplier.slice(-6)} for ${t.buyer.slice(-6)}`)
    }
  }

  // on Docker, the suppliers' records against their engine's
  let wrongState = 0
  for (const [supplier, running] of o.engine ?? []) {
    const hosted = new Set(o.truth.filter(t => t.supplier === supplier).map(t => t.containerId))
    for (const id of running) {
      if (!hosted.has(id)) {
        orphaned++
        note(`orphaned: ${id.slice(0, 12)} runs on the engine of ${supplier.slice(-6)}, which does not know of it`)
      }
    }
    for (const id of hosted) {
      if (!running.has(id)) {
        wrongState++
        note(`wrong state: ${supplier.slice(-6)} says it runs ${id.slice(0, 12)}, its engine does not`)
      }
    }
  }

  // the buyers' views against the truth
  for (const view of o.views.values()) {
    for (const c of view) {
      const runs = truthById.has(c.containerId)
      const says = c.state === 'running'
      if (runs !== says) {
        wrongState++
        note(`wrong state: ${c.containerId.slice(0, 12)} (${c.name}) is ${c.state} in its buyer's view, ${runs ? 'runs' : 'does not run'} on ${c.supplier.peerId.slice(-6)}`)
      }
    }
  }

  return {
    peers: o.init.peers,
    killed: o.victims,
    restarted: o.revived,
    placed: o.placements.size,
    failed: o.failed,
    lost: lostPlacements.length,
    lostDetectedMs: { p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), undetected },
    rescheduled,
    always,
    duplicated,
    orphaned,
    wrongState,
    examples
  }
}
