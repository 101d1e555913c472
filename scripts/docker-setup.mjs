#!/usr/bin/env node
/**
 * Makes a Docker engine and the test image `caravela/busybox:test` available for the tests,
 * idempotently (`node scripts/docker-setup.mjs [--check]`). Plain Node ESM with no dependency, so
 * that it runs on the system Node before anything is built.
 *
 * 1. An engine answers `GET /_ping` on the socket ($DOCKER_HOST or /var/run/docker.sock): done.
 * 2. A `dockerd` process exists but does not answer yet: wait for it (never start a second one:
 *    tearing down a second engine deletes the shared docker0 bridge).
 * 3. `dockerd` or a static busybox is missing: as root, `apt-get install -y docker.io busybox-static`
 *    (`apt-get update` first only when apt knows no candidate for them).
 * 4. No engine runs: start ONE `dockerd` in its own session, logging to
 *    /var/log/caravela-dockerd.log, and wait until it answers.
 * 5. The image `caravela/busybox:test` is missing: build a rootfs holding the static busybox and
 *    its applet links, and import it through the engine API (`CMD ["sh"]`).
 *
 * Prints one line per step. On failure it prints what the user must do and exits 1.
 * `--check` only reports (exit 0 when the engine answers and the image exists, 1 otherwise).
 */

import { spawn, spawnSync } from 'node:child_process'
import { accessSync, chmodSync, closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

const DEFAULT_SOCKET = '/var/run/docker.sock'
const DOCKERD_LOG = '/var/log/caravela-dockerd.log'
const TEST_IMAGE_REPO = 'caravela/busybox'
const TEST_IMAGE_TAG = 'test'
const TEST_IMAGE = `${TEST_IMAGE_REPO}:${TEST_IMAGE_TAG}`
const APT_PACKAGES = { dockerd: 'docker.io', busybox: 'busybox-static' }
/** How long a starting engine gets to answer */
const ENGINE_START_TIMEOUT_MS = 60_000
const POLL_INTERVAL_MS = 500
const PING_TIMEOUT_MS = 3_000
/** Time limit of one engine API request (the image import included) */
const REQUEST_TIMEOUT_MS = 120_000
/** Directories searched for executables besides $PATH (sbin is often missing from a user's PATH) */
const EXTRA_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
/** ELF program header type of the interpreter request: present in dynamically linked executables */
const PT_INTERP = 3

const checkOnly = process.argv.includes('--check')
const endpoint = dockerEndpoint()

function step (message) {
  console.log(`docker-setup: ${message}`)
}

/** Print what the user must do and exit non-zero. */
function fail (message, todo) {
  console.error(`docker-setup: FAILED: ${message}`)
  console.error(`docker-setup: to fix: ${todo}`)
  process.exit(1)
}

/** Where the engine listens: a unix socket, or host and port for tcp:// */
function dockerEndpoint () {
  const host = process.env.DOCKER_HOST

  if (host == null || host === '') {
    return { socketPath: DEFAULT_SOCKET, label: DEFAULT_SOCKET }
  }

  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length)
    return { socketPath, label: socketPath }
  }

  if (host.startsWith('tcp://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'))
    return { host: url.hostname, port: Number(url.port || 2375), label: host }
  }

  fail(`DOCKER_HOST=${host} is not a unix:// or tcp:// address`, 'unset DOCKER_HOST or point it to unix:///var/run/docker.sock')
}

/**
 * One request to the engine API. Resolves with the status and body; rejects on a socket error
 * (ENOENT, ECONNREFUSED, EACCES...).
 */
function request (method, path, { body, headers, timeout = REQUEST_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const target = endpoint.socketPath != null ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port }
    const req = http.request({ ...target, method, path, headers, timeout }, res => {
      const chunks = []
      res.on('data', chunk => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(Object.assign(new Error(`no answer within ${timeout} ms`), { code: 'ETIMEDOUT' })) })
    req.on('error', reject)

    if (body != null && typeof body.pipe === 'function') {
      body.on('error', err => req.destroy(err))
      body.pipe(req)
    } else {
      req.end(body)
    }
  })
}

/** `{ ok: true }` when the engine answers `_ping`, else `{ ok: false, code, message }`. */
async function ping () {
  try {
    const res = await request('GET', '/_ping', { timeout: PING_TIMEOUT_MS })
    return res.status === 200 ? { ok: true } : { ok: false, code: `HTTP ${res.status}`, message: res.body.trim() }
  } catch (err) {
    return { ok: false, code: err.code ?? 'ERROR', message: err.message }
  }
}

/** Pids of running processes whose command name is `name` (read from /proc). */
function processesNamed (name) {
  const pids = []

  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue
    }

    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) {
        pids.push(Number(entry))
      }
    } catch {
      // the process ended meanwhile
    }
  }

  return pids
}

/** Absolute path of an executable, or undefined. */
function which (name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_PATH]

  for (const dir of dirs) {
    const path = join(dir, name)

    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {}
  }

  return undefined
}

/** True when `path` is an ELF executable without an interpreter (statically linked). */
function isStaticElf (path) {
  const fd = openSync(path, 'r')

  try {
    const header = Buffer.alloc(64)
    readSync(fd, header, 0, 64, 0)

    if (header.readUInt32BE(0) !== 0x7f454c46) {
      return false
    }

    const is64 = header[4] === 2
    const le = header[5] === 1
    const u16 = offset => le ? header.readUInt16LE(offset) : header.readUInt16BE(offset)
    const phoff = is64 ? Number(le ? header.readBigUInt64LE(0x20) : header.readBigUInt64BE(0x20)) : (le ? header.readUInt32LE(0x1c) : header.readUInt32BE(0x1c))
    const phentsize = u16(is64 ? 0x36 : 0x2a)
    const phnum = u16(is64 ? 0x38 : 0x2c)
    const table = Buffer.alloc(phentsize * phnum)
    readSync(fd, table, 0, table.length, phoff)

    for (let i = 0; i < phnum; i++) {
      const type = le ? table.readUInt32LE(i * phentsize) : table.readUInt32BE(i * phentsize)

      if (type === PT_INTERP) {
        return false
      }
    }

    return true
  } finally {
    closeSync(fd)
  }
}

/** The static busybox to put in the image, or undefined. */
function staticBusybox () {
  for (const path of [which('busybox'), '/bin/busybox', '/usr/bin/busybox'].filter(Boolean)) {
    try {
      if (isStaticElf(path)) {
        return path
      }
    } catch {}
  }

  return undefined
}

function isRoot () {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

function run (command, args, env = {}) {
  step(`running: ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } })
  return result.status === 0
}

/** Install Debian packages as root; `apt-get update` only when apt knows no candidate for one of them. */
function aptInstall (packages) {
  if (which('apt-get') == null) {
    fail(`${packages.join(' and ')} missing and this is not a Debian-like system (no apt-get)`,
      'install Docker Engine and a statically linked busybox for your system, start dockerd, then run this again')
  }

  const policy = spawnSync('apt-cache', ['policy', ...packages], { encoding: 'utf8' })
  const known = packages.every(p => new RegExp(`^${p.replace(/[.+]/g, '\\$&')}:\\s*\\n\\s*Installed:.*\\n\\s*Candidate: (?!\\(none\\))`, 'm').test(policy.stdout ?? ''))

  if (!known && !run('apt-get', ['update'])) {
    fail('apt-get update failed', `check the apt sources and the network, then run: apt-get update && apt-get install -y ${packages.join(' ')}`)
  }

  if (!run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { DEBIAN_FRONTEND: 'noninteractive' })) {
    fail(`apt-get install ${packages.join(' ')} failed`, `run as root: apt-get update && apt-get install -y ${packages.join(' ')}`)
  }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Poll `_ping` until it answers or the time is up; stops early when `alive()` says the engine died. */
async function waitForEngine (timeoutMs, alive = () => true) {
  const deadline = Date.now() + timeoutMs
  let last

  while (Date.now() < deadline) {
    last = await ping()

    if (last.ok) {
      return last
    }

    if (!alive()) {
      return { ...last, died: true }
    }

    await sleep(POLL_INTERVAL_MS)
  }

  return last ?? { ok: false, code: 'ETIMEDOUT', message: 'no answer' }
}

function logTail (lines = 15) {
  try {
    return readFileSync(DOCKERD_LOG, 'utf8').trimEnd().split('\n').slice(-lines).map(l => `    ${l}`).join('\n')
  } catch {
    return '    (no log)'
  }
}

/** Start one dockerd in its own session, detached from us, its output appended to DOCKERD_LOG. */
async function startDockerd (dockerd) {
  step(`starting ${dockerd} (log: ${DOCKERD_LOG})`)
  const log = openSync(DOCKERD_LOG, 'a')
  // `detached` makes the child call setsid(): it outlives us and our terminal
  const child = spawn(dockerd, [], { detached: true, stdio: ['ignore', log, log] })
  closeSync(log)
  let exited = false
  child.on('exit', () => { exited = true })
  child.on('error', err => { exited = true; step(`could not start dockerd: ${err.message}`) })
  child.unref()

  const started = Date.now()
  const result = await waitForEngine(ENGINE_START_TIMEOUT_MS, () => !exited)

  if (!result.ok) {
    const why = result.died === true ? 'dockerd exited' : `dockerd did not answer within ${ENGINE_START_TIMEOUT_MS / 1000} s`
    console.error(`docker-setup: last lines of ${DOCKERD_LOG}:\n${logTail()}`)
    fail(`${why} (${result.code}: ${result.message})`, `read ${DOCKERD_LOG}, fix what it says, then run this again (or start dockerd yourself)`)
  }

  step(`dockerd (pid ${child.pid}) answers after ${Date.now() - started} ms`)
}

/** Make sure an engine answers, installing and starting one when allowed. */
async function ensureEngine () {
  let state = await ping()

  if (state.ok) {
    step(`engine answers on ${endpoint.label}`)
    return true
  }

  if (state.code === 'EACCES') {
    fail(`${endpoint.label} exists but this user may not use it`,
      'run as root, or add your user to the docker group (sudo usermod -aG docker $USER) and log in again')
  }

  step(`no engine answers on ${endpoint.label} (${state.code})`)

  if (endpoint.socketPath == null) {
    fail(`DOCKER_HOST=${process.env.DOCKER_HOST} does not answer`, 'start that engine, or unset DOCKER_HOST to use the local one')
  }

  const running = processesNamed('dockerd')

  if (running.length > 0) {
    step(`dockerd already runs (pid ${running.join(', ')}): waiting for it, not starting another`)

    if (checkOnly) {
      return false
    }

    state = await waitForEngine(ENGINE_START_TIMEOUT_MS)

    if (!state.ok) {
      fail(`dockerd (pid ${running.join(', ')}) runs but does not answer on ${endpoint.label} (${state.code})`,
        `check its log (${DOCKERD_LOG} when this script started it); restart it: kill ${running.join(' ')}, then run this again`)
    }

    step(`engine answers on ${endpoint.label}`)
    return true
  }

  let dockerd = which('dockerd')

  if (checkOnly) {
    step(dockerd == null ? 'dockerd is not installed' : `dockerd is installed (${dockerd}) but not running`)
    return false
  }

  if (dockerd == null) {
    if (!isRoot()) {
      fail('no Docker engine answers and dockerd is not installed',
        'run this as root (sudo node scripts/docker-setup.mjs), or: sudo apt-get install -y docker.io busybox-static && sudo systemctl start docker')
    }

    step(`dockerd is not installed: installing ${APT_PACKAGES.dockerd}`)
    aptInstall(staticBusybox() == null ? [APT_PACKAGES.dockerd, APT_PACKAGES.busybox] : [APT_PACKAGES.dockerd])
    dockerd = which('dockerd')

    if (dockerd == null) {
      fail(`${APT_PACKAGES.dockerd} was installed but no dockerd is on the PATH`, 'install Docker Engine by hand and start dockerd')
    }
  }

  if (!isRoot()) {
    fail(`dockerd is installed (${dockerd}) but no engine runs`,
      `start it as root: sudo systemctl start docker, or sudo setsid ${dockerd} >> ${DOCKERD_LOG} 2>&1 &`)
  }

  // a concurrent run of this script may have started one meanwhile
  if (processesNamed('dockerd').length > 0) {
    step('another dockerd appeared meanwhile: waiting for it')
    state = await waitForEngine(ENGINE_START_TIMEOUT_MS)

    if (!state.ok) {
      fail(`dockerd runs but does not answer (${state.code})`, `check ${DOCKERD_LOG}, restart dockerd, then run this again`)
    }

    return true
  }

  await startDockerd(dockerd)
  return true
}

async function imageExists () {
  const res = await request('GET', `/images/${TEST_IMAGE}/json`)

  if (res.status === 200) {
    return true
  }

  if (res.status === 404) {
    return false
  }

  fail(`the engine answered HTTP ${res.status} to an image lookup: ${res.body.trim()}`, `check ${DOCKERD_LOG} and the engine`)
}

/** A rootfs directory holding the static busybox as bin/busybox and a link per applet. */
function buildRootfs (busybox) {
  const root = mkdtempSync(join(tmpdir(), 'caravela-busybox-'))

  for (const dir of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'var/www', 'home']) {
    mkdirSync(join(root, dir), { recursive: true })
  }

  chmodSync(join(root, 'tmp'), 0o1777)
  copyFileSync(busybox, join(root, 'bin', 'busybox'))
  chmodSync(join(root, 'bin', 'busybox'), 0o755)

  const list = spawnSync(busybox, ['--list'], { encoding: 'utf8' })

  if (list.status !== 0) {
    fail(`${busybox} --list failed`, `reinstall busybox-static (apt-get install --reinstall -y ${APT_PACKAGES.busybox})`)
  }

  const applets = list.stdout.split('\n').map(s => s.trim()).filter(s => s !== '' && s !== 'busybox' && !s.includes('/'))

  for (const applet of applets) {
    symlinkSync('busybox', join(root, 'bin', applet))
  }

  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n')
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n')

  return { root, applets: applets.length }
}

/** Import the rootfs as TEST_IMAGE through `POST /images/create?fromSrc=-`. */
async function importRootfs (root) {
  const changes = encodeURIComponent('CMD ["sh"]')
  const tar = spawn('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const tarExit = new Promise(resolve => tar.on('close', resolve))
  const res = await request('POST', `/images/create?fromSrc=-&repo=${encodeURIComponent(TEST_IMAGE_REPO)}&tag=${TEST_IMAGE_TAG}&changes=${changes}`, {
    body: tar.stdout,
    headers: { 'Content-Type': 'application/x-tar' }
  })
  const tarStatus = await tarExit

  if (tarStatus !== 0) {
    fail(`tar exited with ${tarStatus}`, 'make sure tar is installed and /tmp is writable')
  }

  // the progress stream may report an error with HTTP 200
  const error = res.body.split('\n').filter(Boolean).map(line => { try { return JSON.parse(line) } catch { return {} } }).find(m => m.error != null)

  if (res.status !== 200 || error != null) {
    fail(`importing ${TEST_IMAGE} failed (HTTP ${res.status}): ${error?.error ?? res.body.trim()}`, `check ${DOCKERD_LOG} and the free disk space of /var/lib/docker`)
  }
}

async function ensureImage () {
  if (await imageExists()) {
    step(`image ${TEST_IMAGE} is present`)
    return true
  }

  if (checkOnly) {
    step(`image ${TEST_IMAGE} is missing`)
    return false
  }

  step(`image ${TEST_IMAGE} is missing: building it from a static busybox`)
  let busybox = staticBusybox()

  if (busybox == null) {
    if (!isRoot()) {
      fail('no statically linked busybox found', `install it (sudo apt-get install -y ${APT_PACKAGES.busybox}) or run this as root`)
    }

    aptInstall([APT_PACKAGES.busybox])
    busybox = staticBusybox()

    if (busybox == null) {
      fail(`${APT_PACKAGES.busybox} was installed but no static busybox was found`, 'put a statically linked busybox at /bin/busybox')
    }
  }

  const started = Date.now()
  const { root, applets } = buildRootfs(busybox)

  try {
    step(`rootfs ${root}: ${busybox} and ${applets} applet links`)
    await importRootfs(root)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }

  if (!(await imageExists())) {
    fail(`${TEST_IMAGE} is still missing after the import`, `check ${DOCKERD_LOG}`)
  }

  step(`image ${TEST_IMAGE} imported in ${Date.now() - started} ms`)
  return true
}

const engine = await ensureEngine()

if (!engine) {
  step('check: no engine answers; run `node scripts/docker-setup.mjs` (as root) to install or start one')
  process.exit(1)
}

const image = await ensureImage()

if (!image) {
  step('check: the test image is missing; run `node scripts/docker-setup.mjs` to build it')
  process.exit(1)
}

step('ready')
