/**
 * What placing requests costs, per request: a running count, sum and mean over every request, and
 * percentiles over the most recent ones.
 */

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

/** What the buyer of this peer did. */
export interface RoleStats {
  requestsPlaced: number
  requestsFailed: number
  /** messages sent for one request: submission, lookup requests, get-offers, launches, rollback stops */
  messagesPerRequest: Distribution
  lookupsPerRequest: Distribution
  hopsPerRequest: Distribution
  /** clock time from submission to the last container placed (or the failure) */
  durationMsPerRequest: Distribution
}

/** A series of samples: exact count and sum, percentiles over a sliding window. */
export class Samples {
  private count = 0
  private sum = 0
  private readonly recent: number[] = []
  private next = 0

  add (value: number): void {
    this.count++
    this.sum += value

    if (this.recent.length < MAX_SAMPLES) {
      this.recent.push(value)
    } else {
      this.recent[this.next] = value
      this.next = (this.next + 1) % MAX_SAMPLES
    }
  }

  summary (): Distribution {
    const sorted = [...this.recent].sort((a, b) => a - b)

    return {
      count: this.count,
      sum: this.sum,
      mean: this.count === 0 ? 0 : this.sum / this.count,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99)
    }
  }
}

/** Nearest-rank percentile of sorted samples (0 when there are none). */
function percentile (sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}
