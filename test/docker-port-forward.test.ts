/**
 * `caravela port-forward` with the real Docker engine: a testnet of a buyer (no runtime) and a
 * Docker supplier publishing on 127.0.0.1; the buyer places busybox's `httpd` with `-p 8080` on
 * the supplier, and `caravela port-forward` on the buyer serves its page on a local port, two
 * connections at once, until SIGINT ends it cleanly. A stranger peer asking the supplier
 * directly over the protocol is refused; a port the container does not publish is an error.
 *
 * Run `node scripts/docker-setup.mjs` first (it starts an engine and builds `caravela/busybox:test`);
 * without an engine the suite fails. Every container a peer of this testnet ran is removed in `after`.
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import * as assert from 'uvu/assert'
import { Libp2pCaravelaClient } from '../src/protocols/client.js'
import { CARAVELA, caravela, placeWithRetries } from './fixtures/cli.js'
import { removeSupplierContainers, requireEngine, startDockerPair } from './fixtures/docker-engine.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { Testnet } from '../scripts/testnet-lib.js'
import type { ContainerStatus } from '../src/types.js'
import type { Libp2p } from 'libp2p'
import type { ChildProcess } from 'node:child_process'

const IMAGE = 'caravela/busybox:test'
const PROTOCOL_PREFIX = `caravela-test-docker-pf-${randomBytes(4).toString('hex')}`
const PAGE = 'hello through the tunnel'
/** busybox's httpd serving PAGE on 8080, in the foreground */
const HTTPD = `mkdir -p /tmp/www && echo '${PAGE}' > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`

interface Context {
  dir: string
  testnet?: Testnet
  peerIds: string[]
  forward?: ChildProcess
  stranger?: Libp2p<{ caravela: Libp2pCaravelaClient }>
}

/** GET `path` from 127.0.0.1:`port` on a connection of its own: status and body. */
async function get (port: number, path = '/'): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error('no answer in time')) })
    req.on('error', reject)
    req.end()
  })
}

const Forward = suite<Context>('docker: port-forward', { dir: '', peerIds: [] })

Forward.before(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-docker-pf-'))
})

Forward.after(async (ctx) => {
  try {
    ctx.forward?.kill('SIGKILL')
    await ctx.stranger?.stop()
    await ctx.testnet?.stop()
  } finally {
    await removeSupplierContainers(ctx.peerIds)

    await rm(ctx.dir, { recursive: true, force: true })
  }
})

Forward('`caravela port-forward` serves a container\'s HTTP port on another peer at 127.0.0.1:L, two connections at once, until SIGINT', async (ctx) => {
  await requireEngine(IMAGE)

  ctx.testnet = await startDockerPair(ctx.dir, PROTOCOL_PREFIX)
  ctx.peerIds = ctx.testnet.peers.map(peer => peer.peerId)
  const [buyer, supplier] = ctx.testnet.peers

  const status = await placeWithRetries<ContainerStatus>('run', '--data-dir', buyer.dataDir, '--cpus', '1', '--memory', '64m', '-p', '8080', IMAGE, 'sh', '-c', HTTPD)
  assert.is(status.supplier.peerId, supplier.peerId)
  const shortId = status.containerId.slice(0, 12)
  const published = status.portMappings.find(p => p.containerPort === 8080)
  assert.ok(published != null && published.hostPort > 0, JSON.stringify(status.portMappings))

  // a port the container was not run with is refused before anything listens
  const unpublished = await caravela('port-forward', '--data-dir', buyer.dataDir, shortId, '0:8081')
  assert.is(unpublished.code, 1, unpublished.stderr)
  assert.match(unpublished.stderr, /publishes no TCP port 8081/)

  let stdout = ''
  let stderr = ''
  const forward = ctx.forward = spawn(process.execPath, [CARAVELA, 'port-forward', '--data-dir', buyer.dataDir, shortId, '0:8080'], { stdio: ['ignore', 'pipe', 'pipe'] })
  forward.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  forward.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = new Promise<number | null>(resolve => { forward.once('exit', code => { resolve(code) }) })

  const line = await waitFor(() => /^Forwarding 127\.0\.0\.1:(\d+) -> container (\w+) port 8080\n$/.exec(stdout), { timeout: 20_000, message: () => `the Forwarding line: ${stdout} ${stderr}` })
  const local = Number(line[1])
  assert.is(line[2], shortId)
  assert.is.not(local, published.hostPort, 'a port of its own on the buyer')

  // httpd may still be starting: a connection it refuses is reset, and the forward goes on
  const first = await waitFor(async () => get(local).catch(() => undefined), { timeout: 20_000, interval: 250, message: () => `the page through the tunnel: ${stderr}` })
  assert.is(first.status, 200)
  assert.is(first.body, `${PAGE}\n`)

  const both = await Promise.all([get(local, '/index.html'), get(local, '/')])
  assert.equal(both.map(({ status, body }) => [status, body]), [[200, `${PAGE}\n`], [200, `${PAGE}\n`]])

  // a stranger, asking the supplier directly over the protocol, is refused
  ctx.stranger = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { caravela: (components: any) => new Libp2pCaravelaClient(components, { protocolPrefix: PROTOCOL_PREFIX }) }
  })
  const refusal = await ctx.stranger.services.caravela.portForward({ peerId: supplier.peerId, multiaddrs: [supplier.multiaddr.replace(/\/p2p\/\w+$/, '')] }, status.containerId, 8080)
    .then(tunnel => { tunnel.abort(new Error('not for a stranger')) }, (err: any) => err)
  assert.is(refusal?.name, 'RemoteRequestError', String(refusal))
  assert.is(refusal.status, 'REFUSED')

  // Ctrl-C ends the forward cleanly, and its port with it
  forward.kill('SIGINT')
  const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')])
  assert.is(code, 0, `caravela port-forward ended on SIGINT: ${stderr}`)
  const closed = await get(local).then(() => undefined, (err: any) => err)
  assert.is(closed?.code, 'ECONNREFUSED')
})

Forward.run()
