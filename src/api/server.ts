/**
 * The local control API: HTTP + JSON on a loopback address, what the `caravela`
 * command talks to.
 *
 * Every request carries `Authorization: Bearer <token>`. The token is 32 random bytes, written
 * to `<dataDir>/api-token` (mode 0600) on every start, so only the user who owns the data dir
 * can use the API. The API's URL and the daemon's pid go to `<dataDir>/api.json` (mode 0600),
 * which is removed on a clean stop. Routes live in a table (`apiRoutes`): a new endpoint is one
 * more entry. Placements (`POST /v1/containers`, `POST /v1/stacks`) asked with
 * `Accept: application/x-ndjson` stream their progress, one JSON line per event (`StreamResponse`).
 * A `BrowserFrontend` (the dashboard, `./dashboard.ts`) may serve pages besides, and let the
 * browser sessions it opened call the `/v1/` routes instead of the token.
 * A container's logs (`GET /v1/containers/:id/logs`) are NDJSON too (`LinesResponse`): one line
 * per chunk of output, `{ "stream": "stdout" | "stderr", "data": "<base64>" }`, then `{ "end": true }`
 * or `{ "error": "…" }`.
 * A port-forward (`POST /v1/containers/:id/port-forward/:port`) is an HTTP Upgrade to
 * `caravela-tunnel` (`TUNNEL_UPGRADE`): once the container's supplier reached the port, the
 * server answers `101 Switching Protocols` and the connection carries that one TCP connection's
 * bytes, both ways, until both sides closed their writing side; an error before that is an
 * ordinary JSON answer. The `caravela port-forward` command opens one such request per
 * connection it accepts.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { rename, rm, writeFile } from 'node:fs/promises'
import { STATUS_CODES, createServer } from 'node:http'
import { isIPv4, isIPv6 } from 'node:net'
import { join } from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { InvalidConfigurationError } from '../errors.js'
import { toPrometheus } from '../metrics.js'
import { pipeTunnels, resetSocket, socketTunnel } from '../tunnel.js'
import { ApiError } from './errors.js'
import { API_INFO_FILE, API_TOKEN_FILE, TUNNEL_UPGRADE } from './files.js'
import { parseLogsQuery, parseRunRequest, parseStackRequest, parseStopRequest } from './requests.js'
import type { PeerMetrics } from '../metrics.js'
import type {
  AbortOptions, ByteTunnel, CaravelaStatus, ContainerConfig, ContainerInspect, ContainerStatus, ContainerView, HostedView, LogChunk, LogsOptions, OffersView, PeerSummary,
  PlaceOptions, StopOptions, StopResult
} from '../types.js'
import type { ApiInfo } from './files.js'
import type { StackRequest } from './requests.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export { ApiError }
export { API_INFO_FILE, API_TOKEN_FILE, TUNNEL_UPGRADE } from './files.js'
export type { ApiInfo } from './files.js'

/** Largest request body accepted, in bytes. */
export const MAX_BODY_SIZE = 1024 * 1024
/** Time a client has to send a request's headers. */
export const HEADERS_TIMEOUT = 10_000
/** Time a client has to send a whole request. */
export const REQUEST_TIMEOUT = 30_000
/** Idle time after which a kept-alive connection is closed. */
export const KEEP_ALIVE_TIMEOUT = 5_000

/** What the API serves: a Caravela node or, in tests, a fake. */
export interface ApiTarget {
  status (): CaravelaStatus
  peers (): PeerSummary[]
  /** `options.stack` names the stack the containers make up */
  run (containers: ContainerConfig[], options?: PlaceOptions): Promise<ContainerStatus[]>
  ps (): ContainerView[]
  stopContainers (ids: string[], options?: StopOptions): Promise<StopResult[]>
  offers (): OffersView
  /** the containers this peer runs for buyers */
  hosted (): HostedView[]
  metrics (): PeerMetrics
  /** measure the event loop's delay afresh from now (a benchmark's phase) */
  resetEventLoopDelay (): void
  /** a placed container's output, by full or unique short id; resolves once its supplier accepted */
  logs (id: string, options?: LogsOptions): Promise<AsyncIterable<LogChunk>>
  /** a placed container's record and what its supplier says of it now */
  inspect (id: string, options?: AbortOptions): Promise<ContainerInspect>
  /** a tunnel to a TCP port of a placed container, by full or unique short id; resolves once its supplier reached the port */
  portForward (id: string, containerPort: number, options?: AbortOptions): Promise<ByteTunnel>
}

/** A non-JSON answer, such as the Prometheus text of `/metrics`. */
export class TextResponse {
  readonly contentType: string
  readonly body: string

  constructor (body: string, contentType = 'text/plain; charset=utf-8') {
    this.body = body
    this.contentType = contentType
  }
}

/** Media type of a streamed answer: one JSON value per line. */
export const NDJSON = 'application/x-ndjson'

/**
 * An answer streamed as NDJSON with status 200: `run` writes one line per event as it happens;
 * what it resolves to ends the stream as `{ "type": "done", ...result }`, a failure as
 * `{ "type": "error", "status": 422, "error": "…" }` (the status is the one an `ApiError` would
 * have had). Anything that can fail before the answer starts (validation, conflicts) is thrown
 * by the handler before it returns this.
 */
export class StreamResponse {
  readonly run: (write: (event: object) => void) => Promise<object>

  constructor (run: (write: (event: object) => void) => Promise<object>) {
    this.run = run
  }
}

/**
 * An answer streamed as NDJSON with status 200: one line per value of `lines`, each written once
 * the client took the one before (a slow reader slows the source), then `{ "end": true }`, or
 * `{ "error": "…" }` when the source fails. Its source stops when the client goes away.
 */
export class LinesResponse {
  readonly lines: AsyncIterable<object>

  constructor (lines: AsyncIterable<object>) {
    this.lines = lines
  }
}

/** A request as a route handler sees it. */
export interface ApiRequest {
  /** values of the route's `:name` path segments */
  params: Record<string, string>
  /** the query string's parameters */
  query?: URLSearchParams
  /** the parsed JSON body, undefined when the request had none */
  body: unknown
  /** aborted when the client goes away */
  signal: AbortSignal
  /** the request's headers */
  headers?: IncomingHttpHeaders
}

/** One endpoint. The handler's result is sent as JSON with status 200; throw `ApiError` to fail. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** path segments, `:name` matches any one segment (e.g. `/v1/containers/:id`) */
  path: string
  /**
   * Served only as an HTTP Upgrade to `TUNNEL_UPGRADE`: the handler resolves to the `ByteTunnel`
   * the connection is then joined to (any other request to it is a 426)
   */
  upgrade?: boolean
  handler (request: ApiRequest): unknown
}

/** The endpoints of the control API. */
export function apiRoutes (target: ApiTarget): ApiRoute[] {
  return [
    { method: 'GET', path: '/v1/node', handler: () => ({ ...target.status(), metrics: target.metrics() }) },
    {
      method: 'POST',
      path: '/v1/node/event-loop-delay/reset',
      handler: () => {
        target.resetEventLoopDelay()
        return {}
      }
    },
    { method: 'GET', path: '/v1/peers', handler: () => target.peers() },
    { method: 'POST', path: '/v1/containers', handler: (request) => placement(request, parseRunRequest(request.body), async args => ({ containers: await placing(target.run(...args)) })) },
    { method: 'GET', path: '/v1/containers', handler: () => target.ps() },
    { method: 'GET', path: '/v1/containers/:id', handler: async ({ params, signal }) => fromRoles(target.inspect(params.id, { signal })) },
    {
      method: 'GET',
      path: '/v1/containers/:id/logs',
      handler: async ({ params, query, signal }) => {
        const chunks = await fromRoles(target.logs(params.id, { ...parseLogsQuery(query ?? new URLSearchParams()), signal }))
        return new LinesResponse(logLines(chunks))
      }
    },
    { method: 'POST', path: '/v1/stacks', handler: (request) => deployStack(target, parseStackRequest(request.body), request) },
    {
      method: 'POST',
      path: '/v1/containers/stop',
      handler: async ({ body, signal }) => {
        const { ids, force } = parseStopRequest(body)
        return target.stopContainers(ids, { signal, force })
      }
    },
    {
      method: 'POST',
      path: '/v1/containers/:id/port-forward/:port',
      upgrade: true,
      handler: async ({ params, signal }) => fromRoles(target.portForward(params.id, parsePort(params.port), { signal }))
    },
    { method: 'GET', path: '/v1/offers', handler: () => target.offers() },
    { method: 'GET', path: '/v1/hosted', handler: () => target.hosted() },
    { method: 'GET', path: '/metrics', handler: () => new TextResponse(toPrometheus(target.metrics()), 'text/plain; version=0.0.4; charset=utf-8') }
  ]
}

/** Places a stack as one request: all its containers or none. A stack still deployed is a 409. */
function deployStack (target: ApiTarget, { stack, containers }: StackRequest, request: ApiRequest): unknown {
  const deployed = target.ps().filter(container => container.stack === stack).length

  if (deployed > 0) {
    throw new ApiError(409, `stack ${stack} is already deployed (${deployed} containers): stop it first (caravela stop --stack ${stack})`)
  }

  return placement(request, containers, async ([containers, options]) => ({ stack, containers: await placing(target.run(containers, { ...options, stack })) }))
}

/**
 * Runs a placement: its result is the answer, or, when the client accepts NDJSON, the last line
 * of a stream of its progress events.
 */
function placement (request: ApiRequest, containers: ContainerConfig[], place: (args: [ContainerConfig[], PlaceOptions]) => Promise<object>): Promise<object> | StreamResponse {
  const { signal } = request

  if (!(request.headers?.accept ?? '').split(',').some(type => type.trim().split(';')[0] === NDJSON)) {
    return place([containers, { signal }])
  }

  return new StreamResponse(async write => place([containers, { signal, onProgress: write }]))
}

/** The NDJSON lines of a container's output: base64, as output need not be text. */
async function * logLines (chunks: AsyncIterable<LogChunk>): AsyncGenerator<object> {
  for await (const { stream, data } of chunks) {
    yield { stream, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') }
  }
}

/** A container port in a path: 1 to 65535. */
function parsePort (text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : 0

  if (port < 1 || port > 65_535) {
    throw new ApiError(400, `"${text}" is not a port number from 1 to 65535`)
  }

  return port
}

/**
 * The errors of the roles a user can act on: an id that names no container of this peer is a 404,
 * as is a container its supplier no longer has; a supplier that refuses or cannot be reached is a 502.
 */
async function fromRoles<T> (result: Promise<T>): Promise<T> {
  try {
    return await result
  } catch (err: any) {
    if (err?.name === 'ContainerNotPlacedError' || (err?.name === 'RemoteRequestError' && err.status === 'NOT_FOUND')) {
      throw new ApiError(404, err.message)
    }

    // a bug stays a 500; anything else is the supplier's refusal or the network's failure
    if (err instanceof TypeError || err instanceof ReferenceError || err instanceof ApiError) {
      throw err
    }

    throw new ApiError(502, `the container's supplier did not serve it: ${err?.message ?? err}`)
  }
}

/** A placement that fails for a reason the user must hear (no offers, all rejected, …) is a 422. */
async function placing<T> (result: Promise<T>): Promise<T> {
  try {
    return await result
  } catch (err: any) {
    if (err instanceof ApiError || err?.name == null || err.name === 'Error' || err.name === 'TypeError') {
      throw err
    }

    throw new ApiError(422, err.message)
  }
}

/**
 * What the API serves to a browser besides the bearer-token routes: the dashboard
 * (`./dashboard.ts`), its pages and the calls its session may make.
 */
export interface BrowserFrontend {
  /** its own routes, authenticated by the bearer token like the others */
  routes: ApiRoute[]
  /** answers a request of its own (a page, the login, the event stream) and returns true; false for any other */
  serve (req: IncomingMessage, res: ServerResponse, origin: string): boolean
  /**
   * True when the request carries a valid browser session; throws `ApiError` 403 when a
   * state-changing request fails the cross-site checks. `origin` is the API's own URL.
   */
  authorizes (req: IncomingMessage, origin: string): boolean
  /** ends its timers and event streams */
  close (): void
}

export interface ApiServerInit {
  /** loopback address to listen on */
  host: string
  /** port to listen on, 0 for any free port */
  port: number
  /** where `api-token` and `api.json` are written */
  dataDir: string
  routes: ApiRoute[]
  /** the dashboard, when the API serves one */
  browser?: BrowserFrontend
  /** @default defaultLogger() from @libp2p/logger */
  logger?: ComponentLogger
}

/** True for `localhost`, 127.0.0.0/8 and ::1. */
export function isLoopbackHost (host: string): boolean {
  if (host === 'localhost') {
    return true
  }
  if (isIPv4(host)) {
    return host.startsWith('127.')
  }
  return isIPv6(host) && host.replace(/^[0:]+/, '') === '1'
}

/**
 * A running control API. Create it with `startApiServer`; `stop()` closes it and removes
 * `api.json`.
 */
export class ApiServer {
  /** `http://host:port` */
  readonly url: string
  private readonly server: Server
  private readonly dataDir: string
  private readonly log: Logger
  private readonly browser?: BrowserFrontend
  /** the connections upgraded to tunnels: the HTTP server no longer tracks them */
  private readonly tunnels: Set<Socket>

  constructor (server: Server, url: string, dataDir: string, log: Logger, browser?: BrowserFrontend, tunnels: Set<Socket> = new Set()) {
    this.server = server
    this.url = url
    this.dataDir = dataDir
    this.log = log
    this.browser = browser
    this.tunnels = tunnels
  }

  async stop (): Promise<void> {
    this.browser?.close()
    await rm(join(this.dataDir, API_INFO_FILE), { force: true })

    // reset: their clients see the tunnels broke, not that the container's port ended its side
    for (const socket of this.tunnels) {
      resetSocket(socket)
    }

    await new Promise<void>(resolve => {
      this.server.close(() => { resolve() })
      this.server.closeAllConnections()
    })
    this.log('control API stopped')
  }
}

/**
 * Listens on `init.host:init.port`, then writes a new token to `<dataDir>/api-token` and the
 * URL to `<dataDir>/api.json`. Throws `InvalidConfigurationError` for a non-loopback host.
 */
export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  if (!isLoopbackHost(init.host)) {
    throw new InvalidConfigurationError('node.apiHost', `"${init.host}" is not a loopback address; the control API only listens on 127.0.0.1, ::1 or localhost`)
  }

  const log = (init.logger ?? defaultLogger()).forComponent('caravela:api')
  const token = randomBytes(32).toString('hex')
  const routes = [...init.routes, ...(init.browser?.routes ?? [])]
  // known once listening; no request comes before
  let url = ''
  const server = createServer({
    headersTimeout: HEADERS_TIMEOUT,
    requestTimeout: REQUEST_TIMEOUT,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT
  }, (req, res) => {
    handleRequest(req, res, token, routes, url, init.browser).catch(err => {
      log.error('%s %s failed - %e', req.method, req.url, err)
    })
  })
  server.maxHeadersCount = 50
  const tunnels = new Set<Socket>()
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    tunnels.add(socket)
    socket.once('close', () => { tunnels.delete(socket) })
    handleUpgrade(req, socket, head, token, routes, url, init.browser).catch(err => {
      log('%s %s ended - %s', req.method, req.url, err?.message)
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, init.host, () => {
      server.off('error', reject)
      resolve()
    })
  })

  const { address, port } = server.address() as AddressInfo
  url = `http://${isIPv6(address) ? `[${address}]` : address}:${port}`

  try {
    await writePrivateFile(join(init.dataDir, API_TOKEN_FILE), token)
    const info: ApiInfo = { url, pid: process.pid }
    await writePrivateFile(join(init.dataDir, API_INFO_FILE), JSON.stringify(info) + '\n')
  } catch (err) {
    server.close()
    throw err
  }

  log('control API listening on %s', url)
  return new ApiServer(server, url, init.dataDir, log, init.browser, tunnels)
}

/** Writes a file only its owner can read, replacing any old one atomically. */
async function writePrivateFile (path: string, contents: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`
  await rm(temporary, { force: true })
  await writeFile(temporary, contents, { mode: 0o600, flag: 'wx' })
  await rename(temporary, path)
}

async function handleRequest (req: IncomingMessage, res: ServerResponse, token: string, routes: ApiRoute[], origin: string, browser?: BrowserFrontend): Promise<void> {
  const controller = new AbortController()
  res.on('close', () => { controller.abort() })

  try {
    if (browser?.serve(req, res, origin) === true) {
      return
    }

    const { match, searchParams } = findRoute(req, token, routes, origin, browser, (name, value) => { res.setHeader(name, value) })

    if (match.route.upgrade === true) {
      res.setHeader('Upgrade', TUNNEL_UPGRADE)
      res.setHeader('Connection', 'Upgrade')
      throw new ApiError(426, `${match.route.path} is served only as an HTTP Upgrade to ${TUNNEL_UPGRADE}`)
    }

    const body = await readJsonBody(req)
    const result = await match.route.handler({ params: match.params, query: searchParams, body, signal: controller.signal, headers: req.headers })

    if (result instanceof StreamResponse) {
      await stream(res, result)
    } else if (result instanceof LinesResponse) {
      await streamLines(res, result, controller.signal)
    } else if (result instanceof TextResponse) {
      res.writeHead(200, { 'Content-Type': result.contentType, 'Content-Length': Buffer.byteLength(result.body) })
      res.end(result.body)
    } else {
      sendJson(res, 200, result)
    }
  } catch (err: any) {
    if (err instanceof ApiError) {
      if (err.status === 413) {
        // the rest of the body is never read, so the connection cannot be reused
        res.setHeader('Connection', 'close')
      }
      sendJson(res, err.status, { error: err.message })
    } else {
      sendJson(res, 500, { error: err?.message ?? 'internal error' })
      throw err
    }
  }
}

/**
 * The authorized route a request asks for, and its query.
 *
 * @throws {ApiError} 401 without a valid token or session, 404 for no such path, 405 for another method
 */
function findRoute (req: IncomingMessage, token: string, routes: ApiRoute[], origin: string, browser: BrowserFrontend | undefined, setHeader: (name: string, value: string) => void): { match: { route: ApiRoute, params: Record<string, string> }, searchParams: URLSearchParams } {
  if (!isAuthorized(req.headers.authorization, token) && browser?.authorizes(req, origin) !== true) {
    setHeader('WWW-Authenticate', 'Bearer')
    throw new ApiError(401, 'missing or wrong API token')
  }

  const { pathname, searchParams } = new URL(req.url ?? '/', 'http://localhost')
  const matches = routes
    .map(route => ({ route, params: matchPath(route.path, pathname) }))
    .filter((match): match is { route: ApiRoute, params: Record<string, string> } => match.params != null)

  if (matches.length === 0) {
    throw new ApiError(404, `no such endpoint: ${pathname}`)
  }

  const match = matches.find(({ route }) => route.method === req.method)

  if (match == null) {
    setHeader('Allow', matches.map(({ route }) => route.method).join(', '))
    throw new ApiError(405, `${req.method} is not allowed on ${pathname}`)
  }

  return { match, searchParams }
}

/**
 * An HTTP Upgrade request: a tunnel route's `ByteTunnel` joined to the connection after a `101`,
 * or a JSON error answer. The tunnel lasts until both sides closed their writing side, either
 * breaks, or the client goes away.
 */
async function handleUpgrade (req: IncomingMessage, socket: Socket, head: Buffer, token: string, routes: ApiRoute[], origin: string, browser?: BrowserFrontend): Promise<void> {
  const controller = new AbortController()
  const headers: Record<string, string> = {}
  socket.on('error', () => {})
  socket.once('close', () => { controller.abort(new Error('the client went away')) })
  let tunnel: ByteTunnel

  try {
    if (req.headers.upgrade?.toLowerCase() !== TUNNEL_UPGRADE) {
      throw new ApiError(400, `the only upgrade served is ${TUNNEL_UPGRADE}`)
    }

    const { match, searchParams } = findRoute(req, token, routes, origin, browser, (name, value) => { headers[name] = value })

    if (match.route.upgrade !== true) {
      throw new ApiError(400, `${match.route.path} is not served as an upgrade`)
    }

    tunnel = await match.route.handler({ params: match.params, query: searchParams, body: undefined, signal: controller.signal, headers: req.headers }) as ByteTunnel
  } catch (err: any) {
    const status = err instanceof ApiError ? err.status : 500
    const body = JSON.stringify({ error: err instanceof ApiError ? err.message : err?.message ?? 'internal error' }) + '\n'
    const head = Object.entries({ ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' })
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${head.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${body}`)
    throw err
  }

  if (controller.signal.aborted) {
    tunnel.abort(controller.signal.reason)
    return
  }

  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_UPGRADE}\r\n\r\n`)

  if (head.byteLength > 0) {
    socket.unshift(head)
  }

  await pipeTunnels(socketTunnel(socket), tunnel)
}

/** Constant-time comparison of the presented bearer token with ours. */
function isAuthorized (header: string | undefined, token: string): boolean {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1]

  if (presented == null) {
    return false
  }

  // hash both sides so the comparison does not depend on, or leak, the presented length
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(presented), digest(token))
}

/** The params of `pattern` in `pathname`, or undefined when it does not match. */
function matchPath (pattern: string, pathname: string): Record<string, string> | undefined {
  const want = pattern.split('/')
  const got = pathname.split('/')

  if (want.length !== got.length) {
    return undefined
  }

  const params: Record<string, string> = {}

  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':') && got[i] !== '') {
      params[want[i].slice(1)] = decodeSegment(got[i])
    } else if (want[i] !== got[i]) {
      return undefined
    }
  }

  return params
}

function decodeSegment (segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new ApiError(400, `bad percent-encoding in path segment "${segment}"`)
  }
}

async function readJsonBody (req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)

  if (declared > MAX_BODY_SIZE) {
    throw new ApiError(413, `request body larger than ${MAX_BODY_SIZE} bytes`)
  }

  const chunks: Buffer[] = []
  let size = 0

  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length

    if (size > MAX_BODY_SIZE) {
      throw new ApiError(413, `request body larger than ${MAX_BODY_SIZE} bytes`)
    }

    chunks.push(chunk)
  }

  if (size === 0) {
    return undefined
  }

  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ApiError(400, 'request body is not valid JSON')
  }
}

/** Sends a `StreamResponse`: its events as they come, then a `done` or an `error` line. */
async function stream (res: ServerResponse, answer: StreamResponse): Promise<void> {
  const line = (value: object): string => JSON.stringify(value) + '\n'
  res.writeHead(200, { 'Content-Type': `${NDJSON}; charset=utf-8`, 'Cache-Control': 'no-store' })
  res.flushHeaders()

  try {
    const result = await answer.run(event => {
      if (!res.writableEnded) {
        res.write(line(event))
      }
    })
    res.end(line({ type: 'done', ...result }))
  } catch (err: any) {
    const status = err instanceof ApiError ? err.status : 500
    res.end(line({ type: 'error', status, error: err?.message ?? 'internal error' }))

    if (!(err instanceof ApiError)) {
      throw err
    }
  }
}

/** Sends a `LinesResponse`, waiting for the client to drain each line before it reads the next. */
async function streamLines (res: ServerResponse, answer: LinesResponse, signal: AbortSignal): Promise<void> {
  const line = (value: object): string => JSON.stringify(value) + '\n'
  res.writeHead(200, { 'Content-Type': `${NDJSON}; charset=utf-8`, 'Cache-Control': 'no-store' })
  res.flushHeaders()

  try {
    for await (const value of answer.lines) {
      if (!res.write(line(value)) && !signal.aborted) {
        await new Promise<void>(resolve => {
          const done = (): void => {
            res.off('drain', done)
            res.off('close', done)
            resolve()
          }
          res.on('drain', done)
          res.on('close', done)
        })
      }

      if (signal.aborted) {
        return
      }
    }

    res.end(line({ end: true }))
  } catch (err: any) {
    if (!signal.aborted) {
      res.end(line({ error: err?.message ?? 'internal error' }))
    }
  }
}

function sendJson (res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) {
    // a stream already ended with its error line is complete; anything else is cut off
    if (!res.writableEnded) {
      res.destroy()
    }
    return
  }

  const body = JSON.stringify(value ?? null) + '\n'
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store'
  })
  res.end(body)
}
