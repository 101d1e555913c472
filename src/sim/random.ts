/**
 * Seeded random streams of the simulator. Each purpose (peer identities, capacities, the workload,
 * the roles, the overlay's walks, the peers churn takes) draws from its own stream derived from the run's seed, so that
 * every backend of a run faces the same peers, capacities and requests, and a run is a function of
 * its seed alone.
 */

import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'
import type { RandomSource } from '../roles/random.js'

/** Streams of one run. */
export const STREAMS = {
  identities: 1,
  capacities: 2,
  workload: 3,
  roles: 4,
  overlay: 5,
  churn: 6
} as const

/** A seeded pseudo-random stream (xoroshiro128+). */
export class SimRandom {
  private readonly rng

  /** The stream `stream` of the run seeded with `seed`. */
  constructor (seed: number, stream: number) {
    // distinct streams: mix the stream number into the 32-bit seed (a multiplicative hash)
    this.rng = xoroshiro128plus((seed ^ Math.imul(stream + 1, 0x9e3779b1)) | 0)
  }

  /** Uniform in [0, 1). */
  uniform (): number {
    return uniformFloat64(this.rng)
  }

  /** Uniform integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.uniform() * n)
  }

  /** `n` random bytes. */
  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)

    for (let i = 0; i < n; i += 4) {
      const word = this.rng.next()

      for (let j = 0; j < 4 && i + j < n; j++) {
        out[i + j] = (word >>> (8 * j)) & 0xff
      }
    }

    return out
  }

  /** This stream as the roles' `RandomSource`. */
  source (): RandomSource {
    return n => this.bytes(n)
  }

  /** Index of an entry drawn with the given weights (percentages, any positive scale). */
  weighted (weights: readonly number[]): number {
    const total = weights.reduce((sum, w) => sum + w, 0)
    let r = this.uniform() * total

    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]

      if (r < 0) {
        return i
      }
    }

    return weights.length - 1
  }

  /**
   * Index of an entry drawn as the original simulator draws percentages (Go's `Intn(101)`
   * against the cumulative percentages, the first entry whose cumulative percentage is at least
   * the draw): the first entry gets (p + 1) / 101, each other p / 101. The percentages add up to
   * 100.
   */
  percentage (percentages: readonly number[]): number {
    const r = this.int(101)
    let cumulative = 0

    for (let i = 0; i < percentages.length; i++) {
      cumulative += percentages[i]

      if (r <= cumulative) {
        return i
      }
    }

    return percentages.length - 1
  }

  /** Shuffle in place (Fisher–Yates). */
  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const item = items[i]
      items[i] = items[j]
      items[j] = item
    }

    return items
  }
}
