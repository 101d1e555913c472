/**
 * The peer daemon (`npm start -- [options]`): starts a Caravela peer that joins the
 * network of `--bootstrap` or creates a new one, serves the local control API, prints its
 * addresses and runs until SIGINT or SIGTERM.
 */

import { mkdir } from 'node:fs/promises'
import { availableParallelism, totalmem } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { logger } from '@libp2p/logger'
import { Dashboard } from '../api/dashboard.js'
import { apiRoutes, startApiServer } from '../api/server.js'
import { defaultConfig, formatDuration, loadConfigFile, networkConfigDigest, parseMemory, parsePortRange, validateConfig } from '../config/config.js'
import { InvalidConfigurationError } from '../errors.js'
import { defaultDataDir, errorLine, EXIT_USAGE, formatOptions, isUsageError, UsageError } from './shared.js'
import type { ApiServer } from '../api/server.js'
import type { CaravelaConfig, ContainerNetwork } from '../config/types.js'
import type { NatPlan } from '../nat.js'
import type { CaravelaNode } from '../node.js'
import type { RuntimeFactory } from '../service.js'
import type { CliOption } from './shared.js'

/** Host address container ports are published on unless --publish-ip says otherwise. */
const DEFAULT_PUBLISH_IP = '0.0.0.0'
/** Time the Docker engine has to answer before a peer without --runtime starts without one. */
const DOCKER_PROBE_TIMEOUT = 2_000

/** Time a stop may take before the daemon gives up and exits with 1. */
const SHUTDOWN_TIMEOUT = 20_000

const log = logger('caravela:daemon')

const options = {
  bootstrap: { type: 'string', multiple: true, value: 'multiaddr', description: 'Join the network through this peer (a multiaddr ending in /p2p/<peer id>); without it the peer joins a network found on the LAN (--mdns) or creates a new one' },
  listen: { type: 'string', multiple: true, value: 'multiaddr', description: 'Listen on this address, e.g. /ip4/0.0.0.0/tcp/7800' },
  announce: { type: 'string', multiple: true, value: 'multiaddr', description: 'Tell other peers this address instead of the listen addresses' },
  'data-dir': { type: 'string', value: 'dir', description: 'Directory for the peer key, its datastore and the control API credentials (default ~/.caravela)' },
  config: { type: 'string', value: 'file.toml', description: 'Configuration file; the flags below override its [node] and [supplier] values' },
  cpus: { type: 'string', value: 'n', description: 'CPUs to offer (default: all the runtime has)' },
  memory: { type: 'string', value: 'MB|512m|2g', description: 'Memory to offer (default: all the runtime has)' },
  'cpu-class': { type: 'string', value: 'low|high', description: 'CPU class to offer' },
  runtime: { type: 'string', value: 'docker|memory|none', description: 'Where containers run: docker (the default when an engine answers), memory (accounts containers without running them, for testnets) or none (this peer only trades and places)' },
  'publish-ip': { type: 'string', value: 'ip', description: 'Host address Docker publishes container ports on (default 0.0.0.0; 127.0.0.1 keeps them local)' },
  'api-port': { type: 'string', value: 'port', description: 'Port of the control API on 127.0.0.1 (default 0: any free port)' },
  'protocol-prefix': { type: 'string', value: 'name', description: 'Protocol ids start with /<name>/; only peers with the same prefix meet (default caravela)' },
  'allow-buyer': { type: 'string', multiple: true, value: 'peer id', description: 'Run containers only for this peer (repeat for more; default: any peer that can connect)' },
  'allow-image': { type: 'string', multiple: true, value: 'pattern', description: 'Run only images matching this pattern: [registry/]repository[:tag|@sha256:digest], * matching anything (repeat for more; default: any)' },
  'allow-registry': { type: 'string', multiple: true, value: 'host[:port]', description: 'Pull images only from this registry (repeat for more; default: any but those on this machine or its private networks)' },
  'host-ports': { type: 'string', value: 'min-max', description: 'Host ports containers may publish (default 1024-65535; port 0, chosen by the engine, always may)' },
  'container-network': { type: 'string', value: 'bridge|none', description: 'Network of the containers: bridge (default) or none (no network, no ports)' },
  'network-key': { type: 'string', value: 'file', description: 'Run a closed network: talk only to peers holding this key (make one with `caravela network-key FILE`); a peer without it cannot connect. Overrides [network] keyFile' },
  'network-config': { type: 'string', value: 'sha256', description: 'Run only with the network configuration of this digest (`caravela config-digest` prints it): refuse to join a network whose configuration differs' },
  allow: { type: 'string', multiple: true, value: 'multiaddr', description: 'Limit the peers of this IP network (e.g. /ip4/127.0.0.0/ipcidr/8) per peer only, not per host: connections, offers and requests (testnets on one machine; repeatable)' },
  mdns: { type: 'boolean', description: 'Find the peers of this network on the local network over mDNS, without --bootstrap (default: on when listening on a private address: 10/8, 172.16/12, 192.168/16, link-local, fc00::/7)' },
  'no-mdns': { type: 'boolean', description: 'Do not use mDNS (overrides [node] mdns)' },
  relay: { type: 'boolean', description: 'Reserve a slot on a relay peer and announce its /p2p-circuit address, to be reachable behind a NAT (default: on when listening on private addresses only)' },
  'no-relay': { type: 'boolean', description: 'Do not reserve a relay slot (overrides [nat] relay)' },
  'relay-server': { type: 'boolean', description: 'Relay for peers behind NATs, within [nat] relayMaxReservations, relayDataLimit and relayDurationLimit (default: on when listening on or announcing a public address)' },
  'no-relay-server': { type: 'boolean', description: 'Do not relay for others (overrides [nat] relayServer)' },
  'hole-punching': { type: 'boolean', description: 'Turn relayed connections into direct ones with DCUtR hole punching (default: on)' },
  'no-hole-punching': { type: 'boolean', description: 'Do not hole punch (overrides [nat] holePunching)' },
  autonat: { type: 'boolean', description: 'Confirm this peer\'s addresses by asking peers to dial them back, and answer such asking (AutoNAT; default: on)' },
  'no-autonat': { type: 'boolean', description: 'Do not run AutoNAT (overrides [nat] autoNat)' },
  upnp: { type: 'boolean', description: 'Map the listen port on the home router over UPnP (default: on when listening on private addresses only)' },
  'no-upnp': { type: 'boolean', description: 'Do not use UPnP (overrides [nat] upnp)' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' }
} satisfies Record<string, CliOption>

/** The parsed flags (`options` above). */
interface Flags {
  bootstrap?: string[]
  listen?: string[]
  announce?: string[]
  'data-dir'?: string
  config?: string
  cpus?: string
  memory?: string
  'cpu-class'?: string
  runtime?: string
  'publish-ip'?: string
  'api-port'?: string
  'protocol-prefix'?: string
  'network-key'?: string
  'allow-buyer'?: string[]
  'allow-image'?: string[]
  'allow-registry'?: string[]
  'host-ports'?: string
  'container-network'?: string
  'network-config'?: string
  allow?: string[]
  mdns?: boolean
  'no-mdns'?: boolean
  relay?: boolean
  'no-relay'?: boolean
  'relay-server'?: boolean
  'no-relay-server'?: boolean
  'hole-punching'?: boolean
  'no-hole-punching'?: boolean
  autonat?: boolean
  'no-autonat'?: boolean
  upnp?: boolean
  'no-upnp'?: boolean
  help?: boolean
}

/** Each `--x`/`--no-x` pair of flags and the `[nat]` switch it sets. */
const NAT_FLAGS = [
  ['relay', 'relay'],
  ['relay-server', 'relayServer'],
  ['hole-punching', 'holePunching'],
  ['autonat', 'autoNat'],
  ['upnp', 'upnp']
] as const satisfies ReadonlyArray<readonly [keyof Flags & keyof typeof options, keyof CaravelaConfig['nat']]>

/** The flag that sets each `[node]` key, to report a bad value under the name the user typed. */
const FLAG_OF_KEY: Record<string, keyof typeof options> = {
  'node.bootstrap': 'bootstrap',
  'node.listen': 'listen',
  'node.announce': 'announce',
  'node.cpus': 'cpus',
  'node.memory': 'memory',
  'node.cpuClass': 'cpu-class',
  'node.apiPort': 'api-port',
  'node.protocolPrefix': 'protocol-prefix',
  'supplier.allowBuyers': 'allow-buyer',
  'supplier.allowImages': 'allow-image',
  'supplier.allowRegistries': 'allow-registry',
  'supplier.hostPorts': 'host-ports',
  'supplier.network': 'container-network',
  'node.networkConfig': 'network-config',
  'node.allow': 'allow'
}

const HELP = `Usage: npm start -- [options]

Starts a Caravela peer: it joins the network of --bootstrap (or one found on the LAN, --mdns) or
creates a new one, prints its addresses and serves the control API that the \`caravela\` command
talks to. Logs: DEBUG=caravela:*

Options:
${formatOptions(options)}`

function parseFlags (argv: string[]): Flags {
  return parseArgs({ args: argv, options, strict: true }).values
}

async function main (flags: Flags): Promise<void> {
  if (flags.help === true) {
    process.stdout.write(HELP)
    return
  }

  const dataDir = resolve(flags['data-dir'] ?? defaultDataDir())
  const config = flags.config == null ? defaultConfig() : await loadConfigFile(flags.config)
  applyFlags(config, flags)
  applyJoinFlags(config, flags)
  validateFlagged(config, flags)

  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  log('starting with data dir %s and config %o', dataDir, config.node)

  // loaded only now, so that --help and usage errors answer without loading the libp2p stack
  const { createCaravelaNode } = await import('../node.js')
  const { readNetworkKey } = await import('../network-key.js')
  const { mdnsEnabled } = await import('../mdns.js')
  const { natPlan } = await import('../nat.js')
  const networkKey = config.networkKeyFile == null ? undefined : await readNetworkKey(config.networkKeyFile)
  const runtime = await runtimeFor(flags, config, dataDir)
  const node = await createCaravelaNode({ config, dataDir, runtime: runtime.make, networkKey })
  let api: ApiServer

  try {
    api = await startApiServer({
      host: config.node.apiHost,
      port: config.node.apiPort,
      dataDir,
      routes: apiRoutes(node.services.caravela),
      browser: new Dashboard({ target: node.services.caravela })
    })
  } catch (err) {
    await node.stop()
    throw err
  }

  stopOnSignal(node, api)
  process.stdout.write(banner(node, api, runtime.name, mdnsEnabled(config.node), natPlan))
}

/**
 * The Docker engine's socket: `DOCKER_HOST` when it names a unix socket (`unix:///path`), as the
 * docker command reads it, else the default one.
 *
 * @throws {UsageError} for a `DOCKER_HOST` of another scheme (tcp://, ssh://): the peer talks to a
 * local engine only
 */
function dockerSocket (): string | undefined {
  const host = process.env.DOCKER_HOST

  if (host == null || host === '') {
    return undefined
  }

  if (!host.startsWith('unix://') || host.length === 'unix://'.length) {
    throw new UsageError(`DOCKER_HOST="${host}": a peer talks to a Docker engine on a unix socket only (unix:///path/to/docker.sock)`)
  }

  return host.slice('unix://'.length)
}

/**
 * The container runtime `--runtime` names, with the advertised capacity. Without the flag: Docker
 * when an engine answers, else none (never the memory runtime on its own). The Docker runtime
 * records the images it pulls in the data directory, so that it removes them after a restart too.
 *
 * `--runtime docker` does not wait for the engine: a peer whose engine does not answer yet (a
 * machine where the peer starts before dockerd, an engine restarting) starts anyway with its
 * runtime unavailable, trading and placing but offering nothing. Its capacity is read when the
 * engine first answers (the engine's, or --cpus/--memory), and it offers from then on (the
 * roles' runtime checks, `PeerRoles.start`).
 */
async function runtimeFor (flags: Flags, config: CaravelaConfig, dataDir: string): Promise<{ name: string, make?: RuntimeFactory }> {
  const name = flags.runtime ?? (await dockerAnswers() ? 'docker' : 'none')

  switch (name) {
    case 'none':
      return { name }
    case 'docker': {
      // the service gives the runtime the peer's id and the CPU slices of the network in force
      const { dockerRuntime } = await import('../service.js')
      const { network, pidsLimit, openFilesLimit, logMaxSize, logMaxFiles, readOnlyRootfs, diskQuota, imageCleanupInterval, imageGracePeriod } = config.supplier
      const make = dockerRuntime({
        socketPath: dockerSocket(),
        hostIp: flags['publish-ip'] ?? DEFAULT_PUBLISH_IP,
        network,
        pidsLimit,
        openFilesLimit,
        logMaxSize,
        logMaxFiles,
        readOnlyRootfs,
        diskQuota,
        imageCleanupIntervalMs: imageCleanupInterval,
        imageGracePeriodMs: imageGracePeriod,
        stateDir: dataDir
      })
      return { name, make }
    }
    case 'memory': {
      const { MemoryRuntime } = await import('../runtime/memory-runtime.js')
      const cpus = config.node.cpus ?? availableParallelism()
      const memory = config.node.memory ?? Math.floor(totalmem() / (1024 * 1024))
      const { cpuSlices, cpuOvercommit, memoryOvercommit } = config.network
      // the supplier accounts what it hands out; this bound only catches a supplier gone wrong
      const runtime = new MemoryRuntime({
        cpus,
        memory,
        allocatable: { cpus: Math.floor(cpus * cpuOvercommit / 100) * cpuSlices, memory: Math.floor(memory * memoryOvercommit / 100) }
      })
      return { name, make: () => runtime }
    }
    default:
      throw new UsageError(`--runtime must be docker, memory or none, got "${name}"`)
  }
}

/** True when a Docker engine answers on its default socket. */
async function dockerAnswers (): Promise<boolean> {
  const { DockerRuntime } = await import('../runtime/docker-runtime.js')
  const socketPath = dockerSocket()

  try {
    await new DockerRuntime({ ownerPeerId: 'probe', socketPath, imageCleanupIntervalMs: 0 }).ping({ signal: AbortSignal.timeout(DOCKER_PROBE_TIMEOUT) })
    return true
  } catch {
    return false
  }
}

/** Copies the flags that were given over the config's `[node]` and `[supplier]` values. */
function applyFlags (config: CaravelaConfig, flags: Flags): void {
  const { node, supplier } = config
  supplier.allowBuyers = flags['allow-buyer'] ?? supplier.allowBuyers
  supplier.allowImages = flags['allow-image'] ?? supplier.allowImages
  supplier.allowRegistries = flags['allow-registry'] ?? supplier.allowRegistries
  supplier.network = (flags['container-network'] ?? supplier.network) as ContainerNetwork

  if (flags['host-ports'] != null) {
    try {
      supplier.hostPorts = parsePortRange(flags['host-ports'], '--host-ports')
    } catch (err: any) {
      throw new UsageError(err.message)
    }
  }

  node.bootstrap = flags.bootstrap ?? node.bootstrap
  node.listen = flags.listen ?? node.listen
  node.announce = flags.announce ?? node.announce
  node.allow = flags.allow ?? node.allow
  node.protocolPrefix = flags['protocol-prefix'] ?? node.protocolPrefix

  if (flags.mdns === true && flags['no-mdns'] === true) {
    throw new UsageError('--mdns and --no-mdns contradict each other')
  }

  node.mdns = flags.mdns === true ? true : flags['no-mdns'] === true ? false : node.mdns

  for (const [flag, key] of NAT_FLAGS) {
    const on = flags[flag] === true
    const off = flags[`no-${flag}`] === true

    if (on && off) {
      throw new UsageError(`--${flag} and --no-${flag} contradict each other`)
    }

    // the switches left undefined are decided from the addresses (natPlan)
    const nat: Partial<Record<typeof key, boolean>> = config.nat
    nat[key] = on ? true : off ? false : nat[key]
  }
  node.cpus = flags.cpus == null ? node.cpus : parseNumber('cpus', flags.cpus)
  node.apiPort = flags['api-port'] == null ? node.apiPort : parseNumber('api-port', flags['api-port'])

  if (flags.memory != null) {
    try {
      node.memory = parseMemory(flags.memory, '--memory')
    } catch (err: any) {
      throw new UsageError(err.message)
    }
  }

  if (flags['cpu-class'] != null) {
    if (flags['cpu-class'] !== 'low' && flags['cpu-class'] !== 'high') {
      throw new UsageError(`--cpu-class: "${flags['cpu-class']}" is neither low nor high`)
    }
    node.cpuClass = flags['cpu-class']
  }
}

/** `--network-key` over `[network] keyFile`, and `--network-config` over `[node] networkConfig`. */
function applyJoinFlags (config: CaravelaConfig, flags: Flags): void {
  config.networkKeyFile = flags['network-key'] ?? config.networkKeyFile
  config.node.networkConfig = flags['network-config'] ?? config.node.networkConfig
}

function parseNumber (flag: keyof typeof options, text: string): number {
  const value = Number(text)

  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`--${flag}: "${text}" is not a number`)
  }

  return value
}

/** `validateConfig`, reporting a bad value that came from a flag as a usage error of that flag. */
function validateFlagged (config: CaravelaConfig, flags: Flags): void {
  try {
    validateConfig(config)
  } catch (err: any) {
    const flag = err instanceof InvalidConfigurationError ? FLAG_OF_KEY[/^(node|supplier)\.\w+/.exec(err.key)?.[0] ?? ''] : undefined

    if (flag != null && flags[flag] != null) {
      throw new UsageError(`--${flag}: ${err.message.replace(`${err.key}: `, '')}`)
    }

    throw err
  }
}

function banner (node: CaravelaNode, api: ApiServer, runtime: string, mdns: boolean, natPlan: (nat: CaravelaConfig['nat'], node: CaravelaConfig['node']) => NatPlan): string {
  const peerId = node.peerId.toString()
  const addresses = node.getMultiaddrs()
    .map(address => address.toString())
    .map(address => address.endsWith(`/p2p/${peerId}`) ? address : `${address}/p2p/${peerId}`)

  return [
    `Caravela peer ${peerId} listening on:`,
    // libp2p announces a public address once AutoNAT confirmed that other peers reach it
    ...(addresses.length > 0 ? addresses.map(address => `  ${address}`) : ['  (no address yet: a public one is announced once other peers confirm they reach it, or at once with --announce)']),
    `Control API: ${api.url}`,
    `Runtime: ${runtime === 'none' ? 'none (this peer trades and places containers but runs none; start a Docker engine or pass --runtime)' : runtimeLine(runtime, node)}`,
    `Network configuration: ${networkConfigDigest(node.services.caravela.config.network)} (sha256, for --network-config)`,
    `LAN discovery: ${mdns ? 'mDNS (--no-mdns turns it off)' : 'off (--mdns turns it on)'}`,
    `NAT traversal: ${natLine(natPlan(node.services.caravela.config.nat, node.services.caravela.config.node))}`,
    ''
  ].join('\n')
}

/** The parts of NAT traversal the peer runs, and the flags that turn the others on. */
function natLine (plan: NatPlan): string {
  const parts = [
    [plan.relay, 'relay slot', '--relay'],
    [plan.relayServer, 'relay server', '--relay-server'],
    [plan.holePunching, 'hole punching', '--hole-punching'],
    [plan.autoNat, 'AutoNAT', '--autonat'],
    [plan.upnp, 'UPnP', '--upnp']
  ] as const
  const on = parts.filter(([running]) => running).map(([, name]) => name)
  const off = parts.filter(([running]) => !running).map(([, , flag]) => flag)
  return `${on.length === 0 ? 'none' : on.join(', ')}${off.length === 0 ? '' : ` (${off.join(', ')} for more)`}`
}

/** The runtime's name; when its engine does not answer, that the peer offers once it does. */
function runtimeLine (runtime: string, node: CaravelaNode): string {
  const { state, reason } = node.services.caravela.status().runtime

  return state === 'ok'
    ? runtime
    : `${runtime}, but its engine does not answer: this peer offers nothing until it does, then offers its capacity (checked every ${formatDuration(node.services.caravela.config.node.runtimeCheckInterval)}; ${reason ?? 'no answer'})`
}

/**
 * First SIGINT/SIGTERM: stop the API and leave the network, then exit 0. A second one: exit 1.
 *
 * A daemon started with an IPC channel (as the testnet harness starts its peers) also stops so
 * when the channel closes: the process that started it has exited, however it ended (SIGKILL
 * included), and a peer left behind would hold its port and data dir with nobody to stop it.
 */
function stopOnSignal (node: CaravelaNode, api: ApiServer): void {
  let stopping = false

  const onSignal = (signal: string): void => {
    if (stopping) {
      process.exit(1)
    }

    stopping = true
    log('%s received, stopping', signal)
    setTimeout(() => {
      fail(new Error(`the peer did not stop within ${SHUTDOWN_TIMEOUT / 1000} s`))
    }, SHUTDOWN_TIMEOUT).unref()

    api.stop()
      .then(async () => { await node.stop() })
      .then(() => {
        log('stopped')
        process.exit(0)
      }, fail)
  }

  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  if (process.channel != null) {
    const onDisconnect = (): void => { onSignal('parent gone') }
    process.once('disconnect', onDisconnect)
    // listening refs the channel; the daemon's own sockets are what keep it running
    process.channel.unref()

    if (!process.connected) {
      // the channel closed while the peer was starting
      process.off('disconnect', onDisconnect)
      onDisconnect()
    }
  }
}

/** What went wrong and what to do, on one line. */
function describeError (err: any, flags: Flags): string {
  if (isUsageError(err)) {
    return `${err.message} (see --help)`
  }

  switch (err.name) {
    case 'InvalidConfigurationError':
      if (flags.config == null) {
        return `invalid configuration: ${err.message}`
      }
      return err.key === flags.config ? err.message : `invalid configuration in ${flags.config}: ${err.message}`
    case 'JoinFailedError':
      return `${err.message}; check the --bootstrap address and that the peer there is running`
    case 'IncompatibleNetworkError':
      return /resource map/.test(err.message) ? `${err.message}; use the same resource partitions as the network you join` : err.message
    case 'DataDirInUseError':
    case 'InvalidNetworkKeyError':
    case 'UnsafePermissionsError':
      return err.message
    case 'OpenFailedError':
      // a lock held by another peer is DataDirInUseError; this is anything else (permissions, corruption)
      return `cannot open the datastore in ${resolve(flags['data-dir'] ?? defaultDataDir())}: ${err.message}; check the directory's permissions or pass another --data-dir`
    case 'UnsupportedListenAddressesError':
      return `cannot listen on ${listenFailure(err.message)}; pass another --listen address or port`
  }

  if (err.code === 'EADDRINUSE') {
    return `cannot start the control API: ${err.address}:${err.port} is in use; pass another --api-port (0 picks a free one)`
  }

  return String(err.message ?? err).split('\n').find(line => line.trim() !== '') ?? String(err)
}

/** `/ip4/…/tcp/7800: address already in use` out of libp2p's multi-line listen error. */
function listenFailure (message: string): string {
  const line = message.split('\n').find(line => line.trim().startsWith('/'))
  const match = /^\s*(\S+): (?:Error: )?(?:listen \w+: )?(.*)$/.exec(line ?? '')
  return match == null ? 'the --listen addresses' : `${match[1]}: ${match[2]}`
}

function fail (err: any, flags: Flags = {}): never {
  process.stderr.write(errorLine(describeError(err, flags), err, process.env))
  process.exit(isUsageError(err) ? EXIT_USAGE : 1)
}

let flags: Flags = {}

try {
  flags = parseFlags(process.argv.slice(2))
  await main(flags)
} catch (err) {
  fail(err, flags)
}
