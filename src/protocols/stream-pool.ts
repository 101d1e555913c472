/**
 * The request/response streams a client keeps open for later requests, per (peer, protocol):
 * opening a stream costs a round trip (libp2p waits for the protocol's negotiation) and a write of
 * the remote's peer-store record on both sides, more than the request itself.
 *
 * Bounded: a few idle streams per key (they count against libp2p's per-connection stream limits,
 * `maxInboundStreams` at the server), a cap on all, and an idle time shorter than the server's, so
 * that the client, not the server, normally closes an idle stream. A stream leaves the pool when it
 * closes or is reset (its connection too) or when the remote ends its writing side (a server that
 * answers one request per stream, or one closing an idle stream): ours is closed then too.
 */

import { CLIENT_STREAM_IDLE_TIMEOUT, MAX_IDLE_STREAMS, MAX_IDLE_STREAMS_PER_KEY, STREAM_CLOSE_GRACE } from './constants.js'
import type { FrameReader } from './frames.js'
import type { Stream } from '@libp2p/interface'

/** A stream that carries requests one after the other, with the reader of its answers. */
export interface PooledStream {
  readonly stream: Stream
  readonly frames: FrameReader
  /** it carried a request before: an end before the answer then means the server closed it idle */
  reused: boolean
  /** it goes back to the pool after an answer: streams are reused, and it is not over a relayed connection */
  readonly keep: boolean
}

export interface StreamPoolInit {
  /** @default MAX_IDLE_STREAMS_PER_KEY */
  maxIdlePerKey?: number
  /** @default MAX_IDLE_STREAMS */
  maxIdle?: number
  /** ms an idle stream is kept; @default CLIENT_STREAM_IDLE_TIMEOUT */
  idleTimeout?: number
}

interface IdleEntry {
  readonly pooled: PooledStream
  readonly timer: ReturnType<typeof setTimeout>
  readonly gone: () => void
}

export class StreamPool {
  private readonly maxIdlePerKey: number
  private readonly maxIdle: number
  private readonly idleTimeout: number
  /** key → its idle streams, the most recently used last */
  private readonly idle = new Map<string, IdleEntry[]>()
  private size = 0

  constructor (init: StreamPoolInit = {}) {
    this.maxIdlePerKey = init.maxIdlePerKey ?? MAX_IDLE_STREAMS_PER_KEY
    this.maxIdle = init.maxIdle ?? MAX_IDLE_STREAMS
    this.idleTimeout = init.idleTimeout ?? CLIENT_STREAM_IDLE_TIMEOUT
  }

  /** Idle streams kept, all keys together. */
  get idleCount (): number {
    return this.size
  }

  /** An idle stream of `key` that can still carry a request, taken out of the pool. */
  take (key: string): PooledStream | undefined {
    const entries = this.idle.get(key)

    while (entries != null && entries.length > 0) {
      const entry = entries[entries.length - 1]
      this.remove(key, entry)

      if (carries(entry.pooled.stream)) {
        return entry.pooled
      }

      release(entry.pooled)
    }

    return undefined
  }

  /** Keep `pooled` for a later request of `key`; one that cannot carry it, or finds no room, is closed. */
  put (key: string, pooled: PooledStream): void {
    const entries = this.idle.get(key) ?? []

    if (!carries(pooled.stream) || entries.length >= this.maxIdlePerKey || this.size >= this.maxIdle) {
      release(pooled)
      return
    }

    const drop = (): void => {
      if (this.remove(key, entry)) {
        release(pooled)
      }
    }
    const entry: IdleEntry = { pooled, timer: setTimeout(drop, this.idleTimeout), gone: drop }
    // an idle stream is no reason for the process to live on
    entry.timer.unref?.()
    pooled.stream.addEventListener('close', drop)
    pooled.stream.addEventListener('remoteCloseWrite', drop)
    entries.push(entry)
    this.idle.set(key, entries)
    this.size++
  }

  /** Close every idle stream. */
  clear (): void {
    for (const [key, entries] of [...this.idle]) {
      for (const entry of [...entries]) {
        this.remove(key, entry)
        release(entry.pooled)
      }
    }
  }

  /** Take `entry` out of the pool: false when it was not there (any more). */
  private remove (key: string, entry: IdleEntry): boolean {
    const entries = this.idle.get(key)
    const index = entries?.indexOf(entry) ?? -1

    if (entries == null || index < 0) {
      return false
    }

    entries.splice(index, 1)

    if (entries.length === 0) {
      this.idle.delete(key)
    }

    this.size--
    clearTimeout(entry.timer)
    entry.pooled.stream.removeEventListener('close', entry.gone)
    entry.pooled.stream.removeEventListener('remoteCloseWrite', entry.gone)
    return true
  }
}

/** The stream is open both ways: a request can go out and its answer come back. */
export function carries (stream: Stream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable' &&
    (stream.readStatus === 'readable' || stream.readStatus === 'paused')
}

/**
 * Done with a stream: stop reading it and close our writing side, which ends it at the server
 * between two requests; one whose close does not complete in time is reset.
 */
export function release (pooled: PooledStream): void {
  const { stream, frames } = pooled
  frames.dispose()

  if (stream.status === 'open') {
    stream.close({ signal: AbortSignal.timeout(STREAM_CLOSE_GRACE) }).catch((err: Error) => { stream.abort(err) })
  }
}
