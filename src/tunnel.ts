/**
 * Byte tunnels (`ByteTunnel`): a TCP socket as one, and the pipe that joins two of them both ways
 * with backpressure, half-closes, an idle timeout and a byte cap. A port-forward is such pipes end
 * to end: the buyer's local connection, the control API's, the libp2p stream, the supplier's
 * connection to the container's port.
 */

import { connect } from 'node:net'
import type { AbortOptions, ByteTunnel } from './types.js'
import type { Socket } from 'node:net'

/** The tunnel carried more bytes than its cap. */
export class TunnelLimitError extends Error {
  static override name = 'TunnelLimitError'

  constructor (message: string) {
    super(message)
    this.name = 'TunnelLimitError'
  }
}

/** Nothing went through the tunnel, either way, for its idle timeout. */
export class TunnelIdleError extends Error {
  static override name = 'TunnelIdleError'

  constructor (message: string) {
    super(message)
    this.name = 'TunnelIdleError'
  }
}

export interface PipeOptions {
  /** ms without a byte either way after which both tunnels are torn down; 0 or absent: none */
  idleTimeout?: number
  /** bytes both ways together after which both tunnels are torn down; 0 or absent: none */
  maxBytes?: number
  /** tears both tunnels down when it aborts */
  signal?: AbortSignal
}

/**
 * Joins `a` and `b`: what comes from one is sent to the other, each chunk once the one before
 * was taken, so neither side buffers more than its own transport does. When one side stops
 * sending, the other is told (a half-close) and may go on answering; the pipe resolves once both
 * directions ended. Any failure, the idle timeout, the byte cap or `signal` aborts both tunnels,
 * and the pipe rejects with the first error.
 */
export async function pipeTunnels (a: ByteTunnel, b: ByteTunnel, options: PipeOptions = {}): Promise<void> {
  const { idleTimeout = 0, maxBytes = 0, signal } = options
  const failed = new AbortController()
  let carried = 0
  let timer: ReturnType<typeof setTimeout> | undefined

  const fail = (err: Error): void => {
    if (failed.signal.aborted) {
      return
    }

    failed.abort(err)
    clearTimeout(timer)
    a.abort(err)
    b.abort(err)
  }
  const active = (): void => {
    if (idleTimeout > 0 && !failed.signal.aborted) {
      clearTimeout(timer)
      timer = setTimeout(() => { fail(new TunnelIdleError(`nothing went through the tunnel for ${idleTimeout} ms`)) }, idleTimeout)
    }
  }
  const onAbort = (): void => { fail(signal?.reason instanceof Error ? signal.reason : new Error('the tunnel was closed')) }

  async function * counted (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      carried += chunk.byteLength

      if (maxBytes > 0 && carried > maxBytes) {
        throw new TunnelLimitError(`the tunnel carried more than its ${maxBytes} bytes`)
      }

      active()
      yield chunk
    }
  }

  const direction = async (from: ByteTunnel, to: ByteTunnel): Promise<void> => {
    try {
      await to.sink(counted(from.source))
    } catch (err: any) {
      fail(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  if (signal?.aborted === true) {
    onAbort()
  }

  signal?.addEventListener('abort', onAbort, { once: true })
  active()

  try {
    await Promise.all([direction(a, b), direction(b, a)])
  } catch {
    // the first failure is the one to tell; the other direction's follows from it
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }

  // a side torn down by `fail` may end without an error of its own
  if (failed.signal.aborted) {
    throw failed.signal.reason
  }
}

/**
 * A connected TCP socket as a `ByteTunnel`. The socket must allow half-open connections
 * (`allowHalfOpen`), or the end of what the other side sends would close it at once.
 */
export function socketTunnel (socket: Socket): ByteTunnel {
  // errors come out of the reads and writes; without a listener one would crash the process
  socket.on('error', () => {})

  return {
    // the socket stays open for writing when its reading side ends (a half-close)
    source: socket.iterator({ destroyOnReturn: false }),
    async sink (source) {
      for await (const chunk of source) {
        if (socket.destroyed) {
          throw new Error('the connection closed')
        }

        if (!socket.write(chunk)) {
          await drained(socket)
        }
      }

      socket.end()
    },
    abort () {
      resetSocket(socket)
    }
  }
}

/**
 * Closes `socket` with a reset, so that its peer sees the connection broke rather than a clean
 * end; one whose sending side ended already is only destroyed (a reset after a half-close can
 * leave libuv spinning on the handle).
 */
export function resetSocket (socket: Socket): void {
  if (socket.destroyed) {
    return
  }

  if (socket.writableEnded) {
    socket.destroy()
    return
  }

  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

/**
 * A TCP connection to `host:port` as a tunnel, once connected; `options.signal` aborts the
 * connecting only.
 */
export async function connectTunnel (host: string, port: number, options: AbortOptions = {}): Promise<ByteTunnel> {
  options.signal?.throwIfAborted()
  const socket = connect({ host, port, allowHalfOpen: true, noDelay: true })

  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      socket.off('connect', onConnect)
      socket.off('error', done)
      options.signal?.removeEventListener('abort', onAbort)

      if (err == null) {
        resolve()
      } else {
        socket.destroy()
        reject(err)
      }
    }
    const onConnect = (): void => { done() }
    const onAbort = (): void => { done(options.signal?.reason instanceof Error ? options.signal.reason : new Error('connecting was aborted')) }
    socket.once('connect', onConnect)
    socket.once('error', done)
    options.signal?.addEventListener('abort', onAbort, { once: true })
  })

  return socketTunnel(socket)
}

/** Resolves when `socket` can take more, rejects when it closes first. */
async function drained (socket: Socket): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      socket.off('drain', onDrain)
      socket.off('close', onClose)

      if (err == null) {
        resolve()
      } else {
        reject(err)
      }
    }
    const onDrain = (): void => { done() }
    const onClose = (): void => { done(new Error('the connection closed')) }
    socket.on('drain', onDrain)
    socket.on('close', onClose)
  })
}
