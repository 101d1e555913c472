/**
 * What a buyer remembers of the suppliers that let it down: a launch refused or failed though
 * another supplier then took the same containers, a launch that got no answer, an answer it cannot
 * record, a container the supplier no longer has though it never said it ended. Each is a mark
 * against the supplier's peer id. A supplier with a recent mark is tried after every supplier
 * without one, and one with `skipAt` recent marks other than refusals is not tried at all, so a
 * supplier that offers what it does not give (huge free resources and a launch that runs nothing,
 * fails or never answers) takes one placement of a buyer, not every one. Refusals only rank a
 * supplier last: an honest supplier refuses whenever a trader's copy of its offer is stale, and a
 * refusal starts nothing and costs one round trip. Marks are forgotten after `window` of the
 * roles' clock, so a supplier that failed for a while (a full disk, a restart) is tried again; and
 * at most `maxSuppliers` peer ids are remembered, the one marked longest ago forgotten first, so
 * that a network of many hostile ids costs a bounded table.
 *
 * The marks are this buyer's own observations; nothing is told to or taken from other peers.
 */

import { LazyMap } from '../lazy-map.js'
import type { Clock, NodeRef } from '../types.js'

/** Why a supplier was marked. */
export type MarkKind =
  /** it refused a launch (any status but the two below) that another supplier then took */
  | 'refused'
  /** its launch failed (UNAVAILABLE, INTERNAL_ERROR, an answer that does not decode) and another supplier then took it, or its answer named another supplier or the wrong containers */
  | 'failed'
  /** no answer to a launch before the launch timeout, or none to a stop */
  | 'unreachable'
  /** it answered that it has no container it launched for us, and never told us it ended */
  | 'lost'

export const MARK_KINDS: readonly MarkKind[] = ['refused', 'failed', 'unreachable', 'lost']

/** How long a mark counts, in ms of the roles' clock: twice the default launch timeout. */
export const REPUTATION_WINDOW = 10 * 60_000
/** Recent marks other than refusals after which a supplier is not tried at all, until the oldest of them is forgotten. */
export const REPUTATION_SKIP_MARKS = 3
/** Suppliers remembered at most. */
export const REPUTATION_MAX_SUPPLIERS = 1024

/** The bounds of a `Reputation`. */
export interface ReputationLimits {
  /** ms a mark counts @default REPUTATION_WINDOW */
  window: number
  /** recent marks other than refusals at which a supplier is skipped @default REPUTATION_SKIP_MARKS */
  skipAt: number
  /** suppliers remembered at most @default REPUTATION_MAX_SUPPLIERS */
  maxSuppliers: number
}

const DEFAULT_LIMITS: ReputationLimits = { window: REPUTATION_WINDOW, skipAt: REPUTATION_SKIP_MARKS, maxSuppliers: REPUTATION_MAX_SUPPLIERS }

/** What a buyer's reputation table did. */
export interface ReputationStats {
  /** marks given, per kind, since the start */
  marks: Record<MarkKind, number>
  /** times a supplier's offers were passed over in a placement for its recent marks */
  skipped: number
  /** suppliers with marks remembered now (some may be older than the window, until they are next looked at) */
  remembered: number
}

/** Counter positions: the mark kinds in order, then skipped. */
const SKIPPED = MARK_KINDS.length

/** The recent marks of one supplier: times, oldest first, each list at most `skipAt` long (more would change nothing). */
interface Marks {
  /** every mark */
  all: number[]
  /** the marks other than refusals */
  grave: number[]
}

/** Per supplier peer id, the times of its recent marks. */
export class Reputation {
  private readonly clock: Clock
  private readonly self?: () => string
  private readonly limits: ReputationLimits
  /**
   * peer id → its recent marks, in order of the last mark, so the first entry is the one marked
   * longest ago. Lazy: a simulated network holds a buyer per peer, and most never mark anyone.
   */
  private readonly suppliers = new LazyMap<string, Marks>()
  /** the counters of `stats`, made at the first count */
  private counts?: number[]

  /**
   * @param self - this peer's id: its own supplier is never marked (it refuses only what it has
   * no room for, and a buyer of a small network may have no other)
   */
  constructor (clock: Clock, self?: () => string, limits: Partial<ReputationLimits> = {}) {
    this.clock = clock
    this.self = self
    this.limits = Object.keys(limits).length === 0 ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, ...limits }
  }

  /** One mark against `peerId`, now; none against this peer itself. */
  mark (peerId: string, kind: MarkKind): void {
    if (peerId === this.self?.()) {
      return
    }

    const now = this.clock.now()
    const marks = this.recent(peerId, now) ?? { all: [], grave: [] }
    this.add(marks.all, now)

    if (kind !== 'refused') {
      this.add(marks.grave, now)
    }

    // moved to the end: the table is in order of last mark
    this.suppliers.delete(peerId)
    this.suppliers.set(peerId, marks)
    this.count(MARK_KINDS.indexOf(kind))
    this.forgetOld(now)
  }

  /** The marks `peerId` got within the window (at most `skipAt`). */
  marks (peerId: string): number {
    return this.recent(peerId, this.clock.now())?.all.length ?? 0
  }

  /** True when `peerId` has `skipAt` recent marks other than refusals: none of its offers is tried. */
  skipped (peerId: string): boolean {
    return (this.recent(peerId, this.clock.now())?.grave.length ?? 0) >= this.limits.skipAt
  }

  /** Count offers of skipped suppliers passed over by one placement. */
  passedOver (suppliers: number): void {
    if (suppliers > 0) {
      this.count(SKIPPED, suppliers)
    }
  }

  /**
   * Ranked offers in the order to try them: those of suppliers without a recent mark first, in
   * their order, then those of marked suppliers, fewer marks other than refusals first, then
   * fewer marks, and otherwise in their order; offers of skipped suppliers are left out.
   */
  order<T extends { supplier: NodeRef }> (ranked: T[]): T[] {
    if (this.suppliers.size === 0) {
      return ranked
    }

    const now = this.clock.now()
    const marked = ranked.map((offer, i) => {
      const marks = this.recent(offer.supplier.peerId, now)
      return { offer, i, all: marks?.all.length ?? 0, grave: marks?.grave.length ?? 0 }
    })

    return marked
      .filter(({ grave }) => grave < this.limits.skipAt)
      .sort((a, b) => a.grave - b.grave || a.all - b.all || a.i - b.i)
      .map(({ offer }) => offer)
  }

  /** How long a mark counts, for messages: `10 min`, `30 s`. */
  describeWindow (): string {
    const { window } = this.limits
    return window >= 60_000 ? `${Math.round(window / 60_000)} min` : `${Math.round(window / 1000)} s`
  }

  stats (): ReputationStats {
    const counts = this.counts ?? []
    const marks = Object.fromEntries(MARK_KINDS.map((kind, i) => [kind, counts[i] ?? 0])) as Record<MarkKind, number>
    return { marks, skipped: counts[SKIPPED] ?? 0, remembered: this.suppliers.size }
  }

  /** The marks of `peerId` still within the window; a supplier without any is forgotten. */
  private recent (peerId: string, now: number): Marks | undefined {
    const marks = this.suppliers.get(peerId)

    if (marks == null) {
      return undefined
    }

    const since = now - this.limits.window
    dropUntil(marks.all, since)
    dropUntil(marks.grave, since)

    if (marks.all.length === 0) {
      this.suppliers.delete(peerId)
      return undefined
    }

    return marks
  }

  /** One more time in a list of at most `skipAt`. */
  private add (times: number[], now: number): void {
    times.push(now)

    if (times.length > this.limits.skipAt) {
      times.shift()
    }
  }

  /**
   * Forget suppliers whose last mark is out of the window, and the ones marked longest ago past
   * `maxSuppliers`. Both are at the front of the table: every mark moves its supplier to the end.
   */
  private forgetOld (now: number): void {
    const since = now - this.limits.window

    for (const [peerId, { all }] of this.suppliers) {
      if (this.suppliers.size <= this.limits.maxSuppliers && all[all.length - 1] > since) {
        break
      }

      this.suppliers.delete(peerId)
    }
  }

  private count (index: number, n = 1): void {
    this.counts ??= new Array<number>(MARK_KINDS.length + 1).fill(0)
    this.counts[index] += n
  }
}

/** Remove the times at or before `since` from the front of a list in time order. */
function dropUntil (times: number[], since: number): void {
  let expired = 0

  while (expired < times.length && times[expired] <= since) {
    expired++
  }

  if (expired > 0) {
    times.splice(0, expired)
  }
}
