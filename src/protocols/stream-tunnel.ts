/**
 * Reading a libp2p stream with backpressure, which libp2p leaves to the reader (`readBytes`), and
 * a stream as a `ByteTunnel` (`src/tunnel.ts`), for the raw bytes of a portForward tunnel once its
 * request and status went through. The containerLogs client reads its frames through `readBytes`.
 */

import { Uint8ArrayList } from 'uint8arraylist'
import { TUNNEL_HIGH_WATER, TUNNEL_READ_BUFFER } from './constants.js'
import type { ByteTunnel } from '../types.js'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'

/**
 * `stream` as a tunnel: its bytes are read with backpressure (the stream is paused while more
 * than `highWater` bytes wait, so that the muxer stops granting the sender room), written each
 * once the stream has room, and its writing side is closed when the source ends.
 */
export function streamTunnel (stream: Stream, highWater = TUNNEL_HIGH_WATER): ByteTunnel {
  // what the sender had room for when the stream paused may still come: at most a muxer window
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, TUNNEL_READ_BUFFER)

  return {
    source: readBytes(stream, highWater),
    async sink (source) {
      for await (const chunk of source) {
        if (!stream.send(chunk)) {
          await drained(stream)
        }
      }

      await stream.close()
    },
    abort (err) {
      stream.abort(err)
    }
  }
}

/**
 * Resolves at the stream's next 'drain', rejects when it closes first. Not `stream.onDrain()`:
 * the promise it keeps stays resolved after the first drain, so later waits would not wait.
 */
export async function drained (stream: Stream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      off()
      resolve()
    }
    const onClose = (evt: StreamCloseEvent): void => {
      off()
      reject(evt.error ?? new Error('the stream closed'))
    }
    const off = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
    }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}

/**
 * The bytes of `stream` as they are taken, until the remote closes its writing side; an error
 * that closed the stream is thrown. The stream is paused from now until the first read, and
 * whenever more than `highWater` bytes wait to be taken, so that the muxer stops granting the
 * sender room (yamux's window updates) and its writes wait: what it had room for still comes, at
 * most about a window more (the stream's `maxReadBufferLength` must allow for it).
 */
export function readBytes (stream: Stream, highWater: number): AsyncGenerator<Uint8Array> {
  // the generator's body runs at the first read: what comes before waits in the paused stream
  if (stream.readStatus === 'readable') {
    stream.pause()
  }

  return readStream(stream, highWater)
}

async function * readStream (stream: Stream, highWater: number): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8ArrayList()
  let ended = stream.readableEnded
  let error: Error | undefined
  let wake: (() => void) | undefined
  const notify = (): void => {
    const resolve = wake
    wake = undefined
    resolve?.()
  }
  const pause = (): void => {
    if (buffer.byteLength > highWater && stream.readStatus === 'readable') {
      stream.pause()
    }
  }
  const onMessage = (evt: StreamMessageEvent): void => {
    buffer.append(evt.data)
    // not at once: `resume` delivers what waited and only then tells the muxer to grant room
    // again, which would undo a pause made while it delivers
    queueMicrotask(pause)
    notify()
  }
  const onEnd = (): void => {
    ended = true
    notify()
  }
  const onClose = (evt: StreamCloseEvent): void => {
    ended = true
    error = evt.error
    notify()
  }

  if (stream.status === 'aborted' || stream.status === 'reset') {
    throw new Error(`the stream was ${stream.status}`)
  }

  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose)

  try {
    while (true) {
      if (buffer.byteLength > 0) {
        const chunk = buffer.subarray()
        buffer.consume(chunk.byteLength)
        yield chunk
        continue
      }

      // resuming may deliver what waited at once, before anything could wake us; first, for what
      // waits in a paused stream was sent before the end, which may have come meanwhile
      if (stream.readStatus === 'paused') {
        stream.resume()

        if (buffer.byteLength > 0 || stream.readStatus !== 'paused') {
          continue
        }
      }

      if (error != null) {
        throw error
      }

      if (ended) {
        return
      }

      await new Promise<void>(resolve => { wake = resolve })
    }
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
  }
}
