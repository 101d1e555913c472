/**
 * Small scheduling helpers shared by the roles: periodic tasks on a `Clock`, bounded parallelism.
 */

import type { Clock } from '../types.js'

/** A periodic task that can be stopped. */
export interface RepeatingTask {
  cancel (): void
}

/**
 * The periodic tasks of a role, by name: a role implements these three methods once, where a
 * closure per task and step would cost a simulated network of a million peers a kilobyte a peer.
 */
export interface PeriodicTasks<Name extends string> {
  /** milliseconds from a run of `task` to the next, read again before each run */
  intervalOf (task: Name): number
  /** one run of `task` */
  runTask (task: Name): Promise<void>
  /** a run of `task` threw; it runs again all the same */
  taskFailed (task: Name, err: unknown): void
}

/**
 * Run `owner`'s task `task` every `owner.intervalOf(task)` ms on `clock`. Runs never overlap: the
 * next one is armed when the previous one has settled, with the interval read again, so a
 * configuration adopted later takes effect at the next run. A run that throws is reported to
 * `owner.taskFailed` and the task runs again.
 */
export function repeat<Name extends string> (clock: Clock, owner: PeriodicTasks<Name>, task: Name): RepeatingTask {
  return new Repeating(clock, owner, task)
}

/** `repeat`'s task: one object, one bound callback and one armed timer. */
class Repeating<Name extends string> implements RepeatingTask {
  private readonly clock: Clock
  private readonly owner: PeriodicTasks<Name>
  private readonly task: Name
  private timer?: { cancel (): void }
  private cancelled = false
  /** `run`, bound once */
  private readonly fire: () => void

  constructor (clock: Clock, owner: PeriodicTasks<Name>, task: Name) {
    this.clock = clock
    this.owner = owner
    this.task = task
    this.fire = this.run.bind(this)
    this.arm()
  }

  cancel (): void {
    this.cancelled = true
    this.timer?.cancel()
    this.timer = undefined
  }

  private arm (): void {
    if (!this.cancelled) {
      this.timer = this.clock.setTimeout(this.fire, this.owner.intervalOf(this.task))
    }
  }

  private run (): void {
    this.timer = undefined
    this.owner.runTask(this.task).then(() => { this.arm() }, err => {
      this.owner.taskFailed(this.task, err)
      this.arm()
    })
  }
}

/**
 * Call `fn` on every item with at most `limit` calls in flight; resolves when all have settled.
 * `fn` handles its own failures: a rejection only moves on to the next item.
 */
export async function forEachLimit<T> (items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const list = Array.isArray(items) ? items as T[] : [...items]
  const iterator = list[Symbol.iterator]()

  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); next.done !== true; next = iterator.next()) {
      await fn(next.value).catch(() => {})
    }
  }

  // no more workers than items: a swarm peer's trader, empty, must not start 1024 of them every round
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, list.length)) }, worker))
}
