/**
 * The portForward tunnel between two real libp2p peers on 127.0.0.1, the server's handler
 * connecting to a TCP server of the test: bytes both ways with half-closes and backpressure, the
 * statuses a refusal answers with, bad input, the per-peer limit, the idle timeout, and a buyer
 * that vanishes in the middle of a tunnel.
 */

import { createServer } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { MalformedMessageError, ProtocolStatusError, RemoteRequestError } from '../src/errors.js'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import * as pb from '../src/protocols/pb/caravela.js'
import { CaravelaProtocolServer } from '../src/protocols/server.js'
import { connectTunnel } from '../src/tunnel.js'
import { loopbackLibp2pOptions } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { PortForwardRequest } from '../src/protocols/codec.js'
import type { CaravelaHandlers, RequestContext } from '../src/protocols/handlers.js'
import type { ProtocolLimits } from '../src/protocols/limits.js'
import type { ByteTunnel, NodeRef } from '../src/types.js'
import type { Libp2p } from 'libp2p'
import type { AddressInfo, Server, Socket } from 'node:net'

const PREFIX = 'caravela-port-forward'
const IDLE_PREFIX = 'caravela-port-forward-idle'
const LIMITS: Partial<ProtocolLimits> = { readTimeout: 400, requestTimeout: 1_500, maxTunnelsPerPeer: 2 }
/** the idle timeout of the second server */
const IDLE_TIMEOUT = 400
/** container ports the fake handler knows: ECHO echoes, FIREHOSE sends without end */
const ECHO = 7
const FIREHOSE = 19

const rejections: unknown[] = []
process.on('unhandledRejection', reason => { rejections.push(reason) })

interface Context {
  server: Libp2p<{ caravela: CaravelaProtocolServer, idle: CaravelaProtocolServer }>
  client: Libp2p<{ caravela: Libp2pCaravelaClient, idle: Libp2pCaravelaClient }>
  target: NodeRef
  /** what the handler was asked, and by whom */
  asked: Array<{ from: string } & PortForwardRequest>
  echo: TcpServer
  firehose: TcpServer & { written: number }
  handlers: Partial<CaravelaHandlers>
}

/** A TCP server of the test and the connections it accepted. */
interface TcpServer {
  server: Server
  port: number
  sockets: Socket[]
}

async function listen (onConnection: (socket: Socket) => void): Promise<TcpServer> {
  const sockets: Socket[] = []
  const server = createServer({ allowHalfOpen: true }, socket => {
    sockets.push(socket)
    socket.on('error', () => {})
    onConnection(socket)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return { server, port: (server.address() as AddressInfo).port, sockets }
}

const baseOptions = loopbackLibp2pOptions()

async function newClient (): Promise<Libp2p<{ caravela: Libp2pCaravelaClient, idle: Libp2pCaravelaClient }>> {
  return createLibp2p({
    ...baseOptions,
    services: {
      caravela: (components: any) => new Libp2pCaravelaClient(components, { protocolPrefix: PREFIX }),
      idle: (components: any) => new Libp2pCaravelaClient(components, { protocolPrefix: IDLE_PREFIX })
    }
  })
}

const Tunnels = suite<Context>('protocols: portForward between two peers on 127.0.0.1', {} as unknown as Context)

Tunnels.before(async (ctx) => {
  ctx.asked = []
  // echoes what it gets and ends its side when the other does: a half-close both ways
  ctx.echo = await listen(socket => { socket.pipe(socket) })
  const firehose = await listen(socket => {
    void (async () => {
      const block = Buffer.alloc(64 * 1024, 0x61)

      while (!socket.destroyed) {
        ctx.firehose.written += block.byteLength

        if (!socket.write(block)) {
          await new Promise<void>(resolve => {
            const done = (): void => {
              socket.off('drain', done)
              socket.off('close', done)
              resolve()
            }
            socket.on('drain', done)
            socket.on('close', done)
          })
        }
      }
    })()
  })
  ctx.firehose = Object.assign(firehose, { written: 0 })
  ctx.handlers = {
    portForward: async (request: RequestContext, forward: PortForwardRequest): Promise<ByteTunnel> => {
      ctx.asked.push({ from: request.from.peerId, ...forward })

      if (forward.containerId !== 'c1') {
        throw new ProtocolStatusError(forward.containerId === 'theirs' ? 'REFUSED' : 'NOT_FOUND', `no container ${forward.containerId} of yours here`)
      }

      const port = forward.containerPort === ECHO ? ctx.echo.port : forward.containerPort === FIREHOSE ? ctx.firehose.port : 0

      if (port === 0) {
        throw new ProtocolStatusError('NOT_FOUND', `c1 publishes no TCP port ${forward.containerPort}`)
      }

      return connectTunnel('127.0.0.1', port, { signal: request.signal })
    }
  }
  ctx.server = await createLibp2p({
    ...baseOptions,
    services: {
      caravela: (components: any) => new CaravelaProtocolServer(components, { protocolPrefix: PREFIX, handlers: ctx.handlers, limits: LIMITS }),
      idle: (components: any) => new CaravelaProtocolServer(components, { protocolPrefix: IDLE_PREFIX, handlers: ctx.handlers, limits: { ...LIMITS, tunnelIdleTimeout: IDLE_TIMEOUT, maxTunnelBytes: 1024 * 1024 } })
    }
  })
  ctx.client = await newClient()
  ctx.target = { peerId: ctx.server.peerId.toString(), multiaddrs: ctx.server.getMultiaddrs().map(a => a.toString()) }
})

Tunnels.after(async (ctx) => {
  await Promise.all([ctx.client?.stop(), ctx.server?.stop()])
  ctx.echo?.server.close()
  ctx.firehose?.sockets.forEach(socket => socket.destroy())
  ctx.firehose?.server.close()
})

/** Everything a tunnel's source gives until it ends. */
async function readAll (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []

  for await (const chunk of source) {
    chunks.push(chunk)
  }

  return Buffer.concat(chunks)
}

async function rejection (promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (err) {
    return err
  }

  throw new Error('expected a rejection')
}

/** `bytes` in pieces of 64 KiB, as a sink's source. */
async function * pieces (bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < bytes.byteLength; start += 64 * 1024) {
    yield bytes.subarray(start, start + 64 * 1024)
  }
}

Tunnels('bytes go both ways, 4 MiB of them; the buyer\'s end of sending reaches the port, whose answer still comes back', async (ctx) => {
  const tunnel = await ctx.client.services.caravela.portForward(ctx.target, 'c1', ECHO)
  const sent = Buffer.alloc(4 * 1024 * 1024)

  for (let i = 0; i < sent.byteLength; i++) {
    sent[i] = (i * 31) & 0xff
  }

  // the echo server ends its side only after ours ended: a tunnel that did not pass the half-close would hang
  const [, received] = await Promise.all([tunnel.sink(pieces(sent)), readAll(tunnel.source)])
  assert.is(received.byteLength, sent.byteLength)
  assert.ok(received.equals(sent), 'the same bytes came back')
  assert.equal(ctx.asked.at(-1), { from: ctx.client.peerId.toString(), containerId: 'c1', containerPort: ECHO })
})

Tunnels('refusals are a RemoteRequestError with the handler\'s status; a request that cannot be encoded never leaves', async (ctx) => {
  const refused = await rejection(ctx.client.services.caravela.portForward(ctx.target, 'theirs', ECHO))
  assert.instance(refused, RemoteRequestError)
  assert.is(refused.status, 'REFUSED')
  assert.is((await rejection(ctx.client.services.caravela.portForward(ctx.target, 'gone', ECHO))).status, 'NOT_FOUND')
  const unpublished = await rejection(ctx.client.services.caravela.portForward(ctx.target, 'c1', 8080))
  assert.is(unpublished.status, 'NOT_FOUND')
  assert.match(unpublished.message, /no TCP port 8080/)
  const asked = ctx.asked.length

  for (const [id, port] of [['bad id', ECHO], ['c1', 0], ['c1', 65_536]] as const) {
    assert.instance(await rejection(ctx.client.services.caravela.portForward(ctx.target, id, port)), MalformedMessageError, `${id}:${port}`)
  }

  assert.is(ctx.asked.length, asked, 'the handler saw none of the invalid requests')

  ctx.server.services.caravela.setHandlers({})

  try {
    assert.is((await rejection(ctx.client.services.caravela.portForward(ctx.target, 'c1', ECHO))).status, 'NOT_IMPLEMENTED')
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

Tunnels('a malformed or invalid request frame is answered INVALID_REQUEST; a silent peer is cut off', async (ctx) => {
  const protocol = ctx.server.services.caravela.portForwardProtocol
  const invalid = pb.PortForwardRequest.encode({ containerId: 'c1', containerPort: 0 })
  const inputs: Record<string, Uint8Array> = {
    garbage: Uint8Array.from([5, 0xff, 0xff, 0xff, 0xff, 0xff]),
    'port 0': Uint8Array.from([invalid.byteLength, ...invalid]),
    'too long': Uint8Array.from([0xff, 0xff, 0xff, 0x7f])
  }

  for (const [kind, bytes] of Object.entries(inputs)) {
    const stream = await ctx.client.dialProtocol(ctx.server.peerId, protocol)
    stream.send(bytes)
    const response = pb.PortForwardResponse.decode(await lpStream(stream).read({ signal: AbortSignal.timeout(3_000) }))
    assert.is(response.status?.code, pb.Status.Code.INVALID_REQUEST, kind)
    stream.abort(new Error('test done'))
  }

  // nothing sent: the stream ends at the read timeout, answered or not, and no tunnel is made
  const asked = ctx.asked.length
  const started = Date.now()
  const silent = await ctx.client.dialProtocol(ctx.server.peerId, protocol)
  await lpStream(silent).read({ signal: AbortSignal.timeout(3_000) }).catch(() => undefined)
  assert.ok(Date.now() - started < 2_500, `cut off after ${Date.now() - started} ms`)
  assert.is(ctx.asked.length, asked)
  silent.abort(new Error('test done'))
})

Tunnels('a buyer that does not read holds the port\'s sending back; what it reads later is all there', async (ctx) => {
  const tunnel = await ctx.client.services.caravela.portForward(ctx.target, 'c1', FIREHOSE)
  await delay(1_500)
  const held = ctx.firehose.written
  await delay(500)
  // what the paused stream, the muxer's window and the sockets hold, no more
  assert.ok(held < 48 * 1024 * 1024, `the firehose wrote ${held} bytes to a buyer that read nothing`)
  assert.ok(ctx.firehose.written - held < 1024 * 1024, 'and stopped writing')

  let read = 0

  for await (const chunk of tunnel.source) {
    read += chunk.byteLength

    if (read > held + 8 * 1024 * 1024) {
      break
    }
  }

  assert.ok(ctx.firehose.written > held, 'reading let the firehose write on')
  tunnel.abort(new Error('enough'))
  await waitFor(() => ctx.firehose.sockets.every(socket => socket.destroyed), { timeout: 3_000, message: () => 'the firehose\'s connection to close once the buyer aborted' })
})

Tunnels('at most maxTunnelsPerPeer tunnels per peer: one more is RATE_LIMITED until one closes', async (ctx) => {
  const open = await Promise.all([1, 2].map(async () => ctx.client.services.caravela.portForward(ctx.target, 'c1', ECHO)))
  const limited = await rejection(ctx.client.services.caravela.portForward(ctx.target, 'c1', ECHO))
  assert.is(limited.status, 'RATE_LIMITED')

  // another peer has tunnels of its own
  const other = await newClient()

  try {
    const theirs = await other.services.caravela.portForward(ctx.target, 'c1', ECHO)
    theirs.abort(new Error('test done'))
  } finally {
    await other.stop()
  }

  // a tunnel that ends both ways frees its place
  const [first] = open
  await Promise.all([first.sink(pieces(Buffer.from('bye'))), readAll(first.source)])
  const again = await waitFor(async () => ctx.client.services.caravela.portForward(ctx.target, 'c1', ECHO).catch(() => undefined), { timeout: 3_000, message: () => 'a tunnel to be allowed again' })
  again.abort(new Error('test done'))
  open[1].abort(new Error('test done'))
})

Tunnels('a tunnel idle for tunnelIdleTimeout, or past maxTunnelBytes, is reset at both ends', async (ctx) => {
  const idle = await ctx.client.services.idle.portForward(ctx.target, 'c1', ECHO)
  const connections = ctx.echo.sockets.length
  const started = Date.now()
  const idleEnd = await rejection(readAll(idle.source))
  assert.ok(Date.now() - started >= IDLE_TIMEOUT - 50 && Date.now() - started < IDLE_TIMEOUT + 2_000, `reset after ${Date.now() - started} ms`)
  assert.ok(idleEnd instanceof Error, String(idleEnd))
  await waitFor(() => ctx.echo.sockets.slice(connections - 1).every(socket => socket.destroyed), { timeout: 2_000, message: () => 'the port\'s connection to close too' })

  // the cap counts both ways: 600 KiB out and back is more than 1 MiB
  const capped = await ctx.client.services.idle.portForward(ctx.target, 'c1', ECHO)
  const [sent, received] = await Promise.allSettled([capped.sink(pieces(Buffer.alloc(600 * 1024))), readAll(capped.source)])
  assert.is(received.status, 'rejected', 'the tunnel was reset, not ended')
  assert.ok(sent.status === 'rejected' || (received.status === 'rejected'), 'the sending broke off or the answer was cut')
})

Tunnels('a buyer that vanishes mid-tunnel: the supplier closes the connection to the port and serves others on', async (ctx) => {
  const vanishing = await newClient()
  const before = ctx.echo.sockets.length
  const tunnel = await vanishing.services.caravela.portForward(ctx.target, 'c1', ECHO)
  const socket = await waitFor(() => ctx.echo.sockets[before], { timeout: 2_000, message: () => 'the supplier to connect to the port' })
  const reading = readAll(tunnel.source).catch(() => undefined)
  // a sink that never ends: the buyer is still sending when it goes
  void tunnel.sink((async function * () { yield Buffer.from('half a request'); await new Promise(() => {}) })()).catch(() => {})
  await waitFor(() => socket.bytesRead > 0, { timeout: 2_000, message: () => 'the first bytes to reach the port' })

  await vanishing.stop()
  await waitFor(() => socket.destroyed, { timeout: 3_000, message: () => 'the supplier to close its connection to the port' })
  // the buyer's own end is over too, however its node closed it
  await reading

  // and the server goes on
  const tunnel2 = await ctx.client.services.caravela.portForward(ctx.target, 'c1', ECHO)
  const [, back] = await Promise.all([tunnel2.sink(pieces(Buffer.from('still here'))), readAll(tunnel2.source)])
  assert.is(back.toString(), 'still here')
})

Tunnels('the server ends every tunnel stream, and nothing was left unhandled', async (ctx) => {
  const protocols = new Set([ctx.server.services.caravela.portForwardProtocol, ctx.server.services.idle.portForwardProtocol])
  const open = (): string[] => ctx.server.getConnections().flatMap(c => c.streams).filter(s => protocols.has(s.protocol)).map(s => `${s.protocol} (${s.status})`)
  await waitFor(() => open().length === 0, { timeout: 3_000, message: () => `the server to end every stream, still open: ${open().join(', ')}` })
  await new Promise(resolve => { setImmediate(resolve) })
  assert.equal(rejections, [])
})

Tunnels.run()
