/**
 * DockerRuntime against the real local engine (run `node scripts/docker-setup.mjs` first: it starts
 * an engine and builds `caravela/busybox:test`). Fails, never skips, when no engine answers.
 * Every container is labelled with this run's owner ids and removed in `after`.
 */

import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import http from 'node:http'
import { connect, createServer } from 'node:net'
import { defaultLogger } from '@libp2p/logger'
import * as assert from 'uvu/assert'
import { systemClock } from '../src/clock.js'
import { isImageAllowed } from '../src/image-ref.js'
import { RuntimeHealth } from '../src/roles/runtime-health.js'
import { DEFAULT_DOCKER_SOCKET, DockerRuntime, LABEL_OWNER } from '../src/runtime/docker-runtime.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { ContainerConfig, ContainerExit, PortMapping } from '../src/types.js'

const IMAGE = 'caravela/busybox:test'
const RUN = randomBytes(4).toString('hex')
const OWNER = `test-owner-${RUN}`
const OTHER = `test-other-${RUN}`
const CPU_SLICES = 4
const MB = 1024 * 1024
const HTTP_WAIT_MS = 10_000
const EXIT_WAIT_MS = 15_000
const LABELS = { 'caravela.buyer': `test-buyer-${RUN}`, 'caravela.offer': '1', 'caravela.request': `req-${RUN}` }

/** the engine under test (CARAVELA_TEST_DOCKER_SOCKET points elsewhere, e.g. to check that no engine fails the suite) */
const SOCKET = process.env.CARAVELA_TEST_DOCKER_SOCKET ?? DEFAULT_DOCKER_SOCKET
const runtime = new DockerRuntime({ ownerPeerId: OWNER, cpuSlices: CPU_SLICES, socketPath: SOCKET })
const other = new DockerRuntime({ ownerPeerId: OTHER, cpuSlices: CPU_SLICES, socketPath: SOCKET })
const timings: Record<string, number[]> = { 'create+start': [], remove: [] }

function config (overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    name: '',
    image: IMAGE,
    args: ['sleep', '60'],
    portMappings: [],
    resources: { cpuClass: 0, cpus: 1, memory: 32 },
    groupPolicy: 'spread',
    ...overrides
  }
}

/** One request to the engine API on the default socket (the test reads state independently of the runtime). */
async function engine (method: string, path: string): Promise<{ status: number, body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: SOCKET, method, path }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: any = text
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** Ids of the containers (all states) labelled with `label=value`. */
async function containersLabelled (label: string, value: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${label}=${value}`] }))
  const res = await engine('GET', `/containers/json?all=1&filters=${filters}`)
  assert.is(res.status, 200, `list containers: ${JSON.stringify(res.body)}`)
  return res.body.map((c: any) => c.Id)
}

async function inspect (id: string): Promise<{ status: number, body: any }> {
  return engine('GET', `/containers/${id}/json`)
}

async function rejection (promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (err) {
    return err
  }

  throw new Error('expected a rejection, the promise resolved')
}

/** GET http://127.0.0.1:port/, retried until the server answers. */
async function httpGet (port: number): Promise<{ status: number, text: string }> {
  const deadline = Date.now() + HTTP_WAIT_MS
  let last: unknown

  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) })
      return { status: res.status, text: await res.text() }
    } catch (err) {
      last = err
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  throw new Error(`nothing answered on 127.0.0.1:${port} within ${HTTP_WAIT_MS} ms: ${String(last)}`)
}

/** A TCP port free on 127.0.0.1 right now. */
async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => { resolve(port) })
    })
  })
}

async function removeAll (): Promise<void> {
  for (const owner of [OWNER, OTHER]) {
    for (const id of await containersLabelled(LABEL_OWNER, owner)) {
      await engine('DELETE', `/containers/${id}?force=1`)
    }
  }
}

const Docker = suite('docker runtime (real engine)')

Docker.after(async () => {
  await runtime.close()
  await other.close()
  await removeAll().catch(err => { console.error(`  cleanup failed: ${err.message}`) })
  const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  console.log(`  timings: create+start p50 ${p50(timings['create+start'])} ms (${timings['create+start'].join(', ')}), remove p50 ${p50(timings.remove)} ms (${timings.remove.join(', ')})`)
})

Docker('an engine answers (run scripts/docker-setup.mjs when this fails); no engine gives DockerUnavailableError', async () => {
  const connected = await DockerRuntime.connect({ ownerPeerId: OWNER, socketPath: SOCKET }).catch(err => {
    throw new Error(`No Docker engine for the tests: ${err.message}`)
  })
  await connected.close()

  const err = await rejection(DockerRuntime.connect({ ownerPeerId: OWNER, socketPath: `/tmp/caravela-no-engine-${RUN}.sock` }))
  assert.is(err.name, 'DockerUnavailableError')
  assert.match(err.message, /docker-setup/)
})

Docker('getCpuAndRam: cores and MB of the engine', async () => {
  const { cpus, memory } = await runtime.getCpuAndRam()
  const info = (await engine('GET', '/info')).body
  assert.ok(Number.isInteger(cpus) && cpus >= 1, `cpus ${cpus}`)
  assert.is(cpus, info.NCPU)
  assert.ok(memory > 0, `memory ${memory}`)
  assert.is(memory, Math.floor(info.MemTotal / MB))
})

Docker('runContainer: httpd answers on the assigned port; limits, hardening and labels applied; remove removes', async () => {
  const mapping: PortMapping = { hostPort: 0, containerPort: 8080, protocol: 'tcp' }
  const started = Date.now()
  const { containerId, portMappings } = await runtime.runContainer(config({
    name: `caravela-test-web-${RUN}`,
    args: ['sh', '-c', 'mkdir -p /www && echo caravela-ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
    portMappings: [mapping],
    resources: { cpuClass: 0, cpus: 2, memory: 64 }
  }), LABELS)
  timings['create+start'].push(Date.now() - started)

  assert.match(containerId, /^[0-9a-f]{64}$/)
  assert.is(portMappings.length, 1)
  assert.is(portMappings[0].containerPort, 8080)
  assert.ok(portMappings[0].hostPort > 0, `host port ${portMappings[0].hostPort}`)

  const res = await httpGet(portMappings[0].hostPort)
  assert.is(res.status, 200)
  assert.is(res.text.trim(), 'caravela-ok')

  const { status, body } = await inspect(containerId)
  assert.is(status, 200)
  const host = body.HostConfig
  assert.is(host.NanoCpus, 2 / CPU_SLICES * 1e9)
  assert.is(host.Memory, 64 * MB)
  assert.is(host.MemorySwap, 64 * MB)
  assert.is(host.PidsLimit, 256)
  assert.equal(host.SecurityOpt, ['no-new-privileges'])
  assert.is(host.Privileged, false)
  assert.equal(host.CapDrop, ['ALL'])
  assert.not.ok(host.CapAdd.includes('NET_RAW'))
  assert.is(host.PortBindings['8080/tcp'][0].HostIp, '127.0.0.1')
  assert.is(body.NetworkSettings.Ports['8080/tcp'][0].HostIp, '127.0.0.1')
  assert.is(body.Name, `/caravela-test-web-${RUN}`)
  assert.equal(body.Config.Labels, { ...LABELS, [LABEL_OWNER]: OWNER })
  assert.is(await runtime.checkContainerStatus(containerId), 'running')
  assert.ok((await runtime.listOwned()).some(c => c.containerId === containerId && c.state === 'running' && c.image === IMAGE))

  const removing = Date.now()
  await runtime.removeContainer(containerId)
  timings.remove.push(Date.now() - removing)
  assert.is((await inspect(containerId)).status, 404)
  assert.is((await rejection(runtime.removeContainer(containerId))).name, 'ContainerNotFoundError')
  assert.is((await rejection(runtime.checkContainerStatus(containerId))).name, 'ContainerNotFoundError')
})

Docker('supplier limits: no network, read-only root, open files, processes and logs, applied and felt inside the container', async () => {
  const strict = new DockerRuntime({
    ownerPeerId: OWNER, cpuSlices: CPU_SLICES, socketPath: SOCKET, network: 'none', readOnlyRootfs: true, openFilesLimit: 512, pidsLimit: 32, logMaxSize: 2, logMaxFiles: 1
  })
  const exits: ContainerExit[] = []
  const unsubscribe = strict.onExit(exit => { exits.push(exit) })

  try {
    // each check exits with its own code when the limit is not there
    const script = [
      'touch /written 2>/dev/null && exit 11',
      '[ "$(ulimit -n)" = 512 ] || exit 12',
      'touch /tmp/scratch || exit 13',
      '[ "$(ls /sys/class/net)" = lo ] || exit 14',
      'exit 0'
    ].join('; ')
    const { containerId } = await strict.runContainer(config({ args: ['sh', '-c', script] }), LABELS)
    const host = (await inspect(containerId)).body.HostConfig
    assert.is(host.NetworkMode, 'none')
    assert.is(host.ReadonlyRootfs, true)
    assert.is(host.PidsLimit, 32)
    assert.equal(host.Ulimits, [{ Name: 'nofile', Soft: 512, Hard: 512 }])
    assert.equal(host.LogConfig, { Type: 'json-file', Config: { 'max-file': '1', 'max-size': '2m' } })
    await waitFor(() => exits.some(e => e.containerId === containerId), { timeout: EXIT_WAIT_MS, interval: 50, message: 'the checks to end' })
    assert.is(exits.find(e => e.containerId === containerId)?.exitCode, 0, 'every limit is felt inside the container')
    await strict.removeContainer(containerId)

    const err = await rejection(strict.runContainer(config({ portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] }), LABELS))
    assert.is(err.name, 'ContainerStartError')
    assert.match(err.message, /without a network/)
  } finally {
    unsubscribe()
    await strict.close()
  }
})

Docker('cpuSlices given as a function is read at every launch (a peer that adopts its network\'s configuration)', async () => {
  let slices = 2
  const adopting = new DockerRuntime({ ownerPeerId: OWNER, cpuSlices: () => slices, socketPath: SOCKET })
  const ids: string[] = []

  try {
    for (const [now, nanoCpus] of [[2, 0.5e9], [1, 1e9]]) {
      slices = now
      const { containerId } = await adopting.runContainer(config(), LABELS)
      ids.push(containerId)
      assert.is((await inspect(containerId)).body.HostConfig.NanoCpus, nanoCpus)
    }
  } finally {
    await Promise.all(ids.map(async id => adopting.removeContainer(id)))
    await adopting.close()
  }
})

Docker('a missing image that cannot be pulled fails cleanly and leaves no container', async () => {
  const request = `req-missing-${RUN}`
  const started = Date.now()
  const err = await rejection(runtime.runContainer(config({ image: `caravela/missing-${RUN}:never` }), { ...LABELS, 'caravela.request': request }))
  assert.is(err.name, 'ImagePullError', err.message)
  assert.match(err.message, /missing/)
  assert.equal(await containersLabelled('caravela.request', request), [])
  console.log(`  failed pull took ${Date.now() - started} ms: ${err.message}`)
})

Docker('an image outside the allow-list is refused before anything is created', async () => {
  const guarded = new DockerRuntime({ ownerPeerId: OWNER, socketPath: SOCKET, imageAllowList: ['caravela/busybox:test', 'nginx'] })
  const request = `req-refused-${RUN}`
  const err = await rejection(guarded.runContainer(config({ image: 'evil/miner:latest' }), { ...LABELS, 'caravela.request': request }))
  assert.is(err.name, 'ImageNotAllowedError')
  assert.equal(await containersLabelled('caravela.request', request), [])

  const allowed = await guarded.runContainer(config(), LABELS)
  await guarded.removeContainer(allowed.containerId)
  await guarded.close()
})

Docker('allow-list patterns: repository, tag, digest and wildcard', () => {
  assert.ok(isImageAllowed([], 'anything:at-all'))
  assert.ok(isImageAllowed(['nginx'], 'nginx'))
  assert.ok(isImageAllowed(['nginx'], 'docker.io/library/nginx:1.27'))
  assert.ok(isImageAllowed(['nginx:latest'], 'nginx'))
  assert.not.ok(isImageAllowed(['nginx:latest'], 'nginx:1.27'))
  assert.not.ok(isImageAllowed(['nginx'], 'nginxx'))
  assert.ok(isImageAllowed(['caravela/*'], 'caravela/busybox:test'))
  assert.not.ok(isImageAllowed(['caravela/*'], 'evil/caravela'))
  assert.ok(isImageAllowed(['redis@sha256:abc'], 'redis@sha256:abc'))
  assert.not.ok(isImageAllowed(['redis@sha256:abc'], 'redis:7'))
  assert.ok(isImageAllowed(['localhost:5000/app'], 'localhost:5000/app:v2'))
})

Docker('a container that exits on its own fires onExit with its code; one we remove does not', async () => {
  const exits: ContainerExit[] = []
  const unsubscribe = runtime.onExit(exit => { exits.push(exit) })

  try {
    const removed = await runtime.runContainer(config(), LABELS)
    const { containerId } = await runtime.runContainer(config({ args: ['sh', '-c', 'exit 3'] }), LABELS)
    await runtime.removeContainer(removed.containerId)
    await waitFor(() => exits.some(e => e.containerId === containerId), { timeout: EXIT_WAIT_MS, interval: 50, message: `the exit of ${containerId.slice(0, 12)}` })
    assert.equal(exits.find(e => e.containerId === containerId), { containerId, exitCode: 3 })
    assert.is(await runtime.checkContainerStatus(containerId), 'exited')
    // the die event of the removed container came before the exit's, or not at all
    assert.not.ok(exits.some(e => e.containerId === removed.containerId), 'removal reported as an exit')
    await runtime.removeContainer(containerId)
  } finally {
    unsubscribe()
  }
})

Docker('the event stream reopens after a drop and reports the exits it missed', async () => {
  // a unix-socket proxy to the engine, which the test cuts and restores
  const proxyPath = `/tmp/caravela-docker-proxy-${RUN}.sock`
  const sockets = new Set<import('node:net').Socket>()
  /** the engine has answered through the proxy */
  let answered = false
  const proxy = createServer(client => {
    const upstream = connect(SOCKET)
    sockets.add(client).add(upstream)
    upstream.once('data', () => { answered = true })
    client.on('error', () => {}).on('close', () => { upstream.destroy() })
    upstream.on('error', () => {}).on('close', () => { client.destroy() })
    client.pipe(upstream).pipe(client)
  })
  const listen = async (): Promise<void> => { await new Promise<void>(resolve => proxy.listen(proxyPath, resolve)) }
  await rm(proxyPath, { force: true })
  await listen()

  const proxied = new DockerRuntime({ ownerPeerId: OWNER, socketPath: proxyPath })
  const exits: ContainerExit[] = []
  proxied.onExit(exit => { exits.push(exit) })

  try {
    await waitFor(() => answered, { timeout: EXIT_WAIT_MS, interval: 50, message: 'the event stream to open through the proxy' })

    // cut: the stream drops and cannot reopen
    await new Promise<void>(resolve => {
      proxy.close(() => { resolve() })
      sockets.forEach(s => s.destroy())
      sockets.clear()
    })

    // exits while the stream is down
    const { containerId } = await runtime.runContainer(config({ args: ['sh', '-c', 'exit 4'] }), LABELS)
    await waitFor(async () => (await inspect(containerId)).body.State.Status === 'exited', { timeout: EXIT_WAIT_MS, interval: 50, message: `${containerId.slice(0, 12)} to exit` })
    assert.equal(exits, [])

    await listen()
    await waitFor(() => exits.some(e => e.containerId === containerId), { timeout: EXIT_WAIT_MS, interval: 50, message: `the exit of ${containerId.slice(0, 12)}, missed while the stream was down` })
    assert.equal(exits, [{ containerId, exitCode: 4 }])
    await runtime.removeContainer(containerId)
  } finally {
    await proxied.close()
    sockets.forEach(s => s.destroy())
    await new Promise(resolve => proxy.close(resolve))
    await rm(proxyPath, { force: true })
  }
})

Docker('runtime health: a runtime whose socket goes away is reported unavailable, and ok again once it answers (the shared engine is never stopped)', async () => {
  // a unix-socket proxy to the engine: closing it is, for the runtime behind it, an engine that stopped
  const proxyPath = `/tmp/caravela-docker-health-${RUN}.sock`
  const sockets = new Set<import('node:net').Socket>()
  const proxy = createServer(client => {
    const upstream = connect(SOCKET)
    sockets.add(client).add(upstream)
    client.on('error', () => {}).on('close', () => { upstream.destroy() })
    upstream.on('error', () => {}).on('close', () => { client.destroy() })
    client.pipe(upstream).pipe(client)
  })
  const listen = async (): Promise<void> => { await new Promise<void>(resolve => proxy.listen(proxyPath, resolve)) }
  await rm(proxyPath, { force: true })
  await listen()

  const proxied = new DockerRuntime({ ownerPeerId: OWNER, socketPath: proxyPath })
  const events: string[] = []
  const health = new RuntimeHealth({
    runtime: proxied,
    clock: systemClock,
    interval: 100,
    timeout: 2_000,
    log: defaultLogger().forComponent('test:runtime-health'),
    onDown: () => { events.push('down') },
    reconcile: async () => { events.push('reconcile') },
    onUp: () => { events.push('up') }
  })

  try {
    await proxied.health()
    health.start()
    await health.check()
    assert.is(health.state.state, 'ok')

    // the socket goes away
    const cutAt = Date.now()
    await new Promise<void>(resolve => {
      proxy.close(() => { resolve() })
      sockets.forEach(s => s.destroy())
      sockets.clear()
    })
    await rm(proxyPath, { force: true })
    assert.is((await rejection(proxied.health())).name, 'DockerUnavailableError')
    await waitFor(() => health.state.state === 'unavailable', { timeout: HTTP_WAIT_MS, interval: 20, message: 'the runtime to be reported unavailable' })
    const detectedIn = Date.now() - cutAt
    assert.match(health.state.reason ?? '', new RegExp(`No Docker engine answers on ${proxyPath} \\((ENOENT|ECONNREFUSED)\\)`))
    // the shared engine answers all along
    await runtime.ping()

    // the socket is back
    const backAt = Date.now()
    await listen()
    await waitFor(() => health.state.state === 'ok', { timeout: HTTP_WAIT_MS, interval: 20, message: 'the runtime to answer again' })
    const recoveredIn = Date.now() - backAt
    assert.equal(events, ['down', 'reconcile', 'up'])
    assert.is(health.state.outages, 1)
    console.log(`  runtime health through a proxy, checks every 100 ms: unavailable ${detectedIn} ms after the socket went away, ok ${recoveredIn} ms after it came back`)
  } finally {
    health.stop()
    await proxied.close()
    sockets.forEach(s => s.destroy())
    await new Promise(resolve => proxy.close(resolve))
    await rm(proxyPath, { force: true })
  }
})

Docker('runtime health: an engine that accepts but never answers is unavailable once a check times out, and the request is given up', async () => {
  const hungPath = `/tmp/caravela-docker-hung-${RUN}.sock`
  const open = new Set<import('node:net').Socket>()
  let closed = 0
  let opened = 0
  const hung = createServer(socket => {
    opened++
    open.add(socket)
    // read (and ignore) the request, so that the client's close is seen
    socket.resume()
    socket.on('error', () => {}).on('close', () => { open.delete(socket); closed++ })
  })
  await rm(hungPath, { force: true })
  await new Promise<void>(resolve => hung.listen(hungPath, resolve))
  const proxied = new DockerRuntime({ ownerPeerId: OWNER, socketPath: hungPath })
  const health = new RuntimeHealth({
    runtime: proxied,
    clock: systemClock,
    interval: 60_000,
    timeout: 200,
    log: defaultLogger().forComponent('test:runtime-health'),
    onDown: () => {},
    reconcile: async () => {},
    onUp: () => {}
  })

  try {
    const started = Date.now()
    await health.check()
    assert.is(health.state.state, 'unavailable')
    assert.match(health.state.reason ?? '', /did not answer within 200 ms/)
    assert.ok(Date.now() - started < 2_000, `the check took ${Date.now() - started} ms`)
    // the request to the hung engine is aborted, not left open
    await waitFor(() => closed > 0 && open.size === 0, { timeout: 2_000, interval: 20, message: () => `the hung request to be given up: ${opened} opened, ${closed} closed` })
  } finally {
    await proxied.close()
    open.forEach(s => s.destroy())
    await new Promise(resolve => hung.close(resolve))
    await rm(hungPath, { force: true })
  }
})

Docker('several owners on one engine: a runtime sees and touches only its own containers', async () => {
  const theirs = await other.runContainer(config(), LABELS)
  const ours = await runtime.runContainer(config(), LABELS)

  const owned = await runtime.listOwned()
  assert.ok(owned.some(c => c.containerId === ours.containerId))
  assert.not.ok(owned.some(c => c.containerId === theirs.containerId))
  assert.ok(owned.every(c => c.labels[LABEL_OWNER] === OWNER))
  assert.ok((await other.listOwned()).some(c => c.containerId === theirs.containerId))

  assert.is((await rejection(runtime.removeContainer(theirs.containerId))).name, 'ContainerNotFoundError')
  assert.is((await rejection(runtime.checkContainerStatus(theirs.containerId))).name, 'ContainerNotFoundError')
  assert.is((await inspect(theirs.containerId)).body.State.Status, 'running')

  await other.removeContainer(theirs.containerId)
  await runtime.removeContainer(ours.containerId)
})

Docker('a name in use gets a random suffix; an invalid name is made valid', async () => {
  const name = `caravela-test-dup-${RUN}`
  const first = await runtime.runContainer(config({ name }), LABELS)
  const second = await runtime.runContainer(config({ name }), LABELS)
  const odd = await runtime.runContainer(config({ name: `/my web/app ${RUN}` }), LABELS)

  assert.is((await inspect(first.containerId)).body.Name, `/${name}`)
  assert.match((await inspect(second.containerId)).body.Name, new RegExp(`^/${name}-[0-9a-f]{8}$`))
  assert.is((await inspect(odd.containerId)).body.Name, `/my-web-app-${RUN}`)
  assert.is(await runtime.checkContainerStatus(second.containerId), 'running')

  for (const c of [first, second, odd]) {
    await runtime.removeContainer(c.containerId)
  }
})

Docker('a start failure (host port taken) removes the created container and says why', async () => {
  const port = await freePort()
  const mapping: PortMapping = { hostPort: port, containerPort: 8080, protocol: 'tcp' }
  const holder = await runtime.runContainer(config({ portMappings: [mapping] }), LABELS)
  assert.is(holder.portMappings[0].hostPort, port)

  const request = `req-port-${RUN}`
  const err = await rejection(runtime.runContainer(config({ portMappings: [mapping] }), { ...LABELS, 'caravela.request': request }))
  assert.is(err.name, 'ContainerStartError')
  assert.match(err.message, /allocated|in use|bind/i)
  assert.equal(await containersLabelled('caravela.request', request), [])

  await runtime.removeContainer(holder.containerId)
})

Docker('a container asking for no CPU or no memory is refused before anything is created', async () => {
  const request = `req-unlimited-${RUN}`
  const err = await rejection(runtime.runContainer(config({ resources: { cpuClass: 0, cpus: 0, memory: 32 } }), { ...LABELS, 'caravela.request': request }))
  assert.is(err.name, 'ContainerStartError')
  assert.equal(await containersLabelled('caravela.request', request), [])
})

Docker.run()
