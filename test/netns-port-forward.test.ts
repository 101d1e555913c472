/**
 * `caravela port-forward` between two NATs: on a testnet in network namespaces, a buyer behind one
 * NAT places busybox's `httpd` on a Docker supplier behind another, and `caravela port-forward`,
 * run inside the buyer's namespace as its user would, serves the page there through the public
 * peer's relay. The supplier reaches its container at the port Docker published on the host
 * link's address, the supplier host's address on the testnet's internet.
 *
 * Needs root (CI runs as root) and the engine and image of `node scripts/docker-setup.mjs`:
 * without them the test fails, it does not skip. Every container of the testnet is removed in `after`.
 */

import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as assert from 'uvu/assert'
import { HOST_LINK_ADDRESS, inNamespace } from '../scripts/netns-lib.js'
import { apiClientOf, startTestnet } from '../scripts/testnet-lib.js'
import { CARAVELA } from './fixtures/cli.js'
import { removeSupplierContainers, requireEngine } from './fixtures/docker-engine.js'
import { suite } from './fixtures/suite.js'
import { FAST_NETWORK_CONFIG } from './fixtures/testnet-config.js'
import { waitFor } from './fixtures/wait.js'
import type { Testnet } from '../scripts/testnet-lib.js'
import type { ContainerStatus } from '../src/types.js'
import type { ChildProcess } from 'node:child_process'

const IMAGE = 'caravela/busybox:test'
const PAGE = 'hello from behind two NATs'
/** busybox's httpd serving PAGE on 8080, in the foreground */
const HTTPD = `mkdir -p /tmp/www && echo '${PAGE}' > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`
/** peer 0 public (the relay), 1 behind a NAT buys, 2 behind another NAT supplies on Docker */
const BUYER = 1
const SUPPLIER = 2

interface Context {
  dir: string
  testnet?: Testnet
  forward?: ChildProcess
}

/** Runs `argv` inside `namespace`: its stdout, or the error with its stderr. */
async function inside (namespace: string, argv: string[], timeout = 60_000): Promise<string> {
  const [command, args] = inNamespace(namespace, argv)
  return (await promisify(execFile)(command, args, { timeout })).stdout
}

/** GET http://127.0.0.1:`port`/ from inside `namespace`: the body, or undefined when it fails. */
async function getInside (namespace: string, port: number): Promise<string | undefined> {
  const code = `fetch('http://127.0.0.1:${port}/', { signal: AbortSignal.timeout(5000) }).then(r => r.text()).then(t => process.stdout.write(t), () => process.exit(1))`
  return inside(namespace, [process.execPath, '-e', code]).catch(() => undefined)
}

const Forward = suite<Context>('netns: port-forward across NATs', { dir: '' })

Forward.before(async (ctx) => {
  assert.is(process.getuid?.(), 0, 'the network-namespace tests need root (CI runs them as root): run them as root')
  await requireEngine(IMAGE)
  ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-netns-pf-'))
})

Forward.after(async (ctx) => {
  try {
    ctx.forward?.kill('SIGKILL')
    await ctx.testnet?.stop()
  } finally {
    await removeSupplierContainers(ctx.testnet?.peers.map(peer => peer.peerId) ?? [])
    await rm(ctx.dir, { recursive: true, force: true })
  }
})

Forward('a buyer behind a NAT reads the page of its container on a Docker supplier behind another NAT at 127.0.0.1:L', async (ctx) => {
  const configFile = join(ctx.dir, 'fast.toml')
  await writeFile(configFile, FAST_NETWORK_CONFIG)
  ctx.testnet = await startTestnet({
    peers: 3,
    nat: 2,
    // Docker runs in the root namespace: it publishes ports on its address on the testnet's internet
    hostLink: true,
    dir: join(ctx.dir, 'net'),
    protocolPrefix: `caravela-test-netns-pf-${randomBytes(4).toString('hex')}`,
    runtime: 'docker',
    cpus: 2,
    memory: '1g',
    extraArgs: ['--publish-ip', HOST_LINK_ADDRESS, '--config', configFile],
    argsOf: index => index === SUPPLIER ? [] : ['--runtime', 'none']
  })
  const buyer = ctx.testnet.peers[BUYER]
  const supplier = ctx.testnet.peers[SUPPLIER]
  assert.equal(ctx.testnet.peers.map(peer => peer.host?.behindNat), [false, true, true])
  const namespace = buyer.host!.namespace
  const caravela = (command: string, ...args: string[]): string[] => [process.execPath, CARAVELA, command, '--data-dir', buyer.dataDir, ...args]

  // the CLI, inside the buyer's namespace; the supplier's offers may still be on their way
  let refusal = ''
  const placed = await waitFor(async () => inside(namespace, caravela('run', '--json', '--cpus', '1', '--memory', '64m', '-p', '8080', IMAGE, 'sh', '-c', HTTPD)).catch((err: any) => { refusal = err.stderr ?? err.message; return undefined }), {
    timeout: 60_000,
    interval: 1_000,
    message: () => `a placement on the supplier: ${refusal}`
  })
  const status: ContainerStatus = JSON.parse(placed)
  assert.is(status.supplier.peerId, supplier.peerId)
  assert.ok(status.portMappings.some(p => p.containerPort === 8080 && p.hostPort > 0), JSON.stringify(status.portMappings))

  let stdout = ''
  let stderr = ''
  const [command, args] = inNamespace(namespace, caravela('port-forward', status.containerId.slice(0, 12), '0:8080'))
  const forward = ctx.forward = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  forward.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  forward.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = new Promise<number | null>(resolve => { forward.once('exit', code => { resolve(code) }) })
  const [, local] = await waitFor(() => /^Forwarding 127\.0\.0\.1:(\d+) -> /.exec(stdout), { timeout: 20_000, message: () => `the Forwarding line: ${stdout} ${stderr}` })

  // httpd may still be starting: a connection it refuses is reset, and the forward goes on
  const page = await waitFor(async () => getInside(namespace, Number(local)), { timeout: 30_000, interval: 500, message: () => `the page through the tunnel: ${stderr}` })
  assert.is(page, `${PAGE}\n`)

  // neither NAT lets the other in: the tunnel went through the relay
  const connection = (await (await apiClientOf(buyer)).peers()).find(peer => peer.peerId === supplier.peerId && peer.connected)
  assert.ok(connection?.multiaddrs.every(address => address.includes('/p2p-circuit/')) === true, JSON.stringify(connection))

  forward.kill('SIGINT')
  assert.is(await Promise.race([exited, new Promise(resolve => setTimeout(() => { resolve('still running') }, 10_000))]), 0, `port-forward ended on SIGINT: ${stderr}`)
})

Forward.run()
