/**
 * Length-prefixed frames on a libp2p stream, for both sides of the request/response protocols and
 * for the containerLogs client: a reader that tells a stream that ended between two frames (a peer
 * done with it) from one cut inside a frame, and a writer that waits while the stream is full.
 */

import { raceSignal } from 'race-signal'
import { Uint8ArrayList } from 'uint8arraylist'
import { MalformedMessageError } from '../errors.js'
import { drained, readBytes } from './stream-tunnel.js'
import type { Stream } from '@libp2p/interface'

/**
 * Length-prefixed frames read off a stream, with the backpressure of `readBytes`: bytes are taken
 * from the stream only while no whole frame waits here, so a reader that does not keep up leaves
 * them in the paused stream, and the sender's writes wait.
 */
export class FrameReader {
  private readonly bytes: AsyncGenerator<Uint8Array>
  private readonly maxFrame: number
  private readonly buffer = new Uint8ArrayList()
  private ended = false

  constructor (stream: Stream, maxFrame: number) {
    this.maxFrame = maxFrame
    this.bytes = readBytes(stream, 4 * maxFrame)
  }

  /**
   * Wait for the first byte of the next frame: true once one came, false when the stream ended
   * between two frames.
   */
  async ready (signal?: AbortSignal): Promise<boolean> {
    while (this.buffer.byteLength === 0 && !this.ended) {
      await this.pull(signal)
    }

    return this.buffer.byteLength > 0
  }

  /**
   * The next frame, or undefined when the stream ended between two frames.
   *
   * @throws {MalformedMessageError} on a frame longer than the limit or cut off by the end of the stream
   */
  async read (signal?: AbortSignal): Promise<Uint8ArrayList | undefined> {
    let frame = this.take()

    while (frame == null) {
      if (this.ended) {
        if (this.buffer.byteLength > 0) {
          throw new MalformedMessageError('frame', 'the stream ended inside a frame')
        }

        return undefined
      }

      await this.pull(signal)
      frame = this.take()
    }

    return frame
  }

  /** Take the stream's next bytes into the buffer, or note its end. */
  private async pull (signal?: AbortSignal): Promise<void> {
    const next = await raceSignal(this.bytes.next(), signal)

    if (next.done === true) {
      this.ended = true
    } else {
      this.buffer.append(next.value)
    }
  }

  /** Stop reading: a read under way ends with the stream (its owner aborts or closes it). */
  dispose (): void {
    this.bytes.return(undefined).catch(() => {})
  }

  /** A whole frame off the buffer, if one is there. */
  private take (): Uint8ArrayList | undefined {
    let length = 0

    for (let i = 0; i < this.buffer.byteLength; i++) {
      const byte = this.buffer.get(i)
      length += (byte & 0x7f) * 2 ** (7 * i)

      if (byte < 0x80) {
        if (length > this.maxFrame) {
          throw new MalformedMessageError('frame', `is ${length} bytes long, more than ${this.maxFrame}`)
        }

        const end = i + 1 + length

        if (this.buffer.byteLength < end) {
          return undefined
        }

        const frame = this.buffer.sublist(i + 1, end)
        this.buffer.consume(end)
        return frame
      }

      if (i >= 4) {
        throw new MalformedMessageError('frame', 'has a length prefix longer than 5 bytes')
      }
    }

    return undefined
  }
}

/**
 * Send one length-prefixed frame; when the stream's buffer is full, wait until it drained (or
 * `signal` aborts), so that a peer that does not read cannot make this side buffer without end.
 *
 * @throws {StreamStateError} when the stream's writing side is closed
 */
export async function writeFrame (stream: Stream, bytes: Uint8Array | Uint8ArrayList, signal?: AbortSignal): Promise<void> {
  if (!stream.send(new Uint8ArrayList(Uint8Array.from(varint(bytes.byteLength)), bytes))) {
    await raceSignal(drained(stream), signal)
  }
}

/** The unsigned varint of a length. */
function varint (value: number): number[] {
  const bytes: number[] = []

  while (value >= 0x80) {
    bytes.push((value & 0x7f) | 0x80)
    value = Math.floor(value / 128)
  }

  bytes.push(value)
  return bytes
}
