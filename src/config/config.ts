/**
 * Configuration: built-in defaults, TOML files layered over them, validation, and the canonical
 * JSON in which a network's shared configuration travels to joining peers.
 *
 * The defaults are the original's built-in defaults, but for the discovery backend (ours places
 * what fits on networks of any size) and the anchors the original did not have; the rules are
 * its validation plus checks of our own. `docs/configuration.md` documents every key.
 */

import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { isIPv4, isIPv6 } from 'node:net'
import { dirname, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { parse as parseToml, TomlError } from 'smol-toml'
import { InvalidConfigurationError } from '../errors.js'
import { imagePatternProblem } from '../image-ref.js'
import { checkAllowedNetwork } from '../protocols/address.js'
import { ResourceMap } from '../resources/resource-map.js'
import { CPU_CLASS_NAMES } from '../types.js'
import { formatDuration, parseDuration } from './duration.js'
import { parseMemory } from './memory.js'
import type { CaravelaConfig, ContainerNetwork, CpuClassPartition, CpuCoresPartition, DiscoveryBackend, MemoryPartition, NatConfig, NetworkConfig, NodeConfig, PartitionTree, SchedulingPolicy, StorageConfig, SupplierConfig } from './types.js'

export { formatDuration, parseDuration, parseMemory }

/** Largest `networkConfigFromJson` input, in bytes (UTF-8). */
export const MAX_NETWORK_CONFIG_JSON_BYTES = 64 * 1024

const SCHEDULING_POLICIES: readonly SchedulingPolicy[] = ['binpack', 'spread']
/** Every discovery backend: the three offering strategies and the simulator's baselines, which peers run too. */
export const DISCOVERY_BACKENDS: readonly DiscoveryBackend[] = ['single-offer', 'single-offer-full-walk', 'multi-offer', 'multi-offer-updates', 'random', 'swarm']

/** kad-dht's K: a lookup never returns more peers than this. */
const MAX_LOOKUP_COUNT = 20

/** Largest `tradersPerAnchor`: a slice of more traders than a network holds has one anchor anyway. */
const MAX_TRADERS_PER_ANCHOR = 2 ** 30

/** Node's timers fire at once for delays above 2^31 − 1 ms (about 24.8 days). */
const MAX_DURATION_MS = 2 ** 31 - 1

/** Sums of percentages may differ from 100 by floating-point rounding, no more. */
const PERCENTAGE_TOLERANCE = 1e-9

const PROTOCOL_PREFIX_PATTERN = /^[a-z0-9][a-z0-9._-]*$/i

/** Megabytes, optionally with a unit: m (MB) or g (1024 MB), each optionally followed by b. */

/** How each `NetworkConfig` key is read from TOML or JSON. */
const NETWORK_KEYS = {
  cpuSlices: 'number',
  cpuOvercommit: 'number',
  memoryOvercommit: 'number',
  schedulingPolicy: 'string',
  discoveryBackend: 'string',
  supplyingInterval: 'duration',
  spreadOffersInterval: 'duration',
  refreshesCheckInterval: 'duration',
  refreshingInterval: 'duration',
  refreshMissedTimeout: 'duration',
  maxRefreshesFailed: 'number',
  maxRefreshesMissed: 'number',
  maxPartitionsSearch: 'number',
  spreadOffers: 'boolean',
  randBackendMaxRetries: 'number',
  requestTimeout: 'duration',
  launchTimeout: 'duration',
  statusInterval: 'duration',
  lookupCount: 'number',
  tradersPerAnchor: 'number',
  resources: 'tree'
} as const satisfies Record<keyof NetworkConfig, string>

/** How each `NodeConfig` key is read from TOML. */
const NODE_KEYS = {
  protocolPrefix: 'string',
  listen: 'strings',
  announce: 'strings',
  bootstrap: 'strings',
  apiHost: 'string',
  apiPort: 'number',
  cpus: 'number',
  memory: 'memory',
  cpuClass: 'cpuClass',
  networkConfig: 'string',
  allow: 'strings',
  runtimeCheckInterval: 'duration',
  mdns: 'boolean'
} as const satisfies Record<keyof NodeConfig, string>

/** How each `SupplierConfig` key is read from TOML. */
const SUPPLIER_KEYS = {
  allowBuyers: 'strings',
  allowImages: 'strings',
  allowRegistries: 'strings',
  hostPorts: 'portRange',
  network: 'string',
  pidsLimit: 'number',
  openFilesLimit: 'number',
  logMaxSize: 'memory',
  logMaxFiles: 'number',
  readOnlyRootfs: 'boolean',
  diskQuota: 'memory',
  imageCleanupInterval: 'duration',
  imageGracePeriod: 'duration',
  exitedRetention: 'duration',
  exitedPerBuyer: 'number',
  exitedTotal: 'number'
} as const satisfies Record<keyof SupplierConfig, string>

/** How each `NatConfig` key is read from TOML. */
const NAT_KEYS = {
  relay: 'boolean',
  relayServer: 'boolean',
  relayMaxReservations: 'number',
  relayDataLimit: 'memory',
  relayDurationLimit: 'duration',
  holePunching: 'boolean',
  autoNat: 'boolean',
  upnp: 'boolean'
} as const satisfies Record<keyof NatConfig, string>

/** How each `StorageConfig` key is read from TOML. */
const STORAGE_KEYS = {
  sync: 'boolean'
} as const satisfies Record<keyof StorageConfig, string>

const CONTAINER_NETWORKS: readonly ContainerNetwork[] = ['bridge', 'none']

/**
 * A relay's limits, sized for Caravela's messages: requests and answers are a few KB and a launch
 * at most 256 KiB, so 4 MB per relayed connection holds a launch and a long run of refreshes and
 * status checks; a connection that reaches a limit is reset by the relay and dialled again on the
 * next request. 32 slots of a volunteer's relay cost it little.
 */
export const DEFAULT_RELAY_MAX_RESERVATIONS = 32
export const DEFAULT_RELAY_DATA_LIMIT = 4
export const DEFAULT_RELAY_DURATION_LIMIT = 600_000
const RELAY_MAX_RESERVATIONS_MAX = 1024
const RELAY_DATA_LIMIT_MAX = 1024
const RELAY_DURATION_LIMIT_BOUNDS = { min: 10_000, max: 24 * 3_600_000 } as const

/**
 * Milliseconds between two checks of a peer's container engine (`node.runtimeCheckInterval`), and
 * its bounds. The checks cannot be turned off: a peer that never checks would go on offering
 * through an outage, and a peer whose engine did not answer at its start would never offer.
 */
export const DEFAULT_RUNTIME_CHECK_INTERVAL = 5_000
const RUNTIME_CHECK_INTERVAL_BOUNDS = { min: 1_000, max: 600_000 } as const

/** The host ports containers may publish by default: none of the privileged ones. */
export const DEFAULT_HOST_PORTS = { min: 1024, max: 65535 } as const

/** A fresh copy of the built-in configuration (see the top of this file). */
export function defaultConfig (): CaravelaConfig {
  return {
    network: {
      cpuSlices: 1,
      cpuOvercommit: 100,
      memoryOvercommit: 100,
      schedulingPolicy: 'binpack',
      discoveryBackend: 'multi-offer-updates',
      supplyingInterval: 45_000,
      spreadOffersInterval: 40_000,
      refreshesCheckInterval: 30_000,
      refreshingInterval: 15_000,
      refreshMissedTimeout: 20_000,
      maxRefreshesFailed: 2,
      maxRefreshesMissed: 2,
      maxPartitionsSearch: 3,
      spreadOffers: true,
      randBackendMaxRetries: 3,
      requestTimeout: 5_000,
      launchTimeout: 300_000,
      statusInterval: 10_000,
      lookupCount: 3,
      tradersPerAnchor: 64,
      resources: {
        cpuClasses: [{
          value: 0,
          percentage: 100,
          cpuCores: [{
            value: 1,
            percentage: 50,
            memory: [{ value: 256, percentage: 25 }, { value: 512, percentage: 50 }, { value: 1024, percentage: 25 }]
          }, {
            value: 2,
            percentage: 50,
            memory: [{ value: 512, percentage: 25 }, { value: 1024, percentage: 50 }, { value: 2048, percentage: 25 }]
          }]
        }]
      }
    },
    node: {
      protocolPrefix: 'caravela',
      listen: ['/ip4/0.0.0.0/tcp/7800'],
      announce: [],
      bootstrap: [],
      apiHost: '127.0.0.1',
      apiPort: 0,
      cpus: undefined,
      memory: undefined,
      cpuClass: 'low',
      networkConfig: undefined,
      allow: [],
      runtimeCheckInterval: DEFAULT_RUNTIME_CHECK_INTERVAL,
      mdns: undefined
    },
    supplier: defaultSupplierConfig(),
    nat: defaultNatConfig(),
    storage: { sync: true }
  }
}

/** A fresh copy of the built-in NAT settings: each part on where it helps (`NatConfig`). */
export function defaultNatConfig (): NatConfig {
  return {
    relay: undefined,
    relayServer: undefined,
    relayMaxReservations: DEFAULT_RELAY_MAX_RESERVATIONS,
    relayDataLimit: DEFAULT_RELAY_DATA_LIMIT,
    relayDurationLimit: DEFAULT_RELAY_DURATION_LIMIT,
    holePunching: true,
    autoNat: true,
    upnp: undefined
  }
}

/** A fresh copy of the built-in supplier policy: anyone, any image, no privileged ports. */
export function defaultSupplierConfig (): SupplierConfig {
  return {
    allowBuyers: [],
    allowImages: [],
    allowRegistries: [],
    hostPorts: { ...DEFAULT_HOST_PORTS },
    network: 'bridge',
    pidsLimit: 256,
    openFilesLimit: 4096,
    logMaxSize: 10,
    logMaxFiles: 3,
    readOnlyRootfs: false,
    diskQuota: undefined,
    imageCleanupInterval: 3_600_000,
    imageGracePeriod: 3_600_000,
    exitedRetention: 3_600_000,
    exitedPerBuyer: 8,
    exitedTotal: 32
  }
}

/**
 * Parse a TOML configuration and layer it over the defaults: `[network]` and `[node]` tables with
 * the keys of `NetworkConfig` and `NodeConfig`; a given `[network.resources]` replaces the whole
 * default partition tree. The result is validated.
 *
 * @param source - the file name, for syntax errors
 * @throws InvalidConfigurationError naming the key (or, for a syntax error, the source, line and column)
 */
export function parseConfigToml (text: string, source = 'configuration'): CaravelaConfig {
  let document: Record<string, unknown>

  try {
    document = parseToml(text)
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0].replace(/^Invalid TOML document: /, '')
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : ''
    throw new InvalidConfigurationError(source, `TOML syntax error${where}: ${reason}`)
  }

  rejectUnknownKeys(document, ['network', 'node', 'supplier', 'nat', 'storage'], '')
  const networkKeyFile = takeKeyFile(document)
  const defaults = defaultConfig()
  const config: CaravelaConfig = {
    network: document.network === undefined ? defaults.network : readNetwork(document.network, defaults.network, true),
    node: document.node === undefined ? defaults.node : readNode(document.node, defaults.node),
    supplier: document.supplier === undefined ? defaults.supplier : readSupplier(document.supplier, defaults.supplier),
    nat: document.nat === undefined ? defaults.nat : readLocalTable(document.nat, 'nat', NAT_KEYS, defaults.nat),
    storage: document.storage === undefined ? defaults.storage : readLocalTable(document.storage, 'storage', STORAGE_KEYS, defaults.storage)
  }

  if (networkKeyFile !== undefined) config.networkKeyFile = networkKeyFile
  validateConfig(config)
  return config
}

/**
 * Read, parse and validate a TOML configuration file.
 *
 * @throws InvalidConfigurationError whose key is the path when the file is missing or unreadable
 */
export async function loadConfigFile (path: string): Promise<CaravelaConfig> {
  let text: string

  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new InvalidConfigurationError(path, code === 'ENOENT'
      ? 'configuration file not found'
      : `cannot read the configuration file: ${(err as Error).message}`)
  }

  const config = parseConfigToml(text, path)

  // a key file named in a configuration file is found next to it, wherever the peer starts
  if (config.networkKeyFile !== undefined) config.networkKeyFile = resolve(dirname(path), config.networkKeyFile)
  return config
}

/**
 * Check a configuration against every rule of `docs/configuration.md`.
 *
 * @throws InvalidConfigurationError whose `key` is the dotted path of the first offending value,
 * e.g. `network.cpuOvercommit` or `network.resources.cpuClasses[0].cpuCores[1].memory[2].percentage`
 */
export function validateConfig (config: CaravelaConfig): void {
  validateNetwork(config.network)
  validateNode(config.node)
  validateSupplier(config.supplier)
  validateNat(config.nat)
  validateStorage(config.storage)
  validateJoinSettings(config)
}

/**
 * The canonical JSON of a network configuration: only the `NetworkConfig` keys, object keys sorted,
 * no whitespace, durations in milliseconds. Equal configurations give equal strings.
 */
export function networkConfigToJson (network: NetworkConfig): string {
  const known = Object.fromEntries(Object.keys(NETWORK_KEYS).map(name => [name,
    name === 'resources' ? copyTree(network.resources) : network[name as keyof NetworkConfig]]))

  return JSON.stringify(known, (_key, value: unknown) => isPlainObject(value)
    ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a < b ? -1 : 1))
    : value)
}

/**
 * The digest of a network configuration: sha256 of its canonical JSON (`networkConfigToJson`), in
 * hex. Equal configurations have equal digests; `node.networkConfig` pins a peer to one.
 */
export function networkConfigDigest (network: NetworkConfig): string {
  return createHash('sha256').update(networkConfigToJson(network)).digest('hex')
}

/**
 * Read a network configuration received from another peer: at most 64 KiB of JSON holding an
 * object with exactly the `NetworkConfig` keys, each of the right type (durations in
 * milliseconds), and passing validation.
 *
 * @throws InvalidConfigurationError for anything else, and nothing else
 */
export function networkConfigFromJson (json: string): NetworkConfig {
  if (typeof json !== 'string') {
    throw new InvalidConfigurationError('network', 'must be a JSON string')
  }

  if (json.length > MAX_NETWORK_CONFIG_JSON_BYTES || Buffer.byteLength(json, 'utf8') > MAX_NETWORK_CONFIG_JSON_BYTES) {
    throw new InvalidConfigurationError('network', `JSON larger than ${MAX_NETWORK_CONFIG_JSON_BYTES} bytes`)
  }

  let value: unknown

  try {
    value = JSON.parse(json)
  } catch (err) {
    throw new InvalidConfigurationError('network', `not valid JSON: ${(err as Error).message}`)
  }

  const network = readNetwork(value, undefined, false)
  validateNetwork(network)
  return network
}

/**
 * Bounds on a configuration a peer takes from the network it joins. A peer's own file may set
 * what its operator wants; what a bootstrap peer hands a joiner may come from a hostile peer, so
 * values that no honest network needs are refused: overcommit beyond 10 times, CPUs cut into
 * more than 64 slices, timers under a second or over a day, searches and retries in the hundreds.
 * Each bound is far from the defaults.
 */
export const ADOPTED_NETWORK_BOUNDS = {
  maxOvercommit: 1_000,
  maxCpuSlices: 64,
  minInterval: 1_000,
  maxInterval: 24 * 3_600_000,
  minRequestTimeout: 100,
  maxRequestTimeout: 600_000,
  maxLaunchTimeout: 3_600_000,
  maxCount: 100
} as const

/**
 * Throws `InvalidConfigurationError` naming the key when a network configuration a joiner would
 * adopt is outside `ADOPTED_NETWORK_BOUNDS`.
 */
export function checkAdoptedNetwork (network: NetworkConfig): void {
  const b = ADOPTED_NETWORK_BOUNDS
  const adopted = (value: number, key: keyof NetworkConfig, min: number, max: number): void => {
    if (value < min || value > max) {
      throw new InvalidConfigurationError(`network.${key}`, `is ${show(value)}, outside what a joining peer adopts (${min} to ${max})`)
    }
  }

  adopted(network.cpuOvercommit, 'cpuOvercommit', 100, b.maxOvercommit)
  adopted(network.memoryOvercommit, 'memoryOvercommit', 100, b.maxOvercommit)
  adopted(network.cpuSlices, 'cpuSlices', 1, b.maxCpuSlices)

  for (const key of ['supplyingInterval', 'spreadOffersInterval', 'refreshesCheckInterval', 'refreshingInterval', 'refreshMissedTimeout', 'statusInterval'] as const) {
    adopted(network[key], key, b.minInterval, b.maxInterval)
  }

  adopted(network.requestTimeout, 'requestTimeout', b.minRequestTimeout, b.maxRequestTimeout)
  adopted(network.launchTimeout, 'launchTimeout', network.requestTimeout, b.maxLaunchTimeout)

  for (const key of ['maxRefreshesFailed', 'maxRefreshesMissed', 'maxPartitionsSearch', 'randBackendMaxRetries'] as const) {
    adopted(network[key], key, key.startsWith('maxRefreshes') ? 0 : 1, b.maxCount)
  }
}

// Reading TOML and JSON values. `lenient` (TOML) also accepts durations as strings ("45s"), CPU
// classes as names ("low") and memory with units ("2g"); JSON from the network takes numbers only.

function readNetwork (input: unknown, base: NetworkConfig | undefined, lenient: boolean): NetworkConfig {
  const table = asTable(input, 'network')
  rejectUnknownKeys(table, Object.keys(NETWORK_KEYS), 'network')
  const network: Record<string, unknown> = {}

  for (const [name, kind] of Object.entries(NETWORK_KEYS)) {
    const key = `network.${name}`

    if (!Object.hasOwn(table, name)) {
      if (base === undefined) {
        throw new InvalidConfigurationError(key, 'is missing')
      }

      network[name] = base[name as keyof NetworkConfig]
      continue
    }

    const value = table[name]

    switch (kind) {
      case 'number': network[name] = asNumber(value, key); break
      case 'string': network[name] = asString(value, key); break
      case 'boolean': network[name] = asBoolean(value, key); break
      case 'duration': network[name] = asDuration(value, key, lenient); break
      case 'tree': network[name] = readTree(value, key, lenient); break
    }
  }

  return network as unknown as NetworkConfig
}

/**
 * Takes `keyFile` out of the `[network]` table, before that table is read as the network's shared
 * configuration: the key file is this peer's own, and must never travel with the rest.
 */
function takeKeyFile (document: Record<string, unknown>): string | undefined {
  if (!isPlainObject(document.network) || !Object.hasOwn(document.network, 'keyFile')) {
    return undefined
  }

  const { keyFile, ...shared } = document.network
  document.network = shared
  return asString(keyFile, 'network.keyFile')
}

function readTree (input: unknown, key: string, lenient: boolean): PartitionTree {
  const table = asTable(input, key)
  rejectUnknownKeys(table, ['cpuClasses'], key)

  return {
    cpuClasses: readList(table, 'cpuClasses', key, (item, itemKey): CpuClassPartition => {
      const cpuClass = asTable(item, itemKey)
      rejectUnknownKeys(cpuClass, ['value', 'percentage', 'cpuCores'], itemKey)

      return {
        value: asCpuClassValue(field(cpuClass, 'value', itemKey), `${itemKey}.value`, lenient),
        percentage: asNumber(field(cpuClass, 'percentage', itemKey), `${itemKey}.percentage`),
        cpuCores: readList(cpuClass, 'cpuCores', itemKey, (item, itemKey): CpuCoresPartition => {
          const cores = asTable(item, itemKey)
          rejectUnknownKeys(cores, ['value', 'percentage', 'memory'], itemKey)

          return {
            value: asNumber(field(cores, 'value', itemKey), `${itemKey}.value`),
            percentage: asNumber(field(cores, 'percentage', itemKey), `${itemKey}.percentage`),
            memory: readList(cores, 'memory', itemKey, (item, itemKey): MemoryPartition => {
              const memory = asTable(item, itemKey)
              rejectUnknownKeys(memory, ['value', 'percentage'], itemKey)

              return {
                value: asMemory(field(memory, 'value', itemKey), `${itemKey}.value`, lenient),
                percentage: asNumber(field(memory, 'percentage', itemKey), `${itemKey}.percentage`)
              }
            })
          }
        })
      }
    })
  }
}

function readNode (input: unknown, base: NodeConfig): NodeConfig {
  return readLocalTable(input, 'node', NODE_KEYS, base)
}

function readSupplier (input: unknown, base: SupplierConfig): SupplierConfig {
  return readLocalTable(input, 'supplier', SUPPLIER_KEYS, base)
}

/** How a key of this peer's own tables (`[node]`, `[supplier]`) is read. */
type LocalKind = 'number' | 'string' | 'boolean' | 'strings' | 'memory' | 'duration' | 'cpuClass' | 'portRange'

/** A table of this peer's own, `[node]` or `[supplier]`: the keys given over `base`, read leniently. */
function readLocalTable<T extends object> (input: unknown, name: string, keys: Record<string, LocalKind>, base: T): T {
  const table = asTable(input, name)
  rejectUnknownKeys(table, Object.keys(keys), name)
  const result: Record<string, unknown> = { ...base as Record<string, unknown> }

  for (const [field, kind] of Object.entries(keys)) {
    const key = `${name}.${field}`

    if (!Object.hasOwn(table, field)) {
      continue
    }

    const value = table[field]

    switch (kind) {
      case 'number': result[field] = asNumber(value, key); break
      case 'string': result[field] = asString(value, key); break
      case 'boolean': result[field] = asBoolean(value, key); break
      case 'strings': result[field] = readList(table, field, name, asString); break
      case 'memory': result[field] = asMemory(value, key, true); break
      case 'duration': result[field] = asDuration(value, key, true); break
      case 'cpuClass': result[field] = typeof value === 'string' ? value : CPU_CLASS_NAMES[asCpuClassValue(value, key, true)]; break
      case 'portRange': result[field] = parsePortRange(value, key); break
    }
  }

  return result as T
}

/**
 * A range of ports: `"1024-65535"`, one port `"8080"` or `8080`, or `[1024, 65535]`.
 *
 * @throws InvalidConfigurationError naming `key`
 */
export function parsePortRange (value: unknown, key: string): { min: number, max: number } {
  let ends: unknown[]

  if (typeof value === 'number') {
    ends = [value, value]
  } else if (typeof value === 'string') {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(value)

    if (match == null) {
      throw new InvalidConfigurationError(key, `must be a port or a range of ports like "1024-65535", got ${show(value)}`)
    }

    ends = [Number(match[1]), Number(match[2] ?? match[1])]
  } else if (Array.isArray(value) && value.length === 2) {
    ends = value
  } else {
    throw new InvalidConfigurationError(key, `must be a port or a range of ports like "1024-65535", got ${show(value)}`)
  }

  const [min, max] = ends

  if (!isPort(min) || !isPort(max) || min > max) {
    throw new InvalidConfigurationError(key, `must be ports from 1 to 65535, the lower first, got ${show(value)}`)
  }

  return { min, max }
}

function isPort (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535
}

function readList<T> (table: Record<string, unknown>, name: string, key: string, read: (item: unknown, key: string) => T): T[] {
  const listKey = `${key}.${name}`
  const list = field(table, name, key)

  if (!Array.isArray(list)) {
    throw new InvalidConfigurationError(listKey, `must be an array, got ${describe(list)}`)
  }

  return list.map((item, i) => read(item, `${listKey}[${i}]`))
}

function field (table: Record<string, unknown>, name: string, key: string): unknown {
  if (!Object.hasOwn(table, name)) {
    throw new InvalidConfigurationError(`${key}.${name}`, 'is missing')
  }

  return table[name]
}

/** Keys the configuration once had, and why they went. */
const REMOVED_KEYS: Record<string, string> = {
  spreadPartitionsState: 'was removed: partition hit statistics are not kept (offers gather at anchors instead, see tradersPerAnchor); delete the key',
  partitionsStateBufferSize: 'was removed with the partition hit statistics; delete the key'
}

function rejectUnknownKeys (table: Record<string, unknown>, known: readonly string[], key: string): void {
  for (const name of Object.keys(table)) {
    if (key === 'network' && Object.hasOwn(REMOVED_KEYS, name)) {
      throw new InvalidConfigurationError(`${key}.${name}`, REMOVED_KEYS[name])
    }

    if (!known.includes(name)) {
      const similar = known.find(k => editDistance(k.toLowerCase(), name.toLowerCase()) <= 2)
      throw new InvalidConfigurationError(key === '' ? name : `${key}.${name}`,
        `unknown key${similar === undefined ? '' : ` (did you mean "${similar}"?)`}`)
    }
  }
}

function asTable (value: unknown, key: string): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new InvalidConfigurationError(key, `must be a table (an object), got ${describe(value)}`)
  }

  return value
}

function asNumber (value: unknown, key: string): number {
  if (typeof value !== 'number') {
    throw new InvalidConfigurationError(key, `must be a number, got ${describe(value)}`)
  }

  return value
}

function asString (value: unknown, key: string): string {
  if (typeof value !== 'string') {
    throw new InvalidConfigurationError(key, `must be a string, got ${describe(value)}`)
  }

  return value
}

function asBoolean (value: unknown, key: string): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidConfigurationError(key, `must be true or false, got ${describe(value)}`)
  }

  return value
}

function asDuration (value: unknown, key: string, lenient: boolean): number {
  if (lenient && typeof value === 'string') {
    return parseDuration(value, key)
  }

  if (typeof value !== 'number') {
    throw new InvalidConfigurationError(key, `must be a duration${lenient ? ' ("45s", "1m", "500ms") or' : ','} a number of milliseconds, got ${describe(value)}`)
  }

  return value
}

function asMemory (value: unknown, key: string, lenient: boolean): number {
  return lenient && typeof value === 'string' ? parseMemory(value, key) : asNumber(value, key)
}

function asCpuClassValue (value: unknown, key: string, lenient: boolean): number {
  if (lenient && typeof value === 'string') {
    const index = CPU_CLASS_NAMES.indexOf(value as typeof CPU_CLASS_NAMES[number])

    if (index === -1) {
      throw new InvalidConfigurationError(key, `must be "low" or "high" (or 0 or 1), got ${show(value)}`)
    }

    return index
  }

  const index = asNumber(value, key)

  if (CPU_CLASS_NAMES[index] === undefined) {
    throw new InvalidConfigurationError(key, `must be 0 ("low") or 1 ("high"), got ${show(value)}`)
  }

  return index
}

// Validation

function validateNetwork (network: NetworkConfig): void {
  checkInteger(network.cpuSlices, 'network.cpuSlices', 1)
  checkInteger(network.cpuOvercommit, 'network.cpuOvercommit', 100)
  checkInteger(network.memoryOvercommit, 'network.memoryOvercommit', 100)
  checkOneOf(network.schedulingPolicy, SCHEDULING_POLICIES, 'network.schedulingPolicy')
  checkOneOf(network.discoveryBackend, DISCOVERY_BACKENDS, 'network.discoveryBackend')

  checkDuration(network.supplyingInterval, 'network.supplyingInterval')
  checkDuration(network.spreadOffersInterval, 'network.spreadOffersInterval')
  checkDuration(network.refreshesCheckInterval, 'network.refreshesCheckInterval')
  checkDuration(network.refreshingInterval, 'network.refreshingInterval')
  checkDuration(network.refreshMissedTimeout, 'network.refreshMissedTimeout')
  checkDuration(network.requestTimeout, 'network.requestTimeout')
  checkDuration(network.launchTimeout, 'network.launchTimeout')
  checkDuration(network.statusInterval, 'network.statusInterval')
  checkInteger(network.maxRefreshesFailed, 'network.maxRefreshesFailed', 0)
  checkInteger(network.maxRefreshesMissed, 'network.maxRefreshesMissed', 0)
  checkInteger(network.maxPartitionsSearch, 'network.maxPartitionsSearch', 1)
  checkBoolean(network.spreadOffers, 'network.spreadOffers')
  checkInteger(network.randBackendMaxRetries, 'network.randBackendMaxRetries', 1)
  checkInteger(network.lookupCount, 'network.lookupCount', 1, MAX_LOOKUP_COUNT)
  checkInteger(network.tradersPerAnchor, 'network.tradersPerAnchor', 0, MAX_TRADERS_PER_ANCHOR)
  validateTree(network.resources)

  // the tree must quantize onto the grid with at least one cell per leaf
  void new ResourceMap(network.resources)
}

function validateTree (tree: PartitionTree): void {
  const positiveInteger = (value: number, key: string): void => { checkInteger(value, key, 1) }

  if (!isPlainObject(tree)) {
    throw new InvalidConfigurationError('network.resources', 'must be a partition tree')
  }

  checkLevel(tree.cpuClasses, 'network.resources.cpuClasses', (value, key) => {
    if (value !== 0 && value !== 1) {
      throw new InvalidConfigurationError(key, `must be 0 ("low") or 1 ("high"), got ${show(value)}`)
    }
  })

  tree.cpuClasses.forEach((cpuClass, i) => {
    const classKey = `network.resources.cpuClasses[${i}]`
    checkLevel(cpuClass.cpuCores, `${classKey}.cpuCores`, positiveInteger)

    cpuClass.cpuCores.forEach((cores, j) => {
      checkLevel(cores.memory, `${classKey}.cpuCores[${j}].memory`, positiveInteger)
    })
  })
}

/** One level of the tree: non-empty, valid increasing values, percentages in (0, 100] summing to 100. */
function checkLevel (items: Array<{ value: number, percentage: number }>, key: string, checkValue: (value: number, key: string) => void): void {
  if (!Array.isArray(items) || items.length === 0) {
    throw new InvalidConfigurationError(key, 'must list at least one partition')
  }

  let sum = 0

  items.forEach((item, i) => {
    const itemKey = `${key}[${i}]`

    if (!isPlainObject(item)) {
      throw new InvalidConfigurationError(itemKey, 'must be a partition ({ value, percentage })')
    }

    checkValue(item.value, `${itemKey}.value`)

    if (i > 0 && !(item.value > items[i - 1].value)) {
      throw new InvalidConfigurationError(`${itemKey}.value`,
        `must be greater than the previous value (${items[i - 1].value}): values increase within a level`)
    }

    if (!(typeof item.percentage === 'number' && item.percentage > 0 && item.percentage <= 100)) {
      throw new InvalidConfigurationError(`${itemKey}.percentage`, `must be greater than 0 and at most 100, got ${show(item.percentage)}`)
    }

    sum += item.percentage
  })

  if (Math.abs(sum - 100) > PERCENTAGE_TOLERANCE) {
    throw new InvalidConfigurationError(key, `percentages must sum to 100, they sum to ${sum}`)
  }
}

function validateNode (node: NodeConfig): void {
  if (typeof node.protocolPrefix !== 'string' || !PROTOCOL_PREFIX_PATTERN.test(node.protocolPrefix)) {
    throw new InvalidConfigurationError('node.protocolPrefix',
      `must start with a letter or digit and hold only letters, digits, ".", "_" and "-", got ${show(node.protocolPrefix)}`)
  }

  checkMultiaddrs(node.listen, 'node.listen', false)
  checkMultiaddrs(node.announce, 'node.announce', false)
  checkMultiaddrs(node.bootstrap, 'node.bootstrap', true)

  if (typeof node.apiHost !== 'string' || !isLoopback(node.apiHost)) {
    throw new InvalidConfigurationError('node.apiHost',
      `must be a loopback address (127.0.0.0/8, ::1 or localhost): the control API is local, got ${show(node.apiHost)}`)
  }

  checkInteger(node.apiPort, 'node.apiPort', 0, 65535)

  if (node.cpus !== undefined && !(typeof node.cpus === 'number' && Number.isFinite(node.cpus) && node.cpus > 0)) {
    throw new InvalidConfigurationError('node.cpus', `must be a positive number, got ${show(node.cpus)}`)
  }

  if (node.memory !== undefined) {
    checkInteger(node.memory, 'node.memory', 1)
  }

  checkOneOf(node.cpuClass, CPU_CLASS_NAMES, 'node.cpuClass')

  if (!Array.isArray(node.allow)) {
    throw new InvalidConfigurationError('node.allow', `must be an array of IP networks, got ${describe(node.allow)}`)
  }

  node.allow.forEach((text, i) => {
    try {
      checkAllowedNetwork(text)
    } catch (err: any) {
      throw new InvalidConfigurationError(`node.allow[${i}]`, err.message)
    }
  })

  const { min, max } = RUNTIME_CHECK_INTERVAL_BOUNDS

  if (!Number.isInteger(node.runtimeCheckInterval) || node.runtimeCheckInterval < min || node.runtimeCheckInterval > max) {
    const given = Number.isInteger(node.runtimeCheckInterval) && node.runtimeCheckInterval >= 0 ? `"${formatDuration(node.runtimeCheckInterval)}"` : show(node.runtimeCheckInterval)
    throw new InvalidConfigurationError('node.runtimeCheckInterval',
      `must be a duration from "${formatDuration(min)}" to "${formatDuration(max)}" (the checks of the container engine cannot be turned off), got ${given}`)
  }

  if (node.mdns !== undefined) {
    checkBoolean(node.mdns, 'node.mdns')
  }
}

function validateSupplier (supplier: SupplierConfig): void {
  supplier.allowBuyers.forEach((peerId, i) => {
    try {
      peerIdFromString(peerId)
    } catch {
      throw new InvalidConfigurationError(`supplier.allowBuyers[${i}]`, `is not a peer id, got ${show(peerId)}`)
    }
  })
  supplier.allowImages.forEach((pattern, i) => {
    const problem = imagePatternProblem(pattern)

    if (problem != null) {
      throw new InvalidConfigurationError(`supplier.allowImages[${i}]`, `${problem}, got ${show(pattern)}`)
    }
  })
  supplier.allowRegistries.forEach((registry, i) => {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i.test(registry) && !/^\[[0-9a-f:]+\](:\d{1,5})?$/i.test(registry)) {
      throw new InvalidConfigurationError(`supplier.allowRegistries[${i}]`, `must be a registry host, optionally with a port (docker.io, ghcr.io, registry.local:5000), got ${show(registry)}`)
    }
  })

  const { min, max } = supplier.hostPorts ?? {}

  if (!isPort(min) || !isPort(max) || min > max) {
    throw new InvalidConfigurationError('supplier.hostPorts', `must be ports from 1 to 65535, the lower first, got ${show(supplier.hostPorts)}`)
  }

  checkOneOf(supplier.network, CONTAINER_NETWORKS, 'supplier.network')
  checkInteger(supplier.pidsLimit, 'supplier.pidsLimit', 1)
  checkInteger(supplier.openFilesLimit, 'supplier.openFilesLimit', 1)
  checkInteger(supplier.logMaxSize, 'supplier.logMaxSize', 1)
  checkInteger(supplier.logMaxFiles, 'supplier.logMaxFiles', 1, 100)
  checkBoolean(supplier.readOnlyRootfs, 'supplier.readOnlyRootfs')

  if (supplier.diskQuota !== undefined) {
    checkInteger(supplier.diskQuota, 'supplier.diskQuota', 1)
  }

  checkDuration(supplier.imageCleanupInterval, 'supplier.imageCleanupInterval', 0)
  checkDuration(supplier.imageGracePeriod, 'supplier.imageGracePeriod', 0)
  checkDuration(supplier.exitedRetention, 'supplier.exitedRetention', 0)
  checkInteger(supplier.exitedPerBuyer, 'supplier.exitedPerBuyer', 0)
  checkInteger(supplier.exitedTotal, 'supplier.exitedTotal', 0)
}

function validateStorage (storage: StorageConfig): void {
  if (!isPlainObject(storage)) {
    throw new InvalidConfigurationError('storage', `must be a table (an object), got ${describe(storage)}`)
  }

  checkBoolean(storage.sync, 'storage.sync')
}

function validateNat (nat: NatConfig): void {
  if (!isPlainObject(nat)) {
    throw new InvalidConfigurationError('nat', `must be a table (an object), got ${describe(nat)}`)
  }

  for (const key of ['relay', 'relayServer', 'upnp'] as const) {
    if (nat[key] !== undefined) {
      checkBoolean(nat[key], `nat.${key}`)
    }
  }

  checkBoolean(nat.holePunching, 'nat.holePunching')
  checkBoolean(nat.autoNat, 'nat.autoNat')
  checkInteger(nat.relayMaxReservations, 'nat.relayMaxReservations', 1, RELAY_MAX_RESERVATIONS_MAX)
  checkInteger(nat.relayDataLimit, 'nat.relayDataLimit', 1, RELAY_DATA_LIMIT_MAX)
  const { min, max } = RELAY_DURATION_LIMIT_BOUNDS

  if (!Number.isInteger(nat.relayDurationLimit) || nat.relayDurationLimit < min || nat.relayDurationLimit > max) {
    throw new InvalidConfigurationError('nat.relayDurationLimit', `must be a duration from "${formatDuration(min)}" to "${formatDuration(max)}", got ${show(nat.relayDurationLimit)}`)
  }
}

/** The pinned configuration digest and the network key file, the settings of who this peer joins. */
function validateJoinSettings (config: CaravelaConfig): void {
  const digest = config.node.networkConfig

  if (digest !== undefined && !(typeof digest === 'string' && /^[0-9a-f]{64}$/i.test(digest))) {
    throw new InvalidConfigurationError('node.networkConfig', `must be the sha256 digest of a network configuration, 64 hex digits (\`caravela config-digest\` prints it), got ${show(digest)}`)
  }

  if (config.networkKeyFile !== undefined && !(typeof config.networkKeyFile === 'string' && config.networkKeyFile !== '')) {
    throw new InvalidConfigurationError('network.keyFile', `must be the path of a network key file, got ${show(config.networkKeyFile)}`)
  }
}

function checkMultiaddrs (list: string[], key: string, needsPeerId: boolean): void {
  if (!Array.isArray(list)) {
    throw new InvalidConfigurationError(key, `must be an array of multiaddrs, got ${describe(list)}`)
  }

  list.forEach((text, i) => {
    const itemKey = `${key}[${i}]`

    if (typeof text !== 'string') {
      throw new InvalidConfigurationError(itemKey, `must be a multiaddr string, got ${describe(text)}`)
    }

    let components: Array<{ name: string, value?: string }>

    try {
      components = multiaddr(text).getComponents()
      components.filter(c => c.name === 'p2p').forEach(c => peerIdFromString(c.value ?? ''))
    } catch (err) {
      throw new InvalidConfigurationError(itemKey, `invalid multiaddr ${show(text)}: ${(err as Error).message}`)
    }

    if (components.length === 0) {
      throw new InvalidConfigurationError(itemKey, `invalid multiaddr ${show(text)}: it is empty`)
    }

    if (needsPeerId && !components.some(c => c.name === 'p2p')) {
      throw new InvalidConfigurationError(itemKey, `must name the peer to join with /p2p/<peer id>, got ${show(text)}`)
    }
  })
}

function isLoopback (host: string): boolean {
  if (host.toLowerCase() === 'localhost') {
    return true
  }

  if (isIPv4(host)) {
    return Number(host.split('.')[0]) === 127
  }

  return isIPv6(host) && new URL(`http://[${host}]`).hostname === '[::1]'
}

function checkInteger (value: number, key: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`
    throw new InvalidConfigurationError(key, `must be an integer ${range}, got ${show(value)}`)
  }
}

function checkDuration (value: number, key: string, min = 1): void {
  if (!Number.isInteger(value) || value < min || value > MAX_DURATION_MS) {
    throw new InvalidConfigurationError(key, `must be a whole number of milliseconds from ${min} ms to ${formatDuration(MAX_DURATION_MS)}, got ${show(value)}`)
  }
}

function checkOneOf (value: string, allowed: readonly string[], key: string): void {
  if (!allowed.includes(value)) {
    throw new InvalidConfigurationError(key, `must be one of ${allowed.map(a => `"${a}"`).join(', ')}, got ${show(value)}`)
  }
}

function checkBoolean (value: boolean, key: string): void {
  if (typeof value !== 'boolean') {
    throw new InvalidConfigurationError(key, `must be true or false, got ${show(value)}`)
  }
}

// Helpers

function copyTree (tree: PartitionTree): PartitionTree {
  return {
    cpuClasses: tree.cpuClasses.map(c => ({
      value: c.value,
      percentage: c.percentage,
      cpuCores: c.cpuCores.map(k => ({
        value: k.value,
        percentage: k.percentage,
        memory: k.memory.map(m => ({ value: m.value, percentage: m.percentage }))
      }))
    }))
  }
}

/** An object literal (or a null-prototype object, as smol-toml makes): not an array, date or class instance. */
function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) {
    return false
  }

  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** Levenshtein distance, to suggest the key a typo meant. */
function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)

  for (let i = 1; i <= a.length; i++) {
    const current = [i]

    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }

    previous = current
  }

  return previous[b.length]
}

/** A value in an error message: strings quoted, other primitives as they print. */
function show (value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

/** The type of a value in an error message. */
function describe (value: unknown): string {
  if (Array.isArray(value)) {
    return 'an array'
  }

  if (value === null || typeof value !== 'object') {
    return `${typeof value} ${show(value)}`
  }

  return isPlainObject(value) ? 'a table' : 'a date or other object'
}
