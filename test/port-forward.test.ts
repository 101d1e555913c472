/**
 * Port-forwarding above the wire: the supplier's checks in the roles (over LocalNetwork and
 * MemoryRuntime), the control API's upgrade endpoint and `caravela port-forward` against a fake
 * peer whose tunnels reach TCP servers of the test. The whole path with libp2p and Docker is
 * test/docker-port-forward.test.ts's; the wire alone, test/protocols-port-forward.test.ts's.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request as httpRequest, createServer as createHttpServer } from 'node:http'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ApiClient } from '../src/api/client.js'
import { apiRoutes, startApiServer } from '../src/api/server.js'
import { main } from '../src/cli/caravela.js'
import { RemoteRequestError } from '../src/errors.js'
import { ContainerNotPlacedError } from '../src/roles/errors.js'
import { connectTunnel } from '../src/tunnel.js'
import { container, createRolesNetwork, rejection } from './fixtures/roles-network.js'
import { waitFor } from './fixtures/wait.js'
import type { ApiServer, ApiTarget } from '../src/api/server.js'
import type { CliIO } from '../src/cli/caravela.js'
import type { RequestContext } from '../src/protocols/handlers.js'
import type { ContainerInspect, ContainerRuntime, PortMapping } from '../src/types.js'
import type { Server as HttpServer } from 'node:http'
import type { AddressInfo, Server, Socket } from 'node:net'

// ---- the supplier's checks ----

test('roles: only the buyer reaches a running container\'s published TCP port; the memory runtime has none to reach', async () => {
  const net = await createRolesNetwork({ size: 3, runtime: i => i === 0 ? { cpus: 0, memory: 0 } : { cpus: 2, memory: 2048 } })
  const buyer = net.peers[0]
  const [status] = await buyer.roles.run([container({ cpus: 1, memory: 256 }, { portMappings: [{ hostPort: 0, containerPort: 8080, protocol: 'tcp' }, { hostPort: 0, containerPort: 53, protocol: 'udp' }] })])
  const supplier = net.byId(status.supplier.peerId)
  const stranger = net.peers.find(p => p !== buyer && p !== supplier)
  assert.ok(stranger != null)
  const ctx = (peerId: string): RequestContext => ({ from: { peerId, multiaddrs: [] }, signal: new AbortController().signal })
  const forward = async (peerId: string, containerId: string, containerPort: number): Promise<any> => supplier.roles.handlers.portForward(ctx(peerId), { containerId, containerPort })

  const buyerId = buyer.peer.peerId
  assert.is((await rejection(forward(stranger.peer.peerId, status.containerId, 8080))).status, 'REFUSED')
  assert.is((await rejection(forward(buyerId, 'f'.repeat(64), 8080))).status, 'NOT_FOUND')
  const unpublished = await rejection(forward(buyerId, status.containerId, 8081))
  assert.is(unpublished.status, 'NOT_FOUND')
  assert.match(unpublished.message, /publishes no TCP port 8081/)
  assert.is((await rejection(forward(buyerId, status.containerId, 53))).status, 'NOT_FOUND', 'a UDP port is no TCP port')
  const noProcesses = await rejection(forward(buyerId, status.containerId, 8080))
  assert.is(noProcesses.name, 'NotImplementedError')
  assert.match(noProcesses.message, /runs no processes/)

  // a runtime that can reach ports is handed the port as the engine published it
  const echo = await listen(socket => { socket.pipe(socket) })
  const asked: PortMapping[] = []
  const runtime: ContainerRuntime = supplier.runtime
  runtime.connectPort = async (containerId, mapping) => {
    asked.push(mapping)
    return connectTunnel('127.0.0.1', echo.port)
  }

  try {
    const tunnel = await forward(buyerId, status.containerId, 8080)
    const [, back] = await Promise.all([tunnel.sink([Buffer.from('ping')]), collect(tunnel.source)])
    assert.is(back.toString(), 'ping')
    const [published] = (await supplier.runtime.listOwned()).map(c => c.portMappings?.find(m => m.containerPort === 8080))
    assert.equal(asked, [published])
    assert.ok((published?.hostPort ?? 0) > 0)

    // the runtime failing to connect is UNAVAILABLE, with why
    runtime.connectPort = async () => { throw new Error('connection refused') }
    const refused = await rejection(forward(buyerId, status.containerId, 8080))
    assert.is(refused.status, 'UNAVAILABLE')
    assert.match(refused.message, /connection refused/)

    // an exited container has no ports
    supplier.runtime.kill(status.containerId, 0)
    await waitFor(async () => (await rejection(forward(buyerId, status.containerId, 8080))).status === 'NOT_FOUND', { timeout: 2_000, message: () => 'an exited container to have no port' })
  } finally {
    echo.server.close()
    await net.stop()
  }

  // the buyer's side: an id it did not place
  assert.is((await rejection(buyer.roles.portForward('nope-nope', 8080))).name, 'ContainerNotPlacedError')
})

// ---- the control API and the command ----

const FORWARDED = 'f0'.repeat(32)
/** container ports of FORWARDED: HTTP serves a page; REVERSE answers, reversed, what came once the client ended its side */
const HTTP = 8080
const REVERSE = 7

interface TcpServer {
  server: Server
  port: number
}

async function listen (onConnection: (socket: Socket) => void): Promise<TcpServer> {
  const server = createServer({ allowHalfOpen: true }, socket => {
    socket.on('error', () => {})
    onConnection(socket)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return { server, port: (server.address() as AddressInfo).port }
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []

  for await (const chunk of source) {
    chunks.push(chunk)
  }

  return Buffer.concat(chunks)
}

interface ApiContext {
  dir: string
  api: ApiServer
  token: string
  http: HttpServer
  httpPort: number
  reverse: TcpServer
  /** a free port, published by FORWARDED too: the local port when none is given */
  free: number
}

async function startApi (): Promise<ApiContext> {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-port-forward-'))
  const http = createHttpServer((req, res) => { res.end(`page ${req.url ?? ''}`) })
  await new Promise<void>(resolve => { http.listen(0, '127.0.0.1', resolve) })
  const httpPort = (http.address() as AddressInfo).port
  const reverse = await listen(socket => {
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => { socket.end(Buffer.from([...Buffer.concat(chunks)].reverse())) })
  })
  const probe = await listen(() => {})
  const free = probe.port
  await new Promise(resolve => { probe.server.close(resolve) })
  const ports = [HTTP, REVERSE, free].map(containerPort => ({ hostPort: 40_000 + containerPort % 1000, containerPort, protocol: 'tcp' as const }))
  const target = {
    inspect: async (id: string): Promise<ContainerInspect> => {
      if (id.length < 4 || !FORWARDED.startsWith(id)) {
        throw new ContainerNotPlacedError(`no container ${id} was placed by this peer`)
      }

      return { containerId: FORWARDED, name: 'web', image: 'busybox', args: [], supplier: { peerId: 'p', multiaddrs: [] }, state: 'running', resources: { cpuClass: 0, cpus: 1, memory: 64 }, portMappings: ports, requestId: 'r', createdAt: 0 }
    },
    portForward: async (id: string, containerPort: number) => {
      if (id !== FORWARDED) {
        throw new ContainerNotPlacedError(`no container ${id} was placed by this peer`)
      }

      if (containerPort === 9) {
        throw new RemoteRequestError('REFUSED', 'the supplier says no')
      }

      return connectTunnel('127.0.0.1', containerPort === REVERSE ? reverse.port : httpPort)
    }
  } as unknown as ApiTarget
  const api = await startApiServer({ host: '127.0.0.1', port: 0, dataDir: dir, routes: apiRoutes(target) })
  const token = (await readFile(join(dir, 'api-token'), 'utf8')).trim()
  return { dir, api, token, http, httpPort, reverse, free }
}

async function stopApi (ctx: ApiContext): Promise<void> {
  await ctx.api.stop()
  ctx.http.close()
  ctx.reverse.server.close()
  await rm(ctx.dir, { recursive: true, force: true })
}

/** GET `path` from 127.0.0.1:`port` on a connection of its own: the body. */
async function get (port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, timeout: 5_000 }, res => {
      collect(res).then(body => { resolve(body.toString()) }, reject)
    })
    req.on('timeout', () => { req.destroy(new Error('no answer in time')) })
    req.on('error', reject)
    req.end()
  })
}

/** Send `text`, end our side, and read the answer to its end, on a connection to 127.0.0.1:`port`. */
async function halfClosed (port: number, text: string): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  socket.end(text)
  return (await collect(socket)).toString()
}

test('api: the upgrade answers 101 and carries the bytes, half-close included; errors are JSON answers; a plain request is 426', async () => {
  const ctx = await startApi()

  try {
    const client = new ApiClient({ url: ctx.api.url, token: ctx.token })
    const socket = await client.portForward(FORWARDED, REVERSE)
    socket.end('abc')
    assert.is((await collect(socket)).toString(), 'cba', 'the answer that comes after our end')

    const errors = await Promise.all([
      rejection(client.portForward('dddd', REVERSE)),
      rejection(client.portForward(FORWARDED, 9)),
      rejection(new ApiClient({ url: ctx.api.url, token: 'wrong' }).portForward(FORWARDED, REVERSE))
    ])
    assert.equal(errors.map(err => err.status), [404, 502, 401], errors.map(String).join('; '))
    assert.match(errors[1].message, /the supplier says no/)

    const plain = await fetch(`${ctx.api.url}/v1/containers/${FORWARDED}/port-forward/${REVERSE}`, { method: 'POST', headers: { Authorization: `Bearer ${ctx.token}` } })
    assert.is(plain.status, 426)
    assert.is(plain.headers.get('upgrade'), 'caravela-tunnel')

    for (const port of ['0', '65536', 'http']) {
      const bad = await rejection(client.portForward(FORWARDED, port as unknown as number))
      assert.is(bad.status, 400, port)
    }

    // a tunnel still open when the API stops is closed, not waited for
    const open = await client.portForward(FORWARDED, REVERSE)
    const closed = new Promise(resolve => { open.once('error', resolve) })
    await ctx.api.stop()
    await closed
  } finally {
    await stopApi(ctx)
  }
})

/** `caravela port-forward …` run in this process until `stop` is called: its exit code, output and errors. */
function forwardCommand (ctx: ApiContext, ...args: string[]): { done: Promise<number>, stop: () => void, out: () => string, err: () => string } {
  let out = ''
  let err = ''
  let stop = (): void => {}
  const interrupted = new Promise<void>(resolve => { stop = resolve })
  const io: CliIO = { stdout: text => { out += text }, stderr: text => { err += text }, env: {}, interrupted: async () => interrupted }
  const done = main(['port-forward', '--api', ctx.api.url, '--token', ctx.token, ...args], io)
  return { done, stop, out: () => out, err: () => err }
}

test('caravela port-forward: prints the port it listens on, serves connections at once, ends on interrupt; LOCAL defaults to the container port', async () => {
  const ctx = await startApi()

  try {
    const command = forwardCommand(ctx, FORWARDED.slice(0, 12), `0:${HTTP}`)
    const line = await waitFor(() => /^Forwarding 127\.0\.0\.1:(\d+) -> container (\w+) port (\d+)\n$/.exec(command.out()), { timeout: 5_000, message: () => `the Forwarding line: ${command.out()} ${command.err()}` })
    const local = Number(line[1])
    assert.is(line[2], FORWARDED.slice(0, 12))
    assert.is(line[3], String(HTTP))
    assert.ok(local > 0 && local !== HTTP)

    const pages = await Promise.all([get(local, '/one'), get(local, '/two')])
    assert.equal(pages, ['page /one', 'page /two'])

    command.stop()
    assert.is(await command.done, 0, command.err())
    assert.is(command.err(), '')
    const refused = await rejection(get(local))
    assert.is(refused.code, 'ECONNREFUSED', 'the local port is closed once the command ended')

    // a client that ends its side first still gets the answer that follows
    const reverse = forwardCommand(ctx, FORWARDED, `0:${REVERSE}`)
    const reverseLocal = Number((await waitFor(() => /127\.0\.0\.1:(\d+)/.exec(reverse.out()), { timeout: 5_000, message: () => reverse.err() }))[1])
    assert.is(await halfClosed(reverseLocal, 'hello'), 'olleh')
    reverse.stop()
    assert.is(await reverse.done, 0, reverse.err())

    // no LOCAL: the container's own port number
    const same = forwardCommand(ctx, FORWARDED, String(ctx.free))
    await waitFor(() => same.out().startsWith(`Forwarding 127.0.0.1:${ctx.free} -> container ${FORWARDED.slice(0, 12)} port ${ctx.free}\n`), { timeout: 5_000, message: () => `the Forwarding line: ${same.out()} ${same.err()}` })
    assert.is(await get(ctx.free, '/same'), 'page /same')
    same.stop()
    assert.is(await same.done, 0, same.err())
  } finally {
    await stopApi(ctx)
  }
})

test('caravela port-forward: a port the container does not publish, a bad port spec, an unknown id and a taken local port fail at once', async () => {
  const ctx = await startApi()
  const taken = await listen(() => {})

  try {
    const cases: Array<[string[], number, RegExp]> = [
      [[FORWARDED, '5000'], 1, /publishes no TCP port 5000.*run it with -p 5000/],
      [[FORWARDED, 'http'], 2, /is not \[LOCAL:\]CONTAINER_PORT/],
      [[FORWARDED, '80:0'], 2, /is not \[LOCAL:\]CONTAINER_PORT/],
      [[FORWARDED], 2, /port-forward takes a container id and \[LOCAL:\]CONTAINER_PORT/],
      [['dddd', '8080'], 1, /no container dddd/],
      [[FORWARDED, `${taken.port}:${HTTP}`], 1, /EADDRINUSE/]
    ]

    for (const [args, code, message] of cases) {
      const command = forwardCommand(ctx, ...args)
      assert.is(await command.done, code, `${args.join(' ')}: ${command.err()}`)
      assert.match(command.err(), message, args.join(' '))
      assert.is(command.out(), '')
    }

    // a connection whose tunnel fails is reset, said on stderr, and the forward goes on
    const command = forwardCommand(ctx, FORWARDED, `0:${HTTP}`)
    const local = Number((await waitFor(() => /127\.0\.0\.1:(\d+)/.exec(command.out()), { timeout: 5_000, message: () => command.err() }))[1])
    ctx.http.close()
    ctx.http.closeAllConnections()

    for (const attempt of [1, 2]) {
      assert.is((await rejection(get(local))).code, 'ECONNRESET', `connection ${attempt} is reset, not refused: the listener goes on`)
    }

    assert.match(command.err(), /a connection to port 8080 failed: .*502/)
    command.stop()
    assert.is(await command.done, 0)
  } finally {
    taken.server.close()
    await stopApi(ctx)
  }
})

test.run()
