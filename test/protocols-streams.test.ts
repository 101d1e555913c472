/**
 * Streams reused per (peer, protocol) between two real libp2p peers on 127.0.0.1: sequential
 * requests share one stream, concurrent ones open several and reuse them, a one-request client and
 * a one-request server still work with the new side, idle streams are closed by either side, and
 * a request on a reused stream that the server closed goes again on a new stream, once, and only
 * when the server cannot have served it.
 */

import { identify } from '@libp2p/identify'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import { CODECS } from '../src/protocols/codec.js'
import { protocolIds } from '../src/protocols/ids.js'
import { CaravelaProtocolServer } from '../src/protocols/server.js'
import { loopbackLibp2pOptions } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { NetworkConfiguration, NodeRef } from '../src/types.js'
import type { Identify } from '@libp2p/identify'
import type { Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'

const PREFIX = 'caravela-streams'
/** a server answering one request per stream, then closing it (before streams were reused) */
const OLD_PREFIX = 'caravela-old'
/** a server that closes a reused stream cleanly when the next request comes, as an idle close crossing it would */
const CROSSING_PREFIX = 'caravela-crossing'
/** a server that resets a reused stream when the next request comes */
const RESETTING_PREFIX = 'caravela-resetting'
/** the server's idle time, longer than the short-lived client's and shorter than the others' */
const SERVER_IDLE = 1_500
const CLIENT_IDLE = 200

const CONFIGURATION: NetworkConfiguration = { json: '{"cpuSlices":1}', resourceMapDigest: new Uint8Array(32).fill(3) }
const REQUEST = CODECS.obtainConfiguration.encodeRequest({})
const ANSWER = CODECS.obtainConfiguration.encodeResponse({ status: 'OK', result: CONFIGURATION })

const rejections: unknown[] = []
process.on('unhandledRejection', reason => { rejections.push(reason) })

interface ServerServices extends Record<string, unknown> {
  identify: Identify
  caravela: CaravelaProtocolServer
}

interface ClientServices extends Record<string, unknown> {
  identify: Identify
  caravela: Libp2pCaravelaClient
  shortIdle: Libp2pCaravelaClient
  oneShot: Libp2pCaravelaClient
  old: Libp2pCaravelaClient
  crossing: Libp2pCaravelaClient
  resetting: Libp2pCaravelaClient
}

interface Context {
  server: Libp2p<ServerServices>
  client: Libp2p<ClientServices>
  target: NodeRef
  /** requests the handlers saw, per prefix */
  served: Record<string, number>
}

const baseOptions = loopbackLibp2pOptions()

const Streams = suite<Context>('protocols: streams reused per peer and protocol', {} as unknown as Context)

Streams.before(async (ctx) => {
  ctx.served = { [PREFIX]: 0, [OLD_PREFIX]: 0, [CROSSING_PREFIX]: 0, [RESETTING_PREFIX]: 0 }
  ctx.server = await createLibp2p<ServerServices>({
    ...baseOptions,
    services: {
      identify: identify(),
      caravela: (components) => new CaravelaProtocolServer(components, {
        protocolPrefix: PREFIX,
        limits: { streamIdleTimeout: SERVER_IDLE },
        handlers: {
          obtainConfiguration: async () => {
            ctx.served[PREFIX]++
            return CONFIGURATION
          }
        }
      })
    }
  })
  // hand-made servers: each answers the first request of a stream, then does what its name says
  const handle = async (prefix: string, next: (stream: Stream) => Promise<void>): Promise<void> => {
    await ctx.server.handle(protocolIds(prefix).obtainConfiguration, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      ctx.served[prefix]++
      await lp.write(ANSWER)
      await next(stream)
    })
  }
  await handle(OLD_PREFIX, async (stream) => { await stream.close() })
  await handle(CROSSING_PREFIX, async (stream) => {
    // the request arrives; it is not served: the stream is closed as if it had been idle
    await waitForData(stream)
    await stream.close()
  })
  await handle(RESETTING_PREFIX, async (stream) => {
    await waitForData(stream)
    stream.abort(new Error('the server resets the stream'))
  })
  ctx.client = await createLibp2p<ClientServices>({
    ...baseOptions,
    services: {
      identify: identify(),
      caravela: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: PREFIX, pool: { idleTimeout: 10 * SERVER_IDLE } }),
      shortIdle: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: PREFIX, pool: { idleTimeout: CLIENT_IDLE } }),
      oneShot: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: PREFIX, reuseStreams: false }),
      old: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: OLD_PREFIX }),
      crossing: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: CROSSING_PREFIX }),
      resetting: (components) => new Libp2pCaravelaClient(components, { protocolPrefix: RESETTING_PREFIX })
    }
  })
  ctx.target = { peerId: ctx.server.peerId.toString(), multiaddrs: ctx.server.getMultiaddrs().map(a => a.toString()) }
})

Streams.after(async (ctx) => {
  await Promise.all([ctx.client?.stop(), ctx.server?.stop()])
})

/** Resolves when the next bytes come on `stream` (or it ends), without taking them. */
async function waitForData (stream: Stream): Promise<void> {
  await new Promise<void>(resolve => {
    stream.addEventListener('message', () => { resolve() }, { once: true })
    stream.addEventListener('close', () => { resolve() }, { once: true })
  })
}

/** The streams of `protocol` open at `node`. */
function streamsOf (node: Libp2p, protocol: string): Stream[] {
  return node.getConnections().flatMap(c => c.streams).filter(s => s.protocol === protocol)
}

Streams('sequential requests share one stream', async (ctx) => {
  const client = ctx.client.services.caravela
  const protocol = client.protocols.obtainConfiguration
  const before = { ...client.streams }
  const served = ctx.served[PREFIX]

  for (let i = 0; i < 20; i++) {
    const configuration = await client.obtainConfiguration(ctx.target)
    assert.is(configuration.json, CONFIGURATION.json)
  }

  assert.is(ctx.served[PREFIX] - served, 20)
  assert.is(client.streams.opened - before.opened, before.opened === 0 ? 1 : 0, 'one stream opened')
  assert.is(client.streams.reused - before.reused, before.opened === 0 ? 19 : 20)
  assert.is(streamsOf(ctx.server, protocol).length, 1, 'the server holds one stream of the protocol')
  assert.is(streamsOf(ctx.client, protocol).length, 1)
})

Streams('concurrent requests open several streams and reuse them, keeping a few idle', async (ctx) => {
  const client = ctx.client.services.caravela
  const burst = async (): Promise<void> => {
    const answers = await Promise.all(Array.from({ length: 8 }, async () => client.obtainConfiguration(ctx.target)))
    assert.ok(answers.every(a => a.json === CONFIGURATION.json))
  }

  await burst()
  const first = { ...client.streams }
  assert.ok(first.opened >= 2, `${first.opened} streams for 8 concurrent requests`)
  await burst()
  const reused = client.streams.reused - first.reused
  assert.ok(reused >= 2 && reused <= 4, `${reused} of 8 requests reused a stream: at most 4 are kept idle`)
  assert.is(client.streams.opened - first.opened, 8 - reused)
  assert.is(client.streams.retried, 0)
})

Streams('a client of one request per stream (write, half-close, read) is answered, and the stream ends', async (ctx) => {
  const protocol = ctx.client.services.caravela.protocols.obtainConfiguration
  const stream = await ctx.client.dialProtocol(ctx.server.peerId, protocol)
  const lp = lpStream(stream)
  await lp.write(REQUEST)
  await stream.close()
  const response = CODECS.obtainConfiguration.decodeResponse(await lp.read())
  assert.is(response.status, 'OK')
  const end = await lp.read().then(() => 'a second answer', (err: Error) => err.name)
  assert.is(end, 'UnexpectedEOFError', 'the server ended the stream cleanly')
  await waitFor(() => stream.status === 'closed', { timeout: 2_000, message: () => `the stream to close, it is ${stream.status}` })

  // the one-stream-per-call client does the same
  const oneShot = ctx.client.services.oneShot
  await oneShot.obtainConfiguration(ctx.target)
  await oneShot.obtainConfiguration(ctx.target)
  assert.equal(oneShot.streams, { opened: 2, reused: 0, retried: 0 })
})

Streams('a server of one request per stream (answer, close) still serves the new client', async (ctx) => {
  const client = ctx.client.services.old

  for (let i = 0; i < 5; i++) {
    assert.is((await client.obtainConfiguration(ctx.target)).json, CONFIGURATION.json)
  }

  assert.is(ctx.served[OLD_PREFIX], 5)
  // a stream the server closed is not taken again, or, taken as the close came, its request goes again on a new one
  assert.is(client.streams.opened, 5)
  assert.is(client.streams.reused, client.streams.retried)
  await waitFor(() => streamsOf(ctx.client, client.protocols.obtainConfiguration).length === 0, { timeout: 2_000, message: 'the client to close the streams the server closed' })
})

Streams('a reused stream that ends before the answer: the request goes again on a new stream, once', async (ctx) => {
  const client = ctx.client.services.crossing
  assert.is((await client.obtainConfiguration(ctx.target)).json, CONFIGURATION.json)
  assert.is((await client.obtainConfiguration(ctx.target)).json, CONFIGURATION.json)
  assert.equal(client.streams, { opened: 2, reused: 1, retried: 1 })
  assert.is(ctx.served[CROSSING_PREFIX], 2, 'each request was served once')
})

Streams('a reused stream reset before the answer: no retry (the request may have been served)', async (ctx) => {
  const client = ctx.client.services.resetting
  await client.obtainConfiguration(ctx.target)
  const err = await client.obtainConfiguration(ctx.target).then(() => undefined, (e: Error) => e)
  assert.ok(err instanceof Error, 'the second request failed')
  assert.equal(client.streams, { opened: 1, reused: 1, retried: 0 })
  assert.is(ctx.served[RESETTING_PREFIX], 1)
})

Streams('the server closes a stream idle for streamIdleTimeout; the next request opens another', async (ctx) => {
  const client = ctx.client.services.caravela
  const protocol = client.protocols.obtainConfiguration
  await client.obtainConfiguration(ctx.target)
  const started = Date.now()
  const before = { ...client.streams }
  await waitFor(() => streamsOf(ctx.server, protocol).length === 0, { timeout: SERVER_IDLE + 3_000, message: () => `the server to close its idle streams, ${streamsOf(ctx.server, protocol).length} open` })
  const elapsed = Date.now() - started
  assert.ok(elapsed >= SERVER_IDLE - 200, `closed after ${elapsed} ms`)
  await waitFor(() => streamsOf(ctx.client, protocol).length === 0, { timeout: 2_000, message: 'the client to close its end' })

  assert.is((await client.obtainConfiguration(ctx.target)).json, CONFIGURATION.json)
  assert.is(client.streams.opened - before.opened, 1)
  assert.is(client.streams.reused - before.reused, 0, 'no closed stream was taken from the pool')
})

Streams('the client closes a stream idle for its own idle time; the server ends its side', async (ctx) => {
  const client = ctx.client.services.shortIdle
  const protocol = client.protocols.obtainConfiguration
  const server = streamsOf(ctx.server, protocol).length
  await client.obtainConfiguration(ctx.target)
  assert.is(streamsOf(ctx.server, protocol).length, server + 1)
  const started = Date.now()
  await waitFor(() => streamsOf(ctx.server, protocol).length === server, { timeout: SERVER_IDLE - 300, message: 'the server to end the stream the client closed' })
  assert.ok(Date.now() - started >= CLIENT_IDLE - 50)
})

Streams('stop closes the idle streams', async (ctx) => {
  const client = ctx.client.services.caravela
  const protocol = client.protocols.obtainConfiguration
  await client.obtainConfiguration(ctx.target)
  assert.ok(streamsOf(ctx.client, protocol).length > 0)
  client.stop()
  await waitFor(() => streamsOf(ctx.client, protocol).length === 0 && streamsOf(ctx.server, protocol).length === 0, { timeout: 2_000, message: 'the streams to close' })
  // one turn of the event loop, in which Node reports the rejections left unhandled so far
  await new Promise(resolve => { setImmediate(resolve) })
  assert.equal(rejections, [])
})

Streams.run()
