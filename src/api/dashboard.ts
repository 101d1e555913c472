/**
 * The web dashboard the control API serves at `/dashboard/`: this peer, the network it sees, its
 * offers and the containers it placed, updated live, with a form to run containers and buttons
 * to read their logs and stop them.
 *
 * It stays as private as the API: loopback only, and no page without a session. `caravela
 * dashboard` asks for a login code with the bearer token (`POST /v1/dashboard/login-codes`); the
 * code is good once, for `CODE_TTL`. Visiting `/dashboard/login?code=…` trades it for a session:
 * a random token in an HttpOnly, SameSite=Strict cookie, kept in memory only, good for
 * `SESSION_TTL`. With it the page calls the API's `/v1/` routes itself, and reads
 * `GET /v1/events`, a stream of server-sent events. A state-changing call (run, stop) must also
 * come from the dashboard's own origin and carry the session's CSRF token in `X-Caravela-CSRF`:
 * a page of another site can make the browser send the cookie, not read the token.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { defaultLogger } from '@libp2p/logger'
import { DASHBOARD_CSS, DASHBOARD_JS, dashboardPage, messagePage } from './dashboard-assets.js'
import { ApiError } from './errors.js'
import type { ApiRoute, ApiTarget, BrowserFrontend } from './server.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** How long a login code may wait to be used. */
export const CODE_TTL = 2 * 60_000
/** How long a session lasts. */
export const SESSION_TTL = 12 * 60 * 60_000
/** Time between two events of the live stream. */
export const EVENT_INTERVAL = 2_000
/** Time between two samples of the placement counters. */
export const SAMPLE_INTERVAL = 5_000
/** Samples kept: an hour at `SAMPLE_INTERVAL`. */
export const MAX_SAMPLES = 720
/** Codes waiting and sessions open at most: the oldest goes first. */
const MAX_CODES = 16
const MAX_SESSIONS = 64
/** Header a state-changing request carries its session's CSRF token in. */
export const CSRF_HEADER = 'x-caravela-csrf'
/** Where a login code is traded for a session. */
export const LOGIN_PATH = '/dashboard/login'

/** The placement counters at one moment. */
export interface DashboardSample {
  /** milliseconds since the epoch */
  t: number
  placed: number
  failed: number
  /** containers this peer placed that are running */
  running: number
}

/** The answer to `POST /v1/dashboard/login-codes`. */
export interface LoginCode {
  code: string
  /** the path to visit on the API's URL, the code included */
  path: string
  /** milliseconds since the epoch */
  expiresAt: number
}

export interface DashboardInit {
  target: ApiTarget
  /** @default CODE_TTL */
  codeTtl?: number
  /** @default SESSION_TTL */
  sessionTtl?: number
  /** @default EVENT_INTERVAL */
  eventInterval?: number
  /** @default SAMPLE_INTERVAL */
  sampleInterval?: number
  logger?: ComponentLogger
}

interface Session {
  csrf: string
  expiresAt: number
}

const PAGE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // the login URL holds the code: it must not leak through a Referer
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

export class Dashboard implements BrowserFrontend {
  readonly routes: ApiRoute[]
  private readonly target: ApiTarget
  private readonly codeTtl: number
  private readonly sessionTtl: number
  private readonly eventInterval: number
  /** by the sha256 of the code, so that a lookup's timing tells nothing of the codes */
  private readonly codes = new Map<string, number>()
  /** by the sha256 of the token */
  private readonly sessions = new Map<string, Session>()
  private readonly streams = new Set<ServerResponse>()
  private readonly history: DashboardSample[] = []
  private readonly sampler: ReturnType<typeof setInterval>
  private readonly log: Logger

  constructor (init: DashboardInit) {
    this.target = init.target
    this.codeTtl = init.codeTtl ?? CODE_TTL
    this.sessionTtl = init.sessionTtl ?? SESSION_TTL
    this.eventInterval = init.eventInterval ?? EVENT_INTERVAL
    this.log = (init.logger ?? defaultLogger()).forComponent('caravela:dashboard')
    this.routes = [{ method: 'POST', path: '/v1/dashboard/login-codes', handler: () => this.newCode() }]
    this.sample()
    this.sampler = setInterval(() => { this.sample() }, init.sampleInterval ?? SAMPLE_INTERVAL)
    this.sampler.unref()
  }

  close (): void {
    clearInterval(this.sampler)
    this.streams.forEach(res => res.end())
    this.streams.clear()
  }

  serve (req: IncomingMessage, res: ServerResponse, origin: string): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const path = url.pathname

    if (path !== '/v1/events' && path !== '/dashboard' && !path.startsWith('/dashboard/')) {
      return false
    }

    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain; charset=utf-8' }).end(`${req.method ?? ''} is not allowed on ${path}\n`)
      return true
    }

    // a page reached through another name (DNS rebinding) is not ours to serve
    if (req.headers.host !== new URL(origin).host) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' }).end('the dashboard answers on its loopback address only\n')
      return true
    }

    const session = this.session(req, origin)

    switch (path) {
      case '/dashboard':
      case '/dashboard/':
        if (session == null) {
          res.writeHead(303, { Location: LOGIN_PATH, ...PAGE_HEADERS }).end()
        } else {
          html(res, 200, dashboardPage(session.csrf))
        }
        break
      case LOGIN_PATH:
        this.login(url.searchParams.get('code'), res, origin)
        break
      case '/dashboard/app.js':
        asset(res, 'text/javascript; charset=utf-8', DASHBOARD_JS)
        break
      case '/dashboard/style.css':
        asset(res, 'text/css; charset=utf-8', DASHBOARD_CSS)
        break
      case '/v1/events':
        if (session == null) {
          res.writeHead(401, { 'Content-Type': 'application/json; charset=utf-8' }).end('{"error":"no dashboard session"}\n')
        } else {
          this.stream(res, session)
        }
        break
      default:
        html(res, 404, messagePage('Not found', 'There is no such page.'))
    }

    return true
  }

  authorizes (req: IncomingMessage, origin: string): boolean {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost')

    // a session reaches the routes the page uses, never the login codes
    if (!pathname.startsWith('/v1/') || pathname.startsWith('/v1/dashboard/') || req.headers.host !== new URL(origin).host) {
      return false
    }

    const session = this.session(req, origin)

    if (session == null) {
      return false
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (req.headers.origin !== origin) {
        throw new ApiError(403, 'a dashboard request must come from the dashboard\'s own origin')
      }

      if (!sameSecret(req.headers[CSRF_HEADER], session.csrf)) {
        throw new ApiError(403, `missing or wrong ${CSRF_HEADER} header`)
      }
    }

    return true
  }

  /** A new login code; the oldest waiting one goes when too many wait. */
  private newCode (): LoginCode {
    const now = Date.now()
    this.prune(now)
    const code = randomBytes(24).toString('base64url')
    const expiresAt = now + this.codeTtl
    this.codes.set(digest(code), expiresAt)
    dropOldest(this.codes, MAX_CODES)
    this.log('new dashboard login code, good until %s', new Date(expiresAt).toISOString())
    return { code, path: `${LOGIN_PATH}?code=${code}`, expiresAt }
  }

  /** Trades a code for a session cookie, once. */
  private login (code: string | null, res: ServerResponse, origin: string): void {
    if (code == null || code === '') {
      html(res, 401, messagePage('Log in', 'Run <code>caravela dashboard</code> on this machine and open the link it prints.'))
      return
    }

    const now = Date.now()
    this.prune(now)
    const key = digest(code)

    if (!this.codes.has(key)) {
      this.log('refused a used, expired or unknown dashboard login code')
      html(res, 403, messagePage('Login refused', 'This login link was used already or has expired. Run <code>caravela dashboard</code> for a new one.'))
      return
    }

    this.codes.delete(key)
    const token = randomBytes(32).toString('base64url')
    this.sessions.set(digest(token), { csrf: randomBytes(32).toString('base64url'), expiresAt: now + this.sessionTtl })
    dropOldest(this.sessions, MAX_SESSIONS)
    this.log('new dashboard session')
    res.writeHead(303, {
      Location: '/dashboard/',
      'Set-Cookie': `${cookieName(origin)}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.sessionTtl / 1000)}`,
      ...PAGE_HEADERS
    }).end()
  }

  /** The request's session, if its cookie names one that has not expired. */
  private session (req: IncomingMessage, origin: string): Session | undefined {
    const name = cookieName(origin)
    const token = (req.headers.cookie ?? '').split(';').map(part => part.trim().split('=')).find(([key]) => key === name)?.[1]

    if (token == null || token === '') {
      return undefined
    }

    const key = digest(token)
    const session = this.sessions.get(key)

    if (session != null && session.expiresAt <= Date.now()) {
      this.sessions.delete(key)
      return undefined
    }

    return session
  }

  /** Server-sent events: what the page shows, now and every `eventInterval`, while the session lasts. */
  private stream (res: ServerResponse, session: Session): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
    const send = (): void => {
      if (session.expiresAt <= Date.now()) {
        res.end()
        return
      }

      try {
        res.write(`data: ${JSON.stringify(this.snapshot())}\n\n`)
      } catch (err) {
        // a peer shutting down answers no more: skip this event
        this.log.error('dashboard event failed - %e', err)
      }
    }
    const timer = setInterval(send, this.eventInterval)
    this.streams.add(res)
    res.on('close', () => {
      clearInterval(timer)
      this.streams.delete(res)
    })
    send()
  }

  /** One event of the stream. */
  private snapshot (): object {
    return {
      node: { ...this.target.status(), metrics: this.target.metrics() },
      peers: this.target.peers(),
      containers: this.target.ps(),
      offers: this.target.offers(),
      hosted: this.target.hosted(),
      history: this.history
    }
  }

  private sample (): void {
    try {
      const { placed, failed } = this.target.metrics().requests
      const running = this.target.ps().filter(container => container.state === 'running').length
      this.history.push({ t: Date.now(), placed, failed, running })
      this.history.splice(0, this.history.length - MAX_SAMPLES)
    } catch (err) {
      this.log.error('sampling the placement counters failed - %e', err)
    }
  }

  /** Forgets expired codes and sessions. */
  private prune (now: number): void {
    for (const [key, expiresAt] of this.codes) {
      if (expiresAt <= now) {
        this.codes.delete(key)
      }
    }

    for (const [key, session] of this.sessions) {
      if (session.expiresAt <= now) {
        this.sessions.delete(key)
      }
    }
  }
}

/**
 * The session cookie's name. Cookies do not tell ports apart: every peer of a machine has a
 * name of its own, or logging in to one would log out of another.
 */
function cookieName (origin: string): string {
  return `caravela_session_${new URL(origin).port}`
}

function digest (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** Constant-time comparison of a presented secret with ours. */
function sameSecret (presented: string | string[] | undefined, secret: string): boolean {
  return typeof presented === 'string' && timingSafeEqual(Buffer.from(digest(presented)), Buffer.from(digest(secret)))
}

function dropOldest (map: Map<string, unknown>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) {
      return
    }
    map.delete(key)
  }
}

function html (res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...PAGE_HEADERS }).end(body)
}

function asset (res: ServerResponse, contentType: string, body: string): void {
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' }).end(body)
}
