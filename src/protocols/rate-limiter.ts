/**
 * Token buckets keyed by a string (the server uses `<peer id>/<message name>`), in a map of
 * bounded size: when a new key needs room, the least recently used bucket goes. An evicted key
 * comes back with a full bucket, so the bound trades a little precision for a fixed memory cost.
 */

export interface TokenBucketsInit {
  /** tokens a bucket holds when full: the burst a key may spend at once */
  burst: number
  /** tokens a bucket regains per second */
  perSecond: number
  /** buckets kept at most */
  maxBuckets: number
  /** current time in milliseconds (tests pass a fake clock) */
  now?: () => number
}

interface Bucket {
  tokens: number
  updated: number
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()
  private readonly burst: number
  private readonly perMillisecond: number
  private readonly maxBuckets: number
  private readonly now: () => number

  constructor (init: TokenBucketsInit) {
    this.burst = init.burst
    this.perMillisecond = init.perSecond / 1000
    this.maxBuckets = Math.max(1, init.maxBuckets)
    this.now = init.now ?? Date.now
  }

  /** Number of buckets held. */
  get size (): number {
    return this.buckets.size
  }

  /** Take one token from the bucket of `key`; false when it is empty. */
  take (key: string): boolean {
    const now = this.now()
    let bucket = this.buckets.get(key)

    if (bucket == null) {
      bucket = { tokens: this.burst, updated: now }

      if (this.buckets.size >= this.maxBuckets) {
        const oldest = this.buckets.keys().next()

        if (oldest.done !== true) {
          this.buckets.delete(oldest.value)
        }
      }
    } else {
      // refill, then move the key to the most recently used end of the map
      bucket.tokens = Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.updated) * this.perMillisecond)
      bucket.updated = now
      this.buckets.delete(key)
    }

    this.buckets.set(key, bucket)

    if (bucket.tokens < 1) {
      return false
    }

    bucket.tokens -= 1
    return true
  }
}
