/**
 * The control API (src/api/server.ts, src/api/client.ts) and the `caravela` command
 * (src/cli/caravela.ts) against a fake `{ status, peers }` target: no libp2p involved.
 */

import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import * as assert from 'uvu/assert'
import { ApiClient } from '../src/api/client.js'
import { ApiError, apiRoutes, isLoopbackHost, MAX_BODY_SIZE, startApiServer } from '../src/api/server.js'
import { main } from '../src/cli/caravela.js'
import { defaultConfig, networkConfigDigest, parseConfigToml } from '../src/config/config.js'
import { RemoteRequestError } from '../src/errors.js'
import { createMetrics } from '../src/protocols/metrics.js'
import { ContainerNotPlacedError, NoOffersError } from '../src/roles/errors.js'
import { suite } from './fixtures/suite.js'
import type { ApiRoute, ApiServer, ApiTarget } from '../src/api/server.js'
import type { CliIO } from '../src/cli/caravela.js'
import type { PeerMetrics } from '../src/metrics.js'
import type { CaravelaStatus, ContainerInspect, ContainerView, HostedView, LogChunk, LogsOptions, OffersView, PeerSummary, PlacementProgress } from '../src/types.js'

const PEER_ID = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
const OTHER_PEER_ID = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

const STATUS: CaravelaStatus = {
  peerId: PEER_ID,
  multiaddrs: [`/ip4/127.0.0.1/tcp/7800/p2p/${PEER_ID}`, `/ip4/10.0.0.7/tcp/7800/p2p/${PEER_ID}`],
  protocolPrefix: 'caravela',
  capacity: { cpus: 4, memory: 8192, cpuClass: 'high' },
  routingTableSize: 1,
  networkSize: 2,
  discoveryBackend: 'multi-offer-updates',
  nodeId: 'ab'.repeat(32),
  slice: { index: 2, resources: { cpuClass: 0, cpus: 2, memory: 1024 }, firstCell: 9830, endCell: 19661 },
  resourceMapDigest: 'cd'.repeat(32),
  networkConfigDigest: 'ef'.repeat(32),
  supplierPolicy: { allowBuyers: [OTHER_PEER_ID], allowImages: [], allowRegistries: ['docker.io', 'ghcr.io'], hostPorts: { min: 1024, max: 65535 }, network: 'bridge' },
  uptimeMs: 3_723_400,
  runtime: { state: 'ok', since: 1_700_000_000_000, outages: 0 }
}

const HOSTED: HostedView[] = [
  { containerId: 'ab'.repeat(32), buyer: OTHER_PEER_ID, requestId: 'r-1', resources: { cpuClass: 0, cpus: 1, memory: 256 }, name: 'web', image: 'nginx' }
]

const PEERS: PeerSummary[] = [
  { peerId: OTHER_PEER_ID, multiaddrs: [`/ip4/127.0.0.1/tcp/7801/p2p/${OTHER_PEER_ID}`], connected: true, inRoutingTable: true, slice: 11 },
  { peerId: PEER_ID.replace('J', 'K'), multiaddrs: [], connected: false, inRoutingTable: false, slice: 3 }
]

const METRICS: PeerMetrics = {
  protocols: { ...createMetrics(), containerLogs: { messagesSent: 7, messagesReceived: 2, bytesSent: 4096, bytesReceived: 80 }, logStreams: { opened: 2, refused: 1 } },
  lookups: { lookups: 3, local: 2, network: 1, rpcs: 3, hops: 1, missedSlice: 0 },
  requests: {
    placed: 1,
    failed: 1,
    askingEveryPeer: 1,
    messages: { count: 2, sum: 7, mean: 3.5, p50: 3, p99: 4 },
    lookups: { count: 2, sum: 2, mean: 1, p50: 1, p99: 1 },
    hops: { count: 2, sum: 0, mean: 0, p50: 0, p99: 0 },
    stages: {
      lookup: { count: 1, sum: 0.5, mean: 0.5, p50: 0.5, p99: 0.5 },
      getOffers: { count: 1, sum: 4, mean: 4, p50: 4, p99: 4 },
      launch: { count: 1, sum: 6, mean: 6, p50: 6, p99: 6 },
      record: { count: 1, sum: 2, mean: 2, p50: 2, p99: 2 },
      total: { count: 1, sum: 13, mean: 13, p50: 13, p99: 13 }
    },
    offersCache: { hits: 5, misses: 2 }
  },
  eventLoopDelay: { count: 100, mean: 0.5, p50: 0.25, p99: 7.5, max: 9, since: 1_700_000_000_000 },
  suppliers: { marks: { refused: 2, failed: 0, unreachable: 1, lost: 1 }, skipped: 3, remembered: 2 },
  runtime: { state: 'unavailable', since: 1_700_000_000_000, reason: 'No Docker engine answers on /var/run/docker.sock (ENOENT)', outages: 2 },
  containers: {
    byState: { running: 2, lost: 1 },
    checks: 9,
    unanswered: 2,
    suppliersLost: 1,
    lostDetectionMsSum: 12_000,
    lostDetectionMsMax: 12_000,
    stopsPending: 1,
    stopsForgotten: 1,
    restarts: 2,
    restartsFailed: 1,
    stopsCarriedOut: 0,
    unclaimedRemoved: 3
  }
}

const OFFERS: OffersView = {
  trading: { slice: { index: 2, resources: { cpuClass: 0, cpus: 2, memory: 1024 } }, offers: [{ id: 4, peerId: OTHER_PEER_ID, free: { cpuClass: 0, cpus: 4, memory: 4096 }, used: { cpuClass: 0, cpus: 0, memory: 0 }, containersRunning: 0 }] },
  supplying: { max: { cpuClass: 1, cpus: 4, memory: 8192 }, available: { cpuClass: 1, cpus: 3, memory: 7168 }, offers: [] }
}

/** The container the fake peer has logs of; `refused`'s supplier refuses, `cut`'s output breaks off. */
const LOGGED = 'c'.repeat(64)
/** Lines the fake peer's followed container writes before it ends. */
const FOLLOWED = 30
/** The options of the last `logs` call to the fake peer. */
let logsAsked: LogsOptions | undefined
/** Lines the fake peer's `logs` read from its source so far (a reader that does not read stops it). */
let logsRead = 0

function chunk (stream: LogChunk['stream'], text: string): LogChunk {
  return { stream, data: new TextEncoder().encode(text) }
}

/**
 * The fake peer's output of LOGGED: a stdout line (with a byte sequence that is not UTF-8 on
 * its own, split across two chunks), a stderr line; with `follow`, a numbered line every 10 ms
 * until its signal aborts or FOLLOWED lines were written (the container ended).
 */
async function * fakeOutput (options: LogsOptions, cut: boolean): AsyncGenerator<LogChunk> {
  yield chunk('stdout', 'hello caf')
  logsRead++
  yield { stream: 'stdout', data: new Uint8Array([0xc3]) }
  yield { stream: 'stdout', data: new Uint8Array([0xa9, 0x0a]) }
  yield chunk('stderr', 'oops\n')

  if (cut) {
    throw new Error('the supplier went away')
  }

  for (let i = 0; options.follow === true && options.signal?.aborted !== true && i < FOLLOWED; i++) {
    await delay(10)
    logsRead++
    yield chunk('stdout', `line ${i}\n`)
  }
}

/** The fake peer's `logs`: LOGGED's output; `refused`'s supplier refuses; `cut`'s output breaks off. */
async function fakeLogs (id: string, options: LogsOptions = {}): Promise<AsyncIterable<LogChunk>> {
  logsAsked = options

  if (id === 'refused') {
    throw new RemoteRequestError('REFUSED', 'container refused was launched by another peer')
  }

  if (id !== 'cut' && (!LOGGED.startsWith(id) || id.length < 4)) {
    throw new ContainerNotPlacedError(`no container ${id} was placed by this peer`)
  }

  return fakeOutput(options, id === 'cut')
}

async function fakeInspect (id: string): Promise<ContainerInspect> {
  if (!LOGGED.startsWith(id) || id.length < 4) {
    throw new ContainerNotPlacedError(`no container ${id} was placed by this peer`)
  }

  return { ...INSPECTED, remote: { containerId: LOGGED, state: 'running' } }
}

const INSPECTED: ContainerView = {
  containerId: LOGGED,
  name: 'ticker',
  image: 'busybox',
  args: ['sh', '-c', 'echo hi'],
  supplier: { peerId: OTHER_PEER_ID, multiaddrs: [] },
  state: 'running',
  resources: { cpuClass: 0, cpus: 1, memory: 128 },
  portMappings: [],
  requestId: 'r-9',
  createdAt: 1_700_000_000_000
}

/**
 * A fake peer that places every container of an image other than `nowhere` on OTHER_PEER_ID,
 * recording the stack it belongs to. Given `onProgress`, it reports a search, a launch (and a
 * launch still unanswered after 1 s, for the image `slow`) and the placed containers, 20 ms apart.
 */
const placed: ContainerView[] = []
/** times the fake peer was asked to measure its event loop's delay afresh */
let eventLoopResets = 0
/** what the fake peer's status says now (a test may swap it for one with another runtime state) */
let status: CaravelaStatus = STATUS
const target: ApiTarget = {
  status: () => status,
  peers: () => PEERS,
  run: async (containers, options) => {
    const progress = async (event: PlacementProgress): Promise<void> => {
      if (options?.onProgress != null) {
        options.onProgress(event)
        await delay(20)
      }
    }
    const names = containers.map(c => c.name === '' ? c.image : c.name)
    const resources = { cpuClass: 0, cpus: Math.max(1, ...containers.map(c => c.resources.cpus)), memory: containers.reduce((sum, c) => sum + c.resources.memory, 0) }
    await progress({ type: 'searching', containers: names, resources })

    if (containers.some(c => c.image === 'nowhere')) {
      throw new NoOffersError(containers[0].resources, 'slice 0 (1 trader asked)')
    }

    await progress({ type: 'launching', containers: names, supplier: OTHER_PEER_ID })
    if (containers.some(c => c.image === 'slow')) {
      await progress({ type: 'still-launching', containers: names, supplier: OTHER_PEER_ID, seconds: 1 })
    }
    const statuses = containers.map((config, i) => {
      const status = { ...config, supplier: { peerId: OTHER_PEER_ID, multiaddrs: [] }, containerId: `${i}`.repeat(64), state: 'running', portMappings: config.portMappings.map(p => ({ ...p, hostPort: p.hostPort === 0 ? 40000 : p.hostPort })) }
      placed.push({ ...status, requestId: 'r', createdAt: 0, ...(options?.stack == null ? {} : { stack: options.stack }) })
      return status
    })
    await progress({ type: 'placed', statuses })
    return statuses
  },
  ps: () => placed,
  stopContainers: async (ids, options) => ids.map(id => placed.some(c => c.containerId.startsWith(id)) ? { id, stopped: true, ...(options?.force === true ? { forgotten: true } : {}) } : { id, stopped: false, error: 'no such container' }),
  offers: () => OFFERS,
  hosted: () => HOSTED,
  metrics: () => METRICS,
  resetEventLoopDelay: () => { eventLoopResets++ },
  logs: fakeLogs,
  inspect: fakeInspect,
  // test/port-forward.test.ts tunnels through the API
  portForward: async (id) => { throw new ContainerNotPlacedError(`no container ${id} was placed by this peer`) }
}

/** A route that echoes what it got, and one that fails, beside the real ones. */
const testRoutes: ApiRoute[] = [
  ...apiRoutes(target),
  { method: 'POST', path: '/v1/echo/:name', handler: ({ params, body }) => ({ params, body }) },
  { method: 'GET', path: '/v1/teapot', handler: () => { throw new ApiError(418, 'short and stout') } },
  { method: 'GET', path: '/v1/broken', handler: () => { throw new Error('handler bug') } }
]

interface Context {
  dataDir: string
  server?: ApiServer
  token: string
}

async function startTestServer (ctx: Context): Promise<ApiServer> {
  ctx.dataDir = await mkdtemp(join(tmpdir(), 'caravela-api-'))
  ctx.server = await startApiServer({ host: '127.0.0.1', port: 0, dataDir: ctx.dataDir, routes: testRoutes })
  ctx.token = (await readFile(join(ctx.dataDir, 'api-token'), 'utf8')).trim()
  return ctx.server
}

async function stopTestServer (ctx: Context): Promise<void> {
  await ctx.server?.stop()
  ctx.server = undefined
  await rm(ctx.dataDir, { recursive: true, force: true })
}

async function call (ctx: Context, path: string, init: RequestInit & { token?: string | null } = {}): Promise<{ status: number, headers: Headers, body: any }> {
  const { token = ctx.token, ...rest } = init
  const response = await fetch(ctx.server!.url + path, {
    ...rest,
    headers: { ...(token == null ? {} : { Authorization: `Bearer ${token}` }), ...rest.headers },
    signal: AbortSignal.timeout(10_000)
  })
  return { status: response.status, headers: response.headers, body: await response.json() }
}

const Server = suite<Context>('api: server', { dataDir: '', token: '' })

Server.before.each(async (ctx) => { await startTestServer(ctx) })
Server.after.each(async (ctx) => { await stopTestServer(ctx) })

Server('answers 401 without a token or with a wrong one', async (ctx) => {
  for (const token of [null, 'f'.repeat(64), ctx.token.slice(1), `${ctx.token}0`, '']) {
    const { status, headers, body } = await call(ctx, '/v1/node', { token })
    assert.is(status, 401, `token ${String(token)}`)
    assert.is(headers.get('www-authenticate'), 'Bearer')
    assert.type(body.error, 'string')
  }

  const basic = await call(ctx, '/v1/node', { token: null, headers: { Authorization: `Basic ${ctx.token}` } })
  assert.is(basic.status, 401)
  const unknownPath = await call(ctx, '/nowhere', { token: 'wrong' })
  assert.is(unknownPath.status, 401, 'authentication comes before routing')
})

Server('serves the node status and the peers with the token', async (ctx) => {
  const node = await call(ctx, '/v1/node')
  assert.is(node.status, 200)
  assert.match(node.headers.get('content-type') ?? '', /^application\/json/)
  assert.equal(node.body, { ...STATUS, metrics: METRICS })

  const peers = await call(ctx, '/v1/peers?verbose=1')
  assert.is(peers.status, 200)
  assert.equal(peers.body, PEERS)
})

Server('answers 404 for an unknown path and 405 for a wrong method, as JSON errors', async (ctx) => {
  const missing = await call(ctx, '/v1/nodes')
  assert.is(missing.status, 404)
  assert.match(missing.body.error, '/v1/nodes')

  const wrongMethod = await call(ctx, '/v1/node', { method: 'DELETE' })
  assert.is(wrongMethod.status, 405)
  assert.is(wrongMethod.headers.get('allow'), 'GET')
  assert.type(wrongMethod.body.error, 'string')

  const teapot = await call(ctx, '/v1/teapot')
  assert.equal([teapot.status, teapot.body], [418, { error: 'short and stout' }])

  const broken = await call(ctx, '/v1/broken')
  assert.equal([broken.status, broken.body], [500, { error: 'handler bug' }])
})

Server('passes path params and JSON bodies to handlers, and limits bodies', async (ctx) => {
  const echo = await call(ctx, '/v1/echo/a%20b', { method: 'POST', body: JSON.stringify({ n: 1 }) })
  assert.equal(echo.body, { params: { name: 'a b' }, body: { n: 1 } })

  const badJson = await call(ctx, '/v1/echo/x', { method: 'POST', body: '{nope' })
  assert.is(badJson.status, 400)

  const tooBig = await call(ctx, '/v1/echo/x', { method: 'POST', body: 'x'.repeat(MAX_BODY_SIZE + 1) })
  assert.is(tooBig.status, 413)
})

Server('writes a new 0600 token and api.json on every start, and removes api.json on stop', async (ctx) => {
  const tokenFile = join(ctx.dataDir, 'api-token')
  const infoFile = join(ctx.dataDir, 'api.json')
  assert.match(ctx.token, /^[0-9a-f]{64}$/)
  assert.is((await stat(tokenFile)).mode & 0o777, 0o600)
  assert.is((await stat(infoFile)).mode & 0o777, 0o600)
  assert.equal(JSON.parse(await readFile(infoFile, 'utf8')), { url: ctx.server!.url, pid: process.pid })
  assert.match(ctx.server!.url, /^http:\/\/127\.0\.0\.1:\d+$/)

  await ctx.server!.stop()
  assert.not.ok(await stat(infoFile).catch(() => undefined), 'api.json removed')

  ctx.server = await startApiServer({ host: '127.0.0.1', port: 0, dataDir: ctx.dataDir, routes: testRoutes })
  const newToken = (await readFile(tokenFile, 'utf8')).trim()
  assert.is.not(newToken, ctx.token)
  assert.is((await stat(tokenFile)).mode & 0o777, 0o600)
})

Server('validates run requests and answers 422 when nothing can hold them', async (ctx) => {
  const post = async (body: unknown): Promise<{ status: number, body: any }> => call(ctx, '/v1/containers', { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })

  const ok = await post({ containers: [{ image: 'busybox', args: ['sleep', '1'], resources: { cpus: 1, memory: 256 } }] })
  assert.is(ok.status, 200)
  assert.is(ok.body.containers[0].supplier.peerId, OTHER_PEER_ID)

  for (const [body, field] of [
    [{}, 'containers'],
    [{ containers: [] }, 'containers'],
    [{ containers: [{ args: [] }] }, 'containers[0].image'],
    [{ containers: [{ image: 'x', resources: { cpus: -1 } }] }, 'containers[0].resources.cpus'],
    [{ containers: [{ image: 'x', portMappings: [{ containerPort: 80, protocol: 'sctp' }] }] }, 'containers[0].portMappings[0].protocol'],
    [{ containers: [{ image: 'x', groupPolicy: 'everywhere' }] }, 'containers[0].groupPolicy'],
    [{ containers: [{ image: 'x', restart: 'always' }] }, 'containers[0].restart'],
    [{ containers: [{ image: 'x', restart: { name: 'sometimes' } }] }, 'containers[0].restart'],
    [{ containers: [{ image: 'x', restart: { name: 'on-failure', maxRetries: -1 } }] }, 'containers[0].restart'],
    [{ containers: [{ image: 'x', restart: { name: 'always', delay: 5 } }] }, 'containers[0].restart'],
    [{ containers: [{ image: 'x', portMappings: [{ containerPort: 70000 }] }] }, 'containerPort']
  ] as Array<[unknown, string]>) {
    const bad = await post(body)
    assert.is(bad.status, 400, JSON.stringify(body))
    assert.match(bad.body.error, field)
  }

  const refused = await post({ containers: [{ image: 'nowhere' }] })
  assert.is(refused.status, 422)
  assert.match(refused.body.error, 'no')

  const before = placed.length
  const restarting = await post({ containers: [{ image: 'busybox', restart: { name: 'on-failure', maxRetries: 2 } }, { image: 'busybox', restart: { name: 'no' } }] })
  assert.is(restarting.status, 200)
  assert.equal(placed.slice(before).map(c => c.restart), [{ name: 'on-failure', maxRetries: 2 }, undefined], 'the policy reaches the peer; no is no policy')
})

Server('GET /v1/containers/:id/logs streams the output as NDJSON lines, base64, then an end line', async (ctx) => {
  const response = await fetch(`${ctx.server!.url}/v1/containers/${LOGGED.slice(0, 12)}/logs?tail=5&since=1700000000000`, {
    headers: { Authorization: `Bearer ${ctx.token}` },
    signal: AbortSignal.timeout(10_000)
  })
  assert.is(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/)
  const lines = (await response.text()).trim().split('\n').map(line => JSON.parse(line))
  assert.equal(lines.map(line => line.stream ?? 'end'), ['stdout', 'stdout', 'stdout', 'stderr', 'end'])
  assert.is(Buffer.concat(lines.slice(0, 3).map(line => Buffer.from(line.data, 'base64'))).toString('utf8'), 'hello café\n')
  assert.equal(lines.at(-1), { end: true })
  assert.equal({ follow: logsAsked?.follow, tail: logsAsked?.tail, since: logsAsked?.since }, { follow: undefined, tail: 5, since: 1_700_000_000_000 })

  const cut = await fetch(`${ctx.server!.url}/v1/containers/cut/logs`, { headers: { Authorization: `Bearer ${ctx.token}` }, signal: AbortSignal.timeout(10_000) })
  assert.equal((await cut.text()).trim().split('\n').map(line => JSON.parse(line)).at(-1), { error: 'the supplier went away' })
})

Server('logs and inspect: 404 for an id this peer did not place, 502 when the supplier refuses, 400 for a bad query, 401 without the token', async (ctx) => {
  assert.is((await call(ctx, '/v1/containers/dddddddddddd/logs')).status, 404)
  assert.match((await call(ctx, '/v1/containers/dddddddddddd')).body.error, /no container dddddddddddd was placed/)
  const refused = await call(ctx, '/v1/containers/refused/logs')
  assert.is(refused.status, 502)
  assert.match(refused.body.error, /launched by another peer/)

  for (const query of ['tail=-1', 'tail=x', 'since=yesterday', 'follow=maybe', 'tail=99999999999']) {
    const bad = await call(ctx, `/v1/containers/${LOGGED}/logs?${query}`)
    assert.is(bad.status, 400, query)
  }

  assert.is((await call(ctx, `/v1/containers/${LOGGED}/logs`, { token: null })).status, 401)
  assert.is((await call(ctx, `/v1/containers/${LOGGED}`, { token: 'wrong' })).status, 401)
  const inspected = await call(ctx, `/v1/containers/${LOGGED.slice(0, 12)}`)
  assert.is(inspected.status, 200)
  assert.equal(inspected.body, { ...INSPECTED, remote: { containerId: LOGGED, state: 'running' } })
})

Server('ApiClient.logs follows the output as it comes, and a reader that stops ends the source', async (ctx) => {
  const client = new ApiClient({ url: ctx.server!.url, token: ctx.token })
  const controller = new AbortController()
  const seen: string[] = []
  logsRead = 0
  const following = client.logs(LOGGED, { follow: true, signal: controller.signal }, ({ stream, data }) => {
    seen.push(`${stream}:${Buffer.from(data).toString('utf8')}`)

    if (seen.length === 7) {
      controller.abort()
    }
  })
  await following.then(() => assert.unreachable('an aborted follow rejects'), (err: Error) => { assert.is(err.name, 'AbortError') })
  assert.equal(seen.slice(3, 6), ['stderr:oops\n', 'stdout:line 0\n', 'stdout:line 1\n'])
  assert.ok(logsAsked?.follow === true)
  await delay(200)
  const read = logsRead
  await delay(200)
  assert.is(logsRead, read, 'the source is no longer read once the client went away')
  assert.ok(logsAsked?.signal?.aborted === true, 'the source\'s signal aborted')
})

Server('serves ps, stop, offers and Prometheus metrics', async (ctx) => {
  await call(ctx, '/v1/containers', { method: 'POST', body: JSON.stringify({ containers: [{ image: 'busybox' }] }), headers: { 'Content-Type': 'application/json' } })
  const ps = await call(ctx, '/v1/containers')
  assert.ok(ps.body.length >= 1)
  const stop = await call(ctx, '/v1/containers/stop', { method: 'POST', body: JSON.stringify({ ids: ['0000', 'ffff'] }), headers: { 'Content-Type': 'application/json' } })
  assert.equal(stop.body, [{ id: '0000', stopped: true }, { id: 'ffff', stopped: false, error: 'no such container' }])
  assert.equal((await call(ctx, '/v1/offers')).body, OFFERS)
  assert.equal((await call(ctx, '/v1/hosted')).body, HOSTED)

  const response = await fetch(ctx.server!.url + '/metrics', { headers: { Authorization: `Bearer ${ctx.token}` }, signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  assert.match(response.headers.get('content-type') ?? '', 'text/plain; version=0.0.4')
  assert.match(text, /^# TYPE caravela_messages_sent_total counter$/m)
  assert.match(text, /^caravela_bytes_sent_total\{message="containerLogs"\} 4096$/m)
  assert.match(text, /^caravela_messages_sent_total\{message="containerLogs"\} 7$/m)
  assert.match(text, /^caravela_log_streams_total\{outcome="opened"\} 2$/m)
  assert.match(text, /^caravela_log_streams_total\{outcome="refused"\} 1$/m)
  assert.match(text, /^caravela_lookups_total\{source="local"\} 2$/m)
  assert.match(text, /^caravela_requests_total\{outcome="failed"\} 1$/m)
  assert.match(text, /^caravela_placements_asking_every_peer_total 1$/m)
  assert.match(text, /^caravela_request_messages\{quantile="0.5"\} 3$/m)
  assert.match(text, /^caravela_request_messages_count 2$/m)
  assert.match(text, /^caravela_supplier_marks_total\{kind="refused"\} 2$/m)
  assert.match(text, /^caravela_supplier_marks_total\{kind="lost"\} 1$/m)
  assert.match(text, /^caravela_suppliers_passed_over_total 3$/m)
  assert.match(text, /^# TYPE caravela_suppliers_marked gauge$/m)
  assert.match(text, /^caravela_runtime_up 0$/m)
  assert.match(text, /^caravela_runtime_state_since_seconds 1700000000$/m)
  assert.match(text, /^caravela_runtime_outages_total 2$/m)
  assert.match(text, /^caravela_placed_containers\{state="lost"\} 1$/m)
  assert.match(text, /^caravela_placed_containers\{state="stopping"\} 0$/m)
  assert.match(text, /^caravela_status_checks_total\{outcome="answered"\} 7$/m)
  assert.match(text, /^caravela_lost_detection_ms\{stat="max"\} 12000$/m)
  assert.match(text, /^caravela_stops_total\{outcome="pending"\} 1$/m)
  assert.match(text, /^caravela_unclaimed_containers_removed_total 3$/m)
  assert.match(text, /^caravela_placement_stage_ms\{stage="getOffers",quantile="0.5"\} 4$/m)
  assert.match(text, /^caravela_placement_stage_ms\{stage="record",quantile="0.99"\} 2$/m)
  assert.match(text, /^caravela_placement_stage_ms_count\{stage="total"\} 1$/m)
  assert.match(text, /^caravela_offers_cache_total\{outcome="hit"\} 5$/m)
  assert.match(text, /^caravela_event_loop_delay_ms\{quantile="0.99"\} 7.5$/m)
})

Server('POST /v1/node/event-loop-delay/reset measures the event loop afresh', async (ctx) => {
  const before = eventLoopResets
  const reset = await call(ctx, '/v1/node/event-loop-delay/reset', { method: 'POST' })
  assert.is(reset.status, 200)
  assert.is(eventLoopResets, before + 1)
})

Server('deploys a stack as one request, records its name, and refuses a name still deployed', async (ctx) => {
  const post = async (body: unknown): Promise<{ status: number, body: any }> => call(ctx, '/v1/stacks', { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })
  const containers = [{ name: 'web', image: 'busybox', groupPolicy: 'co-location' }, { name: 'db', image: 'postgres' }]

  const ok = await post({ stack: 'api-shop', containers })
  assert.is(ok.status, 200)
  assert.is(ok.body.stack, 'api-shop')
  assert.equal(ok.body.containers.map((c: any) => c.name), ['web', 'db'])
  const ps = await call(ctx, '/v1/containers')
  assert.equal(ps.body.filter((c: any) => c.stack === 'api-shop').map((c: any) => c.name), ['web', 'db'])

  const again = await post({ stack: 'api-shop', containers })
  assert.is(again.status, 409)
  assert.match(again.body.error, 'stack api-shop is already deployed (2 containers)')

  for (const [body, field] of [
    [{ containers }, 'stack'],
    [{ stack: 'my shop', containers }, 'stack'],
    [{ stack: '-shop', containers }, 'stack'],
    [{ stack: 'x'.repeat(65), containers }, 'stack'],
    [{ stack: 7, containers }, 'stack'],
    [{ stack: 'empty', containers: [] }, 'containers'],
    [{ stack: 'imageless', containers: [{ name: 'web' }] }, 'containers[0].image'],
    [[], 'body']
  ] as Array<[unknown, string]>) {
    const bad = await post(body)
    assert.is(bad.status, 400, JSON.stringify(body))
    assert.match(bad.body.error, field)
  }

  const refused = await post({ stack: 'nowhere', containers: [{ image: 'nowhere' }] })
  assert.is(refused.status, 422)
  assert.not.ok(placed.some(c => c.stack === 'nowhere'))
})

/** POSTs `body` asking for NDJSON; the answer's chunks as they arrived, and its lines parsed. */
async function streamed (ctx: Context, path: string, body: unknown): Promise<{ status: number, contentType: string, chunks: string[], lines: any[] }> {
  const response = await fetch(ctx.server!.url + path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${ctx.token}`, 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
    signal: AbortSignal.timeout(10_000)
  })
  const chunks: string[] = []
  const decoder = new TextDecoder()

  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(decoder.decode(chunk, { stream: true }))
  }

  const lines = chunks.join('').split('\n').filter(line => line !== '').map(line => JSON.parse(line))
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', chunks, lines }
}

Server('with Accept: application/x-ndjson, streams the progress of a placement line by line, then the result', async (ctx) => {
  const run = await streamed(ctx, '/v1/containers', { containers: [{ name: 'web', image: 'busybox', resources: { cpus: 1, memory: 128 } }] })
  assert.is(run.status, 200)
  assert.match(run.contentType, /^application\/x-ndjson/)
  assert.equal(run.lines.map(line => line.type), ['searching', 'launching', 'placed', 'done'])
  assert.equal(run.lines[0], { type: 'searching', containers: ['web'], resources: { cpuClass: 0, cpus: 1, memory: 128 } })
  assert.equal(run.lines[1], { type: 'launching', containers: ['web'], supplier: OTHER_PEER_ID })
  assert.is(run.lines[2].statuses[0].containerId, '0'.repeat(64))
  assert.equal(run.lines[3].containers.map((c: any) => c.supplier.peerId), [OTHER_PEER_ID])
  assert.ok(run.chunks.length >= 4, `the events came one by one, not at the end: ${JSON.stringify(run.chunks)}`)
  assert.is(run.chunks[0].trim().split('\n').length, 1)

  const stack = await streamed(ctx, '/v1/stacks', { stack: 'streamed', containers: [{ name: 'web', image: 'busybox' }] })
  assert.equal(stack.lines.map(line => line.type), ['searching', 'launching', 'placed', 'done'])
  assert.is(stack.lines[3].stack, 'streamed')
  assert.equal(stack.lines[3].containers.map((c: any) => c.name), ['web'])

  // without the header, the same request answers plain JSON at the end
  const plain = await call(ctx, '/v1/containers', { method: 'POST', body: JSON.stringify({ containers: [{ image: 'busybox' }] }), headers: { 'Content-Type': 'application/json' } })
  assert.is(plain.status, 200)
  assert.match(plain.headers.get('content-type') ?? '', /^application\/json/)
  assert.equal(Object.keys(plain.body), ['containers'])
})

Server('a streamed placement that fails ends with an error line; what fails before it starts is a JSON error', async (ctx) => {
  const failed = await streamed(ctx, '/v1/stacks', { stack: 'streamed-nowhere', containers: [{ name: 'web', image: 'nowhere' }] })
  assert.is(failed.status, 200)
  assert.match(failed.contentType, /^application\/x-ndjson/)
  assert.equal(failed.lines.map(line => line.type), ['searching', 'error'])
  assert.is(failed.lines[1].status, 422)
  assert.match(failed.lines[1].error, 'No supplier offers')

  const invalid = await streamed(ctx, '/v1/containers', { containers: [] })
  assert.is(invalid.status, 400)
  assert.match(invalid.contentType, /^application\/json/)
  assert.match(invalid.lines[0].error, 'containers')

  await streamed(ctx, '/v1/stacks', { stack: 'streamed-twice', containers: [{ image: 'busybox' }] })
  const again = await streamed(ctx, '/v1/stacks', { stack: 'streamed-twice', containers: [{ image: 'busybox' }] })
  assert.is(again.status, 409)
  assert.match(again.lines[0].error, 'already deployed')
})

Server('ApiClient passes the progress events to onProgress as they arrive', async (ctx) => {
  const client = new ApiClient({ url: ctx.server!.url, token: ctx.token })
  const events: Array<[string, number]> = []
  const started = Date.now()
  const statuses = await client.deploy('client-stack', [{ name: 'web', image: 'busybox', args: [], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 64 }, groupPolicy: 'spread' }], {
    onProgress: event => { events.push([event.type, Date.now() - started]) }
  })
  assert.equal(statuses.map(s => s.name), ['web'])
  assert.equal(events.map(([type]) => type), ['searching', 'launching', 'placed'])
  assert.ok(events[0][1] < Date.now() - started - 20, 'the first event came before the answer ended')

  try {
    await client.run([{ name: '', image: 'nowhere', args: [], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 64 }, groupPolicy: 'spread' }], { onProgress: () => {} })
    assert.unreachable('placed nowhere')
  } catch (err: any) {
    assert.is(err.name, 'ApiRequestError')
    assert.is(err.status, 422)
    assert.match(err.message, /^the control API refused POST \/v1\/containers: No supplier offers.*\(HTTP 422\)$/)
  }
})

Server('refuses a non-loopback host', async (ctx) => {
  for (const host of ['0.0.0.0', '::', '10.0.0.7', '192.168.1.2', 'example.com', '::ffff:10.0.0.7']) {
    try {
      await startApiServer({ host, port: 0, dataDir: ctx.dataDir, routes: testRoutes })
      assert.unreachable(`listened on ${host}`)
    } catch (err: any) {
      assert.is(err.name, 'InvalidConfigurationError', host)
      assert.is(err.key, 'node.apiHost')
    }
  }

  for (const host of ['127.0.0.1', '127.3.2.1', '::1', '0:0:0:0:0:0:0:1', 'localhost']) {
    assert.ok(isLoopbackHost(host), host)
  }
})

Server.run()

interface CliContext extends Context {
  stdout: string
  stderr: string
}

const Cli = suite<CliContext>('api: caravela command', { dataDir: '', token: '', stdout: '', stderr: '' })

Cli.before(async (ctx) => { await startTestServer(ctx) })
Cli.after(async (ctx) => { await stopTestServer(ctx) })

/** Runs `caravela <argv>` in this process, capturing its output. */
async function caravela (ctx: CliContext, argv: string[], env: CliIO['env'] = {}): Promise<number> {
  ctx.stdout = ''
  ctx.stderr = ''
  return main(argv, {
    stdout: text => { ctx.stdout += text },
    stderr: text => { ctx.stderr += text },
    env
  })
}

/** The column at which the value of `label` starts in a two-column table. */
function valueColumn (output: string, label: string): number {
  const line = output.split('\n').find(line => line.startsWith(label))
  assert.ok(line, `no "${label}" line in:\n${output}`)
  return line.length - line.slice(label.length).trimStart().length
}

Cli('`node` prints an aligned summary', async (ctx) => {
  assert.is(await caravela(ctx, ['node', '--api', ctx.server!.url, '--token', ctx.token]), 0, ctx.stderr)
  const out = ctx.stdout
  assert.match(out, new RegExp(`^Peer ID +${PEER_ID}$`, 'm'))
  assert.match(out, new RegExp(`^Addresses +${STATUS.multiaddrs[0]}\n +${STATUS.multiaddrs[1]}$`, 'm'))
  assert.match(out, /^Capacity +high 4 CPUs 8192 MB$/m)
  assert.match(out, /^Routing table +1 peer$/m)
  assert.match(out, /^Slice +2: low 2 CPUs 1024 MB/m)
  assert.match(out, /^Uptime +1h 2m 3s$/m)
  assert.match(out, /^Runtime +ok since 2023-11-14T22:13:20\.000Z$/m)
  assert.match(out, new RegExp(`^Network config +${'ef'.repeat(32)}$`, 'm'))
  assert.match(out, new RegExp(`^Runs for +${OTHER_PEER_ID}$`, 'm'))
  assert.match(out, /^Images +any$/m)
  assert.match(out, /^Registries +docker\.io, ghcr\.io$/m)
  assert.match(out, /^Host ports +1024-65535 \(or engine-chosen\), network bridge$/m)

  const columns = ['Peer ID', 'Node ID', 'Addresses', 'Capacity', 'Routing table', 'Slice', 'Network config', 'Runs for', 'Host ports', 'Uptime'].map(label => valueColumn(out, label))
  assert.equal(new Set(columns).size, 1, 'values start in one column')
  assert.is(ctx.stderr, '')
})

Cli('`node` says when the container engine does not answer, since when and why', async (ctx) => {
  status = { ...STATUS, runtime: { state: 'unavailable', since: 1_700_000_000_000, reason: 'No Docker engine answers on /var/run/docker.sock (ECONNREFUSED)', outages: 1 } }

  try {
    assert.is(await caravela(ctx, ['node', '--api', ctx.server!.url, '--token', ctx.token]), 0, ctx.stderr)
  } finally {
    status = STATUS
  }

  assert.match(ctx.stdout, /^Runtime +UNAVAILABLE since 2023-11-14T22:13:20\.000Z: offering nothing, refusing launches\n +No Docker engine answers on \/var\/run\/docker\.sock \(ECONNREFUSED\)$/m)
})

Cli('`node --json` and `peers --json` print the API\'s JSON', async (ctx) => {
  assert.is(await caravela(ctx, ['node', '--json', '--api', ctx.server!.url, '--token', ctx.token]), 0)
  assert.equal(JSON.parse(ctx.stdout), { ...STATUS, metrics: METRICS })
  assert.is(await caravela(ctx, ['peers', '--json', '--api', ctx.server!.url], { CARAVELA_API_TOKEN: ctx.token }), 0, ctx.stderr)
  assert.equal(JSON.parse(ctx.stdout), PEERS)
})

Cli('`peers` prints an aligned table', async (ctx) => {
  assert.is(await caravela(ctx, ['peers', '--data-dir', ctx.dataDir]), 0, ctx.stderr)
  const lines = ctx.stdout.trimEnd().split('\n')
  assert.is(lines.length, 3)
  assert.match(lines[0], /^PEER ID +CONNECTED +IN TABLE +SLICE +ADDRESS$/)
  assert.match(lines[1], new RegExp(`^${OTHER_PEER_ID} +yes +yes +11 +/ip4/127\\.0\\.0\\.1/tcp/7801/p2p/${OTHER_PEER_ID}$`))
  assert.match(lines[2], / +no +no +3 +-$/)

  for (const column of ['CONNECTED', 'IN TABLE', 'SLICE', 'ADDRESS']) {
    const at = lines[0].indexOf(column)
    assert.ok(lines.slice(1).every(line => line[at - 1] === ' ' && line[at] !== ' '), `column ${column} aligned`)
  }
})

Cli('`run` sends the request and prints the container and its supplier; arguments after the image are the container\'s', async (ctx) => {
  const flags = ['--api', ctx.server!.url, '--token', ctx.token]
  const before = placed.length
  assert.is(await caravela(ctx, ['run', ...flags, '--cpus', '2', '--memory', '1g', '--cpu-class', 'high', '-p', '8080:80', '-p', '53/udp', '--name', 'web', 'busybox', 'httpd', '-f', '--cpus', '9']), 0, ctx.stderr)
  assert.match(ctx.stdout, new RegExp(`^0{12}  on ${OTHER_PEER_ID}  8080->80/tcp, 40000->53/udp\n$`))
  const sent = placed[before]
  assert.equal(sent.args, ['httpd', '-f', '--cpus', '9'])
  assert.equal(sent.resources, { cpuClass: 1, cpus: 2, memory: 1024 })
  assert.is(sent.name, 'web')

  assert.is(await caravela(ctx, ['ps', ...flags]), 0)
  assert.match(ctx.stdout, /^CONTAINER ID +STACK +NAME +IMAGE +SUPPLIER +STATE +RESOURCES +PORTS$/m)
  assert.match(ctx.stdout, /- +web +busybox/)

  assert.is(await caravela(ctx, ['stop', ...flags, '000000', 'nope']), 1)
  assert.is(ctx.stdout, '000000\n')
  assert.match(ctx.stderr, /^caravela: error: nope: no such container$/m)

  assert.is(await caravela(ctx, ['offers', ...flags]), 0)
  assert.match(ctx.stdout, /^Trading for slice 2 \(low 2 CPUs 1024 MB\): 1 offer$/m)
  assert.match(ctx.stdout, /^Supplying: high 3 CPUs 7168 MB free of high 4 CPUs 8192 MB, 0 offers$/m)
})

Cli('`run --restart` sends the policy; `ps` shows restarts and replaced copies; `stop --force` forgets', async (ctx) => {
  const flags = ['--api', ctx.server!.url, '--token', ctx.token]
  const before = placed.length
  assert.is(await caravela(ctx, ['run', ...flags, '--restart', 'on-failure:3', '--name', 'retry', 'busybox']), 0, ctx.stderr)
  assert.is(await caravela(ctx, ['run', ...flags, '--restart', 'unless-stopped', 'busybox']), 0, ctx.stderr)
  assert.is(await caravela(ctx, ['run', ...flags, '--restart', 'no', 'busybox']), 0, ctx.stderr)
  assert.equal(placed.slice(before).map(c => c.restart), [{ name: 'on-failure', maxRetries: 3 }, { name: 'always' }, undefined])
  assert.is(await caravela(ctx, ['run', ...flags, '--restart', 'on-failure:lots', 'busybox']), 2)
  assert.match(ctx.stderr, /^caravela: error: --restart: the most re-placements/)

  const retry = placed[before]
  placed.push({ ...retry, containerId: 'e'.repeat(64), restartCount: 2 }, { ...retry, containerId: 'f'.repeat(64), state: 'stopping', replacedBy: 'e'.repeat(64) })
  assert.is(await caravela(ctx, ['ps', ...flags]), 0)
  assert.match(ctx.stdout, /^e{12} .* running \(restarts: 2\) /m)
  assert.match(ctx.stdout, /^f{12} .* stopping \(replaced by e{12}\) /m)
  assert.is(await caravela(ctx, ['stop', ...flags, '--force', 'ffff']), 0)
  assert.is(ctx.stdout, 'ffff (forgotten: its supplier cannot be reached and may still run it)\n')
})

Cli('`run` prints its progress to stderr only when stderr is a terminal; stdout stays one line', async (ctx) => {
  let stdout = ''
  let stderr = ''
  const io: CliIO = { stdout: text => { stdout += text }, stderr: text => { stderr += text }, env: {}, progress: true }
  assert.is(await main(['run', '--api', ctx.server!.url, '--token', ctx.token, '--name', 'tty', 'busybox'], io), 0, stderr)
  assert.is(stdout, `${'0'.repeat(12)}  on ${OTHER_PEER_ID}\n`)
  assert.is(stderr, `  tty: searching offers for 1 CPU 0 MB…\n  tty: launching on ${OTHER_PEER_ID} (pulling the image there if needed)…\n`)
})

Cli('a launch still unanswered after a second is shown by `run` and `deploy` on a terminal only', async (ctx) => {
  const flags = ['--api', ctx.server!.url, '--token', ctx.token]
  const file = join(ctx.dataDir, 'slow.yml')
  const waiting = `  web: still launching on ${OTHER_PEER_ID} after 1 s (pulling the image there, most likely)…\n`

  for (const progress of [true, false]) {
    let stdout = ''
    let stderr = ''
    const io: CliIO = { stdout: text => { stdout += text }, stderr: text => { stderr += text }, env: {}, progress }
    assert.is(await main(['run', ...flags, '--name', 'web', 'slow'], io), 0, stderr)
    assert.is(stderr.includes(waiting), progress, stderr)
    stderr = ''
    await writeFile(file, `name: slow-${String(progress)}\nservices:\n  web: { image: slow }\n`)
    assert.is(await main(['deploy', ...flags, '-f', file], io), 0, stderr)
    // stdout keeps the same lines either way; the heartbeat goes to a terminal's stderr
    assert.is(stderr, progress ? waiting : '')
    assert.not.match(stdout, 'still launching')
  }
})

Cli('`run` failures and mistakes', async (ctx) => {
  const flags = ['--api', ctx.server!.url, '--token', ctx.token]
  assert.is(await caravela(ctx, ['run', ...flags, 'nowhere']), 1)
  assert.match(ctx.stderr, /^caravela: error: .*No supplier offers/)
  assert.is(await caravela(ctx, ['run', ...flags]), 2)
  assert.match(ctx.stderr, 'needs an image')
  assert.is(await caravela(ctx, ['run', ...flags, '-p', '80:http', 'busybox']), 2)
  assert.match(ctx.stderr, '--publish')
  assert.is(await caravela(ctx, ['run', ...flags, '--memory', 'lots', 'busybox']), 2)
  assert.is(await caravela(ctx, ['run', ...flags, '--cpu-class', 'medium', 'busybox']), 2)
  assert.is(await caravela(ctx, ['stop', ...flags]), 2)
})

Cli('`deploy` places a stack file as one request; `ps` and `stop` work per stack', async (ctx) => {
  const flags = ['--api', ctx.server!.url, '--token', ctx.token]
  const file = join(ctx.dataDir, 'shop.yml')
  await writeFile(file, [
    'web:',
    '  image: busybox',
    '  args: httpd -f -p 80',
    '  ports: ["8080:80", "53/udp"]',
    '  cpus: 1',
    '  memory: 128m',
    '  group_policy: co-location',
    'db: { image: "postgres:16", memory: 1g, group_policy: co-location }'
  ].join('\n'))

  assert.is(await caravela(ctx, ['deploy', ...flags, '-f', file]), 0, ctx.stderr)
  // progress as it comes: the search, the launch, the placed containers; then the summary
  const lines = ctx.stdout.split('\n')
  assert.is(lines[0], 'deploying stack shop: 2 services…')
  assert.is(lines[1], '  web, db: searching offers for 1 CPU 1152 MB…')
  assert.is(lines[2], `  web, db: launching on ${OTHER_PEER_ID} (pulling the image there if needed)…`)
  assert.match(lines[3], new RegExp(`^ {2}web +0{12}  on ${OTHER_PEER_ID}  8080->80/tcp, 40000->53/udp$`))
  assert.match(lines[4], new RegExp(`^ {2}db +1{12}  on ${OTHER_PEER_ID}$`))
  assert.is(lines[5], 'stack shop deployed: 2 containers on 1 supplier')
  assert.is(lines.length, 7)
  assert.is(ctx.stderr, '')
  assert.equal(placed.filter(c => c.stack === 'shop').map(c => [c.name, c.args, c.resources]), [
    ['web', ['httpd', '-f', '-p', '80'], { cpuClass: 0, cpus: 1, memory: 128 }],
    ['db', [], { cpuClass: 0, cpus: 0, memory: 1024 }]
  ])

  assert.is(await caravela(ctx, ['ps', ...flags, '--stack', 'shop']), 0, ctx.stderr)
  const rows = ctx.stdout.trimEnd().split('\n')
  assert.match(rows[0], /^CONTAINER ID +STACK +NAME +IMAGE/)
  assert.equal(rows.slice(1).map(row => row.split(/ +/).slice(1, 3)), [['shop', 'web'], ['shop', 'db']])
  assert.is(await caravela(ctx, ['ps', ...flags, '--stack', 'shop', '--json']), 0)
  assert.equal(JSON.parse(ctx.stdout).map((c: any) => [c.stack, c.name]), [['shop', 'web'], ['shop', 'db']])
  assert.is(await caravela(ctx, ['ps', ...flags, '--stack', 'other']), 0)
  assert.is(ctx.stdout, 'No containers of stack other placed by this peer.\n')

  assert.is(await caravela(ctx, ['deploy', ...flags, '-f', file]), 1)
  assert.match(ctx.stderr, /^caravela: error: stack shop was not deployed: .*already deployed \(2 containers\).*\(HTTP 409\)\n$/)

  assert.is(await caravela(ctx, ['stop', ...flags, '--stack', 'shop']), 0, ctx.stderr)
  assert.is(ctx.stdout, `${'0'.repeat(64)}\n${'1'.repeat(64)}\n`)
  assert.is(await caravela(ctx, ['stop', ...flags, '--stack', 'other']), 1)
  assert.is(ctx.stderr, 'caravela: error: no container of stack other was placed by this peer\n')
  assert.is(await caravela(ctx, ['stop', ...flags, '--stack', 'shop', '0000']), 2)
  assert.match(ctx.stderr, 'not both')
  assert.is(await caravela(ctx, ['stop', ...flags]), 2)
  assert.match(ctx.stderr, 'container ids or --stack')
})

Cli('`deploy --json` prints the placed stack; warnings go to stderr', async (ctx) => {
  const file = join(ctx.dataDir, 'compose.yml')
  await writeFile(file, 'name: blog\nservices:\n  web:\n    image: busybox\n    restart: always\n    deploy: { resources: { limits: { cpus: 0.5, memory: 64M } } }\n')

  assert.is(await caravela(ctx, ['deploy', '--json', '--api', ctx.server!.url, '--token', ctx.token, '-f', file]), 0, ctx.stderr)
  const answer = JSON.parse(ctx.stdout)
  assert.is(answer.stack, 'blog')
  assert.equal(answer.containers.map((c: any) => [c.name, c.resources]), [['web', { cpuClass: 0, cpus: 1, memory: 64 }]])
  assert.is(ctx.stderr, [
    `caravela: warning: ${file}: service "web", deploy.resources.limits.cpus: 0.5 rounded up to 1: Caravela places whole CPUs\n`
  ].join(''))
})

Cli('`deploy`: a bad file exits 2 naming the file, service and key; a stack that cannot be placed exits 1', async (ctx) => {
  const flags = ['--api', ctx.server!.url, '--token', ctx.token]
  const bad = join(ctx.dataDir, 'bad.yml')
  await writeFile(bad, 'web: { image: busybox, ports: ["80:http"] }\n')
  assert.is(await caravela(ctx, ['deploy', ...flags, '-f', bad]), 2)
  assert.is(ctx.stderr, `caravela: error: ${bad}: service "web", ports[0]: "80:http" is not host:container[/tcp|udp] with ports from 1 to 65535\n`)
  assert.is(ctx.stdout, '')

  assert.is(await caravela(ctx, ['deploy', ...flags, '-f', join(ctx.dataDir, 'missing.yml')]), 2)
  assert.match(ctx.stderr, /missing\.yml: cannot read it: ENOENT/)
  assert.is(await caravela(ctx, ['deploy', ...flags]), 2)
  assert.match(ctx.stderr, 'needs a stack file')

  const nowhere = join(ctx.dataDir, 'nowhere.yml')
  await writeFile(nowhere, 'web: { image: nowhere }\n')
  assert.is(await caravela(ctx, ['deploy', ...flags, '-f', nowhere]), 1)
  assert.is(ctx.stdout, 'deploying stack nowhere: 1 service…\n  web: searching offers for 1 CPU 0 MB…\n')
  assert.match(ctx.stderr, /^caravela: error: stack nowhere was not deployed: .*No supplier offers.*\(HTTP 422\)\n$/)

  const example = fileURLToPath(new URL('../../examples/stack.yml', import.meta.url))
  assert.is(await caravela(ctx, ['deploy', ...flags, '--file', example]), 0, ctx.stderr)
  assert.match(ctx.stdout, /^deploying stack stack: 3 services…\n/)
  assert.match(ctx.stdout, /^stack stack deployed: 3 containers on 1 supplier$/m)

  assert.is(await caravela(ctx, ['deploy', '--help']), 0)
  assert.match(ctx.stdout, /-f, --file <file>/)
})

Cli('`logs` writes the container\'s stdout to stdout and its stderr to stderr; --tail, --since and -f reach the peer', async (ctx) => {
  const api = ['--api', ctx.server!.url, '--token', ctx.token]
  assert.is(await caravela(ctx, ['logs', ...api, LOGGED.slice(0, 12)]), 0)
  assert.is(ctx.stdout, 'hello café\n')
  assert.is(ctx.stderr, 'oops\n')

  const before = Date.now()
  assert.is(await caravela(ctx, ['logs', ...api, '--tail', '3', '--since', '10m', LOGGED]), 0)
  assert.is(logsAsked?.tail, 3)
  assert.ok(logsAsked?.since != null && logsAsked.since >= before - 600_000 && logsAsked.since <= Date.now() - 600_000, String(logsAsked?.since))
  assert.is(await caravela(ctx, ['logs', ...api, '--since', '2026-01-02T15:04:05.5+01:00', '--tail', 'all', LOGGED]), 0)
  assert.is(logsAsked?.since, Date.UTC(2026, 0, 2, 14, 4, 5, 500))
  assert.is(logsAsked?.tail, undefined)

  // -f: the fake's container writes FOLLOWED lines, 10 ms apart, then ends
  assert.is(await caravela(ctx, ['logs', '-f', ...api, LOGGED]), 0)
  assert.ok(logsAsked?.follow === true)
  assert.is(ctx.stdout, 'hello café\n' + Array.from({ length: FOLLOWED }, (_, i) => `line ${i}\n`).join(''))
})

Cli('`logs` and `inspect` failures: one error line, exit 1; bad flags exit 2', async (ctx) => {
  const api = ['--api', ctx.server!.url, '--token', ctx.token]

  for (const [argv, message] of [[['logs', ...api, 'dddddddddddd'], /no container dddddddddddd was placed by this peer/], [['logs', ...api, 'refused'], /another peer/], [['logs', ...api, 'cut'], /cut off: the supplier went away/], [['inspect', ...api, 'nope1234'], /no container nope1234/]] as Array<[string[], RegExp]>) {
    assert.is(await caravela(ctx, argv), 1, argv.join(' '))
    assert.match(ctx.stderr, /caravela: error: [^\n]+\n$/)
    assert.match(ctx.stderr, message)
    assert.not.match(ctx.stderr, /\n {4}at /, 'no stack trace')
  }

  for (const argv of [['logs', ...api, '--since', 'yesterday', LOGGED], ['logs', ...api, '--tail', '-3', LOGGED], ['logs', ...api], ['logs', ...api, 'a1234', 'b1234'], ['inspect', ...api]]) {
    assert.is(await caravela(ctx, argv), 2, argv.join(' '))
    assert.match(ctx.stderr, /^caravela: error: [^\n]+\(see caravela --help\)\n$/)
  }

  assert.is(await caravela(ctx, ['inspect', ...api, LOGGED.slice(0, 8)]), 0)
  assert.equal(JSON.parse(ctx.stdout), { ...INSPECTED, remote: { containerId: LOGGED, state: 'running' } })
})

Cli('failures print one error line and exit 1', async (ctx) => {
  const cases: Array<[string[], CliIO['env'], RegExp]> = [
    [['node', '--api', ctx.server!.url, '--token', 'wrong'], {}, /401/],
    [['node', '--data-dir', join(ctx.dataDir, 'nothing-here')], {}, /no peer is running with data dir/],
    [['node', '--api', 'http://127.0.0.1:1', '--token', ctx.token], {}, /connection refused/]
  ]

  for (const [argv, env, message] of cases) {
    assert.is(await caravela(ctx, argv, env), 1, argv.join(' '))
    assert.is(ctx.stdout, '')
    assert.match(ctx.stderr, /^caravela: error: [^\n]+\n$/)
    assert.match(ctx.stderr, message)
  }
})

Cli('usage errors exit 2; --help exits 0', async (ctx) => {
  for (const argv of [['node', '--bogus'], ['launch'], [], ['peers', 'extra'], ['node', '--api', 'http://127.0.0.1:1'], ['node', '--api', 'x', '--data-dir', 'y', '--token', 't']]) {
    assert.is(await caravela(ctx, argv), 2, argv.join(' '))
    assert.match(ctx.stderr, /^caravela: error: [^\n]+\(see caravela --help\)\n$/)
  }

  // a command's own flags are checked before the peer is looked for
  const nowhere = ['--data-dir', join(ctx.dataDir, 'nothing-here')]
  for (const [argv, message] of [[['run', ...nowhere, '--restart', 'bogus', 'busybox'], /--restart/], [['logs', ...nowhere, '--tail', 'x', 'abc'], /--tail/], [['stop', ...nowhere], /stop needs container ids/]] as const) {
    assert.is(await caravela(ctx, [...argv]), 2, argv.join(' '))
    assert.match(ctx.stderr, message)
    assert.not.match(ctx.stderr, /no peer is running/)
  }

  assert.is(await caravela(ctx, ['--help']), 0)
  assert.match(ctx.stdout, /^Usage: caravela <command>/)
  assert.match(ctx.stdout, /^ {2}peers +List/m)
  assert.is(await caravela(ctx, ['peers', '--help']), 0)
  assert.match(ctx.stdout, /^Usage: caravela peers/)
  assert.match(ctx.stdout, /--data-dir <dir>/)
})

Cli('`config-digest` prints the digest of a file\'s [network], or of the defaults, with no peer running; a bad file exits 2', async (ctx) => {
  assert.is(await caravela(ctx, ['config-digest']), 0, ctx.stderr)
  assert.is(ctx.stdout, `${networkConfigDigest(defaultConfig().network)}\n`)

  const toml = '[network]\ncpuSlices = 4\nkeyFile = "swarm.key"\n\n[node]\ncpus = 2\n'
  const file = join(ctx.dataDir, 'network.toml')
  await writeFile(file, toml)
  assert.is(await caravela(ctx, ['config-digest', file]), 0, ctx.stderr)
  const digest = networkConfigDigest(parseConfigToml(toml).network)
  assert.is(ctx.stdout, `${digest}\n`)
  assert.is.not(digest, networkConfigDigest(defaultConfig().network))
  assert.is(await caravela(ctx, ['config-digest', '--json', file]), 0, ctx.stderr)
  assert.equal(JSON.parse(ctx.stdout), { file, networkConfigDigest: digest })

  const bad = join(ctx.dataDir, 'bad.toml')
  await writeFile(bad, '[network]\ncpuSlices = 0\n')

  for (const [argv, message] of [[['config-digest', bad], /bad\.toml: network\.cpuSlices/], [['config-digest', join(ctx.dataDir, 'missing.toml')], /not found/], [['config-digest', file, file], /at most one/]] as const) {
    assert.is(await caravela(ctx, [...argv]), 2, argv.join(' '))
    assert.is(ctx.stdout, '')
    assert.match(ctx.stderr, /^caravela: error: [^\n]+\n$/)
    assert.match(ctx.stderr, message)
  }
})

Cli('bin/caravela.js runs as a command and exits promptly', async (ctx) => {
  const started = Date.now()
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/caravela.js', 'peers', '--json', '--api', ctx.server!.url], {
    env: { ...process.env, CARAVELA_API_TOKEN: ctx.token },
    timeout: 20_000
  })
  assert.equal(JSON.parse(stdout), PEERS)
  assert.ok(Date.now() - started < 10_000, 'the process does not linger')

  try {
    await promisify(execFile)(process.execPath, ['bin/caravela.js', 'node', '--api', ctx.server!.url, '--token', 'wrong'], { timeout: 20_000 })
    assert.unreachable('exit code 0 with a wrong token')
  } catch (err: any) {
    assert.is(err.code, 1)
    assert.match(err.stderr, /^caravela: error: .*401.*\n$/)
  }
})

Cli('bin/caravela.js runs the bundled command when it is as new as the last compilation, the ES modules otherwise', async () => {
  // the build just made the bundle
  const [bundle, buildInfo] = await Promise.all(['dist/src/cli/caravela.cjs', 'dist/tsconfig.tsbuildinfo'].map(async file => stat(file)))
  assert.ok(bundle.mtimeMs >= buildInfo.mtimeMs, 'npm run build bundles the command after compiling it')

  // the choice, on a copy of the launcher with stand-ins that say which one ran
  const root = await mkdtemp(join(tmpdir(), 'caravela-bin-'))

  try {
    await Promise.all(['bin', 'dist/src/cli'].map(async dir => mkdir(join(root, dir), { recursive: true })))
    await copyFile('bin/caravela.js', join(root, 'bin/caravela.js'))
    await copyFile('bin/package.json', join(root, 'bin/package.json'))
    await writeFile(join(root, 'package.json'), '{ "type": "module" }')
    await writeFile(join(root, 'dist/src/cli/caravela.js'), 'export async function run () { process.stdout.write(\'modules\') }\n')
    const files = { bundle: join(root, 'dist/src/cli/caravela.cjs'), buildInfo: join(root, 'dist/tsconfig.tsbuildinfo') }
    const which = async (): Promise<string> => (await promisify(execFile)(process.execPath, [join(root, 'bin/caravela.js')], { timeout: 20_000 })).stdout
    const at = async (file: string, seconds: number): Promise<void> => { await utimes(file, seconds, seconds) }

    await writeFile(files.bundle, 'exports.run = async () => { process.stdout.write(\'bundle\') }\n')
    await writeFile(files.buildInfo, '{}')
    await at(files.buildInfo, 1_000_000)
    await at(files.bundle, 1_000_001)
    assert.is(await which(), 'bundle', 'a bundle newer than the compilation')
    await at(files.bundle, 999_999)
    assert.is(await which(), 'modules', 'a bundle older than the compilation (`tsc -b` alone)')
    await rm(files.buildInfo)
    assert.is(await which(), 'bundle', 'an installed package: a bundle and no compilation record')
    await rm(files.bundle)
    assert.is(await which(), 'modules', 'no bundle')
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})

Cli.run()
