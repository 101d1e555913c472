/**
 * The simulator's virtual clock. Roles arm their timers on it exactly as on the system clock; the
 * simulator moves time forward with `runUntil`, firing due timers in order of due time (and of
 * arming, for equal times) and letting the promise chains each instant starts settle before time
 * moves on. Nothing in it reads the wall clock, so a run is a function of its seed.
 */

import type { Clock } from '../types.js'

/** An armed timer, and the handle that cancels it (one object: a million peers arm timers). */
class Timer {
  readonly due: number
  readonly seq: number
  readonly fn: () => void
  cancelled = false

  constructor (due: number, seq: number, fn: () => void) {
    this.due = due
    this.seq = seq
    this.fn = fn
  }

  cancel (): void {
    this.cancelled = true
  }
}

/**
 * One peer's view of a shared clock, which the simulator can stop when the peer crashes: from then
 * on none of the peer's timers fires and none re-arms, as on a machine that is gone, without the
 * peer's own stop path (which would withdraw its offers) ever running.
 */
export class PeerClock implements Clock {
  private readonly clock: Clock
  private stopped = false

  constructor (clock: Clock) {
    this.clock = clock
  }

  now (): number {
    return this.clock.now()
  }

  setTimeout (fn: () => void, ms: number): { cancel (): void } {
    return this.clock.setTimeout(() => {
      if (!this.stopped) {
        fn()
      }
    }, ms)
  }

  setInterval (fn: () => void, ms: number): { cancel (): void } {
    // re-armed through this clock's setTimeout: a stopped peer's intervals end, not only go quiet
    return everyInterval(this, fn, ms)
  }

  /** No timer of this peer fires any more. */
  stop (): void {
    this.stopped = true
  }
}

/**
 * Let every pending promise callback run: in a simulation nothing waits on I/O or real timers, so
 * once the check phase of the event loop comes round, the microtask queue is empty.
 */
export async function settle (): Promise<void> {
  await new Promise<void>(resolve => { setImmediate(resolve) })
}

/** A virtual clock backed by a binary heap of timers. */
export class SimClock implements Clock {
  private time: number
  private seq = 0
  private readonly heap: Timer[] = []
  /** timers fired since the clock was made */
  fired = 0

  constructor (start = 0) {
    this.time = start
  }

  now (): number {
    return this.time
  }

  setTimeout (fn: () => void, ms: number): { cancel (): void } {
    const timer = new Timer(this.time + Math.max(0, ms), this.seq++, fn)
    this.push(timer)

    return timer
  }

  setInterval (fn: () => void, ms: number): { cancel (): void } {
    return everyInterval(this, fn, ms)
  }

  /**
   * Move time to `until`, firing every timer due by then. Timers due at the same instant fire
   * together, then their work settles; time never goes backwards.
   */
  async runUntil (until: number): Promise<void> {
    await settle()

    while (this.heap.length > 0 && this.heap[0].due <= until) {
      const instant = this.heap[0].due
      this.time = Math.max(this.time, instant)

      while (this.heap.length > 0 && this.heap[0].due === instant) {
        const timer = this.pop()

        if (!timer.cancelled) {
          this.fired++
          timer.fn()
        }
      }

      await settle()
    }

    this.time = Math.max(this.time, until)
    await settle()
  }

  private push (timer: Timer): void {
    const heap = this.heap
    heap.push(timer)
    let i = heap.length - 1

    while (i > 0) {
      const parent = (i - 1) >> 1

      if (!before(timer, heap[parent])) {
        break
      }

      heap[i] = heap[parent]
      i = parent
    }

    heap[i] = timer
  }

  private pop (): Timer {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop() as Timer

    if (heap.length > 0) {
      let i = 0

      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        let candidate = last

        if (left < heap.length && before(heap[left], candidate)) {
          smallest = left
          candidate = heap[left]
        }

        if (right < heap.length && before(heap[right], candidate)) {
          smallest = right
          candidate = heap[right]
        }

        if (smallest === i) {
          break
        }

        heap[i] = heap[smallest]
        i = smallest
      }

      heap[i] = last
    }

    return top
  }
}

function before (a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq)
}

/** An interval made of timeouts of `clock`, each armed when the previous one fires (at least 1 ms apart). */
function everyInterval (clock: Pick<Clock, 'setTimeout'>, fn: () => void, ms: number): { cancel (): void } {
  const every = Math.max(1, ms)
  let current: { cancel (): void } | undefined
  let cancelled = false
  const arm = (): void => {
    current = clock.setTimeout(() => {
      if (!cancelled) {
        arm()
        fn()
      }
    }, every)
  }
  arm()

  return { cancel: () => { cancelled = true; current?.cancel() } }
}
