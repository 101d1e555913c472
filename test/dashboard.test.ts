/**
 * The web dashboard (src/api/dashboard.ts): its login and session checks over plain HTTP, then a
 * user's session in headless Chromium (puppeteer-core, Debian's `chromium`, installed by
 * scripts/browser-setup.mjs) against a 2-peer memory-runtime testnet: log in with the link of
 * `caravela dashboard`, see the network, run a container from the form, read its logs, stop it.
 */

import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer from 'puppeteer-core'
import * as assert from 'uvu/assert'
import { startTestnet } from '../scripts/testnet-lib.js'
import { Dashboard } from '../src/api/dashboard.js'
import { apiRoutes, startApiServer, TextResponse } from '../src/api/server.js'
import { main } from '../src/cli/caravela.js'
import { suite } from './fixtures/suite.js'
import { FAST_NETWORK_CONFIG } from './fixtures/testnet-config.js'
import { waitFor } from './fixtures/wait.js'
import type { ApiRoute, ApiTarget } from '../src/api/server.js'
import type { PeerMetrics } from '../src/metrics.js'
import type { ContainerView } from '../src/types.js'
import type { Browser, Page } from 'puppeteer-core'

const CHROMIUM = process.env.CARAVELA_CHROMIUM ?? '/usr/bin/chromium'
/** Where the browser test leaves its screenshots; docs/dashboard.png is one of them. */
const SCREENSHOTS = process.env.CARAVELA_SCREENSHOTS

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One request with exactly the headers given (fetch would add or forbid some). */
async function raw (url: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** `caravela <args>` in this process; its exit code and output. */
async function caravela (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, { stdout: text => { stdout += text }, stderr: text => { stderr += text }, env: {} })
  return { code, stdout, stderr }
}

const RESOURCES = { cpuClass: 0, cpus: 1, memory: 256 }

/** A peer that placed `containers` and records the ids it is asked to stop. */
function fakeTarget (containers: ContainerView[] = []): ApiTarget & { stopped: string[][] } {
  const stopped: string[][] = []
  return {
    stopped,
    status: () => ({
      peerId: 'me',
      multiaddrs: [],
      protocolPrefix: 'caravela',
      capacity: { cpus: 2, memory: 2048, cpuClass: 'low' },
      routingTableSize: 0,
      networkSize: 1,
      discoveryBackend: 'multi-offer-updates',
      nodeId: '00',
      slice: { index: 0, resources: RESOURCES, firstCell: 0, endCell: 1 },
      resourceMapDigest: '00',
      networkConfigDigest: '00',
      supplierPolicy: { allowBuyers: [], allowImages: [], allowRegistries: [], hostPorts: { min: 1024, max: 65535 }, network: 'bridge' },
      uptimeMs: 1000,
      runtime: { state: 'ok', since: 0, outages: 0 }
    }),
    peers: () => [],
    ps: () => containers,
    offers: () => ({ trading: { slice: { index: 0, resources: RESOURCES }, offers: [] }, supplying: { max: RESOURCES, available: RESOURCES, offers: [] } }),
    hosted: () => [],
    metrics: () => ({ requests: { placed: 0, failed: 0 } }) as unknown as PeerMetrics,
    resetEventLoopDelay: () => {},
    run: async () => [],
    stopContainers: async (ids: string[]) => { stopped.push(ids); return ids.map(id => ({ id, stopped: true })) },
    logs: async () => (async function * () {})(),
    inspect: async (id: string) => { throw new Error(`the fake peer inspects nothing (${id})`) },
    portForward: async (id: string) => { throw new Error(`the fake peer forwards nothing (${id})`) }
  }
}

/** A new page of `browser` that records the script errors of the pages it shows. */
async function newPage (browser: Browser, errors: string[]): Promise<Page> {
  const page = await browser.newPage()
  page.on('pageerror', err => { errors.push(String(err)) })
  return page
}

async function launchBrowser (): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: run \`node scripts/browser-setup.mjs\` as root (npm test does), or set CARAVELA_CHROMIUM`)
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
}

/** The login link of a peer's API, as `caravela dashboard` prints it. */
async function loginLink (args: string[]): Promise<string> {
  const printed = await caravela('dashboard', ...args)
  assert.is(printed.code, 0, printed.stderr)
  const link = /http:\/\/127\.0\.0\.1:\d+\/dashboard\/login\?code=[A-Za-z0-9_-]+/.exec(printed.stdout)?.[0]
  assert.ok(link, printed.stdout)
  return link
}

const Login = suite<{ dir: string }>('dashboard login')

Login.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-dashboard-'))
})

Login.after.each(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true })
})

Login('a login code is good once and for a short while; a session reads the API, and changes it only from its origin with its CSRF token', async (ctx) => {
  const target = fakeTarget()
  const dashboard = new Dashboard({ target, codeTtl: 300 })
  const server = await startApiServer({ host: '127.0.0.1', port: 0, dataDir: ctx.dir, routes: apiRoutes(target), browser: dashboard })

  try {
    const token = (await readFile(join(ctx.dir, 'api-token'), 'utf8')).trim()
    const newCode = async (): Promise<{ code: string, path: string }> => JSON.parse((await raw(`${server.url}/v1/dashboard/login-codes`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })).body)
    const origin = server.url
    const host = new URL(origin).host

    assert.is((await raw(`${origin}/v1/dashboard/login-codes`, { method: 'POST' })).status, 401, 'no login code without the bearer token')
    const unauthenticated = await raw(`${origin}/dashboard/`)
    assert.is(unauthenticated.status, 303)
    assert.is(unauthenticated.headers.location, '/dashboard/login')
    assert.is((await raw(`${origin}/v1/node`)).status, 401)
    assert.is((await raw(`${origin}/v1/events`)).status, 401)

    const expired = await newCode()
    await new Promise(resolve => setTimeout(resolve, 400))
    assert.is((await raw(origin + expired.path)).status, 403, 'an expired code is refused')

    const { path } = await newCode()
    const login = await raw(origin + path)
    assert.is(login.status, 303)
    assert.is(login.headers.location, '/dashboard/')
    const setCookie = String(login.headers['set-cookie'])
    assert.match(setCookie, new RegExp(`^caravela_session_${new URL(origin).port}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200$`))
    assert.is((await raw(origin + path)).status, 403, 'a used code is refused')

    const cookie = setCookie.split(';')[0]
    const page = await raw(`${origin}/dashboard/`, { headers: { Cookie: cookie } })
    assert.is(page.status, 200)
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
    assert.is(page.headers['referrer-policy'], 'no-referrer')
    const csrf = /name="caravela-csrf" content="([^"]+)"/.exec(page.body)?.[1] ?? ''
    assert.ok(csrf.length > 20, 'the page carries the session\'s CSRF token')
    assert.equal(JSON.parse((await raw(`${origin}/v1/peers`, { headers: { Cookie: cookie } })).body), [])
    assert.is((await raw(`${origin}/dashboard/`, { headers: { Cookie: cookie, Host: `localhost:${new URL(origin).port}` } })).status, 403, 'another host name (DNS rebinding) is refused')
    assert.is((await raw(`${origin}/v1/dashboard/login-codes`, { method: 'POST', headers: { Cookie: cookie, Origin: origin, 'X-Caravela-CSRF': csrf } })).status, 401, 'a session mints no login code')

    const stop = async (headers: Record<string, string>): Promise<number> => (await raw(`${origin}/v1/containers/stop`, { method: 'POST', headers: { Cookie: cookie, Host: host, 'Content-Type': 'application/json', ...headers }, body: '{"ids":["abc"]}' })).status
    assert.is(await stop({ Origin: origin }), 403, 'no CSRF token')
    assert.is(await stop({ Origin: origin, 'X-Caravela-CSRF': 'forged' }), 403, 'a wrong CSRF token')
    assert.is(await stop({ Origin: 'http://evil.example', 'X-Caravela-CSRF': csrf }), 403, 'another origin')
    assert.is(await stop({ 'X-Caravela-CSRF': csrf }), 403, 'no origin')
    assert.equal(target.stopped, [], 'no refused request reached the peer')
    assert.is(await stop({ Origin: origin, 'X-Caravela-CSRF': csrf }), 200)
    assert.equal(target.stopped, [['abc']])
  } finally {
    await server.stop()
  }
})

Login.run()

const Browse = suite<{ dir: string }>('dashboard in a browser')

Browse.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-dashboard-browser-'))
})

Browse.after.each(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true })
})

Browse('in headless Chromium a user logs in, sees the network, runs a container, reads its logs and stops it', async (ctx) => {
  const configFile = join(ctx.dir, 'fast.toml')
  await writeFile(configFile, FAST_NETWORK_CONFIG)
  const testnet = await startTestnet({ peers: 2, dir: join(ctx.dir, 'net'), protocolPrefix: 'caravela-test-dashboard', runtime: 'memory', cpus: 2, memory: '2g', extraArgs: ['--config', configFile] })
  let browser: Browser | undefined

  try {
    const [buyer, other] = testnet.peers
    const loginUrl = await loginLink(['--data-dir', buyer.dataDir])
    const origin = new URL(loginUrl).origin
    browser = await launchBrowser()
    const errors: string[] = []
    const page = await newPage(browser, errors)
    await page.setViewport({ width: 1280, height: 1000 })
    const screenshot = async (name: string): Promise<void> => {
      await page.screenshot({ path: join(SCREENSHOTS ?? ctx.dir, `${name}.png`), fullPage: true })
    }

    // without a session the dashboard sends the user to log in with `caravela dashboard`
    await page.goto(`${origin}/dashboard/`)
    assert.is(new URL(page.url()).pathname, '/dashboard/login')
    assert.match(await text(page, '#message'), 'caravela dashboard')

    const login = await page.goto(loginUrl)
    assert.is(login?.status(), 200)
    assert.is(new URL(page.url()).pathname, '/dashboard/')
    const [cookie] = await browser.cookies()
    assert.is(cookie.httpOnly, true)
    assert.is(cookie.sameSite, 'Strict')

    // this peer, and the other peer of the network in its slice
    await waitFor(async () => await text(page, '#peer-id') === buyer.peerId, { timeout: 10_000, message: 'the peer id' })
    await page.waitForSelector(`#peers tr[data-peer="${other.peerId}"]`, { timeout: 15_000 })
    assert.match(await text(page, '#slices'), other.peerId)
    assert.match(await text(page, '#slices'), `${buyer.peerId} (this peer)`)
    assert.is(await text(page, '#connection'), 'live')
    // its offers as a supplier, with the trader that keeps each
    await page.waitForSelector('#supplying tbody tr', { timeout: 15_000 })
    assert.match(await text(page, '#supplying-title'), /of 2 CPU, 2048 MB free$/)

    // a state-changing call without the CSRF header is refused, even from the page itself
    const forged = await page.evaluate(async () => (await fetch('/v1/containers/stop', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"ids":["x"]}' })).status)
    assert.is(forged, 403)

    // run a container from the form; the suppliers' offers may take a moment to reach the traders
    await page.type('#run-form input[name=image]', 'busybox')
    await page.type('#run-form input[name=args]', 'httpd -f')
    await page.type('#run-form input[name=name]', 'web')
    await page.type('#run-form input[name=cpus]', '1')
    await page.type('#run-form input[name=memory]', '256')
    await waitFor(async () => {
      await page.click('#run-form button[type=submit]')
      await page.waitForFunction('!document.querySelector("#run-status").textContent.startsWith("placing")', { timeout: 30_000 })
      return (await text(page, '#run-status')).startsWith('placed ')
    }, { timeout: 30_000, interval: 1000, message: 'the container to be placed' })
    const row = await page.waitForSelector('#placed tbody tr', { timeout: 10_000 })
    const containerId = await row!.evaluate(tr => tr.getAttribute('data-id') ?? '')
    assert.match(await text(page, '#placed tbody tr'), 'web')
    await waitFor(async () => await text(page, `#placed tr[data-id="${containerId}"] .state`) === 'running', { timeout: 10_000, message: 'the container running' })

    // placements over time count it once the server samples again
    await waitFor(async () => (await text(page, '#chart-legend')).includes('1 placed'), { timeout: 15_000, message: 'the chart to count the placement' })
    assert.ok(await page.$$eval('#chart polyline', lines => lines.length) === 2)

    // its logs, read from its supplier through this peer
    await page.click(`#placed tr[data-id="${containerId}"] button.logs`)
    await page.waitForFunction('["loaded", "unavailable"].includes(document.querySelector("#logs-text").dataset.state)', { timeout: 10_000 })
    assert.is(await page.$eval('#logs-text', el => el.getAttribute('data-state')), 'loaded', await text(page, '#logs-text'))
    await screenshot('dashboard')

    // stop it: it leaves the table
    await page.click(`#placed tr[data-id="${containerId}"] button.stop`)
    await page.waitForFunction(`document.querySelector('#placed tr[data-id="${containerId}"]') == null`, { timeout: 15_000 })
    assert.match(await text(page, '#run-status'), /^stopped /)
    await screenshot('dashboard-stopped')

    // the link of `caravela dashboard` worked once: a second visit, from a new browser context, is refused
    const fresh = await browser.createBrowserContext()
    const again = await (await fresh.newPage()).goto(loginUrl)
    assert.is(again?.status(), 403)
    assert.match(await again!.text(), 'used already or has expired')
    await fresh.close()
    assert.equal(errors, [], 'no script error')
  } finally {
    await browser?.close()
    await testnet.stop()
  }
})

Browse('the logs panel shows the output GET /v1/containers/:id/logs?tail=200 streams as base64 NDJSON chunks', async (ctx) => {
  const container: ContainerView = { containerId: 'c0'.repeat(32), name: 'greeter', image: 'busybox', args: [], supplier: { peerId: 'other', multiaddrs: [] }, state: 'running', resources: RESOURCES, portMappings: [], requestId: 'r', createdAt: 0 }
  const target = fakeTarget([container])
  // a character split across two chunks, an error that cut the output short
  const greeting = Buffer.from('héllo\nwörld\n')
  const lines = [{ stream: 'stdout', data: greeting.subarray(0, 2) }, { stream: 'stderr', data: greeting.subarray(2) }]
    .map(({ stream, data }) => JSON.stringify({ stream, data: data.toString('base64') })).concat(JSON.stringify({ error: 'supplier gone' }))
  const logsRoute: ApiRoute = { method: 'GET', path: '/v1/containers/:id/logs', handler: ({ params }) => new TextResponse(params.id === container.containerId ? lines.join('\n') + '\n' : '', 'application/x-ndjson; charset=utf-8') }
  const server = await startApiServer({ host: '127.0.0.1', port: 0, dataDir: ctx.dir, routes: [logsRoute, ...apiRoutes(target)], browser: new Dashboard({ target }) })
  let browser: Browser | undefined

  try {
    browser = await launchBrowser()
    const errors: string[] = []
    const page = await newPage(browser, errors)
    const asked: string[] = []
    page.on('request', request => { asked.push(request.url()) })
    await page.goto(await loginLink(['--api', server.url, '--token', (await readFile(join(ctx.dir, 'api-token'), 'utf8')).trim()]))
    await page.waitForSelector(`#placed tr[data-id="${container.containerId}"] button.logs`, { timeout: 10_000 })
    await page.click(`#placed tr[data-id="${container.containerId}"] button.logs`)
    await page.waitForFunction('document.querySelector("#logs-text").dataset.state === "loaded"', { timeout: 10_000 })
    assert.is(await text(page, '#logs-text'), 'héllo\nwörld\n\n[logs cut short: supplier gone]')
    assert.ok(asked.includes(`${server.url}/v1/containers/${container.containerId}/logs?tail=200`), asked.join('\n'))
    assert.equal(errors, [], 'no script error')
  } finally {
    await browser?.close()
    await server.stop()
  }
})

async function text (page: Page, selector: string): Promise<string> {
  return page.$eval(selector, element => element.textContent ?? '').catch(() => '')
}

Browse.run()
