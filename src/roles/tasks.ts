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
  let timer: { cancel (): void } | undefined
  let cancelled = false

  const arm = (): void => {
    if (cancelled) {
      return
    }

    timer = clock.setTimeout(() => {
      task().catch(onError).finally(arm)
    }, interval())
  }

  arm()

  return {
    cancel: () => {
      cancelled = true
      timer?.cancel()
    }
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
