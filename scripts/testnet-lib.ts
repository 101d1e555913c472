/**
 * A local testnet of peer processes on 127.0.0.1, for `npm run testnet`, benchmarks and tests.
 *
 * `startTestnet` starts peer 0, which creates a network, reads its `/p2p/` multiaddr from its
 * stdout, then starts the other peers in waves, each joining through peer 0. Every peer is a
 * `dist/src/cli/daemon.js` process with its own data dir (`<dir>/peer-<i>`), its own control
 * API and its output in `<dir>/peer-<i>.log`.
 *
 * With `nat` (root only), every peer runs in a network namespace of its own instead, listening on
 * its namespace's address, and the last `nat` peers each sit behind a NAT (netns-lib.ts); with
 * `upnp`, the routers of the first `upnp` of those offer UPnP IGD.
 */

import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml'
import { ApiClient } from '../src/api/client.js'
import { API_INFO_FILE, API_TOKEN_FILE } from '../src/api/server.js'
import { defaultConfig, loadConfigFile, validateConfig } from '../src/config/config.js'
import { createTopology, forwardIntoNamespace, inNamespace, NETNS_ALLOW, requireNetns } from './netns-lib.js'
import type { ApiInfo } from '../src/api/server.js'
import type { DiscoveryBackend } from '../src/config/types.js'
import type { NetnsHost, Topology } from './netns-lib.js'
import type { ChildProcess } from 'node:child_process'

/**
 * Network settings of the benchmarks' testnets: every supplier offers in every slice it can fill,
 * and updates its offers as containers come and go (`multi-offer-updates`).
 */
export const BENCH_NETWORK_CONFIG = `
[network]
discoveryBackend = "multi-offer-updates"
supplyingInterval = "10s"
refreshingInterval = "10s"
refreshesCheckInterval = "15s"
refreshMissedTimeout = "25s"
`

/** The compiled daemon this module starts. */
export const DAEMON_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'daemon.js')
/** Peers started at the same time after the bootstrap peer. */
export const DEFAULT_WAVE_SIZE = 5
/** Time one peer has to print its addresses and control API. */
export const DEFAULT_START_TIMEOUT = 60_000
/** Time peers have to exit after SIGTERM before they are killed. */
export const DEFAULT_STOP_TIMEOUT = 15_000
/**
 * Every peer of a testnet connects from 127.0.0.1: the peers limit one another per peer only, not
 * per host (libp2p's inbound connections, the traders' offers per host and subnet, the request
 * rate per host), or a testnet of more than a few peers would refuse its own.
 */
export const TESTNET_ALLOW = '/ip4/127.0.0.0/ipcidr/8'
/** TCP port of every peer of a testnet in network namespaces (libp2p's usual one). */
export const NETNS_PORT = 4001
/** File marking a directory as a testnet's, so that only such a directory is ever wiped. */
export const TESTNET_MARKER = '.caravela-testnet'

export interface TestnetInit {
  /** number of peers, the bootstrap peer included */
  peers: number
  /** parent of the peers' data dirs; wiped first (only if empty or made by a testnet) */
  dir: string
  /** peer i listens on tcp port `basePort + i`; 0 (default) lets the system choose */
  basePort?: number
  protocolPrefix?: string
  /** `--cpus` of every peer */
  cpus?: number
  /** `--memory` of every peer (e.g. `1024` or `2g`) */
  memory?: string
  /** `--runtime` of every peer (`none`, `memory` or `docker`) */
  runtime?: string
  /** more daemon flags for peer i, after the others (a later flag wins: `--runtime none` for one peer) */
  argsOf?: (index: number) => string[]
  /** a configuration file for every peer (its `[network]` is the testnet's) */
  configFile?: string
  /** the network's discovery backend, over the configuration file's (or the default) */
  backend?: string
  /** more daemon flags for every peer */
  extraArgs?: string[]
  /** environment of the peer processes (default: this process's) */
  env?: NodeJS.ProcessEnv
  /** @default DEFAULT_WAVE_SIZE */
  waveSize?: number
  /** @default DEFAULT_START_TIMEOUT */
  startTimeout?: number
  /** @default DEFAULT_STOP_TIMEOUT */
  stopTimeout?: number
  /**
   * Run every peer in a network namespace of its own (root only), the last `nat` of them each
   * behind a NAT; peer 0, the bootstrap peer, stays public. Unset: every peer on 127.0.0.1.
   */
  nat?: number
  /** with `nat`: the routers of the first `upnp` NATed peers offer UPnP IGD (miniupnpd; netns-lib.ts) */
  upnp?: number
  /** with `nat`: join the root namespace to the testnet's internet (netns-lib.ts, `hostLink`) */
  hostLink?: boolean
  /** called when a peer exits while the testnet is up (not during `stop()`) */
  onExit?(peer: TestnetPeer, code: number | null, signal: NodeJS.Signals | null): void
}

export interface TestnetPeer {
  index: number
  peerId: string
  /** the peer's TCP multiaddr on its listening address (127.0.0.1 without `nat`), with /p2p/<peer id> */
  multiaddr: string
  /** every address the peer printed */
  multiaddrs: string[]
  dataDir: string
  /**
   * the control API as this process reaches it: with `nat`, a forwarder into the peer's
   * namespace (`caravela` run inside the namespace finds the API itself through the data dir)
   */
  apiUrl: string
  /** with `nat`: where the peer runs (namespace, addresses, behind a NAT or not) */
  host?: NetnsHost
  /** the daemon's stdout and stderr */
  logFile: string
  process: ChildProcess
}

export interface Testnet {
  /** the peers, by index; a restarted peer replaces its entry */
  peers: TestnetPeer[]
  /** with `nat`: the namespaces the peers run in, removed by `stop()` */
  topology?: Topology
  /** SIGTERM to every peer, SIGKILL to those still running after `stopTimeout`. */
  stop(): Promise<void>
  /** SIGKILL peer `index`, as a crash: no goodbye to the network. Resolves once it has exited. */
  kill(index: number): Promise<void>
  /**
   * Start peer `index` again on its data dir (same peer id and datastore), joining through peer 0
   * unless it is peer 0; its output is appended to its log. Resolves once it is up.
   */
  restart(index: number): Promise<TestnetPeer>
}

/** Starts a testnet; on failure it stops the peers it started and rejects. */
export async function startTestnet (init: TestnetInit): Promise<Testnet> {
  if (!Number.isInteger(init.peers) || init.peers < 1) {
    throw new RangeError(`a testnet needs a whole number of peers ≥ 1, got ${init.peers}`)
  }

  if (init.nat != null && (!Number.isInteger(init.nat) || init.nat < 0 || init.nat >= init.peers)) {
    throw new RangeError(`nat must be a whole number of peers behind NATs below ${init.peers} (peer 0 stays public), got ${init.nat}`)
  }

  if (init.upnp != null && (init.nat == null || !Number.isInteger(init.upnp) || init.upnp < 0 || init.upnp > init.nat)) {
    throw new RangeError(`upnp must be a whole number of NATed peers, 0 to nat (${init.nat ?? 'unset'}), got ${init.upnp}`)
  }

  if (init.nat != null) {
    // before anything is made: a user without root gets only the error
    requireNetns(init.nat > 0, (init.upnp ?? 0) > 0)
  }

  const dir = resolve(init.dir)
  await prepareDir(dir)
  const configFile = await writeConfig(dir, init)
  const topology = init.nat == null ? undefined : createTopology({ public: init.peers - init.nat, nat: init.nat, upnp: init.upnp, hostLink: init.hostLink })

  const peers: TestnetPeer[] = []
  const processes: ChildProcess[] = []
  let stopping = false

  // peers run in process groups of their own, so that Ctrl-C reaches only the caller, which
  // then stops them once; should the caller exit without stop(), they go with it: killed here
  // on a plain exit, and on their own when the caller dies of a signal (see spawnPeer)
  const killLeftovers = (): void => {
    processes.filter(isRunning).forEach(child => child.kill('SIGKILL'))
    topology?.teardown()
  }
  process.on('exit', killLeftovers)

  const stop = async (): Promise<void> => {
    stopping = true
    await stopProcesses(processes, init.stopTimeout ?? DEFAULT_STOP_TIMEOUT)
    topology?.teardown()
    process.off('exit', killLeftovers)
  }

  const start = async (index: number, bootstrap?: string, append = false): Promise<TestnetPeer> => {
    const host = topology?.hosts[index]
    const child = spawnPeer(dir, index, { ...init, extraArgs: [...(configFile == null ? [] : ['--config', configFile]), ...(init.extraArgs ?? [])] }, host, bootstrap, append)
    processes.push(child)
    const peer = await waitForPeer(child, index, dir, init.startTimeout ?? DEFAULT_START_TIMEOUT, host)

    if (host != null) {
      const forwarder = await forwardIntoNamespace(host.namespace, Number(new URL(peer.apiUrl).port))
      processes.push(forwarder.process)
      child.once('exit', () => { forwarder.process.kill() })
      peer.apiUrl = forwarder.url
    }

    child.once('exit', (code, signal) => {
      if (!stopping) {
        init.onExit?.(peer, code, signal)
      }
    })
    return peer
  }

  try {
    const bootstrap = await start(0)
    peers.push(bootstrap)
    const waveSize = init.waveSize ?? DEFAULT_WAVE_SIZE

    for (let first = 1; first < init.peers; first += waveSize) {
      const wave = []
      for (let index = first; index < Math.min(first + waveSize, init.peers); index++) {
        wave.push(start(index, bootstrap.multiaddr))
      }
      peers.push(...await Promise.all(wave))
    }
  } catch (err) {
    await stop()
    throw err
  }

  const kill = async (index: number): Promise<void> => {
    const child = peers[index]?.process

    if (child == null) {
      throw new RangeError(`the testnet has no peer ${index}`)
    }

    if (isRunning(child)) {
      const exited = new Promise(resolve => { child.once('exit', resolve) })
      child.kill('SIGKILL')
      await exited
    }
  }

  const restart = async (index: number): Promise<TestnetPeer> => {
    if (peers[index] == null) {
      throw new RangeError(`the testnet has no peer ${index}`)
    }

    if (isRunning(peers[index].process)) {
      throw new Error(`peer ${index} is still running: kill or stop it first`)
    }

    peers[index] = await start(index, index === 0 ? undefined : peers[0].multiaddr, true)
    return peers[index]
  }

  return { peers, topology, stop, kill, restart }
}

/**
 * A client of `peer`'s control API, from this process (through its forwarder with `nat`); with
 * `keepAlive`, one that reuses its connections (`ApiClientInit.keepAlive`: close it when done).
 */
export async function apiClientOf (peer: TestnetPeer, timeout?: number, keepAlive?: boolean): Promise<ApiClient> {
  return new ApiClient({ url: peer.apiUrl, token: (await readFile(join(peer.dataDir, API_TOKEN_FILE), 'utf8')).trim(), timeout, keepAlive })
}

/**
 * The configuration file of the testnet's peers, when one is given or the backend is chosen:
 * `<dir>/caravela.toml`, the given file (checked) with the backend set. Undefined when neither.
 *
 * @throws InvalidConfigurationError when the file is missing or wrong, or the backend unknown
 */
async function writeConfig (dir: string, init: TestnetInit): Promise<string | undefined> {
  if (init.configFile == null && init.backend == null) {
    return undefined
  }

  const config = init.configFile == null ? defaultConfig() : await loadConfigFile(init.configFile)

  if (init.backend != null) {
    config.network.discoveryBackend = init.backend as DiscoveryBackend
    validateConfig(config)
  }

  // the file's network key (a path made absolute when it was read) stays with the peers' copy
  const withKeyFile = config.networkKeyFile == null ? config.network : { ...config.network, keyFile: config.networkKeyFile }
  // the file's other tables ([supplier], [nat], [storage]) reach the peers as they were written
  const { network, node, ...others } = init.configFile == null ? {} : parseToml(await readFile(init.configFile, 'utf8'))
  const tables = { ...others, network: withKeyFile, node: defined(config.node) }
  const file = join(dir, 'caravela.toml')
  await writeFile(file, `# written by the testnet from ${init.configFile ?? 'the defaults'}${init.backend == null ? '' : ` with discoveryBackend = "${init.backend}"`}\n${stringifyToml(tables)}\n`)
  return file
}

/** The fields of a configuration table that have a value: TOML has no undefined. */
function defined (table: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(table).filter(([, value]) => value !== undefined))
}

/** Creates `dir` or empties it, refusing to wipe a non-empty directory a testnet did not make. */
async function prepareDir (dir: string): Promise<void> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException): string[] => {
    if (err.code === 'ENOENT') {
      return []
    }
    throw err
  })

  if (entries.length > 0 && !entries.includes(TESTNET_MARKER)) {
    throw new Error(`${dir} is not empty and was not made by a testnet; refusing to wipe it`)
  }

  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, TESTNET_MARKER), 'made by scripts/testnet-lib.ts; wiped when a testnet starts here\n')
}

function spawnPeer (dir: string, index: number, init: TestnetInit, host: NetnsHost | undefined, bootstrap?: string, append = false): ChildProcess {
  // in a namespace of its own a peer has its address to itself: one port serves every peer, and a
  // public peer announces its address as the operator of a public server would (libp2p would
  // otherwise wait for AutoNAT to confirm it before announcing it)
  const port = host != null ? NETNS_PORT : init.basePort == null || init.basePort === 0 ? 0 : init.basePort + index
  const args = [
    DAEMON_PATH,
    '--listen', `/ip4/${host?.address ?? '127.0.0.1'}/tcp/${port}`,
    ...(host != null && !host.behindNat ? ['--announce', `/ip4/${host.address}/tcp/${port}`] : []),
    '--data-dir', join(dir, `peer-${index}`),
    ...(host == null ? [TESTNET_ALLOW] : NETNS_ALLOW).flatMap(network => ['--allow', network]),
    ...(bootstrap == null ? [] : ['--bootstrap', bootstrap]),
    ...(init.protocolPrefix == null ? [] : ['--protocol-prefix', init.protocolPrefix]),
    ...(init.cpus == null ? [] : ['--cpus', String(init.cpus)]),
    ...(init.memory == null ? [] : ['--memory', init.memory]),
    ...(init.runtime == null ? [] : ['--runtime', init.runtime]),
    ...(init.extraArgs ?? []),
    ...(init.argsOf?.(index) ?? [])
  ]
  // the IPC channel is only a lifeline: a daemon stops when it closes, so that the peers go with
  // this process even when a signal (SIGTERM from the test runner, Ctrl-C, SIGKILL) ends it
  // without running its 'exit' handlers; `ip netns exec` execs the daemon, which keeps the channel
  const [command, argv] = host == null ? [process.execPath, args] : inNamespace(host.namespace, [process.execPath, ...args])
  const child = spawn(command, argv, { env: init.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true })
  // the lifeline must not keep this process running either
  child.channel?.unref()
  const log = createWriteStream(join(dir, `peer-${index}.log`), { flags: append ? 'a' : 'w' })
  child.stdout?.pipe(log, { end: false })
  child.stderr?.pipe(log, { end: false })
  child.once('close', () => { log.end() })
  return child
}

/**
 * Resolves when the daemon has printed its addresses and its control API URL and written
 * `api.json`; rejects when it exits first or takes longer than `timeout`.
 */
async function waitForPeer (child: ChildProcess, index: number, dir: string, timeout: number, host?: NetnsHost): Promise<TestnetPeer> {
  const dataDir = join(dir, `peer-${index}`)
  const logFile = join(dir, `peer-${index}.log`)
  let stdout = ''
  let stderr = ''

  const output = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new Error(`peer ${index} did not start within ${timeout / 1000} s (see ${logFile})`))
    }, timeout)
    const onStdout = (chunk: Buffer): void => {
      stdout += chunk.toString()
      if (/^Control API: \S+$/m.test(stdout)) {
        done()
        resolve(stdout)
      }
    }
    const onStderr = (chunk: Buffer): void => { stderr += chunk.toString() }
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      const reason = stderr.split('\n').find(line => line.startsWith('caravela: error:')) ?? `see ${logFile}`
      fail(new Error(`peer ${index} exited with ${code ?? signal} before it was up: ${reason}`))
    }
    const done = (): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onStdout)
      child.stderr?.off('data', onStderr)
      child.off('close', onClose)
    }
    const fail = (err: Error): void => {
      done()
      reject(err)
    }

    child.stdout?.on('data', onStdout)
    child.stderr?.on('data', onStderr)
    child.once('close', onClose)
  })

  const [, peerId] = /^Caravela peer (\S+) listening on:$/m.exec(output) ?? []
  const multiaddrs = output.split('\n').map(line => line.trim()).filter(line => line.startsWith('/'))
  const multiaddr = multiaddrs.find(address => address.startsWith(`/ip4/${host?.address ?? '127.0.0.1'}/tcp/`)) ?? multiaddrs[0]

  if (peerId == null || multiaddr == null) {
    throw new Error(`peer ${index} printed no peer id or address:\n${output}`)
  }

  const info: ApiInfo = JSON.parse(await readFile(join(dataDir, API_INFO_FILE), 'utf8'))
  return { index, peerId, multiaddr, multiaddrs, dataDir, apiUrl: info.url, logFile, process: child, host }
}

function isRunning (child: ChildProcess): boolean {
  return child.exitCode == null && child.signalCode == null
}

async function stopProcesses (processes: ChildProcess[], timeout: number): Promise<void> {
  await Promise.all(processes.filter(isRunning).map(async child => {
    const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeout)
    await exited
    clearTimeout(timer)
  }))
}
