/**
 * The containers this peer runs for others: launches against an offer, idempotent by request id,
 * with a rollback that neither deadlocks nor leaks (the original's did both); stops only on the
 * word of the buyer that launched; releases the resources of containers that exit and tells their
 * buyers.
 *
 * A container that exits is kept stopped in the runtime for a while (`KeptExited`), so that its
 * buyer can still read its output (`logs`) once it crashed, as `docker logs` reads a stopped
 * container's: its resources are free at once, and what is kept is bounded per buyer and in
 * total (a buyer that crashes many containers evicts its own oldest ones, not the disk).
 *
 * Nothing is lost on restart: every container is in the ledger before its launch is answered
 * (those of a launch of several before the runtime creates any: `launchNew`), and carries labels
 * enough to rebuild its record. A restarted peer reconciles its
 * ledger with the runtime's containers labelled with its peer id, and never touches others.
 */

import { sleep } from '../clock.js'
import { defaultSupplierConfig } from '../config/config.js'
import { copyContainerConfig, copyPortMappings } from '../copy.js'
import { NotImplementedError, ProtocolStatusError } from '../errors.js'
import { LazyMap } from '../lazy-map.js'
import { LaunchPolicy } from './launch-policy.js'
import { totalResources } from './resources.js'
import type { LogsRequest, PortForwardRequest } from '../protocols/codec.js'
import type { RequestContext } from '../protocols/handlers.js'
import type {
  ByteTunnel, CaravelaClient, Clock, ContainerConfig, ContainerExit, ContainerRuntime, ContainerStatus, NodeRef, OwnedContainer, RemoteContainerState, Resources, LogChunk
} from '../types.js'
import type { HostedRecord, Ledger } from './ledger.js'
import type { Supplier } from './supplier.js'
import type { Logger } from '@libp2p/interface'

/** Label of every container: the peer id of the supplier running it (a restarted peer finds its containers again). */
export const LABEL_SUPPLIER = 'caravela.supplier'
/** Label of every container: the peer id of the buyer that launched it. */
export const LABEL_BUYER = 'caravela.buyer'
/** Label of every container: the offer it was launched against. */
export const LABEL_OFFER = 'caravela.offer'
/** Label of every container: the request id of its launch. */
export const LABEL_REQUEST = 'caravela.request'
/** Label of every container: its position in its launch. */
export const LABEL_INDEX = 'caravela.index'
/** Label of every container: the CPU class it asked for. */
export const LABEL_CPU_CLASS = 'caravela.cpu-class'
/** Label of every container: the CPUs (in CPU slices) it holds. */
export const LABEL_CPUS = 'caravela.cpus'
/** Label of every container: the memory (MB) it holds. */
export const LABEL_MEMORY = 'caravela.memory'

/** Finished launches remembered for idempotency; the oldest is forgotten first. */
export const MAX_REMEMBERED_LAUNCHES = 1024
/**
 * Milliseconds a launch is remembered: a buyer retries a launch right after its first attempt
 * timed out, so ten minutes is plenty, and a host of a long-lived network (or a simulated one of a
 * million peers) does not keep every launch it ever ran.
 */
export const LAUNCH_MEMORY_MS = 10 * 60_000
/** Attempts to tell a buyer that its container exited, before the next start tries again. */
export const NOTIFY_ATTEMPTS = 5
/** Wait before the second attempt; it doubles with every attempt. */
export const NOTIFY_BACKOFF = 1_000
/** The state of a container the runtime started. */
const RUNNING = 'running'
/** Runtime states of a container that still holds its resources. */
const LIVE_STATES = new Set([RUNNING, 'paused', 'restarting'])
/** `name` of the error a runtime throws for an unknown container. */
const NOT_FOUND_ERROR = 'ContainerNotFoundError'
/** Answers of a buyer worth asking again: it may not know the container yet, or be busy. */
const RETRIED_STATUSES = new Set(['NOT_FOUND', 'UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL_ERROR'])

/** The built-in supplier policy: any buyer, any image but from local registries, host ports from 1024. */
const DEFAULT_POLICY = new LaunchPolicy(defaultSupplierConfig())

/** A container this peer runs for a buyer. */
export interface HostedContainer {
  containerId: string
  buyer: string
  offerId: number
  requestId: string
  resources: Resources
  /** the container as launched; absent when its record was rebuilt from its labels */
  status?: ContainerStatus
}

/** What the containers manager works with. */
export interface ContainersManagerInit {
  self: () => NodeRef
  runtime: ContainerRuntime
  supplier: Supplier
  ledger: Ledger
  /** tells buyers that their containers exited */
  client: CaravelaClient
  clock: Clock
  log: Logger
  /** called when a hosted container ends on its own */
  onContainerExit?: (container: HostedContainer) => void
  /** who may launch what here; a launch outside it is refused with the reason @default the built-in supplier policy */
  policy?: LaunchPolicy
  /**
   * Milliseconds a started container may stay unclaimed (its buyer never asked about it) before it
   * is removed, read at each launch @default `DEFAULT_CLAIM_TIMEOUT`
   */
  claimTimeout?: () => number
  /** what is kept of the containers that exit, read at each exit @default DEFAULT_KEPT_EXITED */
  keptExited?: () => KeptExited
}

/**
 * What a supplier keeps of its containers that exited: each is kept stopped, with its output (at
 * most the runtime's log size), for `retention` ms, or until its buyer removes it (`stop`); a
 * buyer has at most `perBuyer` kept and the supplier `total`, the oldest going first.
 */
export interface KeptExited {
  /** ms an exited container is kept; 0: removed at once */
  retention: number
  perBuyer: number
  total: number
}

/** What is kept when nothing is configured: an hour, as long as a user looks at a crash. */
export const DEFAULT_KEPT_EXITED: Readonly<KeptExited> = { retention: 3_600_000, perBuyer: 8, total: 32 }

/** Claim time when none is given: twice the default launch timeout. */
export const DEFAULT_CLAIM_TIMEOUT = 10 * 60_000

interface Launch {
  /** the containers asked for, canonical JSON: a retry must ask for the same */
  fingerprint: string
  result: Promise<ContainerStatus[]>
  /** clock time of the launch */
  at: number
  /** set when its buyer cancelled it: containers it creates from then on are removed again */
  cancelled?: boolean
  /** clock time after which the buyer no longer waits for the answer: nothing starts then */
  deadline?: number
}

/** A record of the ledger and the container the runtime has for it, if any. */
interface Found {
  record: HostedRecord
  container?: OwnedContainer
}

/** The containers this peer runs for buyers, on its runtime, with resources taken from its supplier. */
export class ContainersManager {
  private readonly init: ContainersManagerInit
  private readonly log: Logger
  /** container id → record of the containers running */
  private readonly hosted = new LazyMap<string, HostedRecord>()
  /** `<buyer>/<requestId>` → the launch, in progress or done, oldest first */
  private readonly launches = new LazyMap<string, Launch>()
  /** armed while launches are remembered: forgets them once `LAUNCH_MEMORY_MS` old */
  private forgetTimer?: { cancel (): void }
  /**
   * `<buyer>/<requestId>` of the launches found running at start: a retry is answered from their
   * records (made when there are some: most peers never have any, and a simulation holds a million)
   */
  private recoveredLaunches?: Set<string>
  private recovery?: Promise<void>
  /** recoveries and launches running: a container they create or find may exit before it is hosted */
  private busy = 0
  /** container id → an exit heard while busy of a container not hosted (yet); made when needed */
  private earlyExits?: Map<string, ContainerExit>
  /** aborted by `stop`: notifications wait for the next start (made by the first notification) */
  private notifications?: AbortController
  private stopped = false
  /** launches refused by the policy */
  private refusals = 0
  /** container id → clock time its claim is up, of the containers no buyer asked about yet, oldest first; made when needed */
  private unclaimed?: Map<string, number>
  /** armed while containers are unclaimed: removes those whose claim time is up */
  private claimTimer?: { cancel (): void }
  /** container id → the record of an exited container whose buyer was not told yet; made when needed */
  private exited?: Map<string, HostedRecord>
  /** containers removed because their buyer never claimed them */
  private unclaimedRemovals = 0
  /** container id → the record of an exited container kept stopped for its output, oldest first; made when needed */
  private kept?: Map<string, HostedRecord>
  /** armed while exited containers are kept: removes those whose retention is up */
  private keptTimer?: { cancel (): void }

  private readonly policy: LaunchPolicy

  constructor (init: ContainersManagerInit) {
    this.init = init
    this.log = init.log
    this.policy = init.policy ?? DEFAULT_POLICY
  }

  /**
   * Before the supplier offers anything: the first time, reconcile the ledger with the runtime,
   * account the containers still running and tell buyers about those that ended meanwhile.
   */
  async start (): Promise<void> {
    this.stopped = false
    this.armForget()
    this.recovery ??= this.recover()
    await this.recovery
    this.armClaims()
    this.armKept()
  }

  /** Stop telling buyers; the ledger keeps what they were not told. */
  stop (): void {
    this.stopped = true
    this.notifications?.abort()
    this.notifications = undefined
    this.forgetTimer?.cancel()
    this.forgetTimer = undefined
    this.claimTimer?.cancel()
    this.claimTimer = undefined
    this.keptTimer?.cancel()
    this.keptTimer = undefined
  }

  /**
   * LaunchContainer from a buyer. A retry with the same request id returns the first launch's
   * statuses, also after a restart; the same request id with other containers is refused.
   *
   * With `deadlineMs` (the milliseconds its buyer still waits), nothing starts after the deadline,
   * and the containers it started must be claimed (`status`) within the claim time or are removed.
   * A launch without one comes from a buyer that neither sets deadlines nor claims (an older
   * version): its containers are kept, as before.
   */
  async launch (ctx: RequestContext, offerId: number, requestId: string, containers: ContainerConfig[], deadlineMs?: number): Promise<ContainerStatus[]> {
    await this.recovered()
    const buyer = ctx.from.peerId
    const key = launchKey(buyer, requestId)
    const fingerprint = fingerprintOf(containers)
    const previous = this.launches.get(key)

    if (previous != null) {
      if (previous.fingerprint !== fingerprint) {
        throw new ProtocolStatusError('REFUSED', `request ${requestId} was launched with other containers`)
      }

      return previous.result
    }

    // a launch forgotten (restarted, or pushed out of memory by other launches) whose containers
    // still run is answered from their records: a retry never starts them twice
    const recorded = [...this.hosted.values()].filter(r => r.buyer === buyer && r.requestId === requestId)

    if (recorded.length > 0 || this.recoveredLaunches?.has(key) === true) {
      return this.replay(recorded, requestId, containers)
    }

    validate(containers)
    const refusal = this.policy.refusal(buyer, containers)

    if (refusal != null) {
      this.refusals++
      this.log('refused launch %s of %s: %s', requestId, buyer, refusal)
      throw new ProtocolStatusError('REFUSED', refusal)
    }

    const at = this.init.clock.now()
    const launch: Launch = { fingerprint, result: Promise.resolve([]), at, ...(deadlineMs == null ? {} : { deadline: at + deadlineMs }) }
    launch.result = this.launchNew(buyer, offerId, requestId, containers, launch)
    this.remember(key, launch)
    // a failed launch may be tried again
    launch.result.catch(() => { this.forgetLaunch(key) })

    return launch.result
  }

  /**
   * StopLocalContainer of a launch: its buyer never heard the answer. The containers it started
   * are removed, and one it is still starting is removed once created (the launch then fails).
   * A launch unknown here, or long forgotten, has nothing to stop: not an error.
   */
  async cancelLaunch (ctx: RequestContext, requestId: string): Promise<void> {
    await this.recovered()
    const buyer = ctx.from.peerId
    const launch = this.launches.get(launchKey(buyer, requestId))

    if (launch != null) {
      launch.cancelled = true
    }

    const started = [...this.hosted.values()].filter(r => r.buyer === buyer && r.requestId === requestId)
    this.log('launch %s of %s cancelled by its buyer: %d containers to remove', requestId, buyer, started.length)

    for (const { containerId } of started) {
      await this.remove(containerId as string)
    }
  }

  /**
   * ContainerStatus from a buyer: running, exited or unknown for each id, in order. Only the
   * containers the asker launched are answered; any other id is `unknown`, whether it runs here
   * for another buyer or not at all, so that the answer says nothing of other buyers. Asking
   * claims the containers: they are kept past the claim time.
   */
  async status (ctx: RequestContext, containerIds: string[]): Promise<RemoteContainerState[]> {
    await this.recovered()
    const buyer = ctx.from.peerId

    return containerIds.map(containerId => {
      const record = this.hosted.get(containerId)

      if (record?.buyer === buyer) {
        this.claim(record)
        return { containerId, state: 'running' }
      }

      const ended = this.exited?.get(containerId)

      if (ended?.buyer === buyer) {
        return { containerId, state: 'exited', ...(ended.exitCode == null ? {} : { exitCode: ended.exitCode }) }
      }

      return { containerId, state: 'unknown' }
    })
  }

  /** Containers removed because their buyer never asked about them within the claim time. */
  get unclaimedRemoved (): number {
    return this.unclaimedRemovals
  }

  /**
   * StopLocalContainer: only the buyer that launched the container may stop it. Stopping an
   * exited container that is kept removes it, as `docker rm` does.
   */
  async stopContainer (ctx: RequestContext, containerId: string): Promise<void> {
    const record = await this.buyersOwn(ctx, containerId)
    await (record.state === 'exited' ? this.drop(record) : this.remove(containerId))
  }

  /**
   * The record of a container hosted or kept here for the asker, once recovered.
   *
   * @throws {ProtocolStatusError} NOT_FOUND when none runs or is kept here, REFUSED when another peer launched it
   */
  private async buyersOwn (ctx: RequestContext, containerId: string): Promise<HostedRecord> {
    await this.recovered()
    const record = this.hosted.get(containerId) ?? this.kept?.get(containerId)

    if (record == null) {
      throw new ProtocolStatusError('NOT_FOUND', `no container ${containerId} runs or is kept here`)
    }

    if (record.buyer !== ctx.from.peerId) {
      throw new ProtocolStatusError('REFUSED', `container ${containerId} was launched by another peer`)
    }

    return record
  }

  /**
   * ContainerLogs: only the buyer that launched the container may read its output, until the
   * container ends (with `follow`) or the reader goes away (`ctx.signal`); the output of one that
   * exited is read while it is kept.
   */
  async logs (ctx: RequestContext, { containerId, ...options }: LogsRequest): Promise<AsyncIterable<LogChunk>> {
    await this.buyersOwn(ctx, containerId)
    return this.init.runtime.logs(containerId, { ...options, signal: ctx.signal })
  }

  /**
   * PortForward: only the buyer that launched a running container may reach it, and only on a
   * TCP port it was run with; the runtime connects to the host port the engine published for it,
   * never to the container's own address.
   */
  async portForward (ctx: RequestContext, { containerId, containerPort }: PortForwardRequest): Promise<ByteTunnel> {
    const record = await this.buyersOwn(ctx, containerId)
    const mapping = record.state === 'running' ? record.portMappings?.find(m => m.containerPort === containerPort && m.protocol === 'tcp') : undefined

    if (record.state !== 'running') {
      throw new ProtocolStatusError('NOT_FOUND', `container ${containerId} is not running`)
    }

    if (mapping == null || mapping.hostPort === 0) {
      throw new ProtocolStatusError('NOT_FOUND', `container ${containerId} publishes no TCP port ${containerPort}`)
    }

    const runtime = this.init.runtime

    if (runtime.connectPort == null) {
      throw new NotImplementedError(`this peer's container runtime runs no processes: nothing listens on port ${containerPort}`)
    }

    try {
      return await runtime.connectPort(containerId, mapping, { signal: ctx.signal })
    } catch (err: any) {
      throw new ProtocolStatusError('UNAVAILABLE', `port ${containerPort} of container ${containerId} cannot be reached: ${err?.message ?? err}`)
    }
  }

  /** The runtime says a container ended on its own: release what it held and tell its buyer. */
  containerExited (exit: ContainerExit): void {
    const record = this.hosted.get(exit.containerId)

    if (record == null) {
      if (this.busy > 0) {
        this.earlyExits ??= new Map()
        this.earlyExits.set(exit.containerId, exit)
      }

      return
    }

    this.unhost(exit.containerId)
    this.init.supplier.returnResources(record.resources, 1)
    this.log('container %s of %s exited with code %s', exit.containerId, record.buyer, exit.exitCode)
    void this.ended(record, exit.exitCode, 'the container exited', true)
  }

  /**
   * After the runtime did not answer for a while (its engine stopped, its exit events were lost):
   * join the hosted containers with the runtime's, as a start does, and end those that are gone
   * or ended meanwhile, releasing their resources and telling their buyers. Containers hosted
   * after the runtime was listed are left alone. Throws when the runtime does not answer.
   */
  async reconcile (): Promise<void> {
    await this.recovered()
    const hosted = [...this.hosted.values()]
    const byId = new Map((await this.ownedContainers(hosted)).map(c => [c.containerId, c]))

    for (const record of hosted) {
      const containerId = record.containerId as string
      const container = byId.get(containerId)

      if (this.hosted.get(containerId) !== record || (container != null && isLive(container))) {
        continue
      }

      this.unhost(containerId)
      this.init.supplier.returnResources(record.resources, 1)
      this.log('container %s of %s ended while the runtime did not answer', containerId, record.buyer)
      void this.ended(record, container?.exitCode, container == null ? 'the container is gone from the engine' : 'the container ended while its engine did not answer', container != null)
    }
  }

  /** Launches refused because the supplier's policy does not allow them. */
  get refusedLaunches (): number {
    return this.refusals
  }

  /** The containers this peer runs for others. */
  list (): HostedContainer[] {
    return [...this.hosted.values()].map(record => this.view(record))
  }

  /**
   * Requests wait for the recovery. Before the first start they are answered UNAVAILABLE: the
   * containers of a peer that has not yet read its ledger are unknown, not gone.
   */
  private async recovered (): Promise<void> {
    if (this.recovery == null) {
      throw new ProtocolStatusError('UNAVAILABLE', 'this peer is starting: its containers are not known yet')
    }

    await this.recovery
  }

  /** The statuses of a launch found in the ledger, for a retry that asks for the same containers. */
  private replay (recorded: HostedRecord[], requestId: string, containers: ContainerConfig[]): ContainerStatus[] {
    const same = recorded.length === containers.length && recorded.every(r =>
      r.index < containers.length && (r.config == null || fingerprintOf([r.config]) === fingerprintOf([containers[r.index]])))

    if (!same) {
      throw new ProtocolStatusError('REFUSED', `request ${requestId} was launched with other containers, or some of them ended`)
    }

    return recorded.sort((a, b) => a.index - b.index).map(r => this.statusOf(r, containers[r.index]))
  }

  /**
   * Take the resources, record the containers, create them one by one; all or none.
   *
   * The ledger and the answer are ordered so that a crash at any point loses no container the
   * buyer was told about and leaks none it was not, while the answer waits for as few disk syncs
   * as that allows:
   *
   * - The `creating` records are durable before the answer. A restarted supplier undoes a launch
   *   that has a `creating` record without a live container, and keeps (as `running`) one whose
   *   containers all run.
   * - A launch of one container writes its `creating` record while the runtime creates it, not
   *   before: should the peer stop after the create and before the record is durable, the
   *   container, labelled with its buyer, launch and index, is recorded again from its labels at
   *   the restart, and a retry of the launch is answered from it, as from a `creating` record
   *   (such a container has no claim time: the cancel its buyer sends for a launch it never heard
   *   back from removes it).
   *   A launch of several containers records them all first: a restart that found some of them
   *   without any record could not tell the launch was cut short.
   * - The `running` records are written after the answer, in the next group commit: until they are
   *   durable, a restart finds the `creating` records and the live containers, which it keeps.
   *   Their `unclaimed` mark is in the `creating` records already, so that a restarted supplier
   *   still removes the containers of a launch whose buyer never heard of them.
   */
  private async launchNew (buyer: string, offerId: number, requestId: string, containers: ContainerConfig[], launch: Launch): Promise<ContainerStatus[]> {
    const needed = totalResources(containers)
    const refusal = this.init.supplier.obtainResources(offerId, needed, containers.length)

    if (refusal != null) {
      throw new ProtocolStatusError('REFUSED', refusal)
    }

    const needsClaim = launch.deadline != null
    const records: HostedRecord[] = containers.map((config, index) => Object.assign(
      { state: 'creating', buyer, offerId, requestId, index, resources: { ...config.resources }, config: copyContainerConfig(config) } as const,
      needsClaim ? { unclaimed: true } : {}
    ))
    this.busy++

    try {
      const refuseIfCancelled = (): void => {
        if (launch.cancelled === true) {
          throw new ProtocolStatusError('REFUSED', `the buyer cancelled launch ${requestId}`)
        }

        // the buyer no longer waits: what would start now, or has started, it would never hear of
        if (launch.deadline != null && this.init.clock.now() >= launch.deadline) {
          this.log('launch %s of %s passed its buyer\'s deadline: undone', requestId, buyer)
          throw new ProtocolStatusError('REFUSED', `launch ${requestId} passed its buyer's deadline`)
        }
      }

      if (records.length === 1) {
        refuseIfCancelled()
        // both are done before the rollback, which must know whether the container exists
        const [recorded, created] = await Promise.allSettled([this.init.ledger.putHosted(records[0]), this.create(records[0], containers[0])])

        for (const result of [recorded, created]) {
          if (result.status === 'rejected') {
            throw result.reason
          }
        }
      } else {
        await this.init.ledger.putHosted(...records)

        for (const [index, record] of records.entries()) {
          refuseIfCancelled()
          await this.create(record, containers[index])
        }
      }

      refuseIfCancelled()
    } catch (err: any) {
      await this.rollback(records)
      throw err instanceof ProtocolStatusError ? err : new ProtocolStatusError('UNAVAILABLE', `could not start ${containers.length === 1 ? 'the container' : 'every container'}: ${err?.message ?? err}`)
    } finally {
      this.idle()
    }

    this.log('launched %d containers for %s on offer %d', records.length, buyer, offerId)
    // not awaited: the answer does not wait for these (see above); the ledger writes them in order
    records.forEach(record => { void this.save(record) })

    if (needsClaim) {
      const claimBy = this.init.clock.now() + this.claimTimeout()
      const unclaimed = (this.unclaimed ??= new Map())
      records.forEach(record => { unclaimed.set(record.containerId, claimBy) })
      this.armClaims()
    }

    return records.map(record => this.statusOf(record))
  }

  /** Create the container of a record; it is hosted from then on, so an early exit releases it. */
  private async create (record: HostedRecord, config: ContainerConfig): Promise<void> {
    const { containerId, portMappings } = await this.init.runtime.runContainer(config, this.labels(record))
    Object.assign(record, { state: 'running', containerId, portMappings })
    this.host(record)
  }

  /** Undo a failed launch: remove what was created, give back what was not, forget the records. */
  private async rollback (records: HostedRecord[]): Promise<void> {
    const uncreated = records.filter(r => r.containerId == null)
    this.init.supplier.returnResources(totalResources(uncreated), uncreated.length)
    await Promise.all(uncreated.map(async record => { await this.forget(record) }))

    for (const { containerId } of records) {
      if (containerId != null) {
        await this.remove(containerId)
      }
    }
  }

  /** Remove a hosted container from the runtime, release its resources and forget it. */
  private async remove (containerId: string): Promise<void> {
    const record = this.hosted.get(containerId)

    if (record == null) {
      return
    }

    this.unhost(containerId)
    this.init.supplier.returnResources(record.resources, 1)
    await this.removeFromRuntime(containerId)
    await this.forget(record)
  }

  /**
   * A container ended (its resources are free): record why and when, keep or remove it
   * (`present`: the runtime still has it), tell its buyer.
   */
  private async ended (record: HostedRecord, exitCode: number | undefined, reason: string, present: boolean): Promise<void> {
    Object.assign(record, { state: 'exited', exitCode, reason, finishedAt: this.init.clock.now() })
    this.rememberExit(record)
    this.init.onContainerExit?.(this.view(record))
    await this.save(record)
    await this.finish(record, present)
  }

  /**
   * An exited container: kept for its output while its retention lasts and the budgets allow
   * (`present`: the runtime still has it), removed from the runtime otherwise; its buyer told.
   */
  private async finish (record: HostedRecord, present: boolean): Promise<void> {
    if (!present || !this.keep(record)) {
      await this.removeFromRuntime(record.containerId as string)
    }

    if (record.notified !== true) {
      await this.notify(record)
    }
  }

  /**
   * Keep an exited container for its output, when its retention is not up; the oldest kept
   * containers of its buyer, then of anyone, are removed beyond the budgets.
   */
  private keep (record: HostedRecord): boolean {
    const { retention, perBuyer, total } = this.keptExited()

    if ((record.finishedAt ?? 0) + retention <= this.init.clock.now() || perBuyer <= 0 || total <= 0) {
      return false
    }

    const id = record.containerId as string
    const kept = (this.kept ??= new Map<string, HostedRecord>())
    kept.set(id, record)
    const own = [...kept.values()].filter(r => r.buyer === record.buyer)
    const evicted = own.slice(0, Math.max(0, own.length - perBuyer))
    const others = [...kept.values()].filter(r => !evicted.includes(r))
    evicted.push(...others.slice(0, Math.max(0, others.length - total)))

    for (const old of evicted) {
      this.log('removing exited container %s of %s: more exited containers are kept than allowed', old.containerId, old.buyer)
      void this.drop(old)
    }

    this.armKept()
    return kept.has(id)
  }

  /** A kept exited container no longer kept: out of the runtime, and forgotten once its buyer was told. */
  private async drop (record: HostedRecord): Promise<void> {
    this.kept?.delete(record.containerId as string)
    await this.removeFromRuntime(record.containerId as string)

    if (record.notified === true) {
      await this.forget(record)
    }
  }

  private keptExited (): KeptExited {
    return this.init.keptExited?.() ?? DEFAULT_KEPT_EXITED
  }

  /** While exited containers are kept, a timer removes them when their retention is up. */
  private armKept (): void {
    if (this.keptTimer != null || this.kept == null || this.kept.size === 0 || this.stopped) {
      return
    }

    const { clock } = this.init
    const until = (record: HostedRecord): number => (record.finishedAt ?? 0) + this.keptExited().retention
    const first = Math.min(...[...this.kept.values()].map(until))
    this.keptTimer = clock.setTimeout(() => {
      this.keptTimer = undefined
      const due = [...this.kept?.values() ?? []].filter(r => until(r) <= clock.now())
      void Promise.all(due.map(async record => { await this.drop(record) })).finally(() => { this.armKept() })
    }, Math.max(0, first - clock.now()))
  }

  /**
   * ContainerExited to the buyer, again with a doubling wait while it cannot be reached or may
   * not know the container yet. The record goes once the buyer answered; a buyer never reached
   * keeps it, for the next start.
   */
  private async notify (record: HostedRecord): Promise<void> {
    if (this.stopped) {
      return
    }

    const signal = (this.notifications ??= new AbortController()).signal
    const buyer = { peerId: record.buyer, multiaddrs: [] }

    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.init.client.containerExited(buyer, record.containerId as string, record.exitCode, record.reason ?? '')
        await this.told(record)
        return
      } catch (err: any) {
        const answered = err?.name === 'RemoteRequestError'

        if (attempt >= NOTIFY_ATTEMPTS || (answered && !RETRIED_STATUSES.has(err.status))) {
          this.log('could not tell %s that container %s exited - %e', record.buyer, record.containerId, err)

          if (answered) {
            await this.told(record)
          }

          return
        }
      }

      await sleep(this.init.clock, NOTIFY_BACKOFF * 2 ** (attempt - 1), signal)
    }
  }

  /** Its buyer heard that the container exited: the record stays only while the container is kept. */
  private async told (record: HostedRecord): Promise<void> {
    record.notified = true
    await (this.kept?.has(record.containerId as string) === true ? this.save(record) : this.forget(record))
  }

  /**
   * Join the ledger with the runtime's containers labelled with our peer id. A launch the
   * restart cut short is undone; the containers of the others run on, or ended meanwhile;
   * containers no record knows are recorded again from their labels.
   */
  private async recover (): Promise<void> {
    this.busy++

    try {
      const records = await this.init.ledger.hosted()
      let owned: OwnedContainer[]

      try {
        owned = await this.ownedContainers(records)
      } catch (err) {
        // nothing changed yet (an engine that does not answer at the peer's start): the next
        // start recovers from the beginning
        this.recovery = undefined
        throw err
      }
      const byId = new Map(owned.map(c => [c.containerId, c]))
      const claimed = new Set<string>()

      for (const launch of groupByLaunch(records)) {
        const found: Found[] = launch.map(record => ({
          record,
          container: record.containerId != null ? byId.get(record.containerId) : owned.find(c => sameSlot(record, c.labels))
        }))
        found.forEach(({ container }) => { if (container != null) claimed.add(container.containerId) })
        const cutShort = found.some(({ record, container }) => record.state === 'creating' && (container == null || !isLive(container)))
        await (cutShort ? this.discard(found) : this.restore(found))
      }

      for (const container of owned.filter(c => !claimed.has(c.containerId))) {
        await this.adopt(container)
      }

      this.log('recovered %d running containers from %d records', this.hosted.size, records.length)
    } finally {
      this.idle()
    }
  }

  /** The containers labelled with our peer id; without `listOwned`, the recorded ones the runtime still knows. */
  private async ownedContainers (records: HostedRecord[]): Promise<OwnedContainer[]> {
    const { runtime } = this.init
    const self = this.init.self().peerId

    if (runtime.listOwned != null) {
      return (await runtime.listOwned()).filter(c => c.labels[LABEL_SUPPLIER] === self)
    }

    const known = await Promise.all(records.map(async record => {
      if (record.containerId == null) {
        return undefined
      }

      try {
        return { containerId: record.containerId, state: await runtime.checkContainerStatus(record.containerId), labels: this.labels(record) }
      } catch (err: any) {
        if (err?.name === NOT_FOUND_ERROR) {
          return undefined
        }

        throw err
      }
    }))

    return known.filter(c => c != null)
  }

  /** A launch the buyer never got an answer to: remove its containers, forget its records. */
  private async discard (launch: Found[]): Promise<void> {
    this.log('undoing launch %s of %s, cut short by a restart', launch[0].record.requestId, launch[0].record.buyer)

    for (const { record, container } of launch) {
      if (container != null) {
        await this.removeFromRuntime(container.containerId)
      }

      await this.forget(record)
    }
  }

  /** The records of a complete launch: account the running containers, report the ended ones. */
  private async restore (launch: Found[]): Promise<void> {
    for (const { record, container } of launch) {
      if (record.state === 'exited') {
        this.rememberExit(record)
        void this.finish(record, container != null)
      } else if (container == null || !isLive(container)) {
        void this.ended(record, container?.exitCode, container == null ? 'the container is gone from the engine' : 'the container ended while its supplier was down', container != null)
      } else {
        const adopted = record.state === 'creating'
        Object.assign(record, { state: 'running', containerId: container.containerId, portMappings: container.portMappings ?? record.portMappings })
        this.hold(record)

        if (record.unclaimed === true) {
          // its buyer had not claimed it before the restart: it has a whole claim time again
          (this.unclaimed ??= new Map()).set(container.containerId, this.init.clock.now() + this.claimTimeout())
        }

        if (adopted) {
          await this.save(record)
        }
      }
    }
  }

  /**
   * A container labelled with our peer id that no record knows (its record was lost): recorded
   * again from its labels when it runs, removed when it ended or duplicates a recorded one.
   */
  private async adopt (container: OwnedContainer): Promise<void> {
    const record = recordFromLabels(container)

    if (record == null) {
      this.log.error('container %s carries our peer id but not the labels to account it: left alone', container.containerId)
    } else if (!isLive(container) || [...this.hosted.values()].some(r => sameSlot(r, container.labels))) {
      this.log('removing container %s: it has no record and ended, or duplicates a recorded one', container.containerId)
      await this.removeFromRuntime(container.containerId)
    } else {
      this.log('container %s had no record: recorded again from its labels', container.containerId)
      this.hold(record)
      await this.save(record)
    }
  }

  /** A running container found at start: hosted, and its resources taken again. */
  private hold (record: HostedRecord): void {
    this.init.supplier.holdResources(record.resources, 1)
    this.recoveredLaunches ??= new Set()
    this.recoveredLaunches.add(launchKey(record.buyer, record.requestId))
    this.host(record)
  }

  /** A container hosted from now on; an exit heard before is handled now. */
  private host (record: HostedRecord): void {
    const containerId = record.containerId as string
    this.hosted.set(containerId, record)
    const exit = this.earlyExits?.get(containerId)

    if (exit != null) {
      this.earlyExits?.delete(containerId)
      this.containerExited(exit)
    }
  }

  /** A recovery or a launch is done; once none runs, early exits of containers never hosted are moot. */
  private idle (): void {
    if (--this.busy === 0) {
      this.earlyExits = undefined
    }
  }

  private labels (record: HostedRecord): Record<string, string> {
    return {
      [LABEL_SUPPLIER]: this.init.self().peerId,
      [LABEL_BUYER]: record.buyer,
      [LABEL_OFFER]: String(record.offerId),
      [LABEL_REQUEST]: record.requestId,
      [LABEL_INDEX]: String(record.index),
      [LABEL_CPU_CLASS]: String(record.resources.cpuClass),
      [LABEL_CPUS]: String(record.resources.cpus),
      [LABEL_MEMORY]: String(record.resources.memory)
    }
  }

  /** The status of a running container, as launched (or, for a rebuilt record, as asked again). */
  private statusOf (record: HostedRecord, config = record.config as ContainerConfig): ContainerStatus {
    return {
      ...copyContainerConfig(config),
      portMappings: copyPortMappings(record.portMappings ?? config.portMappings),
      supplier: this.init.self(),
      containerId: record.containerId as string,
      state: RUNNING
    }
  }

  private view (record: HostedRecord): HostedContainer {
    const { containerId, buyer, offerId, requestId, resources, config } = record

    return {
      containerId: containerId as string,
      buyer,
      offerId,
      requestId,
      resources: { ...resources },
      ...(config == null ? {} : { status: this.statusOf(record) })
    }
  }

  /** Remove a container from the runtime; gone already is fine, another failure is logged. */
  private async removeFromRuntime (containerId: string): Promise<void> {
    try {
      await this.init.runtime.removeContainer(containerId)
    } catch (err: any) {
      if (err?.name !== NOT_FOUND_ERROR) {
        this.log.error('could not remove container %s - %e', containerId, err)
      }
    }
  }

  private async save (record: HostedRecord): Promise<void> {
    try {
      await this.init.ledger.putHosted(record)
    } catch (err: any) {
      this.log.error('could not record container %s of %s - %e', record.containerId, record.buyer, err)
    }
  }

  private async forget (record: HostedRecord): Promise<void> {
    if (record.containerId != null) {
      this.exited?.delete(record.containerId)
      this.kept?.delete(record.containerId)
      this.unclaimed?.delete(record.containerId)
    }

    try {
      await this.init.ledger.deleteHosted(record)
    } catch (err: any) {
      this.log.error('could not delete the record of container %s of %s - %e', record.containerId, record.buyer, err)
    }
  }

  /** An exited container whose buyer is not told yet: a status asks answer `exited` until then. */
  private rememberExit (record: HostedRecord): void {
    if (record.containerId != null) {
      this.unclaimed?.delete(record.containerId)
      this.exited ??= new Map()
      this.exited.set(record.containerId, record)
    }
  }

  /** Its buyer asked about the container: it is kept from now on. */
  private claim (record: HostedRecord): void {
    if (record.unclaimed !== true) {
      return
    }

    delete record.unclaimed
    this.unclaimed?.delete(record.containerId as string)
    void this.save(record)
  }

  private claimTimeout (): number {
    return this.init.claimTimeout?.() ?? DEFAULT_CLAIM_TIMEOUT
  }

  /** While containers are unclaimed, a timer removes the oldest when its claim time is up. */
  private armClaims (): void {
    const first = this.unclaimed?.entries().next().value

    if (this.claimTimer != null || first == null || this.stopped) {
      return
    }

    const { clock } = this.init
    this.claimTimer = clock.setTimeout(() => {
      this.claimTimer = undefined
      void this.removeUnclaimed().finally(() => { this.armClaims() })
    }, Math.max(0, first[1] - clock.now()))
  }

  /**
   * Remove the containers whose claim time is up: their buyer never asked about them (it crashed,
   * or gave up on the launch before the answer came), so nobody would ever stop them.
   */
  private async removeUnclaimed (): Promise<void> {
    const now = this.init.clock.now()
    const due: string[] = []

    for (const [containerId, by] of this.unclaimed ?? []) {
      if (by > now) {
        break
      }

      due.push(containerId)
    }

    for (const containerId of due) {
      this.unclaimed?.delete(containerId)
      const record = this.hosted.get(containerId)

      if (record?.unclaimed === true) {
        this.log('removing container %s of %s: its buyer never claimed it', containerId, record.buyer)
        this.unclaimedRemovals++
        await this.remove(containerId)
      }
    }
  }

  /** A container no longer hosted. */
  private unhost (containerId: string): void {
    this.hosted.delete(containerId)
  }

  /** Remember a launch; forget the oldest beyond `MAX_REMEMBERED_LAUNCHES` or `LAUNCH_MEMORY_MS`. */
  private remember (key: string, launch: Launch): void {
    this.launches.set(key, launch)
    this.forgetOld(launch.at)
    this.armForget()
  }

  private forgetLaunch (key: string): void {
    this.launches.delete(key)
  }

  /** Forget the launches `LAUNCH_MEMORY_MS` old at `now`, and the oldest beyond `MAX_REMEMBERED_LAUNCHES`. */
  private forgetOld (now: number): void {
    for (const [oldest, { at }] of this.launches) {
      if (this.launches.size <= MAX_REMEMBERED_LAUNCHES && now - at < LAUNCH_MEMORY_MS) {
        break
      }

      this.launches.delete(oldest)
    }
  }

  /** While launches are remembered, a timer forgets the oldest when it is `LAUNCH_MEMORY_MS` old. */
  private armForget (): void {
    const oldest = this.launches.values().next().value

    if (this.forgetTimer != null || oldest == null || this.stopped) {
      return
    }

    const { clock } = this.init
    this.forgetTimer = clock.setTimeout(() => {
      this.forgetTimer = undefined
      this.forgetOld(clock.now())
      this.armForget()
    }, oldest.at + LAUNCH_MEMORY_MS - clock.now())
  }
}

/** Canonical JSON of containers' configurations (fields in one order, whatever order they came in). */
function fingerprintOf (containers: ContainerConfig[]): string {
  return JSON.stringify(containers.map(copyContainerConfig))
}

/** A launch must hold containers, each asking for some CPU and memory: none runs unlimited. */
function validate (containers: ContainerConfig[]): void {
  if (containers.length === 0) {
    throw new ProtocolStatusError('INVALID_REQUEST', 'a launch holds at least one container')
  }

  for (const [i, c] of containers.entries()) {
    if (c.resources.cpus === 0 || c.resources.memory === 0) {
      throw new ProtocolStatusError('INVALID_REQUEST', `containers[${i}] asks for no CPU or no memory: every container must ask for both`)
    }
  }
}

/** The key of a launch: request ids are per buyer. */
function launchKey (buyer: string, requestId: string): string {
  return `${buyer}/${requestId}`
}

function isLive (container: OwnedContainer): boolean {
  return LIVE_STATES.has(container.state)
}

/** The records of each launch. */
function groupByLaunch (records: HostedRecord[]): HostedRecord[][] {
  const launches = new Map<string, HostedRecord[]>()

  for (const record of records) {
    const key = launchKey(record.buyer, record.requestId)
    launches.set(key, [...launches.get(key) ?? [], record])
  }

  return [...launches.values()]
}

/** The labels name the record's place: its buyer, launch and index. */
function sameSlot (record: HostedRecord, labels: Record<string, string>): boolean {
  return labels[LABEL_BUYER] === record.buyer && labels[LABEL_REQUEST] === record.requestId && labels[LABEL_INDEX] === String(record.index)
}

/** The record of a running container, from its labels; undefined when one is missing or invalid. */
function recordFromLabels ({ containerId, labels, portMappings }: OwnedContainer): HostedRecord | undefined {
  const [offerId, index, cpuClass, cpus, memory] = [LABEL_OFFER, LABEL_INDEX, LABEL_CPU_CLASS, LABEL_CPUS, LABEL_MEMORY].map(label => Number(labels[label] ?? NaN))
  const buyer = labels[LABEL_BUYER]
  const requestId = labels[LABEL_REQUEST]

  if (buyer == null || requestId == null || ![offerId, index, cpuClass, cpus, memory].every(n => Number.isSafeInteger(n) && n >= 0)) {
    return undefined
  }

  return { state: 'running', buyer, offerId, requestId, index, resources: { cpuClass, cpus, memory }, containerId, portMappings }
}
