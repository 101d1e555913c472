/**
 * Client of the local control API (`./server.ts`). It finds a running peer through its data dir
 * (`api.json` + `api-token`), or takes a URL and a token.
 */

import { createRequire } from 'node:module'
import { join } from 'node:path'
import { API_INFO_FILE, API_TOKEN_FILE, TUNNEL_UPGRADE } from './files.js'
import type {
  CaravelaStatus, ContainerConfig, ContainerInspect, ContainerStatus, ContainerView, HostedView, LogChunk, LogsOptions, OffersView, PeerSummary, PlacementProgress, StopResult
} from '../types.js'
import type { ApiInfo } from './files.js'
import type { IncomingMessage, RequestOptions } from 'node:http'
import type { Socket } from 'node:net'

/**
 * `node:http` is loaded at the first request (the `caravela` command's `--help` and local commands
 * make none), and as a CommonJS module, not an ES import: the ES wrapper reads every export, and
 * the `WebSocket` one loads undici (tens of ms, a third of the command's start-up). `node:fs` is
 * taken the same way, for its `fs.promises` getter loads fs/promises and readline.
 */
const require = createRequire(import.meta.url)

/** Time one API request may take. */
export const DEFAULT_API_TIMEOUT = 10_000
/** Time a placement may take: discovery, launches and, with a real engine, image pulls. */
export const RUN_TIMEOUT = 10 * 60_000

/** No peer is running with this data dir: it has no readable `api.json` or `api-token`. */
export class NoPeerRunningError extends Error {
  static override name = 'NoPeerRunningError'
  readonly dataDir: string

  constructor (dataDir: string, message = `no peer is running with data dir ${dataDir}`) {
    super(message)
    this.name = 'NoPeerRunningError'
    this.dataDir = dataDir
  }
}

/** The API could not be reached, or answered with an error status. */
export class ApiRequestError extends Error {
  static override name = 'ApiRequestError'
  /** HTTP status, undefined when no answer came */
  readonly status?: number

  constructor (message: string, status?: number) {
    super(message)
    this.name = 'ApiRequestError'
    this.status = status
  }
}

/** Options of a placement (`run`, `deploy`). */
export interface PlaceRequestOptions {
  /**
   * Called with each progress event as the peer sends it; with it the answer is streamed
   * (`Accept: application/x-ndjson`)
   */
  onProgress?: (event: PlacementProgress) => void
}

export interface ApiClientInit {
  /** `http://127.0.0.1:PORT` */
  url: string
  token: string
  /** @default DEFAULT_API_TIMEOUT */
  timeout?: number
  /**
   * Keep connections open between requests and reuse them (HTTP keep-alive), for a program that
   * sends many (a benchmark), which then calls `close()`. Without it each request has a
   * connection of its own, and nothing is left open to keep the process alive.
   */
  keepAlive?: boolean
}

export class ApiClient {
  readonly url: string
  private readonly token: string
  private readonly timeout: number
  /** the kept-alive connections' agent (`ApiClientInit.keepAlive`), or false: a connection per request */
  private readonly agent: import('node:http').Agent | false

  constructor (init: ApiClientInit) {
    this.url = init.url.replace(/\/+$/, '')
    this.token = init.token
    this.timeout = init.timeout ?? DEFAULT_API_TIMEOUT
    this.agent = init.keepAlive === true ? new (require('node:http') as typeof import('node:http')).Agent({ keepAlive: true }) : false
  }

  /** Whether requests reuse kept-alive connections (`ApiClientInit.keepAlive`). */
  get keepAlive (): boolean {
    return this.agent !== false
  }

  /** Close the kept-alive connections (`ApiClientInit.keepAlive`); later requests open new ones. */
  close (): void {
    if (this.agent !== false) {
      this.agent.destroy()
    }
  }

  /** A client of the peer running with `dataDir`; `NoPeerRunningError` when there is none. */
  static async fromDataDir (dataDir: string, init: Omit<ApiClientInit, 'url' | 'token'> = {}): Promise<ApiClient> {
    const { readFileSync }: typeof import('node:fs') = require('node:fs')
    let info: ApiInfo
    let token: string

    try {
      // two small files read once, before anything else happens: synchronous reads cost least
      info = JSON.parse(readFileSync(join(dataDir, API_INFO_FILE), 'utf8'))
      token = readFileSync(join(dataDir, API_TOKEN_FILE), 'utf8').trim()
    } catch (err: any) {
      if (err.code === 'ENOENT') {
        throw new NoPeerRunningError(dataDir)
      }
      throw new NoPeerRunningError(dataDir, `cannot read the control API files in ${dataDir}: ${err.message}`)
    }

    if (typeof info?.url !== 'string') {
      throw new NoPeerRunningError(dataDir, `${join(dataDir, API_INFO_FILE)} has no "url"`)
    }

    return new ApiClient({ ...init, url: info.url, token })
  }

  /** `GET /v1/node` */
  async node (): Promise<CaravelaStatus> {
    return this.request('GET', '/v1/node')
  }

  /** `POST /v1/node/event-loop-delay/reset`: the peer measures its event loop's delay afresh from now */
  async resetEventLoopDelay (): Promise<void> {
    await this.request('POST', '/v1/node/event-loop-delay/reset')
  }

  /** `GET /v1/peers` */
  async peers (): Promise<PeerSummary[]> {
    return this.request('GET', '/v1/peers')
  }

  /** `POST /v1/containers`: place containers; one status per container */
  async run (containers: ContainerConfig[], options: PlaceRequestOptions = {}): Promise<ContainerStatus[]> {
    return (await this.request<{ containers: ContainerStatus[] }>('POST', '/v1/containers', { containers }, RUN_TIMEOUT, options.onProgress)).containers
  }

  /** `POST /v1/stacks`: place a stack's containers as one request, all or none; one status per container */
  async deploy (stack: string, containers: ContainerConfig[], options: PlaceRequestOptions = {}): Promise<ContainerStatus[]> {
    return (await this.request<{ containers: ContainerStatus[] }>('POST', '/v1/stacks', { stack, containers }, RUN_TIMEOUT, options.onProgress)).containers
  }

  /** `GET /v1/containers`: the containers this peer placed */
  async ps (): Promise<ContainerView[]> {
    return this.request('GET', '/v1/containers')
  }

  /**
   * `POST /v1/containers/stop`: stop containers by full or unique short id; with `force`, forget
   * those whose supplier cannot be reached
   */
  async stop (ids: string[], options: { force?: boolean } = {}): Promise<StopResult[]> {
    return this.request('POST', '/v1/containers/stop', options.force === true ? { ids, force: true } : { ids })
  }

  /** `GET /v1/containers/:id`: a placed container's record and what its supplier says of it now */
  async inspect (id: string): Promise<ContainerInspect> {
    return this.request('GET', `/v1/containers/${encodeURIComponent(id)}`)
  }

  /**
   * `GET /v1/containers/:id/logs`: a placed container's output, each chunk handed to `onChunk` as
   * it arrives. The next is read once the promise `onChunk` returns settles, so a slow consumer
   * slows the stream rather than filling memory. Resolves at the end of the output (with
   * `follow`, when the container ends); `options.signal` stops it early.
   */
  async logs (id: string, options: LogsOptions, onChunk: (chunk: LogChunk) => void | Promise<void>): Promise<void> {
    const query = new URLSearchParams()

    if (options.follow === true) {
      query.set('follow', '1')
    }

    if (options.tail != null) {
      query.set('tail', String(options.tail))
    }

    if (options.since != null) {
      query.set('since', String(options.since))
    }

    const path = `/v1/containers/${encodeURIComponent(id)}/logs${query.size === 0 ? '' : `?${query.toString()}`}`
    let end: any

    try {
      end = await streamLines(new URL(this.url + path), {
        method: 'GET',
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/x-ndjson' },
        signal: options.signal,
        // a followed container may be silent for hours
        timeout: options.follow === true ? 0 : this.timeout
      }, async line => {
        if (typeof line?.stream === 'string' && typeof line?.data === 'string') {
          await onChunk({ stream: line.stream === 'stderr' ? 'stderr' : 'stdout', data: Buffer.from(line.data, 'base64') })
          return false
        }

        return true
      })
    } catch (err: any) {
      if (options.signal?.aborted === true) {
        throw options.signal.reason
      }

      if (err instanceof ApiRequestError) {
        throw err
      }

      if (err instanceof SyntaxError) {
        throw new ApiRequestError(`the control API at ${this.url} sent a line that is not JSON`)
      }

      throw new ApiRequestError(`cannot reach the control API at ${this.url}: ${describeRequestError(err)}`)
    }

    if (end?.end !== true) {
      throw new ApiRequestError(`the logs of ${id} were cut off: ${typeof end?.error === 'string' ? end.error : 'the answer ended early'}`)
    }
  }

  /**
   * `POST /v1/containers/:id/port-forward/:port`, upgraded to `TUNNEL_UPGRADE`: a connection that
   * carries one TCP connection to a port of a placed container, raw bytes both ways, once its
   * supplier reached the port. It allows half-open use: ending its writing side leaves the
   * answer coming.
   */
  async portForward (id: string, containerPort: number): Promise<Socket> {
    const path = `/v1/containers/${encodeURIComponent(id)}/port-forward/${containerPort}`

    return new Promise((resolve, reject) => {
      const http: typeof import('node:http') = require('node:http')
      const req = http.request(new URL(this.url + path), {
        method: 'POST',
        agent: false,
        timeout: this.timeout,
        headers: { Authorization: `Bearer ${this.token}`, Connection: 'Upgrade', Upgrade: TUNNEL_UPGRADE }
      })
      req.on('upgrade', (res, socket: Socket, head: Buffer) => {
        // the tunnel may be idle for as long as its client likes, and half-closed
        socket.setTimeout(0)
        socket.allowHalfOpen = true

        if (head.byteLength > 0) {
          socket.unshift(head)
        }

        resolve(socket)
      })
      req.on('response', res => {
        readAll(res).then(text => {
          let reason = `HTTP ${res.statusCode}`

          try {
            const error = JSON.parse(text)?.error
            reason = typeof error === 'string' ? error : reason
          } catch {}

          reject(new ApiRequestError(`the control API refused POST ${path}: ${reason} (HTTP ${res.statusCode})`, res.statusCode))
        }, reject)
      })
      req.on('timeout', () => { req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })) })
      req.on('error', err => { reject(new ApiRequestError(`cannot reach the control API at ${this.url}: ${describeRequestError(err)}`)) })
      req.end()
    })
  }

  /** `GET /v1/offers` */
  async offers (): Promise<OffersView> {
    return this.request('GET', '/v1/offers')
  }

  /** `GET /v1/hosted`: the containers this peer runs for buyers */
  async hosted (): Promise<HostedView[]> {
    return this.request('GET', '/v1/hosted')
  }

  /** `POST /v1/dashboard/login-codes`: the dashboard's URL with a one-time login code */
  async dashboardLogin (): Promise<{ url: string, expiresAt: number }> {
    const { path, expiresAt } = await this.request<{ path: string, expiresAt: number }>('POST', '/v1/dashboard/login-codes')
    return { url: this.url + path, expiresAt }
  }

  /**
   * Sends one request and returns the parsed JSON answer; `ApiRequestError` on any failure. With
   * `onEvent`, asks for an NDJSON stream: every line but the last goes to `onEvent` as it
   * arrives, the last (`done`) is the answer, or an `error` line the failure.
   */
  async request<T = unknown> (method: string, path: string, body?: unknown, timeout = this.timeout, onEvent?: (event: any) => void): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    let response: { status: number, text: string, streamed: boolean }
    let last: any

    try {
      response = await send(new URL(this.url + path), {
        method,
        agent: this.agent,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(onEvent == null ? {} : { Accept: 'application/x-ndjson' }),
          ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) })
        },
        timeout
      }, payload, onEvent == null
        ? undefined
        : line => {
          const event = JSON.parse(line)

          if (event?.type === 'done' || event?.type === 'error') {
            last = event
          } else {
            onEvent(event)
          }
        })
    } catch (err: any) {
      if (err instanceof SyntaxError) {
        throw new ApiRequestError(`the control API at ${this.url} sent a line that is not JSON`)
      }
      throw new ApiRequestError(`cannot reach the control API at ${this.url}: ${describeRequestError(err)}`)
    }

    if (response.streamed) {
      if (last?.type === 'done') {
        const { type, ...answer } = last
        return answer
      }

      const status = typeof last?.status === 'number' ? last.status : response.status
      const reason = typeof last?.error === 'string' ? last.error : 'the answer ended early'
      throw new ApiRequestError(`the control API refused ${method} ${path}: ${reason} (HTTP ${status})`, status)
    }

    let answer: any

    try {
      answer = JSON.parse(response.text)
    } catch {
      throw new ApiRequestError(`the control API at ${this.url} sent a response that is not JSON (HTTP ${response.status})`, response.status)
    }

    if (response.status < 200 || response.status > 299) {
      const reason = typeof answer?.error === 'string' ? answer.error : `HTTP ${response.status}`
      throw new ApiRequestError(`the control API refused ${method} ${path}: ${reason} (HTTP ${response.status})`, response.status)
    }

    return answer
  }
}

/**
 * One HTTP exchange on a connection of its own (so nothing keeps the process alive after it).
 * With `onLine`, an NDJSON answer goes to it line by line as it arrives (`streamed`); an exception
 * `onLine` throws ends the exchange with it.
 */
async function send (url: URL, options: RequestOptions & { timeout: number }, body?: string, onLine?: (line: string) => void): Promise<{ status: number, text: string, streamed: boolean }> {
  const res = await open(url, options, body)
  const status = res.statusCode ?? 0

  if (onLine == null || !/^application\/x-ndjson\b/i.test(res.headers['content-type'] ?? '')) {
    return { status, text: await readAll(res), streamed: false }
  }

  for await (const line of lines(res)) {
    onLine(line)
  }

  return { status, text: '', streamed: true }
}

/**
 * One GET whose NDJSON answer is read line by line, each handed to `onLine` (awaited, so a slow
 * reader slows the stream) until it returns true: that line is returned (the last one). A status
 * other than 200 is an `ApiRequestError` with the answer's `error`.
 */
async function streamLines (url: URL, options: RequestOptions & { timeout: number, signal?: AbortSignal }, onLine: (line: any) => Promise<boolean>): Promise<any> {
  const res = await open(url, options)

  if (res.statusCode !== 200) {
    let reason = `HTTP ${res.statusCode}`

    try {
      const error = JSON.parse(await readAll(res))?.error
      reason = typeof error === 'string' ? error : reason
    } catch {}

    throw new ApiRequestError(`the control API refused GET ${url.pathname}: ${reason} (HTTP ${res.statusCode})`, res.statusCode)
  }

  for await (const line of lines(res)) {
    const value = JSON.parse(line)

    // leaving the loop ends the exchange
    if (await onLine(value)) {
      return value
    }
  }

  return undefined
}

/** Sends a request; resolves with the response, whose body is still to be read. */
async function open (url: URL, options: RequestOptions & { timeout: number }, body?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const http: typeof import('node:http') = require('node:http')
    const req = http.request(url, { agent: false, ...options }, resolve)
    req.on('timeout', () => { req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })) })
    req.on('error', reject)
    req.end(body)
  })
}

async function readAll (res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []

  for await (const chunk of res) {
    chunks.push(chunk)
  }

  return Buffer.concat(chunks).toString('utf8')
}

/** The non-blank lines of a body as they arrive; leaving the loop early destroys the response. */
async function * lines (res: IncomingMessage): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let pending = ''

  for await (const chunk of res) {
    pending += decoder.decode(chunk, { stream: true })
    let end: number

    while ((end = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, end).trim()
      pending = pending.slice(end + 1)

      if (line !== '') {
        yield line
      }
    }
  }

  const last = (pending + decoder.decode()).trim()

  if (last !== '') {
    yield last
  }
}

function describeRequestError (err: any): string {
  return err.code === 'ECONNREFUSED' ? 'connection refused (is the peer still running?)' : err.message
}
