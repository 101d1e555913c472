/**
 * The containers this peer placed (the original's user manager), with their suppliers: listed by
 * `ps`, stopped by full or unique short id, told by their suppliers when they exit. Kept in the
 * ledger, so that a restarted peer still lists them.
 *
 * Every `statusInterval` it asks each supplier of its containers about them (`containerStatus`):
 * a supplier that misses `MISSED_ANSWERS` answers in a row is taken for lost, and so are its
 * containers, until it answers again. A stop of a container whose supplier cannot be reached is
 * recorded (`stopping`) and carried out when the supplier answers again, and so is the cancel of
 * a launch whose answer never came (`cancelLater`).
 *
 * A container with a restart policy (`RestartPolicy`) that exits or is lost is placed again
 * through discovery (`replace`), under the same name, stack and group policy, with backoff when
 * the placement fails or the container keeps dying young. A lost copy that was replaced is kept
 * as `stopping`: when its supplier comes back with it still running, it is stopped there, so that
 * exactly one copy runs.
 */

import { copyPortMappings } from '../copy.js'
import { copyList } from '../empty.js'
import { ProtocolStatusError } from '../errors.js'
import { LazyMap } from '../lazy-map.js'
import { MAX_STATUS_IDS } from '../protocols/constants.js'
import { ContainerNotPlacedError } from './errors.js'
import { forEachLimit } from './tasks.js'
import type { AbortOptions, CaravelaClient, Clock, ContainerConfig, ContainerStatus, ContainerView, NodeRef, RemoteContainerState, StopOptions, StopResult } from '../types.js'
import type { Ledger } from './ledger.js'
import type { Reputation } from './reputation.js'
import type { Logger } from '@libp2p/interface'

/** Shortest prefix of a container id accepted by `stop`. */
export const MIN_SHORT_ID_LENGTH = 4
/** Status checks in a row a supplier leaves unanswered before its containers are taken for lost. */
export const MISSED_ANSWERS = 2
/** Suppliers asked at the same time by one status check. */
export const STATUS_CONCURRENCY = 8
/** State of a container whose supplier cannot be reached, or no longer knows it. */
export const LOST = 'lost'
/** State of a container whose stop is recorded, to be carried out when its supplier answers again. */
export const STOPPING = 'stopping'
/** State of a running container. */
const RUNNING = 'running'
/** State shown for a container recorded running before a restart, until its supplier answers. */
export const UNKNOWN = 'unknown'

/**
 * Longest wait between two status checks of a lost supplier. A lost supplier is asked again after
 * a quarter of the time it has been gone (never sooner than `statusInterval`): a buyer does not
 * dial a supplier that left for good every few seconds forever, and one that comes back is heard
 * from within a quarter of its absence, or at once when it connects (`supplierSeen`).
 */
export const LOST_CHECK_MAX_INTERVAL = 300_000
/** Launch cancels waiting for their suppliers, at most: the oldest is dropped for a new one. */
export const MAX_PENDING_CANCELS = 1024
/** Re-placements of containers with a restart policy running at the same time. */
export const RESTART_CONCURRENCY = 4
/** Wait before the second try of a re-placement; it doubles with every try, up to `RESTART_MAX_DELAY`. */
export const RESTART_BASE_DELAY = 1_000
/** Longest wait between two tries of a re-placement. */
export const RESTART_MAX_DELAY = 60_000
/**
 * A container that ran at least this long before it exited is re-placed at once; one that ran
 * less waits as its restart count says, as Docker does for a container that keeps dying young.
 */
export const RESTART_RESET = 10_000
/** Exited copies that restarts replaced, kept for `logs` of their ids, at most: the oldest is forgotten first. */
export const MAX_REPLACED_KEPT = 64

/** What the status checks found, for the metrics. */
export interface ContainerCheckStats {
  /** containers by state now: running, exited, lost, stopping, ... */
  byState: Record<string, number>
  /** status checks made (one per supplier asked) and those left unanswered */
  checks: number
  unanswered: number
  /** suppliers taken for lost, and the total and largest time from their last answer to then (ms) */
  suppliersLost: number
  lostDetectionMsSum: number
  lostDetectionMsMax: number
  /** stops recorded while the supplier could not be reached, and those carried out since */
  stopsPending: number
  stopsCarriedOut: number
  /** stops forgotten (`force`) while the supplier could not be reached */
  stopsForgotten: number
  /** containers placed again for their restart policy, and re-placements that failed (tried again later) */
  restarts: number
  restartsFailed: number
}

/** A group of containers waiting to be placed again. */
interface PendingRestart {
  /** failed re-placements in a row */
  attempts: number
  timer?: { cancel (): void }
}

/** What the user manager remembers of one supplier between status checks. */
interface SupplierCheck {
  /** checks in a row it left unanswered */
  missed: number
  /** clock time of its last answer, or of the first check when none came yet */
  lastAnswer: number
  /** a check of it is under way */
  busy: boolean
  /** while lost: clock time before which it is not asked again */
  next?: number
}

/** What the user manager works with. */
export interface UserManagerInit {
  client: CaravelaClient
  clock: Clock
  ledger: Ledger
  log: Logger
  /** where a supplier that lost a container, or does not answer a stop, is marked (the buyer's) */
  reputation?: Reputation
  /** milliseconds between status checks of the suppliers; without it, none is made */
  statusInterval?: () => number
  /**
   * Places containers again, for their restart policy (the buyer's `run`), on suppliers other
   * than `avoid`; without it nothing is re-placed
   */
  replace?: (containers: ContainerConfig[], avoid: string[]) => Promise<{ requestId: string, statuses: ContainerStatus[] }>
  /** told of each container placed again for its restart policy, once recorded (the simulator's accounts) */
  onReplaced?: (old: ContainerView, replacement: ContainerView) => void
  /**
   * milliseconds an exited copy that a restart replaced is kept (not listed), so that `logs` of
   * its id reads what its supplier kept of its output @default 0: forgotten at once
   */
  replacedRetention?: () => number
}

/** The containers this peer placed. */
export class UserManager {
  private readonly init: UserManagerInit
  /** container id → the container */
  private readonly placed = new LazyMap<string, ContainerView>()
  private loading?: Promise<void>
  /** supplier peer id → what its checks found; made by the first check (most peers place nothing) */
  private suppliers?: Map<string, SupplierCheck>
  /** armed while running and containers are placed */
  private timer?: { cancel (): void }
  private running = false
  /** the status check under way, if any */
  private checking?: Promise<void>
  private counters?: Omit<ContainerCheckStats, 'byState'>
  /** containers recorded running before a restart that no check has answered for yet: shown unknown */
  private unchecked?: Set<string>
  /** group (`restartGroupOf`) → its re-placement waiting or under way; made by the first */
  private restarts?: Map<string, PendingRestart>
  /** re-placements under way */
  private restarting = 0
  /** `supplier launchId` → a launch cancel its supplier has not heard yet; made by the first */
  private cancels?: Map<string, { supplier: NodeRef, launchId: string, until: number }>

  constructor (init: UserManagerInit) {
    this.init = init
  }

  /** The first time: the containers placed before a restart, from the ledger. */
  async load (): Promise<void> {
    this.loading ??= (async () => {
      for (const container of await this.init.ledger.placed()) {
        this.placed.set(container.containerId, container)

        // recorded running, but the supplier may have died meanwhile: unknown until it answers
        if (container.state === RUNNING) {
          (this.unchecked ??= new Set()).add(container.containerId)
        }
      }

      // a replacement is recorded before the copy it replaces is marked: a restart between the
      // two writes is finished here, so that the old copy is never placed a second time
      for (const container of this.placed.values()) {
        const old = container.replaces == null ? undefined : this.placed.get(container.replaces)

        if (old != null && old.replacedBy == null) {
          this.supersede(old, container.containerId)
          await this.persist(old.containerId)
        }
      }
    })()
    await this.loading
  }

  /** Start the status checks (once the ledger is loaded). */
  startChecks (): void {
    this.running = true

    // containers recorded before a restart are checked at once: they show unknown until then
    if (this.unchecked != null && this.init.statusInterval != null) {
      void this.check()
    }

    this.arm()
    // containers lost or exited before a restart are placed again now, as their policies say
    this.scheduleRestarts()
  }

  /** Stop the status checks, and the re-placements waiting (one under way still records what it placed). */
  stopChecks (): void {
    this.running = false
    this.timer?.cancel()
    this.timer = undefined
    this.restarts?.forEach(pending => { pending.timer?.cancel() })
    this.restarts = undefined
  }

  /**
   * Ask every supplier of the containers placed about them now, a few at a time, one request per
   * `MAX_STATUS_IDS` containers. Resolves once every answer came or was given up on.
   */
  async check (): Promise<void> {
    this.checking ??= this.checkAll().finally(() => { this.checking = undefined })
    await this.checking
  }

  /** What the status checks found. */
  checkStats (): ContainerCheckStats {
    const byState: Record<string, number> = {}

    for (const { containerId, state } of this.listed()) {
      const key = state.startsWith('exited') ? 'exited' : this.shown(containerId, state)
      byState[key] = (byState[key] ?? 0) + 1
    }

    return { byState, ...(this.counters ?? emptyCounters()) }
  }

  /**
   * Record the containers of a placed request, and the stack they make up, if any; `containers`
   * are those asked for, in the same order, with their restart policies.
   */
  async add (statuses: ContainerStatus[], requestId: string, stack?: string, containers?: ContainerConfig[]): Promise<void> {
    statuses.forEach((status, i) => {
      this.record(status, requestId, { stack, config: containers?.[i] })
    })

    await Promise.all(statuses.map(async ({ containerId }) => { await this.persist(containerId) }))
    this.arm()
  }

  /** A placed container's record, kept from now on. */
  private record (status: ContainerStatus, requestId: string, from: { stack?: string, config?: ContainerConfig, replaced?: ContainerView }): ContainerView {
    const { stack, config, replaced } = from
    const restart = replaced?.restart ?? config?.restart
    const view: ContainerView = {
      containerId: status.containerId,
      name: status.name,
      image: status.image,
      args: copyList(status.args),
      supplier: { peerId: status.supplier.peerId, multiaddrs: copyList(status.supplier.multiaddrs) },
      state: status.state,
      resources: { ...status.resources },
      portMappings: copyPortMappings(status.portMappings),
      requestId,
      createdAt: this.init.clock.now(),
      ...(stack == null ? {} : { stack }),
      groupPolicy: config?.groupPolicy ?? status.groupPolicy
    }

    if (restart != null && restart.name !== 'no') {
      view.restart = { ...restart }
      view.restartCount = replaced == null ? 0 : (replaced.restartCount ?? 0) + 1
      view.requestedPorts = copyPortMappings(replaced?.requestedPorts ?? config?.portMappings ?? status.portMappings)
    }

    if (replaced != null) {
      view.replaces = replaced.containerId
    }

    this.placed.set(view.containerId, view)
    return view
  }

  /**
   * ContainerExited from a supplier: the container shows as `exited (<code>)`. Only the
   * container's supplier may say so.
   */
  async containerExited (supplier: string, containerId: string, exitCode: number | undefined, reason: string): Promise<void> {
    const container = this.placed.get(containerId)

    if (container == null) {
      throw new ProtocolStatusError('NOT_FOUND', `no container ${containerId} was placed by this peer`)
    }

    if (container.supplier.peerId !== supplier) {
      throw new ProtocolStatusError('REFUSED', `container ${containerId} runs at another supplier`)
    }

    this.init.log('container %s exited at %s with code %s: %s', containerId, supplier, exitCode, reason)
    this.checked(containerId)

    // a stale copy that ended by itself has nothing left to stop
    if (container.state === STOPPING) {
      this.placed.delete(containerId)
    } else {
      this.exited(container, exitCode)
    }

    await this.persist(containerId)
    this.scheduleRestarts()
  }

  /** The containers this peer placed, oldest first; exited copies that restarts replaced are not listed. */
  list (): ContainerView[] {
    return this.listed().map(c => this.view(c))
  }

  private listed (): ContainerView[] {
    return [...this.placed.values()].filter(c => !isReplacedExited(c))
  }

  /** A container its supplier says ended: its state, exit code and the time this peer heard it. */
  private exited (container: ContainerView, exitCode: number | undefined): void {
    container.state = exitCode == null ? 'exited' : `exited (${exitCode})`
    container.finishedAt ??= this.init.clock.now()

    if (exitCode != null) {
      container.exitCode = exitCode
    }
  }

  /** The state `ps` shows: unknown for a container recorded running before a restart, until its supplier answers. */
  private shown (containerId: string, state: string): string {
    return this.unchecked?.has(containerId) === true ? UNKNOWN : state
  }

  /**
   * The container a full id or unique short id names, as `list` shows it.
   *
   * @throws {ContainerNotPlacedError} when it names none, or several
   */
  find (id: string): ContainerView {
    const found = this.resolve(id)

    if (typeof found === 'string') {
      throw new ContainerNotPlacedError(found)
    }

    return this.view(found)
  }

  /** A copy of a container's record, with the state `ps` shows. */
  private view (container: ContainerView): ContainerView {
    return { ...structuredClone(container), state: this.shown(container.containerId, container.state) }
  }

  /** A check or its supplier said what became of the container. */
  private checked (containerId: string): void {
    this.unchecked?.delete(containerId)

    if (this.unchecked?.size === 0) {
      this.unchecked = undefined
    }
  }

  /**
   * Stop containers by full id or unique prefix of at least `MIN_SHORT_ID_LENGTH` characters,
   * each at its supplier. One result per id given, in order; a container its supplier no longer
   * runs counts as stopped. A supplier that answers it has no container it never said had ended,
   * or that does not answer at all, is marked in the buyer's reputation table. With `force`, a
   * container whose supplier cannot be reached is forgotten instead of stopped later.
   */
  async stop (ids: string[], options: StopOptions = {}): Promise<StopResult[]> {
    return Promise.all(ids.map(async id => {
      const found = this.resolve(id)

      if (typeof found === 'string') {
        return { id, stopped: false, error: found }
      }

      if (found.state === LOST || found.state === STOPPING) {
        return options.force === true ? this.forget(id, found) : this.stopLater(id, found)
      }

      try {
        await this.stopAt(found.supplier, found.containerId, options)
      } catch (err: any) {
        if (!isNotFound(err)) {
          this.init.log('could not stop %s at %s - %e', found.containerId, found.supplier.peerId, err)

          if (err?.name !== 'RemoteRequestError' && options.signal?.aborted !== true) {
            this.init.reputation?.mark(found.supplier.peerId, 'unreachable')
            // its supplier is unreachable: the stop is carried out when it answers again
            return options.force === true ? this.forget(id, found) : this.stopLater(id, found)
          }

          return { id, stopped: false, error: `supplier ${found.supplier.peerId} did not stop it: ${err?.message ?? err}` }
        }

        // gone, though its supplier never said it ended: lost, or never started
        if (!found.state.startsWith('exited')) {
          this.init.log('%s no longer has container %s, which it never said ended', found.supplier.peerId, found.containerId)
          this.init.reputation?.mark(found.supplier.peerId, 'lost')
        }
      }

      this.placed.delete(found.containerId)
      this.checked(found.containerId)
      await this.persist(found.containerId)
      return { id, stopped: true }
    }))
  }

  /** A stop its supplier cannot hear now: recorded, and carried out when it answers again. */
  private async stopLater (id: string, container: ContainerView): Promise<StopResult> {
    if (container.state !== STOPPING) {
      container.state = STOPPING
      this.count('stopsPending')
      await this.persist(container.containerId)
      this.arm()
    }

    return { id, stopped: false, pending: true, error: `supplier ${container.supplier.peerId} cannot be reached: the container is stopped when it answers again` }
  }

  /**
   * A launch whose answer never came, and whose cancel its supplier did not hear: the cancel is sent
   * again with every status check until the supplier hears it, or `until` (when the supplier
   * removes what nobody claimed on its own).
   */
  cancelLater (supplier: NodeRef, launchId: string, until: number): void {
    const cancels = (this.cancels ??= new Map())

    if (cancels.size >= MAX_PENDING_CANCELS) {
      cancels.delete(cancels.keys().next().value as string)
    }

    cancels.set(`${supplier.peerId} ${launchId}`, { supplier, launchId, until })
    this.arm()
  }

  /** The cancels waiting for their suppliers, sent again; those heard, or past their time, are dropped. */
  private async retryCancels (): Promise<void> {
    const now = this.init.clock.now()
    const cancels = [...this.cancels?.entries() ?? []]

    await forEachLimit(cancels, STATUS_CONCURRENCY, async ([key, { supplier, launchId, until }]) => {
      if (until <= now) {
        this.cancels?.delete(key)
        return
      }

      try {
        await this.withCheckTimeout(async signal => { await this.init.client.cancelLaunch(supplier, launchId, { signal }) }, 'cancel')
        this.init.log('launch %s at %s cancelled now that its supplier answers', launchId, supplier.peerId)
        this.cancels?.delete(key)
      } catch (err: any) {
        if (err?.name === 'RemoteRequestError') {
          this.cancels?.delete(key)
        }
      }
    })

    if (this.cancels?.size === 0) {
      this.cancels = undefined
    }
  }

  /** A container whose supplier cannot be reached, forgotten: it may still run there, unknown to this peer. */
  private async forget (id: string, container: ContainerView): Promise<StopResult> {
    this.init.log('forgetting %s: its supplier %s cannot be reached', container.containerId, container.supplier.peerId)
    this.placed.delete(container.containerId)
    this.checked(container.containerId)
    this.count('stopsForgotten')
    await this.persist(container.containerId)
    return { id, stopped: true, forgotten: true }
  }

  /** Arm the next status check while running and containers are placed (a peer that placed nothing has no timer). */
  private arm (): void {
    const interval = this.init.statusInterval?.()

    if (!this.running || this.timer != null || interval == null || (this.placed.size === 0 && this.cancels == null)) {
      return
    }

    this.timer = this.init.clock.setTimeout(() => {
      this.timer = undefined
      void this.check().finally(() => { this.arm() })
    }, interval)
  }

  private async checkAll (): Promise<void> {
    const bySupplier = new Map<string, { supplier: NodeRef, ids: string[] }>()
    const now = this.init.clock.now()

    for (const c of this.placed.values()) {
      // an exited container has nothing more to say, unless a stop of it waits; a lost supplier
      // is asked less and less often
      if (c.state.startsWith('exited') || (this.suppliers?.get(c.supplier.peerId)?.next ?? 0) > now) {
        continue
      }

      const entry = bySupplier.get(c.supplier.peerId) ?? { supplier: c.supplier, ids: [] }
      entry.ids.push(c.containerId)
      bySupplier.set(c.supplier.peerId, entry)
    }

    const queue = [...bySupplier.values()]
    const workers = Array.from({ length: Math.min(STATUS_CONCURRENCY, queue.length) }, async () => {
      for (let next = queue.shift(); next != null; next = queue.shift()) {
        await this.checkSupplier(next.supplier, next.ids)
      }
    })
    await Promise.all(workers)
    // what the answers found lost or exited is placed again, as the restart policies say
    this.scheduleRestarts()
    await this.forgetReplaced()

    if (this.cancels != null) {
      await this.retryCancels()
    }
  }

  /** Ask one supplier about its containers; each asking waits half the interval at most. */
  private async checkSupplier (supplier: NodeRef, ids: string[]): Promise<void> {
    const { clock } = this.init
    const suppliers = (this.suppliers ??= new Map<string, SupplierCheck>())
    const check = suppliers.get(supplier.peerId) ?? { missed: 0, lastAnswer: clock.now(), busy: false }
    suppliers.set(supplier.peerId, check)

    if (check.busy) {
      return
    }

    check.busy = true
    this.count('checks')

    try {
      const states: RemoteContainerState[] = []

      for (let i = 0; i < ids.length; i += MAX_STATUS_IDS) {
        states.push(...await this.ask(supplier, ids.slice(i, i + MAX_STATUS_IDS)))
      }

      check.missed = 0
      check.lastAnswer = clock.now()
      check.next = undefined
      await this.answered(supplier, new Set(ids), states)
    } catch (err: any) {
      if (err?.name === 'RemoteRequestError') {
        // it answered, though not with states (an older peer, or busy): it is there, and the
        // containers keep their recorded states
        ids.forEach(id => { this.checked(id) })
        check.missed = 0
        check.lastAnswer = clock.now()
        check.next = undefined
        this.init.log('%s answered the status check with %s', supplier.peerId, err.status)
        return
      }

      this.count('unanswered')

      if (check.missed + 1 >= MISSED_ANSWERS) {
        const gone = clock.now() - check.lastAnswer
        check.next = clock.now() + Math.min(LOST_CHECK_MAX_INTERVAL, Math.max(this.init.statusInterval?.() ?? 0, gone / 4))
      }

      if (++check.missed === MISSED_ANSWERS) {
        const latency = clock.now() - check.lastAnswer
        this.init.log('%s missed %d status checks: its containers are lost - %e', supplier.peerId, check.missed, err)
        this.count('suppliersLost')
        this.count('lostDetectionMsSum', latency)
        this.counters = { ...(this.counters ?? emptyCounters()), lostDetectionMsMax: Math.max(this.counters?.lostDetectionMsMax ?? 0, latency) }
        this.init.reputation?.mark(supplier.peerId, 'unreachable')
        await this.markLost(supplier.peerId)
      }
    } finally {
      check.busy = false

      if (![...this.placed.values()].some(c => c.supplier.peerId === supplier.peerId)) {
        suppliers.delete(supplier.peerId)
      }
    }
  }

  /**
   * A peer connected to this one: when it is a lost supplier, it is asked about its containers now
   * rather than at its next, spaced-out, check.
   */
  supplierSeen (peerId: string): void {
    const check = this.suppliers?.get(peerId)

    if (check == null || check.busy || check.missed < MISSED_ANSWERS || !this.running) {
      return
    }

    const containers = [...this.placed.values()].filter(c => c.supplier.peerId === peerId && !c.state.startsWith('exited'))

    if (containers.length > 0) {
      this.init.log('lost supplier %s connected: asking it about its containers now', peerId)
      void this.checkSupplier(containers[0].supplier, containers.map(c => c.containerId)).then(() => { this.scheduleRestarts() })
    }
  }

  /** One containerStatus request, given up after half the interval on the roles' clock. */
  private async ask (supplier: NodeRef, ids: string[]): Promise<RemoteContainerState[]> {
    return this.withCheckTimeout(async signal => this.init.client.containerStatus(supplier, ids, { signal }), 'status check')
  }

  /** A request of the status checks, given up after half the interval on the roles' clock. */
  private async withCheckTimeout<T> (request: (signal: AbortSignal) => Promise<T>, what: string): Promise<T> {
    const controller = new AbortController()
    const timer = this.init.clock.setTimeout(() => { controller.abort(new Error(`the supplier did not answer the ${what} in time`)) }, Math.max(1, (this.init.statusInterval?.() ?? 0) / 2))

    try {
      return await request(controller.signal)
    } finally {
      timer.cancel()
    }
  }

  /** The containers of a supplier that missed its checks are lost, but for those a stop waits on. */
  private async markLost (supplier: string): Promise<void> {
    const changed = [...this.placed.values()].filter(c => c.supplier.peerId === supplier && c.state !== STOPPING && !c.state.startsWith('exited'))
    changed.forEach(c => { c.state = LOST; this.checked(c.containerId) })
    await Promise.all(changed.map(async c => { await this.persist(c.containerId) }))
  }

  /** A supplier's answer: states taken, lost containers back, waiting stops carried out. */
  private async answered (supplier: NodeRef, asked: Set<string>, states: RemoteContainerState[]): Promise<void> {
    for (const { containerId, state, exitCode } of states) {
      const container = this.placed.get(containerId)

      // an answer about what was not asked, or about another supplier's container, is ignored
      if (container == null || !asked.has(containerId) || container.supplier.peerId !== supplier.peerId) {
        continue
      }

      asked.delete(containerId)
      this.checked(containerId)

      if (container.state === STOPPING) {
        await this.carryOutStop(container, state)
        continue
      }

      const before = container.state

      if (state === 'running') {
        container.state = RUNNING
      } else if (state === 'exited') {
        this.exited(container, exitCode)
      } else if (before !== LOST) {
        // it no longer knows a container it never said ended
        this.init.log('%s no longer knows container %s, which it never said ended', supplier.peerId, containerId)
        this.init.reputation?.mark(supplier.peerId, 'lost')
        container.state = LOST
      }

      if (container.state !== before) {
        await this.persist(containerId)
      }
    }
  }

  /** The supplier answers again: the stop recorded while it could not be reached is carried out. */
  private async carryOutStop (container: ContainerView, state: RemoteContainerState['state']): Promise<void> {
    if (state === 'running') {
      try {
        await this.stopAt(container.supplier, container.containerId, {})
      } catch (err: any) {
        if (!isNotFound(err)) {
          this.init.log('could not carry out the stop of %s at %s - %e', container.containerId, container.supplier.peerId, err)
          return
        }
      }
    }

    this.init.log('stop of %s at %s carried out', container.containerId, container.supplier.peerId)
    this.count('stopsCarriedOut')
    this.placed.delete(container.containerId)
    await this.persist(container.containerId)
  }

  /**
   * Give every container its restart policy says to place again, and that waits for nothing yet,
   * its re-placement: at once, or after a backoff when it died young.
   */
  private scheduleRestarts (): void {
    if (this.init.replace == null || !this.running) {
      return
    }

    const now = this.init.clock.now()

    for (const container of this.placed.values()) {
      const group = restartGroupOf(container)

      if (!restartDue(container) || this.restarts?.has(group) === true) {
        continue
      }

      const pending: PendingRestart = { attempts: 0 }
      const young = now - container.createdAt < RESTART_RESET
      ;(this.restarts ??= new Map()).set(group, pending)
      this.armRestart(group, pending, young ? backoff(container.restartCount ?? 0) : 0)
    }
  }

  private armRestart (group: string, pending: PendingRestart, delay: number): void {
    pending.timer = this.init.clock.setTimeout(() => {
      pending.timer = undefined
      void this.restart(group, pending)
    }, delay)
  }

  /**
   * Place a group's containers again; the copies of lost suppliers become stale (`stopping`), those
   * that exited are forgotten. A failed placement is tried again, later each time.
   */
  private async restart (group: string, pending: PendingRestart): Promise<void> {
    const replace = this.init.replace

    if (this.restarts?.get(group) !== pending || replace == null) {
      return
    }

    if (this.restarting >= RESTART_CONCURRENCY) {
      this.armRestart(group, pending, RESTART_BASE_DELAY)
      return
    }

    const containers = [...this.placed.values()].filter(c => restartGroupOf(c) === group && restartDue(c))

    if (containers.length === 0) {
      this.restarts.delete(group)
      return
    }

    // never on a supplier that is lost, nor, for spread containers, on one their request uses
    const { requestId } = containers[0]
    const avoid = new Set(containers.filter(c => c.state === LOST).map(c => c.supplier.peerId))

    if (containers[0].groupPolicy !== 'co-location') {
      for (const c of this.placed.values()) {
        if (c.requestId === requestId && c.state !== STOPPING && !c.state.startsWith('exited')) {
          avoid.add(c.supplier.peerId)
        }
      }
    }

    this.restarting++

    try {
      let placed: Awaited<ReturnType<typeof replace>>

      try {
        placed = await replace(containers.map(configOf), [...avoid])
      } catch (err: any) {
        pending.attempts++
        this.count('restartsFailed')
        this.init.log('could not place %s again (try %d) - %e', containers.map(c => c.containerId).join(', '), pending.attempts, err)

        if (this.restarts?.get(group) === pending) {
          this.armRestart(group, pending, backoff(pending.attempts))
        }

        return
      }

      try {
        await this.replaced(containers, placed.statuses, placed.requestId)
      } catch (err: any) {
        // placed all the same: placing them once more would make two copies
        this.init.log('could not record the re-placement of %s - %e', containers.map(c => c.containerId).join(', '), err)
      } finally {
        // only now: until they are superseded the old copies look due for a restart, and a status
        // answer or an exit heard meanwhile would place them once more
        if (this.restarts?.get(group) === pending) {
          this.restarts.delete(group)
        }
      }
    } finally {
      this.restarting--
    }
  }

  /** The containers that replace `old` are placed: recorded first, then the old copies retired. */
  private async replaced (old: ContainerView[], statuses: ContainerStatus[], requestId: string): Promise<void> {
    const stopNow: string[] = []

    for (const [i, container] of old.entries()) {
      const replacement = this.record(statuses[i], requestId, { stack: container.stack, config: configOf(container), replaced: container })
      this.count('restarts')
      await this.persist(replacement.containerId)
      this.init.log('%s placed again as %s at %s (restart %d)', container.containerId, replacement.containerId, replacement.supplier.peerId, replacement.restartCount)
      this.init.onReplaced?.(container, replacement)

      if (this.placed.get(container.containerId) !== container) {
        // its user stopped it while it was placed again: the new copy is stopped too
        stopNow.push(replacement.containerId)
      } else {
        this.supersede(container, replacement.containerId)
      }

      await this.persist(container.containerId)
    }

    await this.forgetReplaced()

    this.arm()

    if (stopNow.length > 0) {
      await this.stop(stopNow)
    }
  }

  /**
   * A copy that another replaced: one that exited is kept, unlisted, for `logs` of its id while
   * its supplier may keep its output; any other is retired.
   */
  private supersede (container: ContainerView, by: string): void {
    if (container.state.startsWith('exited')) {
      container.replacedBy = by
    } else {
      this.retire(container, by)
    }
  }

  /** Forget the exited copies that restarts replaced once their retention is up, and the oldest beyond `MAX_REPLACED_KEPT`. */
  private async forgetReplaced (): Promise<void> {
    const now = this.init.clock.now()
    const retention = this.init.replacedRetention?.() ?? 0
    const replaced = [...this.placed.values()].filter(isReplacedExited)
    const gone = replaced.filter((c, i) => (c.finishedAt ?? c.createdAt) + retention <= now || i < replaced.length - MAX_REPLACED_KEPT)

    for (const { containerId } of gone) {
      this.placed.delete(containerId)
      await this.persist(containerId)
    }
  }

  /** A copy that another replaced: stopped when its supplier answers (at once if it never went). */
  private retire (container: ContainerView, by: string): void {
    container.state = STOPPING
    container.replacedBy = by
    this.checked(container.containerId)
    this.count('stopsPending')
  }

  private count (key: keyof Omit<ContainerCheckStats, 'byState'>, by = 1): void {
    this.counters ??= emptyCounters()
    this.counters[key] += by
  }

  /**
   * StopLocalContainer, asked once more when the first answer was lost (a timeout, a dropped
   * stream): stopping is idempotent, a container already gone answers NOT_FOUND.
   */
  private async stopAt (supplier: NodeRef, containerId: string, options: AbortOptions): Promise<void> {
    try {
      await this.init.client.stopLocalContainer(supplier, containerId, options)
    } catch (err: any) {
      if (err?.name === 'RemoteRequestError' || options.signal?.aborted === true) {
        throw err
      }

      this.init.log('stopping %s at %s failed, asking again - %e', containerId, supplier.peerId, err)
      await this.init.client.stopLocalContainer(supplier, containerId, options)
    }
  }

  /** Write a container's record, or delete it once the container is no longer placed. */
  private async persist (containerId: string): Promise<void> {
    const container = this.placed.get(containerId)

    try {
      await (container == null ? this.init.ledger.deletePlaced(containerId) : this.init.ledger.putPlaced(container))
    } catch (err: any) {
      this.init.log.error('could not record container %s - %e', containerId, err)
    }
  }

  /** The container an id names, or why none. */
  private resolve (id: string): ContainerView | string {
    const exact = this.placed.get(id)

    if (exact != null) {
      return exact
    }

    if (id.length < MIN_SHORT_ID_LENGTH) {
      return `a container id needs at least ${MIN_SHORT_ID_LENGTH} characters`
    }

    const matches = [...this.placed.values()].filter(c => c.containerId.startsWith(id))

    if (matches.length === 1) {
      return matches[0]
    }

    return matches.length === 0 ? `no container ${id} was placed by this peer` : `${id} is ambiguous: it starts ${matches.length} container ids`
  }
}

function emptyCounters (): Omit<ContainerCheckStats, 'byState'> {
  return { checks: 0, unanswered: 0, suppliersLost: 0, lostDetectionMsSum: 0, lostDetectionMsMax: 0, stopsPending: 0, stopsCarriedOut: 0, stopsForgotten: 0, restarts: 0, restartsFailed: 0 }
}

/** The containers re-placed together: a co-located request's on one supplier, any other alone. */
function restartGroupOf (container: ContainerView): string {
  return container.groupPolicy === 'co-location' ? `${container.requestId}@${container.supplier.peerId}` : container.containerId
}

/** An exited copy that a restart replaced: kept for `logs` of its id, not listed. */
function isReplacedExited (container: ContainerView): boolean {
  return container.replacedBy != null && container.state.startsWith('exited')
}

/** Whether a container's restart policy says to place it again now. */
function restartDue (container: ContainerView): boolean {
  const { restart, state } = container

  if (restart == null || restart.name === 'no' || container.replacedBy != null || (restart.maxRetries != null && (container.restartCount ?? 0) >= restart.maxRetries)) {
    return false
  }

  if (state === LOST) {
    return true
  }

  // exited (0) is a success: on-failure leaves it
  return state.startsWith('exited') && (restart.name === 'always' || state !== 'exited (0)')
}

/** Wait before a re-placement after `tries` failed or short-lived ones: 0, 1 s, 2 s, 4 s … up to RESTART_MAX_DELAY. */
function backoff (tries: number): number {
  return tries <= 0 ? 0 : Math.min(RESTART_MAX_DELAY, RESTART_BASE_DELAY * 2 ** Math.min(tries - 1, 30))
}

/** The container a re-placement asks for: as first asked, ports included. */
function configOf (container: ContainerView): ContainerConfig {
  return {
    name: container.name,
    image: container.image,
    args: copyList(container.args),
    portMappings: copyPortMappings(container.requestedPorts ?? container.portMappings),
    resources: { ...container.resources },
    groupPolicy: container.groupPolicy ?? 'spread',
    ...(container.restart == null ? {} : { restart: { ...container.restart } })
  }
}

/** A supplier answered that it does not run the container (any more). */
function isNotFound (err: any): boolean {
  return err?.name === 'RemoteRequestError' && err.status === 'NOT_FOUND'
}
