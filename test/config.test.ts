import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  ADOPTED_NETWORK_BOUNDS, checkAdoptedNetwork, MAX_NETWORK_CONFIG_JSON_BYTES, defaultConfig, formatDuration, loadConfigFile, networkConfigFromJson,
  networkConfigDigest, networkConfigToJson, parseConfigToml, parseDuration, parseMemory, validateConfig
} from '../src/config/config.js'
import { InvalidConfigurationError } from '../src/errors.js'
import type { CaravelaConfig, NetworkConfig } from '../src/config/types.js'

const EXAMPLE_FILE = fileURLToPath(new URL('../../caravela.example.toml', import.meta.url))
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

/** The error `fn` throws, which must be an InvalidConfigurationError. */
function configError (fn: () => unknown, what: string): InvalidConfigurationError {
  let error: unknown

  try {
    fn()
  } catch (err) {
    error = err
  }

  assert.instance(error, InvalidConfigurationError, `${what}: expected an InvalidConfigurationError, got ${String(error)}`)
  return error as InvalidConfigurationError
}

function expectKey (fn: () => unknown, key: string, what = key): void {
  const err = configError(fn, what)
  assert.is(err.key, key, `${what}: ${err.message}`)
}

/** A copy of `config` changed by `change`. */
function changed (change: (config: CaravelaConfig) => void): CaravelaConfig {
  const config = defaultConfig()
  change(config)
  return config
}

/** Replace the value of a key in the canonical JSON of the default network configuration. */
function jsonWith (key: string, value: string): string {
  const json = networkConfigToJson(defaultConfig().network)
  const replaced = json.replace(new RegExp(`"${key}":(\\d+|true|false|"[^"]*")`), `"${key}":${value}`)
  assert.is.not(replaced, json, `no key ${key}`)
  return replaced
}

test('defaults: the original\'s built-in defaults, but for the discovery backend and the anchors', () => {
  assert.equal(defaultConfig(), {
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
          cpuCores: [
            { value: 1, percentage: 50, memory: [{ value: 256, percentage: 25 }, { value: 512, percentage: 50 }, { value: 1024, percentage: 25 }] },
            { value: 2, percentage: 50, memory: [{ value: 512, percentage: 25 }, { value: 1024, percentage: 50 }, { value: 2048, percentage: 25 }] }
          ]
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
      runtimeCheckInterval: 5_000,
      mdns: undefined
    },
    supplier: {
      allowBuyers: [],
      allowImages: [],
      allowRegistries: [],
      hostPorts: { min: 1024, max: 65535 },
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
    },
    nat: {
      relay: undefined,
      relayServer: undefined,
      relayMaxReservations: 32,
      relayDataLimit: 4,
      relayDurationLimit: 600_000,
      holePunching: true,
      autoNat: true,
      upnp: undefined
    },
    storage: { sync: true }
  })
  validateConfig(defaultConfig())
})

test('defaultConfig returns a fresh object each call', () => {
  const a = defaultConfig()
  a.network.resources.cpuClasses[0].cpuCores[0].memory[0].value = 1
  a.node.listen.push('/ip4/127.0.0.1/tcp/1')
  assert.equal(defaultConfig().network.resources.cpuClasses[0].cpuCores[0].memory[0].value, 256)
  assert.equal(defaultConfig().node.listen, ['/ip4/0.0.0.0/tcp/7800'])
})

test('caravela.example.toml parses to exactly the defaults', async () => {
  assert.equal(await loadConfigFile(EXAMPLE_FILE), defaultConfig())
})

test('an empty file is the defaults', () => {
  assert.equal(parseConfigToml(''), defaultConfig())
})

test('every key is read from TOML', () => {
  const config = parseConfigToml(`
[network]
cpuSlices = 4
cpuOvercommit = 150
memoryOvercommit = 200
schedulingPolicy = "spread"
discoveryBackend = "multi-offer-updates"
supplyingInterval = "1m"
spreadOffersInterval = "15m30s"
refreshesCheckInterval = 2500
refreshingInterval = "1.5s"
refreshMissedTimeout = "1h"
maxRefreshesFailed = 0
maxRefreshesMissed = 5
maxPartitionsSearch = 1
spreadOffers = false
randBackendMaxRetries = 7
requestTimeout = "500ms"
launchTimeout = "2m"
statusInterval = "30s"
lookupCount = 20
tradersPerAnchor = 0

[[network.resources.cpuClasses]]
value = "low"
percentage = 65.5
  [[network.resources.cpuClasses.cpuCores]]
  value = 1
  percentage = 100
    [[network.resources.cpuClasses.cpuCores.memory]]
    value = "1g"
    percentage = 100

[[network.resources.cpuClasses]]
value = 1
percentage = 34.5
  [[network.resources.cpuClasses.cpuCores]]
  value = 2
  percentage = 100
    [[network.resources.cpuClasses.cpuCores.memory]]
    value = 512
    percentage = 33.3
    [[network.resources.cpuClasses.cpuCores.memory]]
    value = 1024
    percentage = 33.3
    [[network.resources.cpuClasses.cpuCores.memory]]
    value = 2048
    percentage = 33.4

[node]
protocolPrefix = "caravela-test.1"
listen = ["/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0"]
announce = ["/dns4/example.com/tcp/7800"]
bootstrap = ["/ip4/192.0.2.1/tcp/7800/p2p/${PEER}"]
apiHost = "::1"
apiPort = 8001
cpus = 1.5
memory = "2g"
cpuClass = "high"
allow = ["/ip4/127.0.0.0/ipcidr/8", "/ip6/fd00::/ipcidr/8", "/ip4/192.0.2.7"]
networkConfig = "${'ab'.repeat(32)}"
runtimeCheckInterval = "30s"
mdns = false

[supplier]
allowBuyers = ["${PEER}"]
allowImages = ["nginx:1.27", "ghcr.io/acme/*", "redis@sha256:${'a'.repeat(64)}"]
allowRegistries = ["docker.io", "registry.local:5000"]
hostPorts = "8000-8999"
network = "none"
pidsLimit = 64
openFilesLimit = 1024
logMaxSize = "2m"
logMaxFiles = 1
readOnlyRootfs = true
diskQuota = "1g"
imageCleanupInterval = "0"
imageGracePeriod = "10m"
exitedRetention = "30m"
exitedPerBuyer = 2
exitedTotal = 5

[nat]
relay = true
relayServer = false
relayMaxReservations = 4
relayDataLimit = "1g"
relayDurationLimit = "1h"
holePunching = false
autoNat = false
upnp = true

[storage]
sync = false
`)

  assert.equal(config, {
    network: {
      cpuSlices: 4,
      cpuOvercommit: 150,
      memoryOvercommit: 200,
      schedulingPolicy: 'spread',
      discoveryBackend: 'multi-offer-updates',
      supplyingInterval: 60_000,
      spreadOffersInterval: 930_000,
      refreshesCheckInterval: 2_500,
      refreshingInterval: 1_500,
      refreshMissedTimeout: 3_600_000,
      maxRefreshesFailed: 0,
      maxRefreshesMissed: 5,
      maxPartitionsSearch: 1,
      spreadOffers: false,
      randBackendMaxRetries: 7,
      requestTimeout: 500,
      launchTimeout: 120_000,
      statusInterval: 30_000,
      lookupCount: 20,
      tradersPerAnchor: 0,
      resources: {
        cpuClasses: [
          { value: 0, percentage: 65.5, cpuCores: [{ value: 1, percentage: 100, memory: [{ value: 1024, percentage: 100 }] }] },
          {
            value: 1,
            percentage: 34.5,
            cpuCores: [{
              value: 2,
              percentage: 100,
              memory: [{ value: 512, percentage: 33.3 }, { value: 1024, percentage: 33.3 }, { value: 2048, percentage: 33.4 }]
            }]
          }
        ]
      }
    },
    node: {
      protocolPrefix: 'caravela-test.1',
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'],
      announce: ['/dns4/example.com/tcp/7800'],
      bootstrap: [`/ip4/192.0.2.1/tcp/7800/p2p/${PEER}`],
      apiHost: '::1',
      apiPort: 8001,
      cpus: 1.5,
      memory: 2048,
      cpuClass: 'high',
      networkConfig: 'ab'.repeat(32),
      allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/fd00::/ipcidr/8', '/ip4/192.0.2.7'],
      runtimeCheckInterval: 30_000,
      mdns: false
    },
    supplier: {
      allowBuyers: [PEER],
      allowImages: ['nginx:1.27', 'ghcr.io/acme/*', `redis@sha256:${'a'.repeat(64)}`],
      allowRegistries: ['docker.io', 'registry.local:5000'],
      hostPorts: { min: 8000, max: 8999 },
      network: 'none',
      pidsLimit: 64,
      openFilesLimit: 1024,
      logMaxSize: 2,
      logMaxFiles: 1,
      readOnlyRootfs: true,
      diskQuota: 1024,
      imageCleanupInterval: 0,
      imageGracePeriod: 600_000,
      exitedRetention: 1_800_000,
      exitedPerBuyer: 2,
      exitedTotal: 5
    },
    nat: {
      relay: true,
      relayServer: false,
      relayMaxReservations: 4,
      relayDataLimit: 1024,
      relayDurationLimit: 3_600_000,
      holePunching: false,
      autoNat: false,
      upnp: true
    },
    storage: { sync: false }
  })
})

test('the supplier policy: each bad value is refused naming its key', () => {
  const bad: Array<[string, (c: CaravelaConfig) => void]> = [
    ['supplier.allowBuyers[1]', c => { c.supplier.allowBuyers = [PEER, 'not-a-peer-id'] }],
    ['supplier.allowImages[0]', c => { c.supplier.allowImages = ['nginx;rm -rf /'] }],
    ['supplier.allowImages[0]', c => { c.supplier.allowImages = ['nginx@sha256:abc'] }],
    ['supplier.allowRegistries[0]', c => { c.supplier.allowRegistries = ['http://registry.local'] }],
    ['supplier.hostPorts', c => { c.supplier.hostPorts = { min: 2000, max: 1000 } }],
    ['supplier.hostPorts', c => { c.supplier.hostPorts = { min: 0, max: 1000 } }],
    ['supplier.network', c => { (c.supplier as any).network = 'host' }],
    ['supplier.pidsLimit', c => { c.supplier.pidsLimit = 0 }],
    ['supplier.openFilesLimit', c => { c.supplier.openFilesLimit = 1.5 }],
    ['supplier.logMaxFiles', c => { c.supplier.logMaxFiles = 1000 }],
    ['supplier.diskQuota', c => { c.supplier.diskQuota = -1 }],
    ['supplier.imageCleanupInterval', c => { c.supplier.imageCleanupInterval = -1 }],
    ['supplier.imageCleanupInterval', c => { c.supplier.imageCleanupInterval = 2 ** 31 }],
    ['supplier.imageGracePeriod', c => { c.supplier.imageGracePeriod = 1.5 }],
    ['supplier.exitedRetention', c => { c.supplier.exitedRetention = -1 }],
    ['supplier.exitedPerBuyer', c => { c.supplier.exitedPerBuyer = 1.5 }],
    ['supplier.exitedTotal', c => { c.supplier.exitedTotal = -1 }]
  ]

  for (const [key, change] of bad) {
    expectKey(() => { validateConfig(changed(change)) }, key)
  }

  expectKey(() => parseConfigToml('[supplier]\nhostPorts = "1024-"'), 'supplier.hostPorts')
  expectKey(() => parseConfigToml('[supplier]\nhostPorts = [1, 2, 3]'), 'supplier.hostPorts')
  expectKey(() => parseConfigToml('[supplier]\nallowImage = ["nginx"]'), 'supplier.allowImage')
  expectKey(() => parseConfigToml('[supplier]\nimageGracePeriod = "soon"'), 'supplier.imageGracePeriod')
  expectKey(() => parseConfigToml('[supplier]\nimageCleanupInterval = true'), 'supplier.imageCleanupInterval')
  assert.equal(parseConfigToml('[supplier]\nhostPorts = 8080').supplier.hostPorts, { min: 8080, max: 8080 })
  assert.equal(parseConfigToml('[supplier]\nhostPorts = [1, 1023]').supplier.hostPorts, { min: 1, max: 1023 })
})

test('keys left out keep their defaults; a given tree replaces the default tree', () => {
  const config = parseConfigToml(`
[network]
cpuSlices = 2

[[network.resources.cpuClasses]]
value = "high"
percentage = 100
  [[network.resources.cpuClasses.cpuCores]]
  value = 8
  percentage = 100
    [[network.resources.cpuClasses.cpuCores.memory]]
    value = 4096
    percentage = 100

[node]
cpuClass = 0
memory = 512
`)

  const expected = defaultConfig()
  expected.network.cpuSlices = 2
  expected.network.resources = { cpuClasses: [{ value: 1, percentage: 100, cpuCores: [{ value: 8, percentage: 100, memory: [{ value: 4096, percentage: 100 }] }] }] }
  expected.node.memory = 512
  assert.equal(config, expected)
})

test('valid edge values are accepted', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', 'localhost']) {
    validateConfig(changed(c => { c.node.apiHost = host }))
  }

  validateConfig(changed(c => { c.node.apiPort = 65535 }))
  validateConfig(changed(c => { c.node.listen = [] }))
  validateConfig(changed(c => { c.network.maxRefreshesFailed = 0 }))
  validateConfig(changed(c => { c.network.refreshingInterval = 2 ** 31 - 1 }))
  validateConfig(changed(c => { c.network.lookupCount = 1 }))
})

/** [what, TOML, dotted key of the error]: each must be refused with that key. */
const INVALID_TOML: Array<[string, string, string]> = [
  ['unknown network key', '[network]\ncpuOvercomit = 100', 'network.cpuOvercomit'],
  ['unknown node key', '[node]\napiport = 1', 'node.apiport'],
  ['unknown table', '[nodes]\napiPort = 1', 'nodes'],
  ['unknown top-level key', 'debug = true', 'debug'],
  ['unknown tree key', '[network.resources]\ncpuClass = []', 'network.resources.cpuClass'],
  ['unknown memory entry key', tree('value = 256\npercentage = 100\nsize = 1'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].size'],
  ['__proto__ key', '[network]\n__proto__ = 1', 'network.__proto__'],
  ['network not a table', 'network = 5', 'network'],
  ['storage not a table', 'storage = true', 'storage'],
  ['storage.sync a string', '[storage]\nsync = "yes"', 'storage.sync'],
  ['unknown storage key', '[storage]\nfsync = true', 'storage.fsync'],
  ['cpuSlices 0', '[network]\ncpuSlices = 0', 'network.cpuSlices'],
  ['cpuSlices 1.5', '[network]\ncpuSlices = 1.5', 'network.cpuSlices'],
  ['cpuSlices a string', '[network]\ncpuSlices = "2"', 'network.cpuSlices'],
  ['cpuOvercommit 99', '[network]\ncpuOvercommit = 99', 'network.cpuOvercommit'],
  ['cpuOvercommit inf', '[network]\ncpuOvercommit = inf', 'network.cpuOvercommit'],
  ['memoryOvercommit 50', '[network]\nmemoryOvercommit = 50', 'network.memoryOvercommit'],
  ['schedulingPolicy fifo', '[network]\nschedulingPolicy = "fifo"', 'network.schedulingPolicy'],
  ['discoveryBackend with the original\'s chord- name', '[network]\ndiscoveryBackend = "chord-single-offer"', 'network.discoveryBackend'],
  ['duration 5 parsecs', '[network]\nsupplyingInterval = "5 parsecs"', 'network.supplyingInterval'],
  ['duration without unit', '[network]\nrefreshingInterval = "15"', 'network.refreshingInterval'],
  ['negative duration', '[network]\nrefreshingInterval = "-15s"', 'network.refreshingInterval'],
  ['duration of a fraction of a ms', '[network]\nrequestTimeout = "1500us"', 'network.requestTimeout'],
  ['zero duration', '[network]\nspreadOffersInterval = "0s"', 'network.spreadOffersInterval'],
  ['zero duration as an integer', '[network]\nrefreshMissedTimeout = 0', 'network.refreshMissedTimeout'],
  ['duration beyond a timer', '[network]\nrefreshesCheckInterval = "600h"', 'network.refreshesCheckInterval'],
  ['duration as a date', '[network]\nsupplyingInterval = 1979-05-27', 'network.supplyingInterval'],
  ['duration as a boolean', '[network]\nsupplyingInterval = true', 'network.supplyingInterval'],
  ['maxRefreshesFailed -1', '[network]\nmaxRefreshesFailed = -1', 'network.maxRefreshesFailed'],
  ['maxRefreshesMissed 1.5', '[network]\nmaxRefreshesMissed = 1.5', 'network.maxRefreshesMissed'],
  ['tradersPerAnchor -1', '[network]\ntradersPerAnchor = -1', 'network.tradersPerAnchor'],
  ['tradersPerAnchor 1.5', '[network]\ntradersPerAnchor = 1.5', 'network.tradersPerAnchor'],
  ['spreadPartitionsState (removed)', '[network]\nspreadPartitionsState = false', 'network.spreadPartitionsState'],
  ['partitionsStateBufferSize (removed)', '[network]\npartitionsStateBufferSize = 25', 'network.partitionsStateBufferSize'],
  ['maxPartitionsSearch 0', '[network]\nmaxPartitionsSearch = 0', 'network.maxPartitionsSearch'],
  ['randBackendMaxRetries 0', '[network]\nrandBackendMaxRetries = 0', 'network.randBackendMaxRetries'],
  ['lookupCount 0', '[network]\nlookupCount = 0', 'network.lookupCount'],
  ['lookupCount 21', '[network]\nlookupCount = 21', 'network.lookupCount'],
  ['spreadOffers "yes"', '[network]\nspreadOffers = "yes"', 'network.spreadOffers'],
  ['no classes', '[network.resources]\ncpuClasses = []', 'network.resources.cpuClasses'],
  ['resources without classes', '[network.resources]', 'network.resources.cpuClasses'],
  ['class percentages summing to 90', classes(['low', 50], ['high', 40]), 'network.resources.cpuClasses'],
  ['class percentages summing to 110', classes(['low', 50], ['high', 60]), 'network.resources.cpuClasses'],
  ['memory percentages summing to 99', tree('value = 256\npercentage = 49', 'value = 512\npercentage = 50'), 'network.resources.cpuClasses[0].cpuCores[0].memory'],
  ['percentage 0', tree('value = 256\npercentage = 0', 'value = 512\npercentage = 100'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].percentage'],
  ['percentage 120', tree('value = 256\npercentage = 120', 'value = 512\npercentage = -20'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].percentage'],
  ['percentage missing', tree('value = 256'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].percentage'],
  ['percentage nan', tree('value = 256\npercentage = nan'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].percentage'],
  ['class value "medium"', classes(['medium', 100]), 'network.resources.cpuClasses[0].value'],
  ['class value 2', classes([2, 100]), 'network.resources.cpuClasses[0].value'],
  ['class values not increasing', classes(['high', 50], ['low', 50]), 'network.resources.cpuClasses[1].value'],
  ['class values repeated', classes(['low', 50], [0, 50]), 'network.resources.cpuClasses[1].value'],
  ['memory value "abc"', tree('value = "abc"\npercentage = 100'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].value'],
  ['memory value 0', tree('value = 0\npercentage = 100'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].value'],
  ['memory value 1.5', tree('value = 1.5\npercentage = 100'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].value'],
  ['memory values not increasing', tree('value = 512\npercentage = 50', 'value = 256\npercentage = 50'), 'network.resources.cpuClasses[0].cpuCores[0].memory[1].value'],
  ['cores value 0', tree('value = 256\npercentage = 100').replace('value = 1\n', 'value = 0\n'), 'network.resources.cpuClasses[0].cpuCores[0].value'],
  ['cores value 1.5', tree('value = 256\npercentage = 100').replace('value = 1\n', 'value = 1.5\n'), 'network.resources.cpuClasses[0].cpuCores[0].value'],
  ['no memory entries', classes(['low', 100]).replace(/\n\s+\[\[network.resources.cpuClasses.cpuCores.memory\]\][^[]*/, '\nmemory = []'), 'network.resources.cpuClasses[0].cpuCores[0].memory'],
  ['memory not an array', tree('value = 256\npercentage = 100').replace(/\[\[network.resources.cpuClasses.cpuCores.memory\]\][^]*$/, 'memory = 5'), 'network.resources.cpuClasses[0].cpuCores[0].memory'],
  ['a leaf of 0.001 % (no grid cell)', tree('value = 256\npercentage = 0.001', 'value = 512\npercentage = 99.999'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0]'],
  ['apiHost 0.0.0.0', '[node]\napiHost = "0.0.0.0"', 'node.apiHost'],
  ['apiHost ::', '[node]\napiHost = "::"', 'node.apiHost'],
  ['apiHost [::1] with brackets', '[node]\napiHost = "[::1]"', 'node.apiHost'],
  ['apiHost a public name', '[node]\napiHost = "example.com"', 'node.apiHost'],
  ['apiHost a LAN address', '[node]\napiHost = "192.168.1.10"', 'node.apiHost'],
  ['apiPort 70000', '[node]\napiPort = 70000', 'node.apiPort'],
  ['apiPort 65553 (the original accepted it)', '[node]\napiPort = 65553', 'node.apiPort'],
  ['apiPort -1', '[node]\napiPort = -1', 'node.apiPort'],
  ['listen not an array', '[node]\nlisten = "/ip4/0.0.0.0/tcp/7800"', 'node.listen'],
  ['listen entry not a string', '[node]\nlisten = [7800]', 'node.listen[0]'],
  ['bad multiaddr', '[node]\nlisten = ["/ip4/0.0.0.0/tcp/7800", "not-a-multiaddr"]', 'node.listen[1]'],
  ['bad IPv4 in a multiaddr', '[node]\nannounce = ["/ip4/999.0.0.1/tcp/1"]', 'node.announce[0]'],
  ['empty multiaddr', '[node]\nannounce = ["/"]', 'node.announce[0]'],
  ['bootstrap without /p2p/', '[node]\nbootstrap = ["/ip4/192.0.2.1/tcp/7800"]', 'node.bootstrap[0]'],
  ['bootstrap with a bad peer id', '[node]\nbootstrap = ["/ip4/192.0.2.1/tcp/7800/p2p/notapeer"]', 'node.bootstrap[0]'],
  ['protocolPrefix with a slash', '[node]\nprotocolPrefix = "/caravela"', 'node.protocolPrefix'],
  ['protocolPrefix empty', '[node]\nprotocolPrefix = ""', 'node.protocolPrefix'],
  ['cpus 0', '[node]\ncpus = 0', 'node.cpus'],
  ['cpus -2', '[node]\ncpus = -2', 'node.cpus'],
  ['memory "0"', '[node]\nmemory = "0"', 'node.memory'],
  ['memory "1.1m"', '[node]\nmemory = "1.1m"', 'node.memory'],
  ['memory "2x"', '[node]\nmemory = "2x"', 'node.memory'],
  ['memory 1.5', '[node]\nmemory = 1.5', 'node.memory'],
  ['cpuClass "medium"', '[node]\ncpuClass = "medium"', 'node.cpuClass'],
  ['cpuClass 3', '[node]\ncpuClass = 3', 'node.cpuClass'],
  ['networkConfig of 63 hex digits', `[node]\nnetworkConfig = "${'a'.repeat(63)}"`, 'node.networkConfig'],
  ['networkConfig not hex', `[node]\nnetworkConfig = "${'g'.repeat(64)}"`, 'node.networkConfig'],
  ['networkConfig a number', '[node]\nnetworkConfig = 12', 'node.networkConfig'],
  ['keyFile a number', '[network]\nkeyFile = 12', 'network.keyFile'],
  ['keyFile empty', '[network]\nkeyFile = ""', 'network.keyFile'],
  ['allow not an array', '[node]\nallow = "/ip4/127.0.0.0/ipcidr/8"', 'node.allow'],
  ['allow a name, not an IP', '[node]\nallow = ["/dns4/example.com"]', 'node.allow[0]'],
  ['allow a CIDR without a multiaddr', '[node]\nallow = ["10.0.0.0/8"]', 'node.allow[0]'],
  ['allow an IPv4 prefix of 33', '[node]\nallow = ["/ip4/10.0.0.0/ipcidr/33"]', 'node.allow[0]'],
  ['allow a port', '[node]\nallow = ["/ip4/10.0.0.1/tcp/7800"]', 'node.allow[0]']
]

/** A one-class, one-cores tree with the given memory entries (TOML bodies). */
function tree (...memory: string[]): string {
  return `[[network.resources.cpuClasses]]
value = "low"
percentage = 100
[[network.resources.cpuClasses.cpuCores]]
value = 1
percentage = 100
${memory.map(m => `[[network.resources.cpuClasses.cpuCores.memory]]\n${m}\n`).join('')}`
}

/** A tree with the given classes, each with one cores entry and one memory entry. */
function classes (...entries: Array<[string | number, number]>): string {
  return entries.map(([value, percentage]) => `
[[network.resources.cpuClasses]]
value = ${typeof value === 'string' ? `"${value}"` : value}
percentage = ${percentage}
  [[network.resources.cpuClasses.cpuCores]]
  value = 1
  percentage = 100
    [[network.resources.cpuClasses.cpuCores.memory]]
    value = 256
    percentage = 100
`).join('')
}

test(`invalid configurations are refused with the offending key (${INVALID_TOML.length} cases)`, () => {
  for (const [what, toml, key] of INVALID_TOML) {
    expectKey(() => parseConfigToml(toml), key, what)
  }
})

test('node.runtimeCheckInterval: a duration from 1 s to 10 min, never off', () => {
  assert.is(parseConfigToml('[node]\nruntimeCheckInterval = "1s"').node.runtimeCheckInterval, 1_000)
  assert.is(parseConfigToml('[node]\nruntimeCheckInterval = "10m"').node.runtimeCheckInterval, 600_000)
  assert.is(parseConfigToml('[node]\nruntimeCheckInterval = 2500').node.runtimeCheckInterval, 2_500)

  const range = 'node.runtimeCheckInterval: must be a duration from "1s" to "10m" (the checks of the container engine cannot be turned off), got '
  const refused: Array<[string, string]> = [
    ['"500ms"', `${range}"500ms"`],
    ['"0"', `${range}"0s"`],
    ['"11m"', `${range}"11m"`],
    ['"off"', 'node.runtimeCheckInterval: invalid duration "off"'],
    ['true', 'node.runtimeCheckInterval: must be a duration ("45s", "1m", "500ms") or a number of milliseconds, got boolean true']
  ]

  for (const [value, message] of refused) {
    const err = configError(() => parseConfigToml(`[node]\nruntimeCheckInterval = ${value}`), value)
    assert.is(err.key, 'node.runtimeCheckInterval', value)
    assert.ok(err.message.startsWith(message), `${value}: ${err.message}`)
    assert.not.match(err.message, /\n/)
  }

  expectKey(() => { validateConfig(changed(c => { c.node.runtimeCheckInterval = 1.5 })) }, 'node.runtimeCheckInterval')
})

test('node.mdns: true, false or unset (decided by the listen addresses)', () => {
  assert.is(parseConfigToml('[node]\nmdns = true').node.mdns, true)
  assert.is(parseConfigToml('[node]\nmdns = false').node.mdns, false)
  assert.is(parseConfigToml('[node]\ncpuClass = "low"').node.mdns, undefined)

  for (const value of ['"yes"', '1']) {
    const err = configError(() => parseConfigToml(`[node]\nmdns = ${value}`), value)
    assert.is(err.key, 'node.mdns', value)
  }

  expectKey(() => { validateConfig(changed(c => { (c.node as any).mdns = 'on' })) }, 'node.mdns')
})

test('errors explain themselves', () => {
  assert.match(configError(() => parseConfigToml('[network]\ncpuOvercomit = 100'), 'typo').message, 'did you mean "cpuOvercommit"?')
  assert.match(configError(() => parseConfigToml('[network]\nCPUOvercommit = 100'), 'Go name').message, 'did you mean "cpuOvercommit"?')
  assert.match(configError(() => parseConfigToml('[network]\ncpuOvercommit = 99'), '99').message, 'network.cpuOvercommit: must be an integer ≥ 100, got 99')
  assert.match(configError(() => parseConfigToml(tree('value = 256\npercentage = 0.001', 'value = 512\npercentage = 99.999')), 'cell').message, 'no cell')
  assert.match(configError(() => parseConfigToml(classes(['low', 50], ['high', 40])), 'sum').message, 'sum to 90')
})

test('a TOML syntax error names the file, line and column', () => {
  const err = configError(() => parseConfigToml('[network]\ncpuSlices = = 2\n', 'my.toml'), 'syntax')
  assert.is(err.key, 'my.toml')
  assert.match(err.message, 'line 2, column')
  assert.is(configError(() => parseConfigToml('[network'), 'syntax').key, 'configuration')
  assert.is(configError(() => parseConfigToml('a = 1\na = 2', 'dup.toml'), 'duplicate').key, 'dup.toml')
})

test('loadConfigFile: a missing file is an error naming the path; a file is parsed with its name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-config-'))

  try {
    const missing = join(dir, 'missing.toml')
    const notFound = await loadConfigFile(missing).then(() => undefined, (err: unknown) => err)
    assert.instance(notFound, InvalidConfigurationError)
    assert.is((notFound as InvalidConfigurationError).key, missing)
    assert.match((notFound as Error).message, 'not found')

    const broken = join(dir, 'broken.toml')
    await writeFile(broken, '[node]\napiPort = 1\n[node')
    const syntax = await loadConfigFile(broken).then(() => undefined, (err: unknown) => err)
    assert.is((syntax as InvalidConfigurationError).key, broken)
    assert.match((syntax as Error).message, 'line 3')

    const good = join(dir, 'good.toml')
    await writeFile(good, '[node]\napiPort = 8001\n')
    assert.is((await loadConfigFile(good)).node.apiPort, 8001)
  } finally {
    await rm(dir, { recursive: true })
  }
})

test('validateConfig refuses bad values set in code', () => {
  expectKey(() => { validateConfig(changed(c => { c.network.cpuOvercommit = 99 })) }, 'network.cpuOvercommit')
  expectKey(() => { validateConfig(changed(c => { c.network.requestTimeout = 1.5 })) }, 'network.requestTimeout')
  expectKey(() => { validateConfig(changed(c => { c.network.resources.cpuClasses[0].cpuCores[1].memory[2].percentage = 26 })) }, 'network.resources.cpuClasses[0].cpuCores[1].memory')
  expectKey(() => { validateConfig(changed(c => { c.network.resources.cpuClasses[0].cpuCores[1].memory[2].percentage = -25 })) }, 'network.resources.cpuClasses[0].cpuCores[1].memory[2].percentage')
  expectKey(() => { validateConfig(changed(c => { c.node.cpus = Number.NaN })) }, 'node.cpus')
  expectKey(() => { validateConfig(changed(c => { c.node.memory = 0 })) }, 'node.memory')
})

test('parseDuration: Go-style durations in milliseconds', () => {
  const cases: Array<[string, number]> = [
    ['45s', 45_000], ['1m', 60_000], ['15m30s', 930_000], ['500ms', 500], ['1.5s', 1_500], ['1h', 3_600_000],
    ['2h45m', 9_900_000], ['1h2m3s4ms', 3_723_004], ['2000us', 2], ['2000µs', 2], ['3000000ns', 3], ['0', 0], ['0s', 0],
    ['.5s', 500], ['1.s', 1000], ['0.1s', 100], ['0.3s', 300], ['1m0.001s', 60_001]
  ]

  for (const [text, ms] of cases) {
    assert.is(parseDuration(text), ms, text)
  }

  for (const text of ['', '5', '5 parsecs', '-5s', '+5s', 's', ' 5s', '5s ', '5S', '1d', '1.5ms', '100us', '1e3s', '5s5']) {
    expectKey(() => parseDuration(text, 'network.x'), 'network.x', JSON.stringify(text))
  }
})

test('formatDuration writes what parseDuration reads', () => {
  const cases: Array<[number, string]> = [[45_000, '45s'], [60_000, '1m'], [930_000, '15m30s'], [500, '500ms'], [0, '0s'], [3_723_004, '1h2m3s4ms'], [1_500, '1s500ms'], [1.4, '1ms']]

  for (const [ms, text] of cases) {
    assert.is(formatDuration(ms), text, String(ms))
  }

  assert.throws(() => formatDuration(-1), (err: Error) => err instanceof RangeError)
  assert.throws(() => formatDuration(Number.NaN), (err: Error) => err instanceof RangeError)
  fc.assert(fc.property(fc.nat({ max: 2 ** 45 }), ms => parseDuration(formatDuration(ms)) === ms))
})

test('parseMemory: megabytes with an optional unit', () => {
  const cases: Array<[string, number]> = [['256', 256], ['256m', 256], ['256MB', 256], ['256 mb', 256], ['1g', 1024], ['1.5g', 1536], [' 2G ', 2048], ['2gb', 2048]]

  for (const [text, mb] of cases) {
    assert.is(parseMemory(text), mb, text)
  }

  for (const text of ['', 'abc', '-1', '0', '0m', '1.1', '0.1g', '1t', '1e3', '256b', '1k', 'g', '1.g']) {
    expectKey(() => parseMemory(text), 'memory', JSON.stringify(text))
  }

  expectKey(() => parseMemory('x', 'node.memory'), 'node.memory')
})

test('networkConfigToJson is canonical: sorted keys, only known keys, no whitespace', () => {
  const network = defaultConfig().network
  const json = networkConfigToJson(network)

  assert.is(json, '{"cpuOvercommit":100,"cpuSlices":1,"discoveryBackend":"multi-offer-updates","launchTimeout":300000,"lookupCount":3,' +
    '"maxPartitionsSearch":3,"maxRefreshesFailed":2,"maxRefreshesMissed":2,"memoryOvercommit":100,' +
    '"randBackendMaxRetries":3,"refreshMissedTimeout":20000,' +
    '"refreshesCheckInterval":30000,"refreshingInterval":15000,"requestTimeout":5000,"resources":{"cpuClasses":[' +
    '{"cpuCores":[{"memory":[{"percentage":25,"value":256},{"percentage":50,"value":512},{"percentage":25,"value":1024}],"percentage":50,"value":1},' +
    '{"memory":[{"percentage":25,"value":512},{"percentage":50,"value":1024},{"percentage":25,"value":2048}],"percentage":50,"value":2}],' +
    '"percentage":100,"value":0}]},"schedulingPolicy":"binpack","spreadOffers":true,"spreadOffersInterval":40000,' +
    '"statusInterval":10000,"supplyingInterval":45000,"tradersPerAnchor":64}')

  // key order of the input and extra properties do not matter
  const reordered = Object.fromEntries(Object.entries(network).reverse()) as unknown as NetworkConfig
  Object.assign(reordered, { extra: 1 })
  Object.assign(reordered.resources.cpuClasses[0], { note: 'x' })
  assert.is(networkConfigToJson(reordered), json)
})

test('JSON round trip', () => {
  const network = parseConfigToml(classes(['low', 70.5], ['high', 29.5]) + '[network]\nschedulingPolicy = "spread"\nsupplyingInterval = "1m1ms"').network
  const json = networkConfigToJson(network)

  assert.equal(networkConfigFromJson(json), network)
  assert.is(networkConfigToJson(networkConfigFromJson(json)), json)
  assert.equal(networkConfigFromJson(JSON.stringify(network, null, 2)), network, 'any valid JSON is read, canonical or not')

  const config = fc.record({
    cpuSlices: fc.integer({ min: 1, max: 64 }),
    cpuOvercommit: fc.integer({ min: 100, max: 1000 }),
    supplyingInterval: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    maxRefreshesMissed: fc.nat({ max: 100 }),
    spreadOffers: fc.boolean(),
    discoveryBackend: fc.constantFrom('single-offer', 'multi-offer', 'multi-offer-updates', 'random', 'swarm' as const),
    lookupCount: fc.integer({ min: 1, max: 20 })
  })

  fc.assert(fc.property(config, changes => {
    const n = { ...defaultConfig().network, ...changes }
    const j = networkConfigToJson(n)
    assert.equal(networkConfigFromJson(j), n)
    assert.is(networkConfigToJson(networkConfigFromJson(j)), j)
  }))
})

test('networkConfigFromJson refuses hostile JSON with InvalidConfigurationError', () => {
  const valid = networkConfigToJson(defaultConfig().network)
  const cases: Array<[string, string, string]> = [
    ['oversized', valid.replace('{', '{' + ' '.repeat(MAX_NETWORK_CONFIG_JSON_BYTES)), 'network'],
    ['oversized in bytes, not in characters', valid.replace('{', '{' + ' '.repeat(MAX_NETWORK_CONFIG_JSON_BYTES / 2 - 200) + '"x":"' + 'é'.repeat(MAX_NETWORK_CONFIG_JSON_BYTES / 4) + '",'), 'network'],
    ['not JSON', '{', 'network'],
    ['empty', '', 'network'],
    ['an array', '[]', 'network'],
    ['null', 'null', 'network'],
    ['a number', '42', 'network'],
    ['a string', '"network"', 'network'],
    ['deep nesting', '['.repeat(30_000) + ']'.repeat(30_000), 'network'],
    ['an empty object', '{}', 'network.cpuSlices'],
    ['a missing key', valid.replace('"cpuSlices":1,', ''), 'network.cpuSlices'],
    ['__proto__', valid.replace('{', '{"__proto__":{"isAdmin":true},'), 'network.__proto__'],
    ['__proto__ in the tree', valid.replace('{"cpuCores"', '{"__proto__":{},"cpuCores"'), 'network.resources.cpuClasses[0].__proto__'],
    ['constructor', valid.replace('{', '{"constructor":{},'), 'network.constructor'],
    ['an unknown key', valid.replace('{', '{"foo":1,'), 'network.foo'],
    ['a number as a string', jsonWith('cpuSlices', '"1"'), 'network.cpuSlices'],
    ['a duration as a string', jsonWith('supplyingInterval', '"45s"'), 'network.supplyingInterval'],
    ['a boolean as a number', jsonWith('spreadOffers', '1'), 'network.spreadOffers'],
    ['a policy as a number', jsonWith('schedulingPolicy', '0'), 'network.schedulingPolicy'],
    ['an unknown policy', jsonWith('schedulingPolicy', '"random"'), 'network.schedulingPolicy'],
    ['a null', jsonWith('lookupCount', 'null'), 'network.lookupCount'],
    ['a huge number', jsonWith('lookupCount', '1e400'), 'network.lookupCount'],
    ['a class name', valid.replace('"percentage":100,"value":0', '"percentage":100,"value":"low"'), 'network.resources.cpuClasses[0].value'],
    ['memory with a unit', valid.replace('"value":256', '"value":"256m"'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0].value'],
    ['resources an array', valid.replace(/"resources":\{.*\]\},/, '"resources":[],'), 'network.resources'],
    ['cpuClasses an object', valid.replace(/"cpuClasses":\[.*\]\},/, '"cpuClasses":{}},'), 'network.resources.cpuClasses'],
    ['a memory entry null', valid.replace('{"percentage":25,"value":256}', 'null'), 'network.resources.cpuClasses[0].cpuCores[0].memory[0]'],
    ['an invalid value', jsonWith('cpuOvercommit', '99'), 'network.cpuOvercommit'],
    ['a bad tree', valid.replace('"percentage":25,"value":256', '"percentage":26,"value":256'), 'network.resources.cpuClasses[0].cpuCores[0].memory']
  ]

  for (const [what, json, key] of cases) {
    expectKey(() => networkConfigFromJson(json), key, what)
  }

  expectKey(() => networkConfigFromJson(42 as unknown as string), 'network', 'not a string')
  assert.is(Object.getPrototypeOf(networkConfigFromJson(valid)), Object.prototype)
})

test('networkConfigFromJson throws nothing but InvalidConfigurationError (property)', () => {
  const valid = JSON.parse(networkConfigToJson(defaultConfig().network)) as Record<string, unknown>
  const keys = Object.keys(valid)
  const mutated = fc.record({ key: fc.constantFrom(...keys), value: fc.jsonValue() })
    .map(({ key, value }) => JSON.stringify({ ...valid, [key]: value }))
  const input = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json(), mutated, fc.anything().map(v => JSON.stringify(v) ?? ''))

  fc.assert(fc.property(input, json => {
    try {
      networkConfigFromJson(json)
    } catch (err) {
      if (!(err instanceof InvalidConfigurationError)) {
        throw err
      }
    }
  }), { numRuns: 2000 })
})

test('a joiner adopts the defaults and the test networks\' settings, and refuses values beyond the adoption bounds, naming the key', () => {
  checkAdoptedNetwork(defaultConfig().network)
  const b = ADOPTED_NETWORK_BOUNDS
  const hostile: Array<[keyof NetworkConfig, (n: NetworkConfig) => void]> = [
    ['cpuOvercommit', n => { n.cpuOvercommit = b.maxOvercommit + 1 }],
    ['memoryOvercommit', n => { n.memoryOvercommit = 100_000 }],
    ['cpuSlices', n => { n.cpuSlices = b.maxCpuSlices + 1 }],
    ['supplyingInterval', n => { n.supplyingInterval = b.minInterval - 1 }],
    ['refreshMissedTimeout', n => { n.refreshMissedTimeout = b.maxInterval + 1 }],
    ['requestTimeout', n => { n.requestTimeout = 1 }],
    ['launchTimeout', n => { n.launchTimeout = n.requestTimeout - 1 }],
    ['statusInterval', n => { n.statusInterval = b.maxInterval + 1 }],
    ['maxPartitionsSearch', n => { n.maxPartitionsSearch = b.maxCount + 1 }]
  ]

  for (const [key, edit] of hostile) {
    const network = defaultConfig().network
    edit(network)
    validateConfig({ ...defaultConfig(), network })
    expectKey(() => { checkAdoptedNetwork(network) }, `network.${key}`)
  }
})

test('networkConfigDigest: sha256 of the canonical JSON, the same for equal configurations, another for any change', () => {
  const network = defaultConfig().network
  const digest = networkConfigDigest(network)
  assert.match(digest, /^[0-9a-f]{64}$/)
  assert.is(digest, createHash('sha256').update(networkConfigToJson(network)).digest('hex'))
  assert.is(networkConfigDigest(parseConfigToml('[network]\nsupplyingInterval = "45s"').network), digest, 'the same values written otherwise')
  assert.is(networkConfigDigest(networkConfigFromJson(networkConfigToJson(network))), digest)
  assert.is.not(networkConfigDigest({ ...network, supplyingInterval: 45_001 }), digest)
  // this peer's own settings are no part of it
  assert.is(networkConfigDigest(parseConfigToml(`[node]\ncpus = 3\nnetworkConfig = "${digest}"`).network), digest)
})

test('[network] keyFile is this peer\'s own: read into networkKeyFile, never part of the network configuration', async () => {
  const withKey = parseConfigToml('[network]\nkeyFile = "swarm.key"\ncpuSlices = 2')
  const without = parseConfigToml('[network]\ncpuSlices = 2')
  assert.is(withKey.networkKeyFile, 'swarm.key')
  assert.not.ok(Object.hasOwn(withKey.network, 'keyFile'))
  assert.is(networkConfigToJson(withKey.network), networkConfigToJson(without.network))
  assert.not.match(networkConfigToJson(withKey.network), /keyFile|swarm/)
  assert.is(networkConfigDigest(withKey.network), networkConfigDigest(without.network))
  assert.not.ok(Object.hasOwn(without, 'networkKeyFile'), 'no key file unless one is named')

  // a peer that sends one is refused like any unknown key: a joiner never takes a key file
  const sent = JSON.stringify({ ...JSON.parse(networkConfigToJson(without.network)), keyFile: '/etc/shadow' })
  expectKey(() => networkConfigFromJson(sent), 'network.keyFile')

  // in a file, a relative path is the file's neighbour; an absolute one stays as it is
  const dir = await mkdtemp(join(tmpdir(), 'caravela-keyfile-'))

  try {
    await writeFile(join(dir, 'relative.toml'), '[network]\nkeyFile = "keys/swarm.key"\n')
    await writeFile(join(dir, 'absolute.toml'), '[network]\nkeyFile = "/srv/swarm.key"\n')
    assert.is((await loadConfigFile(join(dir, 'relative.toml'))).networkKeyFile, join(dir, 'keys', 'swarm.key'))
    assert.is((await loadConfigFile(join(dir, 'absolute.toml'))).networkKeyFile, '/srv/swarm.key')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
