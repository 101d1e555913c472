/**
 * The real clock: `Date.now()` and Node's timers, unref'd so that a role's timer never keeps a
 * process alive on its own.
 */

import type { Clock } from './types.js'

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now (): number {
    return Date.now()
  },

  setTimeout (fn: () => void, ms: number): { cancel (): void } {
    const timer = setTimeout(fn, ms)
    timer.unref()

    return { cancel: () => { clearTimeout(timer) } }
  },

  setInterval (fn: () => void, ms: number): { cancel (): void } {
    const timer = setInterval(fn, ms)
    timer.unref()

    return { cancel: () => { clearInterval(timer) } }
  }
}
