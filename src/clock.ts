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

/**
 * Wait `ms` on `clock` (a role's, so a simulated one runs it on virtual time), or until `signal`
 * aborts, whichever comes first; it never rejects: the caller checks the signal if it cares.
 */
export async function sleep (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = clock.setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })

    function done (): void {
      timer.cancel()
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}
