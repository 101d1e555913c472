/**
 * `logs -f` that survives a dropped stream: when the stream of a followed output breaks (the
 * supplier restarted, the connection was reset), the buyer opens it again, a bounded number of
 * times with a doubling wait, from the time of the last chunk it delivered, skipping the chunks
 * of that time it already delivered: no duplicates and no gaps where the runtime gives times.
 * Output without times resumes with what is written from then on.
 *
 * A connection that goes away may end a stream as cleanly as a supplier whose container ended, so
 * a stream that ends is taken for the end of the output only once the supplier says the container
 * no longer runs (`ended`).
 */

import { sleep } from '../clock.js'
import type { Clock, LogChunk, LogsOptions } from '../types.js'
import type { Logger } from '@libp2p/interface'

/** Times a follow opens its stream again, in a row without output in between, before it gives up. */
export const LOGS_RESUME_ATTEMPTS = 5
/** Wait before the first new opening; it doubles with every attempt (1 s, 2 s, 4 s … 16 s). */
export const LOGS_RESUME_BACKOFF = 1_000
/** Answers to an opening worth trying again: the supplier is there but cannot serve the stream now. */
const RETRIED_STATUSES = new Set(['UNAVAILABLE', 'RATE_LIMITED'])

/** The follow gave up: its supplier is gone, or no longer has the container. */
export class LogsInterruptedError extends Error {
  static override name = 'LogsInterruptedError'

  constructor (message: string) {
    super(message)
    this.name = 'LogsInterruptedError'
  }
}

export interface ResumingLogsInit {
  clock: Clock
  log: Logger
  /** what the messages name: the container and its supplier */
  containerId: string
  supplier: string
  /** whether the container no longer runs, asked when a stream ends; throws when its supplier does not answer */
  ended: (options: LogsOptions) => Promise<boolean>
}

/**
 * The chunks of `first`, an open follow, then of the streams `open` gives again after each drop.
 * Ends when a stream ends (the container did), or the signal aborts.
 *
 * @throws {LogsInterruptedError} when the supplier could not be reached `LOGS_RESUME_ATTEMPTS` times in a row, or no longer has the container
 */
export async function * resumingLogs (first: AsyncIterable<LogChunk>, open: (options: LogsOptions) => Promise<AsyncIterable<LogChunk>>, options: LogsOptions, init: ResumingLogsInit): AsyncGenerator<LogChunk> {
  const { signal } = options
  /** the time of the last chunk delivered with one, and how many were delivered with that time */
  let last: number | undefined
  let atLast = 0
  /** chunks without a time were delivered: a resumption asks for new output only */
  let untimed = false
  let failures = 0
  let chunks: AsyncIterable<LogChunk> | undefined = first

  for (;;) {
    try {
      if (chunks == null) {
        const resumed: LogsOptions = last != null ? { since: last } : untimed ? { tail: 0 } : { tail: options.tail, since: options.since }
        chunks = await open({ ...resumed, follow: true, signal })
        init.log('the logs of %s at %s resumed', init.containerId, init.supplier)
      }

      // chunks of the last time delivered come again: the first `atLast` of them are skipped
      let skip = atLast

      for await (const chunk of chunks) {
        if (last != null && chunk.time != null && (chunk.time < last || (chunk.time === last && skip-- > 0))) {
          continue
        }

        failures = 0

        if (chunk.time == null) {
          untimed = true
        } else if (chunk.time === last) {
          atLast++
        } else {
          last = chunk.time
          atLast = 1
        }

        yield chunk
      }

      // the reader that went away ended it, or the container did
      if (signal?.aborted === true || await init.ended({ signal })) {
        return
      }

      throw new Error('the stream ended while the container runs')
    } catch (err: any) {
      if (signal?.aborted === true) {
        throw err
      }

      if (err?.name === 'RemoteRequestError' && !RETRIED_STATUSES.has(err.status)) {
        throw new LogsInterruptedError(err.status === 'NOT_FOUND'
          ? `container ${init.containerId} is gone from its supplier ${init.supplier}: ${err.message}`
          : `supplier ${init.supplier} no longer serves the logs of ${init.containerId}: ${err.message}`)
      }

      if (++failures > LOGS_RESUME_ATTEMPTS) {
        throw new LogsInterruptedError(`the logs of ${init.containerId} stopped: its supplier ${init.supplier} could not be reached again after ${LOGS_RESUME_ATTEMPTS} attempts (${err?.message ?? err})`)
      }

      init.log('the logs of %s at %s broke off, opening them again (attempt %d) - %e', init.containerId, init.supplier, failures, err)
      chunks = undefined
      await sleep(init.clock, LOGS_RESUME_BACKOFF * 2 ** (failures - 1), signal)
      signal?.throwIfAborted()
    }
  }
}
