/**
 * Small scheduling helpers shared by the roles: periodic tasks on a `Clock`, bounded parallelism.
 */

import type { Clock } from '../types.js'

/** A periodic task that can be stopped. */
export interface RepeatingTask {
  cancel (): void
}

/**
 * Run `task` every `interval()` ms on `clock`. Runs never overlap: the next one is armed when the
 * previous one has settled, with the interval read again, so a configuration adopted later takes
 * effect at the next run. A task that throws is reported to `onError` and runs again.
 */
export function repeat (clock: Clock, interval: () => number, task: () => Promise<void>, onError: (err: unknown) => void): RepeatingTask {
  return new Repeating(clock, interval, task, onError)
}

/**
 * `repeat`'s task: one object and one armed timer, made once. A simulated network holds several
 * per peer for a million peers, where a closure per step cost a kilobyte and a half a peer.
 */
class Repeating implements RepeatingTask {
  private readonly clock: Clock
  private readonly interval: () => number
  private readonly task: () => Promise<void>
  private readonly onError: (err: unknown) => void
  private timer?: { cancel (): void }
  private cancelled = false
  /** `run`, bound once */
  private readonly fire = (): void => { this.run() }

  constructor (clock: Clock, interval: () => number, task: () => Promise<void>, onError: (err: unknown) => void) {
    this.clock = clock
    this.interval = interval
    this.task = task
    this.onError = onError
    this.arm()
  }

  cancel (): void {
    this.cancelled = true
    this.timer?.cancel()
    this.timer = undefined
  }

  private arm (): void {
    if (!this.cancelled) {
      this.timer = this.clock.setTimeout(this.fire, this.interval())
    }
  }

  private run (): void {
    this.timer = undefined
    this.task().then(() => { this.arm() }, err => {
      this.onError(err)
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
