/**
 * What placing requests costs, per request: a running count, sum and mean over every request, and
 * percentiles over the most recent ones.
 */

import type { ReputationStats } from './reputation.js'

/** Recent samples percentiles are computed over. */
export const MAX_SAMPLES = 1024

/** Summary of a series of samples. */
export interface Distribution {
  count: number
  sum: number
  mean: number
  /** median of the recent samples */
  p50: number
  /** 99th percentile of the recent samples */
  p99: number
}

/** The stages of a placement whose time the buyer measures (`RoleStats.stageMsPerRequest`). */
export const PLACEMENT_STAGES = ['lookup', 'getOffers', 'launch', 'record', 'total'] as const
export type PlacementStage = typeof PLACEMENT_STAGES[number]

/** What the buyer of this peer did. */
export interface RoleStats {
  requestsPlaced: number
  requestsFailed: number
  /** placements for which the traders' offers were not enough and every peer of a small network was asked */
  placementsAskingEveryPeer: number
  /** messages sent for one request: submission, lookup requests, get-offers, launches, rollback stops */
  messagesPerRequest: Distribution
  lookupsPerRequest: Distribution
  hopsPerRequest: Distribution
  /** clock time from submission to the last container placed (or the failure) */
  durationMsPerRequest: Distribution
  /**
   * where the time of a placed request went, in real ms: lookups, GetOffers (answers the buyer
   * remembered cost next to nothing), launches, recording the placement in the ledger, and the
   * whole request
   */
  stageMsPerRequest: Record<PlacementStage, Distribution>
  /** GetOffers answers taken from the buyer's recent ones (`hits`) and asked of a trader (`misses`) */
  offersCache: { hits: number, misses: number }
  /** suppliers marked for launches refused, failed or unanswered and containers lost, and passed over for it */
  suppliers: ReputationStats
}

/**
 * Series of samples taken together, one value of each per event: exact count and sums,
 * percentiles over the `MAX_SAMPLES` most recent events. The recent values of every series share
 * one array, row by row: a simulated network holds a buyer's samples a million times over.
 */
export class Samples {
  private readonly series: number
  private count = 0
  private readonly sums: number[]
  /** rows of `series` values, the oldest overwritten once `MAX_SAMPLES` rows are held */
  private readonly recent: number[] = []
  private next = 0

  constructor (series: number) {
    this.series = series
    this.sums = new Array<number>(series).fill(0)
  }

  /** One event: a value for each series, in order. */
  add (values: number[]): void {
    if (values.length !== this.series) {
      throw new RangeError(`expected ${this.series} values, got ${values.length}`)
    }

    this.count++
    values.forEach((value, s) => { this.sums[s] += value })

    if (this.recent.length < MAX_SAMPLES * this.series) {
      this.recent.push(...values)
    } else {
      this.recent.splice(this.next * this.series, this.series, ...values)
      this.next = (this.next + 1) % MAX_SAMPLES
    }
  }

  /** The distribution of series `s`. */
  summary (s: number): Distribution {
    const sorted: number[] = []

    for (let i = s; i < this.recent.length; i += this.series) {
      sorted.push(this.recent[i])
    }

    sorted.sort((a, b) => a - b)

    return {
      count: this.count,
      sum: this.sums[s],
      mean: this.count === 0 ? 0 : this.sums[s] / this.count,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99)
    }
  }
}

/** Nearest-rank percentile of sorted samples (0 when there are none). */
function percentile (sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}
