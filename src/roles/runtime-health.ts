/**
 * Whether this peer's container engine answers. A supplier whose engine stopped (or whose socket
 * went away) must not go on offering resources it cannot hand out: buyers would be sent to a peer
 * that refuses them all. The engine is asked periodically (`ContainerRuntime.health`, else
 * `getCpuAndRam`), and every runtime call the roles make through `observe` counts too: a call that
 * finds no engine makes the peer unavailable at once, without waiting for the next check.
 *
 * While unavailable the peer withdraws its offers and refuses launches; once the engine answers
 * again the containers are reconciled with it (those that ended meanwhile are released and their
 * buyers told) before the peer offers again.
 */

import { DEFAULT_RUNTIME_CHECK_INTERVAL } from '../config/config.js'
import { repeat } from './tasks.js'
import type { AbortOptions, Clock, ContainerRuntime, OwnedContainer, RuntimeHealthState } from '../types.js'
import type { PeriodicTasks, RepeatingTask } from './tasks.js'
import type { Logger } from '@libp2p/interface'

/** Milliseconds between two checks of the engine of a peer (`node.runtimeCheckInterval`). */
export const RUNTIME_CHECK_INTERVAL = DEFAULT_RUNTIME_CHECK_INTERVAL
/** Milliseconds a check waits for the engine: one that hangs is as gone as one that refuses. */
export const RUNTIME_CHECK_TIMEOUT = 5_000
/** `name`s of the errors of a runtime whose engine does not answer. */
const UNAVAILABLE_ERRORS = new Set(['DockerUnavailableError', 'RuntimeUnavailableError'])

/** An error of a runtime call that says the engine does not answer (rather than refusing the call). */
export function isRuntimeUnavailable (err: unknown): boolean {
  return UNAVAILABLE_ERRORS.has((err as Error | undefined)?.name ?? '')
}

export interface RuntimeHealthInit {
  runtime: ContainerRuntime
  clock: Clock
  /** milliseconds between checks @default RUNTIME_CHECK_INTERVAL */
  interval?: number
  /** milliseconds a check waits for an answer @default RUNTIME_CHECK_TIMEOUT */
  timeout?: number
  log: Logger
  /** the engine stopped answering: stop offering (called once per outage) */
  onDown: (reason: string) => Promise<void> | void
  /**
   * The engine answers again: reconcile the containers with it. The peer stays unavailable until
   * this resolves; when it throws, the outage goes on and the next check tries again.
   */
  reconcile: () => Promise<void>
  /** the engine answers and the containers are reconciled: offer again */
  onUp: () => Promise<void> | void
}

/** Watches a container engine; one per peer. */
export class RuntimeHealth implements PeriodicTasks<'check-runtime'> {
  private readonly init: RuntimeHealthInit
  private readonly log: Logger
  private current: RuntimeHealthState
  private task?: RepeatingTask
  /** the transition under way (going down, or reconciling and coming up); they run one at a time */
  private transition: Promise<void> = Promise.resolve()
  private checking?: Promise<void>

  constructor (init: RuntimeHealthInit) {
    this.init = init
    this.log = init.log
    this.current = { state: 'ok', since: init.clock.now(), outages: 0 }
  }

  /**
   * Whether the engine answers now, before `start`: undefined when it does, else why not. A peer
   * whose engine does not answer at its start still starts, unavailable (`start(reason)`).
   */
  async probe (): Promise<string | undefined> {
    try {
      await this.ask()
      return undefined
    } catch (err) {
      return describe(err)
    }
  }

  /**
   * Check every interval, from one interval on. With `unavailable` (what `probe` found), the
   * engine did not answer the start: the peer is unavailable from now on, with nothing to
   * withdraw (it offered nothing yet), until a check finds the engine.
   */
  start (unavailable?: string): void {
    if (unavailable != null && this.current.state === 'ok') {
      this.current = { state: 'unavailable', since: this.init.clock.now(), reason: unavailable, outages: this.current.outages + 1 }
      this.log.error('the container engine does not answer: this peer offers nothing and refuses launches until it does - %s', unavailable)
    }

    this.task ??= repeat(this.init.clock, this, 'check-runtime')
  }

  stop (): void {
    this.task?.cancel()
    this.task = undefined
  }

  /** What `caravela node` shows. */
  get state (): RuntimeHealthState {
    return { ...this.current }
  }

  /** Why launches are refused now, or undefined while the engine answers. */
  get unavailableReason (): string | undefined {
    return this.current.state === 'ok' ? undefined : `this peer's container engine does not answer (since ${new Date(this.current.since).toISOString()}): ${this.current.reason ?? 'unknown'}`
  }

  intervalOf (): number {
    return this.init.interval ?? RUNTIME_CHECK_INTERVAL
  }

  async runTask (): Promise<void> {
    await this.check()
  }

  taskFailed (_task: string, err: unknown): void {
    this.log.error('runtime check failed - %e', err)
  }

  /** Ask the engine now; a check already under way is waited for instead. Settles once the state it leads to is reached. */
  async check (): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => { this.checking = undefined })
    await this.checking
  }

  /**
   * An error of a runtime call: when it says the engine does not answer, the peer is unavailable
   * from now on (until a check finds the engine again). Other errors say nothing of the engine.
   */
  report (err: unknown): void {
    if (isRuntimeUnavailable(err)) {
      void this.down(describe(err))
    }
  }

  /** `runtime` with every call's failure `report`ed: what the containers manager uses. */
  observe (runtime: ContainerRuntime): ContainerRuntime {
    const watch = async <T>(call: Promise<T>): Promise<T> => {
      try {
        return await call
      } catch (err) {
        this.report(err)
        throw err
      }
    }
    const { listOwned, connectPort } = runtime

    return {
      getCpuAndRam: async options => watch(runtime.getCpuAndRam(options)),
      checkContainerStatus: async (containerId, options) => watch(runtime.checkContainerStatus(containerId, options)),
      runContainer: async (config, labels, options) => watch(runtime.runContainer(config, labels, options)),
      removeContainer: async (containerId, options) => watch(runtime.removeContainer(containerId, options)),
      // a stream that may last for hours: its end says nothing of the engine
      logs: (containerId, options) => runtime.logs(containerId, options),
      // a port nothing listens on says nothing of the engine either
      ...(connectPort == null ? {} : { connectPort: connectPort.bind(runtime) }),
      ...(listOwned == null ? {} : { listOwned: async (options?: AbortOptions): Promise<OwnedContainer[]> => watch(listOwned.call(runtime, options)) })
    }
  }

  private async checkOnce (): Promise<void> {
    await this.transition

    try {
      await this.ask()
    } catch (err) {
      await this.down(describe(err))
      return
    }

    if (this.current.state !== 'ok') {
      await this.up()
    }
  }

  /** One call to the engine, given up after the timeout. */
  private async ask (): Promise<void> {
    const { runtime, clock } = this.init
    const timeout = this.init.timeout ?? RUNTIME_CHECK_TIMEOUT
    const controller = new AbortController()
    let timer: { cancel (): void } | undefined

    try {
      await Promise.race([
        runtime.health != null ? runtime.health({ signal: controller.signal }) : runtime.getCpuAndRam({ signal: controller.signal }),
        new Promise<never>((resolve, reject) => {
          timer = clock.setTimeout(() => {
            controller.abort()
            reject(new Error(`the engine did not answer within ${timeout} ms`))
          }, timeout)
        })
      ])
    } finally {
      timer?.cancel()
    }
  }

  /** The engine does not answer: unavailable at once, then the offers are withdrawn. */
  private async down (reason: string): Promise<void> {
    if (this.current.state !== 'ok') {
      this.current.reason = reason
      return
    }

    this.current = { state: 'unavailable', since: this.init.clock.now(), reason, outages: this.current.outages + 1 }
    this.log.error('the container engine does not answer: withdrawing the offers and refusing launches - %s', reason)
    await this.serially(async () => { await this.init.onDown(reason) })
  }

  /** The engine answers again: reconcile, then ok and offering again. */
  private async up (): Promise<void> {
    await this.serially(async () => {
      if (this.current.state === 'ok') {
        return
      }

      try {
        await this.init.reconcile()
      } catch (err) {
        this.log.error('the container engine answers again, but reconciling the containers with it failed - %e', err)
        this.current.reason = describe(err)
        return
      }

      const outage = this.init.clock.now() - this.current.since
      this.current = { state: 'ok', since: this.init.clock.now(), outages: this.current.outages }
      this.log('the container engine answers again after %d ms: offering again', outage)
      await this.init.onUp()
    })
  }

  private async serially (fn: () => Promise<void>): Promise<void> {
    const next = this.transition.then(fn).catch(err => { this.log.error('runtime state change failed - %e', err) })
    this.transition = next
    await next
  }
}

function describe (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
