/**
 * `npm run testnet -- --peers N [options]`: N peer processes on 127.0.0.1, the first creating a
 * network and the others joining through it, up until Ctrl-C or SIGTERM.
 *
 * `--nat K` (root only): every peer in a network namespace of its own, the last K each behind a
 * NAT (scripts/netns-lib.ts), `--upnp U` giving the first U of those NATs UPnP; `--clean` removes
 * the namespaces of testnets that did not stop.
 */

import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatOptions, formatTable } from '../src/cli/shared.js'
import { cleanNetns, HOST_LINK_ADDRESS } from './netns-lib.js'
import { startTestnet } from './testnet-lib.js'
import type { CliOption } from '../src/cli/shared.js'

const options = {
  peers: { type: 'string', value: 'n', description: 'Number of peers, the bootstrap peer included (required)' },
  json: { type: 'boolean', description: 'Print the peers as a JSON array' },
  'base-port': { type: 'string', value: 'port', description: 'Peer i listens on tcp port <port> + i (default 0: any free port)' },
  dir: { type: 'string', value: 'dir', description: 'Parent of the peers\' data dirs, wiped at start (default .testnet)' },
  'protocol-prefix': { type: 'string', value: 'name', description: 'Protocol prefix of the testnet (default caravela)' },
  cpus: { type: 'string', value: 'n', description: 'CPUs each peer offers' },
  memory: { type: 'string', value: 'MB|512m|2g', description: 'Memory each peer offers' },
  runtime: { type: 'string', value: 'none|memory', description: 'Container runtime of every peer (memory: accounts containers without running them)' },
  'network-key': { type: 'string', value: 'file', description: 'Run the testnet as a closed network with this key (caravela network-key FILE makes one)' },
  config: { type: 'string', value: 'file.toml', description: 'Configuration file of every peer (docs/configuration.md); its [network] is the testnet\'s' },
  backend: { type: 'string', value: 'name', description: 'Discovery backend of the testnet, over the configuration\'s (default multi-offer-updates)' },
  nat: { type: 'string', value: 'k', description: 'Run every peer in a network namespace, the last K each behind a NAT (root only; peer 0 stays public)' },
  upnp: { type: 'string', value: 'u', description: 'With --nat: the routers of the first U NATed peers offer UPnP IGD (miniupnpd, installed when missing)' },
  'host-link': { type: 'boolean', description: `With --nat: join this machine to the testnet's internet at ${HOST_LINK_ADDRESS} (e.g. for Docker's published ports)` },
  clean: { type: 'boolean', description: 'Remove the network namespaces left by --nat testnets whose process is gone, and exit' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' }
} satisfies Record<string, CliOption>

function usage (message: string): never {
  console.error(`testnet: error: ${message} (see npm run testnet -- --help)`)
  process.exit(2)
}

function integer (flag: string, text: string | undefined, fallback: number, min: number): number {
  const value = Number(text ?? fallback)

  if (!Number.isInteger(value) || value < min) {
    usage(`--${flag} must be a whole number ≥ ${min}, got "${text}"`)
  }

  return value
}

let values

try {
  values = parseArgs({ options, strict: true }).values
} catch (err: any) {
  usage(err.message)
}

if (values.help === true) {
  console.info(`Usage: npm run testnet -- --peers N [options]\n\nStarts N Caravela peer processes on 127.0.0.1.\n\nOptions:\n${formatOptions(options)}`)
  process.exit(0)
}

if (values.clean === true) {
  try {
    const { namespaces, links, kept } = cleanNetns()
    console.info(`removed ${namespaces.length} namespaces and ${links.length} links${kept.length > 0 ? `; kept ${kept.length} namespaces of running testnets` : ''}`)
    process.exit(0)
  } catch (err: any) {
    console.error(`testnet: error: ${err.message}`)
    process.exit(1)
  }
}

if (values.peers == null) {
  usage('--peers is required')
}

const peerCount = integer('peers', values.peers, 0, 1)
const dir = values.dir ?? '.testnet'
const nat = values.nat == null ? undefined : integer('nat', values.nat, 0, 0)

if (nat != null && nat >= peerCount) {
  usage(`--nat must be below --peers: peer 0 stays public, got --nat ${nat} for ${peerCount} peers`)
}

const upnp = values.upnp == null ? undefined : integer('upnp', values.upnp, 0, 0)

if (upnp != null && (nat == null || upnp > nat)) {
  usage(`--upnp needs --nat and must not exceed it, got --upnp ${upnp}${nat == null ? '' : ` for --nat ${nat}`}`)
}

if (values['host-link'] === true && nat == null) {
  usage('--host-link needs --nat')
}

if (values.json !== true) {
  console.error(`starting ${peerCount} peers in ${dir}${nat == null ? '' : ` in network namespaces, ${nat} behind NATs${upnp == null ? '' : ` (${upnp} with UPnP)`}`} …`)
}

let testnet

try {
  testnet = await startTestnet({
    peers: peerCount,
    dir,
    basePort: integer('base-port', values['base-port'], 0, 0),
    protocolPrefix: values['protocol-prefix'],
    cpus: values.cpus == null ? undefined : integer('cpus', values.cpus, 0, 1),
    memory: values.memory,
    runtime: values.runtime,
    configFile: values.config,
    backend: values.backend,
    nat,
    upnp,
    hostLink: values['host-link'],
    extraArgs: values['network-key'] == null ? undefined : ['--network-key', resolve(values['network-key'])],
    onExit: (peer, code, signal) => {
      console.error(`testnet: peer ${peer.index} (${peer.peerId}) exited with ${code ?? signal}; see ${peer.logFile}`)
    }
  })
} catch (err: any) {
  console.error(`testnet: error: ${err.message}`)
  process.exit(1)
}

const { peers, stop } = testnet

if (values.json === true) {
  console.info(JSON.stringify(peers.map(({ index, peerId, multiaddr, multiaddrs, dataDir, apiUrl, host }) => ({
    index,
    peerId,
    multiaddr,
    ...(host == null ? {} : { namespace: host.namespace, behindNat: host.behindNat, upnp: host.upnp, address: host.address, publicAddress: host.publicAddress, addresses: multiaddrs }),
    dataDir,
    apiUrl
  })), null, 2))
} else {
  process.stdout.write(formatTable([
    ['#', 'PEER ID', 'MULTIADDR', ...(nat == null ? [] : ['NAMESPACE', 'NAT']), 'DATA DIR', 'API'],
    ...peers.map(peer => [String(peer.index), peer.peerId, peer.multiaddr, ...(peer.host == null ? [] : [peer.host.namespace, peer.host.behindNat ? `behind ${peer.host.publicAddress}${peer.host.upnp ? ' (UPnP)' : ''}` : 'public']), peer.dataDir, peer.apiUrl])
  ]))
  const inside = peers[0].host == null ? '' : `ip netns exec ${peers[0].host.namespace} `
  console.info(`\n${peers.length} peers up. Try: ${inside}npx caravela peers --data-dir ${peers[0].dataDir}\nCtrl-C stops them.`)
}

let stopping = false

const onSignal = (): void => {
  if (stopping) {
    return
  }

  stopping = true

  if (values.json !== true) {
    console.error('stopping the peers …')
  }

  stop().then(() => { process.exit(0) }, (err: Error) => {
    console.error(`testnet: error while stopping: ${err.message}`)
    process.exit(1)
  })
}

process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)
