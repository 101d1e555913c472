/**
 * The protocol server and client between two real libp2p peers on 127.0.0.1: round trips,
 * status mapping, the rate limit, and every protocol fed bad input by hand over raw streams. The
 * server must answer with a status or close the stream within its time limits, keep serving, and
 * leave no unhandled rejection behind.
 */

import { identify } from '@libp2p/identify'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { MalformedMessageError, NotImplementedError, ProtocolStatusError, RemoteRequestError } from '../src/errors.js'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import { LOGS_READ_BUFFER, MAX_LOG_CHUNK } from '../src/protocols/constants.js'
import { MESSAGE_NAMES } from '../src/protocols/ids.js'
import { requestSizeLimit } from '../src/protocols/limits.js'
import * as pb from '../src/protocols/pb/caravela.js'
import { CaravelaProtocolServer } from '../src/protocols/server.js'
import { loopbackLibp2pOptions } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { StatusName } from '../src/protocols/codec.js'
import type { CaravelaHandlers, RequestContext } from '../src/protocols/handlers.js'
import type { MessageName } from '../src/protocols/ids.js'
import type { ProtocolLimits } from '../src/protocols/limits.js'
import type { ContainerConfig, LogChunk, NetworkConfiguration, NodeRef } from '../src/types.js'
import type { Identify } from '@libp2p/identify'
import type { Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'

const PREFIX = 'caravela-bad-input'
const RATE_LIMITED_PREFIX = 'caravela-rate-limited'
/** time a containerLogs stream without follow may take at this test's server */
const LOGS_TIMEOUT = 1_000
/** time a request/response stream may stay idle between two requests at this test's server */
const STREAM_IDLE_TIMEOUT = 1_000
const LIMITS: Partial<ProtocolLimits> = { readTimeout: 400, requestTimeout: 1_500, streamIdleTimeout: STREAM_IDLE_TIMEOUT, rateLimitBurst: 10_000, maxLogStreamsPerPeer: 2, logsTimeout: LOGS_TIMEOUT }
const READ_TIMEOUT = 400
const REQUEST_TIMEOUT = 1_500
/** longest a bad stream may stay open: the server's request limit plus slack for a loaded machine */
const BOUND = REQUEST_TIMEOUT + 1_500

const CONFIGURATION: NetworkConfiguration = {
  json: '{"cpuSlices":1,"requestTimeout":5000}',
  resourceMapDigest: new Uint8Array(32).fill(9)
}

const rejections: unknown[] = []
process.on('unhandledRejection', reason => { rejections.push(reason) })

interface ServerServices extends Record<string, unknown> {
  identify: Identify
  caravela: CaravelaProtocolServer
  rateLimited: CaravelaProtocolServer
}

interface ClientServices extends Record<string, unknown> {
  identify: Identify
  caravela: Libp2pCaravelaClient
  rateLimited: Libp2pCaravelaClient
}

interface Context {
  server: Libp2p<ServerServices>
  client: Libp2p<ClientServices>
  target: NodeRef
  seen: RequestContext[]
  handlers: Partial<CaravelaHandlers>
}

const baseOptions = loopbackLibp2pOptions()

const Protocols = suite<Context>('protocols: two peers on 127.0.0.1', {} as unknown as Context)

Protocols.before(async (ctx) => {
  ctx.seen = []
  ctx.handlers = {
    obtainConfiguration: async (request) => {
      ctx.seen.push(request)
      return CONFIGURATION
    }
  }
  ctx.server = await createLibp2p<ServerServices>({
    ...baseOptions,
    services: {
      identify: identify(),
      caravela: (components) => new CaravelaProtocolServer(components, { protocolPrefix: PREFIX, handlers: ctx.handlers, limits: LIMITS }),
      rateLimited: (components) => new CaravelaProtocolServer(components, {
        protocolPrefix: RATE_LIMITED_PREFIX,
        handlers: ctx.handlers,
        limits: { rateLimitBurst: 2, rateLimitPerSecond: 0.001 }
      })
    }
  })
  ctx.client = await createLibp2p<ClientServices>({
    ...baseOptions,
    services: {
      identify: identify(),
      caravela: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: PREFIX }),
      rateLimited: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: RATE_LIMITED_PREFIX })
    }
  })
  ctx.target = { peerId: ctx.server.peerId.toString(), multiaddrs: ctx.server.getMultiaddrs().map(a => a.toString()) }
})

Protocols.after(async (ctx) => {
  await Promise.all([ctx.client?.stop(), ctx.server?.stop()])
})

Protocols('obtainConfiguration round trip; the handler sees the client as the sender', async (ctx) => {
  const configuration = await ctx.client.services.caravela.obtainConfiguration(ctx.target)
  assert.is(configuration.json, CONFIGURATION.json)
  assert.equal([...configuration.resourceMapDigest], [...CONFIGURATION.resourceMapDigest])
  assert.is(ctx.seen.length, 1)
  assert.is(ctx.seen[0].from.peerId, ctx.client.peerId.toString())
  assert.match(ctx.seen[0].from.multiaddrs[0], /^\/ip4\/127\.0\.0\.1\/tcp\/\d+(\/p2p\/\w+)?$/)
  assert.ok(ctx.seen[0].signal instanceof AbortSignal)
  const metrics = ctx.client.services.caravela.metrics.obtainConfiguration
  assert.is(metrics.messagesSent, 1)
  assert.is(metrics.messagesReceived, 1)
  assert.ok(metrics.bytesReceived > 32)
  assert.is(ctx.server.services.caravela.metrics.obtainConfiguration.messagesReceived, 1)
})

Protocols('a missing handler answers NOT_IMPLEMENTED', async (ctx) => {
  const err = await rejection(ctx.client.services.caravela.getOffers(ctx.target, false))
  assert.instance(err, RemoteRequestError)
  assert.is((err as RemoteRequestError).status, 'NOT_IMPLEMENTED')
})

Protocols('handlers are replaceable, and their errors map to statuses without leaking details', async (ctx) => {
  let launched: { offerId: number, requestId: string, containers: ContainerConfig[] } | undefined
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    refreshOffer: async () => { throw new ProtocolStatusError('REFUSED', 'you are not the trader of offer 7') },
    removeOffer: async () => { throw new NotImplementedError('no trader role yet') },
    updateOffer: async () => { throw new Error('secret detail: /var/lib/caravela/key') },
    launchContainer: async (request, offerId, requestId, containers) => {
      launched = { offerId, requestId, containers }
      return containers.map((c, i) => ({ ...c, supplier: { peerId: ctx.server.peerId.toString(), multiaddrs: [] }, containerId: `c${i}`, state: 'running' }))
    }
  })

  try {
    const refused = await rejection(ctx.client.services.caravela.refreshOffer(ctx.target, 7))
    assert.instance(refused, RemoteRequestError)
    assert.is((refused as RemoteRequestError).status, 'REFUSED')
    assert.is((refused as RemoteRequestError).message, 'you are not the trader of offer 7')

    const notImplemented = await rejection(ctx.client.services.caravela.removeOffer(ctx.target, 7))
    assert.is((notImplemented as RemoteRequestError).status, 'NOT_IMPLEMENTED')
    assert.is((notImplemented as RemoteRequestError).message, 'no trader role yet')

    const failed = await rejection(ctx.client.services.caravela.updateOffer(ctx.target, {
      id: 1, amount: 1, freeResources: { cpuClass: 0, cpus: 1, memory: 1 }, usedResources: { cpuClass: 0, cpus: 0, memory: 0 }, containersRunning: 0
    }))
    assert.is((failed as RemoteRequestError).status, 'INTERNAL_ERROR')
    assert.not.match((failed as RemoteRequestError).message, /secret/)

    const containers: ContainerConfig[] = Array.from({ length: 64 }, (_, i) => ({
      name: `c${i}`,
      image: 'caravela/busybox:test',
      args: Array.from({ length: 16 }, (_, j) => `arg-${j}-${'x'.repeat(100)}`),
      portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }],
      resources: { cpuClass: 1, cpus: 2, memory: 512 },
      groupPolicy: 'spread'
    }))
    const statuses = await ctx.client.services.caravela.launchContainer(ctx.target, 9, 'req-1', containers)
    assert.equal(launched, { offerId: 9, requestId: 'req-1', containers })
    assert.is(statuses.length, 64)
    assert.is(statuses[63].containerId, 'c63')
    assert.is(statuses[63].supplier.peerId, ctx.server.peerId.toString())
    assert.ok(ctx.client.services.caravela.metrics.launchContainer.bytesSent > 64 * 1024, 'the launch request was larger than the default message limit')
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

Protocols('the client refuses bad arguments before opening a stream', async (ctx) => {
  const before = ctx.client.services.caravela.metrics.launchContainer.messagesSent
  assert.instance(await rejection(ctx.client.services.caravela.launchContainer(ctx.target, 1, 'r', [])), MalformedMessageError)
  assert.instance(await rejection(ctx.client.services.caravela.refreshOffer(ctx.target, -1)), MalformedMessageError)
  assert.is((await rejection(ctx.client.services.caravela.obtainConfiguration({ peerId: 'nobody', multiaddrs: [] })) as Error).name, 'InvalidParametersError')
  assert.is(ctx.client.services.caravela.metrics.launchContainer.messagesSent, before)
})

Protocols('a handler that never settles: the stream ends within the request limit and ctx.signal aborts', async (ctx) => {
  let aborted = false
  ctx.server.services.caravela.setHandlers({
    obtainConfiguration: async (request) => {
      request.signal.addEventListener('abort', () => { aborted = true })
      return new Promise<NetworkConfiguration>(() => {})
    }
  })

  try {
    const started = Date.now()
    const err = await rejection(ctx.client.services.caravela.obtainConfiguration(ctx.target, { signal: AbortSignal.timeout(10_000) }))
    const elapsed = Date.now() - started
    assert.ok(err instanceof Error)
    assert.ok(elapsed >= REQUEST_TIMEOUT - 100 && elapsed < BOUND, `ended after ${elapsed} ms`)
    assert.ok(aborted, 'the handler\'s signal aborted')
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

// ---- bad input, by hand, on every protocol ----

type Outcome = { kind: 'status', status: StatusName, message: string } | { kind: 'ended', error: string }

interface BadInput {
  /** writes the bad input; may run on while the response is read */
  write (stream: Stream, name: MessageName): Promise<void>
  /** what the server must do */
  expect (name: MessageName, outcome: Outcome, elapsed: number): void
}

/** deterministic bytes (xorshift32) */
function pseudoRandomBytes (length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let x = seed

  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }

  return bytes
}

function varint (value: number): number[] {
  const bytes = []

  while (value >= 0x80) {
    bytes.push((value & 0x7f) | 0x80)
    value = Math.floor(value / 128)
  }

  bytes.push(value)
  return bytes
}

async function delay (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

function isStatus (outcome: Outcome, ...statuses: StatusName[]): boolean {
  return outcome.kind === 'status' && statuses.includes(outcome.status)
}

/** Zero-length and wrong-type requests decode as valid for these messages: their fields have defaults. */
const ANSWER_TO_EMPTY: Record<MessageName, StatusName> = {
  createOffer: 'INVALID_REQUEST',
  refreshOffer: 'NOT_IMPLEMENTED',
  updateOffer: 'INVALID_REQUEST',
  removeOffer: 'NOT_IMPLEMENTED',
  getOffers: 'NOT_IMPLEMENTED',
  advertiseOffersNeighbor: 'INVALID_REQUEST',
  launchContainer: 'INVALID_REQUEST',
  stopLocalContainer: 'INVALID_REQUEST',
  containerExited: 'INVALID_REQUEST',
  containerStatus: 'INVALID_REQUEST',
  obtainConfiguration: 'OK'
}

const BAD_INPUTS: Record<string, BadInput> = {
  'garbage (an endless varint), then close': {
    write: async (stream) => {
      stream.send(new Uint8Array(64).fill(0xff))
      await stream.close()
    },
    expect: (name, outcome) => { assert.ok(isStatus(outcome, 'INVALID_REQUEST') || outcome.kind === 'ended', JSON.stringify(outcome)) }
  },
  'random bytes, then close': {
    write: async (stream) => {
      stream.send(pseudoRandomBytes(300, 0x9e3779b9))
      await stream.close()
    },
    expect: (name, outcome) => { assert.ok(outcome.kind === 'status' || outcome.kind === 'ended', JSON.stringify(outcome)) }
  },
  'a length prefix larger than the limit': {
    write: async (stream, name) => {
      stream.send(Uint8Array.from([...varint(requestSizeLimit(name, { maxMessageSize: 64 * 1024, maxLargeMessageSize: 256 * 1024 }) + 1), 1, 2, 3, 4]))
    },
    expect: (name, outcome) => { assert.ok(isStatus(outcome, 'INVALID_REQUEST'), JSON.stringify(outcome)) }
  },
  'a truncated frame (100 announced, 10 sent, then close)': {
    write: async (stream) => {
      stream.send(Uint8Array.from([100, ...pseudoRandomBytes(10, 7)]))
      await stream.close()
    },
    expect: (name, outcome) => { assert.ok(isStatus(outcome, 'INVALID_REQUEST'), JSON.stringify(outcome)) }
  },
  'a zero-length message': {
    write: async (stream) => { stream.send(Uint8Array.from([0])) },
    expect: (name, outcome) => { assert.ok(isStatus(outcome, ANSWER_TO_EMPTY[name]), JSON.stringify(outcome)) }
  },
  'a complete frame of random bytes': {
    write: async (stream) => { stream.send(Uint8Array.from([...varint(200), ...pseudoRandomBytes(200, 0x1234567)])) },
    expect: (name, outcome) => { assert.ok(outcome.kind === 'status', JSON.stringify(outcome)) }
  },
  'field 1 with the wrong wire type': {
    write: async (stream) => { stream.send(Uint8Array.from([5, 0x0d, 0x01, 0x02, 0x03, 0x04])) },
    expect: (name, outcome) => {
      assert.ok(isStatus(outcome, name === 'obtainConfiguration' ? 'OK' : 'INVALID_REQUEST'), JSON.stringify(outcome))
    }
  },
  'a stream opened and never written': {
    write: async () => {},
    expect: (name, outcome, elapsed) => {
      assert.is(outcome.kind, 'ended')
      assert.ok(elapsed >= READ_TIMEOUT - 50, `closed after ${elapsed} ms, before the read timeout`)
    }
  },
  'one byte every 100 ms': {
    write: async (stream) => {
      stream.send(Uint8Array.from([50]))

      for (let i = 0; i < 30 && stream.writeStatus === 'writable' && stream.status === 'open'; i++) {
        await delay(100)
        stream.send(Uint8Array.from([i]))
      }
    },
    expect: (name, outcome) => { assert.is(outcome.kind, 'ended') }
  }
}

/**
 * Open a raw stream, write `input`, and report what the server did, failing after `BOUND` ms.
 * `protocol`: the logs stream's instead of the message's.
 */
async function exchange (ctx: Context, name: MessageName, input: BadInput, protocol = ctx.server.services.caravela.protocols[name]): Promise<{ outcome: Outcome, elapsed: number }> {
  const started = Date.now()
  const signal = AbortSignal.timeout(BOUND)
  const stream = await ctx.client.dialProtocol(ctx.server.peerId, protocol, { signal })
  const writing = input.write(stream, name).catch(() => {})

  try {
    const response = pb.RemoveOfferResponse.decode(await lpStream(stream).read({ signal }))
    await stream.close({ signal })
    return { outcome: { kind: 'status', status: response.status?.code ?? 'OK', message: response.status?.message ?? '' }, elapsed: Date.now() - started }
  } catch (err: any) {
    if (signal.aborted) {
      throw new Error(`${name}: the server neither answered nor closed the stream within ${BOUND} ms`)
    }

    return { outcome: { kind: 'ended', error: err.name }, elapsed: Date.now() - started }
  } finally {
    stream.abort(new Error('test done'))
    await writing
  }
}

for (const name of MESSAGE_NAMES) {
  Protocols(`${name}: bad input gets a status or a closed stream, in time`, async (ctx) => {
    await Promise.all(Object.entries(BAD_INPUTS).map(async ([kind, input]) => {
      const { outcome, elapsed } = await exchange(ctx, name, input)

      try {
        input.expect(name, outcome, elapsed)
      } catch (err: any) {
        err.message = `${kind}: ${err.message}`
        throw err
      }
    }))
  })
}

Protocols('getOffers carries what the buyer needs to the handler; an invalid one answers INVALID_REQUEST naming the field', async (ctx) => {
  const asked: Array<{ relay: boolean, needed?: unknown }> = []
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    getOffers: async (request, relay, needed) => {
      asked.push(needed == null ? { relay } : { relay, needed })
      return []
    }
  })

  try {
    const needed = { cpuClass: 1, cpus: 2, memory: 768 }
    assert.equal(await ctx.client.services.caravela.getOffers(ctx.target, true, { needed }), [])
    assert.equal(await ctx.client.services.caravela.getOffers(ctx.target, false), [])
    assert.equal(asked, [{ relay: true, needed }, { relay: false }])

    const bad = pb.GetOffersRequest.encode({ relay: true, needed: { cpuClass: 7, cpus: 1, memory: 1 } })
    const { outcome } = await exchange(ctx, 'getOffers', {
      write: async (stream) => { stream.send(Uint8Array.from([...varint(bad.byteLength), ...bad])) },
      expect: () => {}
    })
    assert.ok(outcome.kind === 'status' && outcome.status === 'INVALID_REQUEST', JSON.stringify(outcome))
    assert.match(outcome.kind === 'status' ? outcome.message : '', /^needed\.cpuClass: /)
    assert.is(asked.length, 2, 'the handler never saw the invalid request')
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

// ---- bad input on a stream that already carried a request ----

/** A raw stream of `name`'s protocol at the server (or the rate-limited server), read frame by frame. */
async function rawStream (ctx: Context, name: MessageName, server: 'caravela' | 'rateLimited' = 'caravela'): Promise<{ stream: Stream, lp: ReturnType<typeof lpStream<Stream>>, status: () => Promise<StatusName | string> }> {
  const stream = await ctx.client.dialProtocol(ctx.server.peerId, ctx.server.services[server].protocols[name], { signal: AbortSignal.timeout(BOUND) })
  const lp = lpStream(stream)
  // the status of the next answer, or the name of the error that ended the stream instead
  const status = async (): Promise<StatusName | string> => lp.read({ signal: AbortSignal.timeout(BOUND) }).then(
    bytes => pb.RemoveOfferResponse.decode(bytes).status?.code ?? 'OK',
    (err: Error) => err.name
  )
  return { stream, lp, status }
}

const CONFIGURATION_REQUEST = Uint8Array.from([0])

Protocols('a reused stream: garbage after a valid request is answered INVALID_REQUEST, then the stream is closed', async (ctx) => {
  const { stream, status } = await rawStream(ctx, 'obtainConfiguration')

  try {
    stream.send(Uint8Array.from([...CONFIGURATION_REQUEST, ...new Uint8Array(64).fill(0xff)]))
    assert.is(await status(), 'OK')
    assert.is(await status(), 'INVALID_REQUEST')
    assert.is(await status(), 'UnexpectedEOFError', 'the server closed the stream cleanly')
  } finally {
    stream.abort(new Error('test done'))
  }
})

Protocols('a reused stream: a huge length prefix on the second request is answered INVALID_REQUEST, then the stream is closed', async (ctx) => {
  const { stream, status } = await rawStream(ctx, 'launchContainer')

  try {
    const bad = pb.LaunchContainerRequest.encode({ offerId: 1n, requestId: 'r', containers: [], deadlineMs: 0 })
    stream.send(Uint8Array.from([...varint(bad.byteLength), ...bad]))
    assert.is(await status(), 'INVALID_REQUEST', 'no containers: an invalid request, which also ends the stream')
    assert.is(await status(), 'UnexpectedEOFError')
  } finally {
    stream.abort(new Error('test done'))
  }

  const second = await rawStream(ctx, 'obtainConfiguration')

  try {
    second.stream.send(CONFIGURATION_REQUEST)
    assert.is(await second.status(), 'OK')
    second.stream.send(Uint8Array.from([...varint(1024 ** 3), 1, 2, 3]))
    assert.is(await second.status(), 'INVALID_REQUEST')
    assert.is(await second.status(), 'UnexpectedEOFError')
  } finally {
    second.stream.abort(new Error('test done'))
  }
})

Protocols('a reused stream: the rate limit applies to each request, and the stream carries on', async (ctx) => {
  // the rate-limited server allows a burst of 2 per peer and protocol
  const { stream, status } = await rawStream(ctx, 'refreshOffer', 'rateLimited')
  const request = pb.RefreshOfferRequest.encode({ offerId: 1n })
  const frame = Uint8Array.from([...varint(request.byteLength), ...request])

  try {
    const answers = []

    for (let i = 0; i < 4; i++) {
      stream.send(frame)
      answers.push(await status())
    }

    assert.equal(answers, ['NOT_IMPLEMENTED', 'NOT_IMPLEMENTED', 'RATE_LIMITED', 'RATE_LIMITED'])
    assert.is(stream.status, 'open', 'a rate-limited request does not end the stream')
  } finally {
    stream.abort(new Error('test done'))
  }
})

Protocols('a reused stream: a peer that vanishes during its second request leaves nothing behind', async (ctx) => {
  let calls = 0
  let second = false
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    obtainConfiguration: async (request) => {
      if (++calls === 2) {
        second = true
        await delay(300)
      }

      return CONFIGURATION
    }
  })

  try {
    const { stream, status } = await rawStream(ctx, 'obtainConfiguration')
    stream.send(CONFIGURATION_REQUEST)
    assert.is(await status(), 'OK')
    stream.send(CONFIGURATION_REQUEST)
    await waitFor(() => second, { timeout: BOUND, message: 'the second request to reach the handler' })
    stream.abort(new Error('the peer vanishes'))
    const half = await rawStream(ctx, 'obtainConfiguration')
    half.stream.send(CONFIGURATION_REQUEST)
    assert.is(await half.status(), 'OK')
    // half a request, then gone
    half.stream.send(Uint8Array.from([100, 1, 2, 3]))
    half.stream.abort(new Error('the peer vanishes'))

    const protocol = ctx.server.services.caravela.protocols.obtainConfiguration
    const open = (): number => ctx.server.getConnections().flatMap(c => c.streams).filter(s => s.protocol === protocol).length
    await waitFor(() => open() === 0, { timeout: BOUND, message: () => `the server to end both streams, ${open()} open` })
    assert.is((await ctx.client.services.caravela.obtainConfiguration(ctx.target)).json, CONFIGURATION.json)
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

Protocols('a reused stream: a peer that keeps it idle has it closed after streamIdleTimeout', async (ctx) => {
  const { stream, status } = await rawStream(ctx, 'obtainConfiguration')

  try {
    stream.send(CONFIGURATION_REQUEST)
    assert.is(await status(), 'OK')
    const started = Date.now()
    assert.is(await status(), 'UnexpectedEOFError', 'the server closed the idle stream cleanly')
    const elapsed = Date.now() - started
    assert.ok(elapsed >= STREAM_IDLE_TIMEOUT - 100 && elapsed < STREAM_IDLE_TIMEOUT + BOUND, `closed after ${elapsed} ms`)
  } finally {
    stream.abort(new Error('test done'))
  }
})

// ---- the containerLogs stream ----

/** An endless output of 16 KiB stdout chunks, counting what was taken from it, ending when `signal` aborts. */
function endlessOutput (signal: AbortSignal, counter: { produced: number }): AsyncIterable<LogChunk> {
  return (async function * () {
    while (!signal.aborted) {
      counter.produced++
      yield { stream: 'stdout' as const, data: new Uint8Array(MAX_LOG_CHUNK).fill(counter.produced & 0xff) }
    }
  })()
}

Protocols('containerLogs: the chunks come in order, a long one split in frames, then the end; the handler sees the sender and what it asked', async (ctx) => {
  const asked: unknown[] = []
  const big = pseudoRandomBytes(2 * MAX_LOG_CHUNK + 100, 42)
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    containerLogs: async (request, logs) => {
      asked.push({ from: request.from.peerId, ...logs })
      const chunks: LogChunk[] = [{ stream: 'stdout', data: new TextEncoder().encode('one\n') }, { stream: 'stderr', data: big }, { stream: 'stdout', data: new TextEncoder().encode('two\n') }]
      return (async function * () { yield * chunks })()
    }
  })

  try {
    const chunks: LogChunk[] = []
    const [server, client] = [ctx.server.services.caravela.metrics, ctx.client.services.caravela.metrics]
    const before = structuredClone({ server, client })

    for await (const chunk of await ctx.client.services.caravela.containerLogs(ctx.target, 'c1', { tail: 10, since: 1_700_000_000_000 })) {
      chunks.push(chunk)
    }

    // the protocol metrics count the stream, its request, its status and its five frames
    const data = 4 + 2 * MAX_LOG_CHUNK + 100 + 4
    assert.is(server.logStreams.opened - before.server.logStreams.opened, 1)
    assert.is(client.logStreams.opened - before.client.logStreams.opened, 1)
    assert.is(server.containerLogs.messagesReceived - before.server.containerLogs.messagesReceived, 1)
    assert.is(server.containerLogs.messagesSent - before.server.containerLogs.messagesSent, 6)
    assert.is(client.containerLogs.messagesReceived - before.client.containerLogs.messagesReceived, 6)
    const sent = server.containerLogs.bytesSent - before.server.containerLogs.bytesSent
    assert.ok(sent > data && sent < data + 6 * 16, `${sent} bytes sent for ${data} bytes of output`)
    assert.is(client.containerLogs.bytesReceived - before.client.containerLogs.bytesReceived, sent)

    assert.equal(asked, [{ from: ctx.client.peerId.toString(), containerId: 'c1', follow: false, tail: 10, since: 1_700_000_000_000 }])
    assert.equal(chunks.map(c => [c.stream, c.data.byteLength]), [['stdout', 4], ['stderr', MAX_LOG_CHUNK], ['stderr', MAX_LOG_CHUNK], ['stderr', 100], ['stdout', 4]])
    assert.equal([...Buffer.concat(chunks.slice(1, 4).map(c => c.data))], [...big])
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

Protocols('containerLogs: a refusal is a RemoteRequestError with its status; a missing handler NOT_IMPLEMENTED', async (ctx) => {
  const notImplemented = await rejection(ctx.client.services.caravela.containerLogs(ctx.target, 'c1'))
  assert.is((notImplemented as RemoteRequestError).status, 'NOT_IMPLEMENTED')
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    containerLogs: async (request) => {
      // the roles refuse anyone but the container's buyer: here nobody is
      throw new ProtocolStatusError('REFUSED', `container c1 was launched by another peer than ${request.from.peerId}`)
    }
  })

  const refusals = ctx.server.services.caravela.metrics.logStreams.refused
  assert.ok(refusals > 0, 'the NOT_IMPLEMENTED answer counts as a refused stream')
  assert.is(ctx.client.services.caravela.metrics.logStreams.refused, refusals)

  try {
    const refused = await rejection(ctx.client.services.caravela.containerLogs(ctx.target, 'c1', { follow: true }))
    assert.is(ctx.server.services.caravela.metrics.logStreams.refused, refusals + 1)
    assert.instance(refused, RemoteRequestError)
    assert.is((refused as RemoteRequestError).status, 'REFUSED')
    assert.match((refused as RemoteRequestError).message, /launched by another peer/)
    assert.instance(await rejection(ctx.client.services.caravela.containerLogs(ctx.target, 'bad id')), MalformedMessageError)
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

/** Once the writer of `counter` made no chunk for 300 ms: how many it made. */
async function writerStopped (counter: { produced: number }): Promise<number> {
  let produced = -1
  await waitFor(async () => {
    produced = counter.produced
    await delay(300)
    return counter.produced === produced
  }, { timeout: 10_000, message: () => `the writer to wait for the reader (${counter.produced} chunks made)` })
  return produced
}

Protocols('containerLogs: a reader that does not read holds the writer back; one that leaves ends the handler\'s output', async (ctx) => {
  const counter = { produced: 0 }
  let signal: AbortSignal | undefined
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    containerLogs: async (request) => {
      signal = request.signal
      return endlessOutput(request.signal, counter)
    }
  })

  const chunks = (await ctx.client.services.caravela.containerLogs(ctx.target, 'c1', { follow: true }))[Symbol.asyncIterator]()

  try {
    await chunks.next()
    // the supplier is as far ahead as the muxer lets it, no further: the window it had when the
    // reader paused (yamux's grows to 16 MiB on a fast link), and one the reader held
    const window = LOGS_READ_BUFFER / MAX_LOG_CHUNK
    const held = await writerStopped(counter)
    assert.ok(held <= window + 16, `the writer ran ${held} chunks ahead of a reader that read one`)
    const next = await chunks.next()
    assert.is(next.value?.data.byteLength, MAX_LOG_CHUNK)
    const after = await writerStopped(counter)
    assert.ok(after <= 2 * window + 16, `the writer ran ${after} chunks ahead of a reader that read two`)
  } finally {
    await chunks.return?.(undefined)
  }

  try {
    await waitFor(() => signal?.aborted === true, { timeout: BOUND, message: () => 'the handler\'s signal to abort once the reader left' })
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

Protocols('containerLogs: a slow reader that keeps reading gets every chunk, the writer never far ahead', async (ctx) => {
  const counter = { produced: 0 }
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    containerLogs: async (request) => {
      signal = request.signal
      return endlessOutput(request.signal, counter)
    }
  })
  let signal: AbortSignal | undefined
  const window = LOGS_READ_BUFFER / MAX_LOG_CHUNK
  let consumed = 0
  let ahead = 0

  try {
    // pauses and resumes by the hundred: each resume delivers what waited, and a pause made while
    // it delivers must hold
    for await (const chunk of await ctx.client.services.caravela.containerLogs(ctx.target, 'c1', { follow: true })) {
      assert.is(chunk.data.byteLength, MAX_LOG_CHUNK)
      ahead = Math.max(ahead, counter.produced - ++consumed)

      if (consumed % 8 === 0) {
        await delay(2)
      }

      if (consumed >= 6 * window) {
        break
      }
    }

    await waitFor(() => signal?.aborted === true, { timeout: BOUND, message: () => 'the handler\'s signal to abort once the reader left' })
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }

  assert.is(consumed, 6 * window)
  assert.ok(ahead <= 2 * window + 16, `the writer ran ${ahead} chunks ahead of the reader`)
})

Protocols('containerLogs: at most maxLogStreamsPerPeer streams per peer; one without follow is cut after logsTimeout', async (ctx) => {
  ctx.server.services.caravela.setHandlers({
    ...ctx.handlers,
    containerLogs: async (request) => (async function * () {
      // an output that never ends: a container that keeps its logs open
      await new Promise(resolve => { request.signal.addEventListener('abort', resolve) })
      yield * []
    })()
  })

  try {
    const client = ctx.client.services.caravela
    const controller = new AbortController()
    const open = await Promise.all([1, 2].map(async () => client.containerLogs(ctx.target, 'c1', { follow: true, signal: controller.signal })))
    const limited = await rejection(client.containerLogs(ctx.target, 'c1', { follow: true }))
    assert.is((limited as RemoteRequestError).status, 'RATE_LIMITED')
    controller.abort()
    await Promise.all(open.map(async chunks => { await rejection(drain(chunks)) }))

    const started = Date.now()
    const chunks = await waitFor(async () => client.containerLogs(ctx.target, 'c1').catch(() => undefined), { timeout: BOUND, message: () => 'a stream to be allowed again once the others closed' })
    const cut = await rejection(drain(chunks))
    const elapsed = Date.now() - started
    assert.ok(cut instanceof Error)
    assert.ok(elapsed >= LOGS_TIMEOUT - 100 && elapsed < LOGS_TIMEOUT + BOUND, `cut after ${elapsed} ms`)
  } finally {
    ctx.server.services.caravela.setHandlers(ctx.handlers)
  }
})

Protocols('containerLogs: bad input gets a status or a closed stream, in time', async (ctx) => {
  // one after the other: a peer may have only maxLogStreamsPerPeer open at once
  for (const [kind, input] of Object.entries(BAD_INPUTS)) {
    // a ContainerLogsRequest has what a StopLocalContainerRequest has in field 1: a container id
    const { outcome, elapsed } = await exchange(ctx, 'stopLocalContainer', input, ctx.server.services.caravela.logsProtocol)

    try {
      input.expect('stopLocalContainer', outcome, elapsed)
    } catch (err: any) {
      err.message = `${kind}: ${err.message}`
      throw err
    }
  }
})

Protocols('after all of it the server still answers, and nothing was left unhandled', async (ctx) => {
  const configuration = await ctx.client.services.caravela.obtainConfiguration(ctx.target)
  assert.is(configuration.json, CONFIGURATION.json)
  const metrics = ctx.server.services.caravela.metrics
  assert.ok(MESSAGE_NAMES.every(name => metrics[name].messagesSent >= 5), 'every protocol answered bad input')

  // a handler returns once its stream has ended on the server's side
  const protocols = new Set([...Object.values(ctx.server.services.caravela.protocols), ctx.server.services.caravela.logsProtocol])
  const open = (): string[] => ctx.server.getConnections().flatMap(c => c.streams).filter(s => protocols.has(s.protocol)).map(s => `${s.protocol} (${s.status})`)
  await waitFor(() => open().length === 0, { timeout: BOUND, message: () => `the server to end every stream, still open: ${open().join(', ')}` })
  // one turn of the event loop, in which Node reports the rejections left unhandled so far
  await new Promise(resolve => { setImmediate(resolve) })
  assert.equal(rejections, [])
})

Protocols('the rate limit answers RATE_LIMITED when a peer exceeds it', async (ctx) => {
  const client = ctx.client.services.rateLimited
  await client.obtainConfiguration(ctx.target)
  await client.obtainConfiguration(ctx.target)
  const err = await rejection(client.obtainConfiguration(ctx.target))
  assert.instance(err, RemoteRequestError)
  assert.is((err as RemoteRequestError).status, 'RATE_LIMITED')
  assert.is((await rejection(client.getOffers(ctx.target, true)) as RemoteRequestError).status, 'NOT_IMPLEMENTED', 'each protocol has its own bucket')
})

/** Read a logs stream to its end: how many chunks it gave. */
async function drain (chunks: AsyncIterable<LogChunk>): Promise<number> {
  let count = 0

  for await (const _ of chunks) {
    count++
  }

  return count
}

async function rejection (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }

  assert.unreachable('the call should have failed')
}

Protocols.run()
