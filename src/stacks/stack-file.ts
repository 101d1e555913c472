/**
 * Stack files (`caravela deploy -f`): the original Caravela's format (a map of service name →
 * image, args, ports, cpus, memory, cpu_power or cpu_class, group_policy and restart) and the matching
 * subset of a Docker Compose file (a file with a top-level `services:` map). Either becomes the
 * containers of one request, one per service, named after the service.
 *
 * Every value is checked and every error names the file, the service and the key. A Compose key
 * Caravela cannot honour is refused when going without it would silently break the application
 * (build, volumes, environment, …) and ignored with a warning when it is harmless (labels,
 * healthcheck, …); any other key is refused as unknown. The YAML is read defensively: at most 1 MiB,
 * unique keys, at most 100 aliases.
 */

import { open } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { parseDocument } from 'yaml'
import { parseMemory } from '../config/memory.js'
import { MAX_ARG_LENGTH, MAX_ARGS, MAX_CONTAINERS, MAX_IMAGE_LENGTH, MAX_NAME_LENGTH, MAX_PORT_MAPPINGS } from '../protocols/constants.js'
import { CPU_CLASS_NAMES, GROUP_POLICIES } from '../types.js'
import { InvalidPortMappingError, parsePortMapping, portMapping } from './ports.js'
import { parseRestartPolicy, restartPolicyOfCondition } from './restart.js'
import type { ContainerConfig, PortMapping, RestartPolicy } from '../types.js'

/** Largest stack file, in bytes. */
export const MAX_STACK_FILE_SIZE = 1024 * 1024
/** Most services in a stack: the containers one request can carry. */
export const MAX_SERVICES = MAX_CONTAINERS
/** Most YAML aliases (`*name`) a file may use, against "billion laughs" expansion. */
export const MAX_ALIAS_COUNT = 100
/** A stack name: what `caravela ps --stack` and `stop --stack` take. */
export const STACK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** `STACK_NAME_PATTERN` in words. */
export const STACK_NAME_RULE = 'up to 64 letters, digits, ".", "_" and "-", starting with a letter or digit'

const SERVICE_NAME_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${MAX_NAME_LENGTH - 1}}$`)
const MEBIBYTE = 1024 * 1024
/** Compose sizes Caravela reads itself: bytes, `b` or `k`/`kb`; `m` and `g` go to `parseMemory`. */
const BYTES_PATTERN = /^(\d+)\s*(b|kb?)?$/i

/** A stack file is not valid: `service` and `key` say where, when the problem is not the whole file. */
export class StackFileError extends Error {
  static override name = 'StackFileError'
  /** the file, as given */
  readonly source: string
  readonly service?: string
  /** dotted path within the service (or the file), e.g. `deploy.resources.limits.memory`, `ports[1]` */
  readonly key?: string

  constructor (source: string, message: string, service?: string, key?: string) {
    super(where(source, service, key) + message)
    this.name = 'StackFileError'
    this.source = source
    this.service = service
    this.key = key
  }
}

/** One service of a stack: its name and the container it runs. */
export interface StackService {
  name: string
  container: ContainerConfig
}

/** A stack file as read: its services in file order, and what of the file was ignored. */
export interface Stack {
  name: string
  services: StackService[]
  /** one line per key ignored, each saying where and why */
  warnings: string[]
}

/** What a map may hold: keys read, keys refused and keys ignored, the last two with the reason. */
interface KeyRules {
  read: readonly string[]
  refused?: Record<string, string>
  ignored?: Record<string, string>
  /** Compose extension keys (`x-…`) are ignored */
  extensions?: boolean
}

/** Where problems are reported while one file is read. */
interface Reader {
  source: string
  service?: string
  warnings: string[]
}

const ORIGINAL_SERVICE_KEYS: KeyRules = {
  // the original ignores `name` too: the service is named after its key
  read: ['image', 'args', 'ports', 'cpus', 'memory', 'cpu_power', 'cpu_class', 'group_policy', 'restart', 'name']
}

const NO_VOLUMES = 'containers get no volumes, so their data would be neither kept nor shared'
const NO_NETWORK = 'services get no network of their own: they reach each other through published ports only'
const NO_ENVIRONMENT = 'Caravela cannot set environment variables: build them into the image'
const OWN_LABELS = 'containers carry Caravela\'s own labels only'
const ENGINE_DEFAULT = 'containers run with the engine\'s default'
const USE_LIMITS = 'set deploy.resources.limits instead'

const COMPOSE_FILE_KEYS: KeyRules = {
  read: ['services', 'name'],
  ignored: {
    version: 'obsolete, as in Compose',
    networks: NO_NETWORK,
    volumes: NO_VOLUMES,
    secrets: 'no secrets are mounted into containers',
    configs: 'no configs are mounted into containers'
  },
  extensions: true
}

const COMPOSE_SERVICE_KEYS: KeyRules = {
  read: ['image', 'command', 'ports', 'deploy', 'restart', 'x-caravela'],
  refused: {
    build: 'Caravela runs published images only: push the image and name it in image',
    volumes: NO_VOLUMES,
    volumes_from: NO_VOLUMES,
    privileged: 'containers never run privileged',
    cap_add: 'containers get no extra capabilities',
    devices: 'no devices are passed to containers',
    network_mode: NO_NETWORK,
    networks: NO_NETWORK,
    links: NO_NETWORK,
    external_links: NO_NETWORK,
    environment: NO_ENVIRONMENT,
    env_file: NO_ENVIRONMENT,
    entrypoint: 'containers run their image\'s entrypoint',
    user: 'containers run as their image\'s user',
    working_dir: 'containers run in their image\'s working directory',
    secrets: 'no secrets are mounted into containers',
    configs: 'no configs are mounted into containers',
    extends: 'extends is not resolved: write the service out in full',
    scale: 'a service runs one container: declare one service per container',
    cpus: USE_LIMITS,
    mem_limit: USE_LIMITS
  },
  ignored: {
    container_name: 'containers are named after their service',
    labels: OWN_LABELS,
    depends_on: 'the services of a stack start together, in no set order',
    healthcheck: 'no health checks are run',
    expose: 'expose only documents ports: publish them with ports',
    hostname: `${ENGINE_DEFAULT} hostname`,
    logging: `${ENGINE_DEFAULT} logging driver`,
    stop_signal: `${ENGINE_DEFAULT} stop signal`,
    stop_grace_period: `${ENGINE_DEFAULT} stop timeout`,
    init: `${ENGINE_DEFAULT} init process`,
    tty: 'containers run detached, without a terminal',
    stdin_open: 'containers run detached, without a terminal',
    tmpfs: 'containers write to their own file system instead',
    platform: 'images run on their supplier\'s platform',
    pull_policy: 'a missing image is pulled',
    profiles: 'every service of the file is deployed'
  },
  extensions: true
}

const DEPLOY_KEYS: KeyRules = {
  read: ['resources', 'replicas', 'restart_policy'],
  ignored: {
    placement: 'Caravela places containers by the resources they need',
    update_config: 'a stack is placed whole, never updated in place',
    rollback_config: 'a stack is placed whole, never updated in place',
    labels: OWN_LABELS
  }
}

const RESOURCES_KEYS: KeyRules = {
  read: ['limits'],
  ignored: { reservations: 'Caravela reserves what the limits ask for' }
}

const LIMITS_KEYS: KeyRules = {
  read: ['cpus', 'memory'],
  ignored: { pids: 'the supplier sets its own pids limit' }
}

const LONG_PORT_KEYS: KeyRules = {
  read: ['target', 'published', 'protocol'],
  refused: { host_ip: 'ports are published on the address the supplier is configured with' },
  ignored: { mode: 'ports are published on the supplier', name: 'ports have no names', app_protocol: 'ports have no application protocol' }
}

const RESTART_POLICY_KEYS: KeyRules = {
  read: ['condition', 'max_attempts'],
  ignored: {
    delay: 'a container is placed again at once, then with a backoff that doubles up to a minute',
    window: 'a re-placement counts as soon as the container runs again'
  }
}

const CARAVELA_EXTENSION_KEYS: KeyRules = {
  read: ['group_policy', 'cpu_class']
}

/**
 * Reads a stack file: at most `MAX_STACK_FILE_SIZE` bytes of it are read, so a device or a huge
 * file is refused without being loaded.
 *
 * @throws {StackFileError} when the file cannot be read or is not a valid stack file
 */
export async function readStackFile (path: string): Promise<Stack> {
  let text: string

  try {
    text = await readStart(path, MAX_STACK_FILE_SIZE + 1)
  } catch (err: any) {
    throw new StackFileError(path, `cannot read it: ${err.message}`)
  }

  return parseStackFile(text, path)
}

/**
 * Parses a stack file: a Compose file when it has a top-level `services` key, the original's
 * format otherwise. The stack is named by the Compose `name:` or after the file (`source`
 * without its extension).
 *
 * @throws {StackFileError}
 */
export function parseStackFile (text: string, source: string): Stack {
  const reader: Reader = { source, warnings: [] }
  const file = readYaml(reader, text)
  const compose = Object.hasOwn(file, 'services')

  if (compose) {
    checkKeys(reader, file, undefined, COMPOSE_FILE_KEYS)
  }

  const services = compose ? map(reader, file.services, 'services') : file
  const entries = Object.entries(services)

  if (entries.length === 0 || entries.length > MAX_SERVICES) {
    fail(reader, compose ? 'services' : undefined, `a stack has from 1 to ${MAX_SERVICES} services, this one has ${entries.length}`)
  }

  return {
    name: stackName(reader, compose ? file.name : undefined),
    services: entries.map(([name, value]) => readService(reader, name, value, compose ? composeContainer : originalContainer)),
    warnings: reader.warnings
  }
}

/** The YAML document as a map, or the reason it is not a usable one. */
function readYaml (reader: Reader, text: string): Record<string, unknown> {
  if (Buffer.byteLength(text) > MAX_STACK_FILE_SIZE) {
    fail(reader, undefined, `the file is larger than ${MAX_STACK_FILE_SIZE} bytes`)
  }

  // merge keys (`<<: *defaults`) are common in Compose files; aliases are capped in toJS
  const document = parseDocument(text, { uniqueKeys: true, merge: true })
  const [error] = document.errors

  if (error != null) {
    fail(reader, undefined, firstLine(error.message))
  }

  document.warnings.forEach(warning => { warn(reader, undefined, firstLine(warning.message)) })
  let value: unknown

  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
  } catch (err: any) {
    fail(reader, undefined, err.message)
  }

  if (value == null) {
    fail(reader, undefined, 'the file is empty: a stack file is a map of services')
  }

  return map(reader, value, undefined)
}

function stackName (reader: Reader, declared: unknown): string {
  const fromFile = declared === undefined
  const name = fromFile ? basename(reader.source, extname(reader.source)) : declared

  if (typeof name !== 'string' || !STACK_NAME_PATTERN.test(name)) {
    const hint = fromFile ? ' (a stack is named after its file, or by a Compose file\'s name:)' : ''
    fail(reader, fromFile ? undefined : 'name', `${show(name)} is not a stack name: ${STACK_NAME_RULE}${hint}`)
  }

  return name
}

/** One service, its errors and warnings naming it. */
function readService (reader: Reader, name: string, value: unknown, read: (reader: Reader, service: Record<string, unknown>) => Omit<ContainerConfig, 'name'>): StackService {
  const scoped = { ...reader, service: name }

  if (!SERVICE_NAME_PATTERN.test(name)) {
    fail(scoped, undefined, `not a service name: up to ${MAX_NAME_LENGTH} letters, digits, ".", "_" and "-", starting with a letter or digit`)
  }

  return { name, container: { name, ...read(scoped, map(scoped, value, undefined)) } }
}

/** A service in the original's format. */
function originalContainer (reader: Reader, service: Record<string, unknown>): Omit<ContainerConfig, 'name'> {
  checkKeys(reader, service, undefined, ORIGINAL_SERVICE_KEYS)

  if (service.cpu_power != null && service.cpu_class != null) {
    fail(reader, 'cpu_class', 'give cpu_power or cpu_class, not both')
  }

  const classKey = service.cpu_class == null ? 'cpu_power' : 'cpu_class'

  return {
    image: image(reader, service.image),
    args: words(reader, service.args, 'args'),
    portMappings: ports(reader, service.ports, (port, key) => shortPort(reader, port, key)),
    resources: {
      cpuClass: cpuClass(reader, service[classKey], classKey),
      cpus: wholeCpus(reader, service.cpus, 'cpus'),
      memory: megabytes(reader, service.memory, 'memory')
    },
    groupPolicy: groupPolicy(reader, service.group_policy, 'group_policy'),
    ...restartPolicy(reader, service.restart, 'restart')
  }
}

/** A service of a Compose file, with Caravela's own `x-caravela: { group_policy, cpu_class }`. */
function composeContainer (reader: Reader, service: Record<string, unknown>): Omit<ContainerConfig, 'name'> {
  checkKeys(reader, service, undefined, COMPOSE_SERVICE_KEYS)
  const deploy = section(reader, service.deploy, 'deploy', DEPLOY_KEYS)

  if (deploy.replicas != null && deploy.replicas !== 1) {
    fail(reader, 'deploy.replicas', `a service runs one container: declare one service per container, got ${show(deploy.replicas)}`)
  }

  const resources = section(reader, deploy.resources, 'deploy.resources', RESOURCES_KEYS)
  const limits = section(reader, resources.limits, 'deploy.resources.limits', LIMITS_KEYS)
  const caravela = section(reader, service['x-caravela'], 'x-caravela', CARAVELA_EXTENSION_KEYS)

  return {
    image: image(reader, service.image),
    args: words(reader, service.command, 'command'),
    portMappings: ports(reader, service.ports, (port, key) => composePort(reader, port, key)),
    resources: {
      cpuClass: cpuClass(reader, caravela.cpu_class, 'x-caravela.cpu_class'),
      cpus: composeCpus(reader, limits.cpus, 'deploy.resources.limits.cpus'),
      memory: composeMemory(reader, limits.memory, 'deploy.resources.limits.memory')
    },
    groupPolicy: groupPolicy(reader, caravela.group_policy, 'x-caravela.group_policy'),
    ...composeRestartPolicy(reader, service.restart, deploy.restart_policy)
  }
}

/** `restart: no|on-failure[:N]|always|unless-stopped`; nothing for `no` or when absent. */
function restartPolicy (reader: Reader, value: unknown, key: string): { restart?: RestartPolicy } {
  if (value == null) {
    return {}
  }

  // YAML reads a bare `no` as false
  const text = value === false ? 'no' : value

  if (typeof text !== 'string') {
    fail(reader, key, `must be no, on-failure[:N], always or unless-stopped, got ${show(value)}`)
  }

  return restartOf(reader, key, () => parseRestartPolicy(text))
}

/** Compose's `deploy.restart_policy` when given (it wins over `restart:`, as in Compose), else `restart:`. */
function composeRestartPolicy (reader: Reader, restart: unknown, deployPolicy: unknown): { restart?: RestartPolicy } {
  if (deployPolicy == null) {
    return restartPolicy(reader, restart, 'restart')
  }

  const key = 'deploy.restart_policy'
  const policy = section(reader, deployPolicy, key, RESTART_POLICY_KEYS)

  if (restart != null) {
    warn(reader, 'restart', `ignored: ${key} is given`)
  }

  // Compose's default condition is any
  const condition = policy.condition ?? 'any'
  const attempts = policy.max_attempts

  if (typeof condition !== 'string') {
    fail(reader, `${key}.condition`, `must be none, on-failure or any, got ${show(condition)}`)
  }
  if (attempts != null && typeof attempts !== 'number') {
    fail(reader, `${key}.max_attempts`, `must be a whole number, got ${show(attempts)}`)
  }

  return restartOf(reader, key, () => restartPolicyOfCondition(condition, attempts ?? undefined))
}

function restartOf (reader: Reader, key: string, parse: () => RestartPolicy): { restart?: RestartPolicy } {
  try {
    const restart = parse()
    return restart.name === 'no' ? {} : { restart }
  } catch (err: any) {
    fail(reader, key, err.message)
  }
}

/** Refuses unknown and refused keys, warns of ignored ones. */
function checkKeys (reader: Reader, object: Record<string, unknown>, path: string | undefined, rules: KeyRules): void {
  for (const key of Object.keys(object)) {
    const at = path == null ? key : `${path}.${key}`

    if (rules.read.includes(key) || (rules.extensions === true && key.startsWith('x-'))) {
      continue
    }
    if (rules.refused != null && Object.hasOwn(rules.refused, key)) {
      fail(reader, at, `not supported: ${rules.refused[key]}`)
    }
    if (rules.ignored == null || !Object.hasOwn(rules.ignored, key)) {
      fail(reader, at, `not a key Caravela reads here (it reads ${rules.read.join(', ')})`)
    }

    warn(reader, at, `ignored: ${rules.ignored[key]}`)
  }
}

/** An optional map, its keys checked; `{}` when absent. */
function section (reader: Reader, value: unknown, path: string, rules: KeyRules): Record<string, unknown> {
  if (value == null) {
    return {}
  }

  const object = map(reader, value, path)
  checkKeys(reader, object, path, rules)
  return object
}

function image (reader: Reader, value: unknown): string {
  if (value == null) {
    fail(reader, 'image', 'missing: every service needs an image')
  }
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_IMAGE_LENGTH) {
    fail(reader, 'image', `must be an image reference of up to ${MAX_IMAGE_LENGTH} characters, got ${show(value)}`)
  }

  return value
}

/** A list of words, or a string split into words as a shell would; none when absent. */
function words (reader: Reader, value: unknown, key: string): string[] {
  const list = value == null
    ? []
    : typeof value === 'string'
      ? splitWords(reader, value, key)
      : array(reader, value, key).map((word, i) => scalar(reader, word, `${key}[${i}]`))

  atMost(reader, list, key, MAX_ARGS, 'words')
  const long = list.findIndex(word => word.length > MAX_ARG_LENGTH)

  if (long !== -1) {
    fail(reader, `${key}[${long}]`, `longer than ${MAX_ARG_LENGTH} characters`)
  }

  return list
}

/**
 * Splits a command line into words the way a POSIX shell does, without expansions: whitespace
 * separates words, `'…'` quotes literally, `"…"` quotes with `\` escaping `"`, `\`, `$` and `` ` ``,
 * and `\` outside quotes escapes any character.
 */
function splitWords (reader: Reader, text: string, key: string): string[] {
  const list: string[] = []
  let word = ''
  let inWord = false
  let quote: string | undefined

  for (let i = 0; i < text.length; i++) {
    const c = text[i]

    if (quote === '\'') {
      if (c === '\'') {
        quote = undefined
      } else {
        word += c
      }
    } else if (quote === '"') {
      const next = text[i + 1]

      if (c === '"') {
        quote = undefined
      } else if (c === '\\' && next != null && '"\\$`'.includes(next)) {
        word += next
        i++
      } else {
        word += c
      }
    } else if (/\s/.test(c)) {
      if (inWord) {
        list.push(word)
      }
      word = ''
      inWord = false
    } else {
      inWord = true

      if (c === '\'' || c === '"') {
        quote = c
      } else if (c === '\\') {
        if (i === text.length - 1) {
          fail(reader, key, 'ends with a lone \\')
        }
        word += text[i + 1]
        i++
      } else {
        word += c
      }
    }
  }

  if (quote != null) {
    fail(reader, key, `has an unterminated ${quote} quote`)
  }
  if (inWord) {
    list.push(word)
  }

  return list
}

/** Port mappings from a list; none when absent. */
function ports (reader: Reader, value: unknown, read: (port: unknown, key: string) => PortMapping): PortMapping[] {
  const list = value == null ? [] : array(reader, value, 'ports')
  atMost(reader, list, 'ports', MAX_PORT_MAPPINGS, 'ports')
  return list.map((port, i) => read(port, `ports[${i}]`))
}

/** `P`, `P/proto`, `H:C` or `H:C/proto`, as a string or a bare port number. */
function shortPort (reader: Reader, value: unknown, key: string): PortMapping {
  if (typeof value !== 'string' && typeof value !== 'number') {
    fail(reader, key, `must be host:container[/tcp|udp], got ${show(value)}`)
  }

  return port(reader, key, () => parsePortMapping(String(value)))
}

/** Compose's short syntax, or its long syntax `{ target, published, protocol }`. */
function composePort (reader: Reader, value: unknown, key: string): PortMapping {
  if (typeof value !== 'object' || value == null || Array.isArray(value)) {
    return shortPort(reader, value, key)
  }

  const long = value as Record<string, unknown>
  checkKeys(reader, long, key, LONG_PORT_KEYS)

  if (long.target == null) {
    fail(reader, `${key}.target`, 'missing: the container port')
  }

  const published = long.published == null ? 0 : portNumber(reader, long.published, `${key}.published`)
  const target = portNumber(reader, long.target, `${key}.target`)
  return port(reader, key, () => portMapping(published, target, String(long.protocol ?? 'tcp')))
}

function portNumber (reader: Reader, value: unknown, key: string): number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d{1,5}$/.test(value))) {
    return Number(value)
  }

  fail(reader, key, `must be a port number, got ${show(value)}`)
}

/** The port mapping `make` returns, its `InvalidPortMappingError` as a `StackFileError`. */
function port (reader: Reader, key: string, make: () => PortMapping): PortMapping {
  try {
    return make()
  } catch (err: any) {
    if (err.name !== InvalidPortMappingError.name) {
      throw err
    }

    fail(reader, key, err.message)
  }
}

/** `low` or `high`; low when absent. */
function cpuClass (reader: Reader, value: unknown, key: string): number {
  const index = value == null ? 0 : CPU_CLASS_NAMES.indexOf(value as typeof CPU_CLASS_NAMES[number])

  if (index === -1) {
    fail(reader, key, `must be ${CPU_CLASS_NAMES.join(' or ')}, got ${show(value)}`)
  }

  return index
}

/** `spread` or `co-location`; spread when absent. */
function groupPolicy (reader: Reader, value: unknown, key: string): ContainerConfig['groupPolicy'] {
  const policy = GROUP_POLICIES.find(policy => policy === (value ?? 'spread'))

  if (policy == null) {
    fail(reader, key, `must be ${GROUP_POLICIES.join(' or ')}, got ${show(value)}`)
  }

  return policy
}

/** A whole number of CPUs; 0 (the smallest partition's) when absent. */
function wholeCpus (reader: Reader, value: unknown, key: string): number {
  if (value == null) {
    return 0
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(reader, key, `must be a whole number of CPUs, got ${show(value)}`)
  }

  return value
}

/** Compose's CPUs, a number or a numeric string, rounded up to whole CPUs; 0 when absent. */
function composeCpus (reader: Reader, value: unknown, key: string): number {
  if (value == null) {
    return 0
  }

  const cpus = typeof value === 'string' && value.trim() !== '' ? Number(value) : value

  if (typeof cpus !== 'number' || !Number.isFinite(cpus) || cpus <= 0 || !Number.isSafeInteger(Math.ceil(cpus))) {
    fail(reader, key, `must be a number of CPUs above 0, got ${show(value)}`)
  }
  if (!Number.isInteger(cpus)) {
    warn(reader, key, `${cpus} rounded up to ${Math.ceil(cpus)}: Caravela places whole CPUs`)
  }

  return Math.ceil(cpus)
}

/** Megabytes as a number, or with a unit (`256m`, `1g`); 0 (the smallest partition's) when absent. */
function megabytes (reader: Reader, value: unknown, key: string): number {
  if (value == null || value === 0) {
    return 0
  }

  return withUnit(reader, value, key, 'megabytes such as 512, "512m" or "1g"')
}

/** Compose's memory: bytes as a number, or a size with a unit (`b`, `k`, `m`, `g`), rounded up to MB. */
function composeMemory (reader: Reader, value: unknown, key: string): number {
  const expected = 'a size above 0 such as "512m", "1g" or a number of bytes'

  if (value == null) {
    return 0
  }

  const bytes = BYTES_PATTERN.exec(String(value).trim())

  if (bytes == null) {
    return withUnit(reader, value, key, expected)
  }

  const count = Number(bytes[1]) * (/^k/i.test(bytes[2] ?? '') ? 1024 : 1)

  if (!Number.isSafeInteger(count) || count === 0) {
    fail(reader, key, `must be ${expected}, got ${show(value)}`)
  }

  return Math.ceil(count / MEBIBYTE)
}

/** Megabytes with an optional unit, m or g (`parseMemory`). */
function withUnit (reader: Reader, value: unknown, key: string, expected: string): number {
  try {
    return parseMemory(String(value), key)
  } catch {
    fail(reader, key, `must be ${expected}, got ${show(value)}`)
  }
}

function map (reader: Reader, value: unknown, key: string | undefined): Record<string, unknown> {
  if (typeof value !== 'object' || value == null || Array.isArray(value)) {
    fail(reader, key, `must be a map, got ${show(value)}`)
  }

  return value as Record<string, unknown>
}

function array (reader: Reader, value: unknown, key: string): unknown[] {
  if (!Array.isArray(value)) {
    fail(reader, key, `must be a list, got ${show(value)}`)
  }

  return value
}

/** A string, or a number written without quotes (`[sleep, 10]`). */
function scalar (reader: Reader, value: unknown, key: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') {
    fail(reader, key, `must be a string, got ${show(value)}`)
  }

  return String(value)
}

function atMost (reader: Reader, list: unknown[], key: string, max: number, noun: string): void {
  if (list.length > max) {
    fail(reader, key, `at most ${max} ${noun}, got ${list.length}`)
  }
}

function fail (reader: Reader, key: string | undefined, message: string): never {
  throw new StackFileError(reader.source, message, reader.service, key)
}

function warn (reader: Reader, key: string | undefined, message: string): void {
  reader.warnings.push(where(reader.source, reader.service, key) + message)
}

/** `stack.yml: service "web", ports[1]: ` */
function where (source: string, service?: string, key?: string): string {
  const place = [service == null ? undefined : `service "${service}"`, key].filter(part => part != null)
  return `${source}: ${place.length === 0 ? '' : `${place.join(', ')}: `}`
}

/** A value as an error message shows it. */
function show (value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value)
  }
  if (value == null) {
    return 'nothing'
  }
  if (typeof value === 'object') {
    return Array.isArray(value) ? 'a list' : 'a map'
  }

  return String(value)
}

/** The yaml package's messages end with the offending lines; the first line says it all. */
function firstLine (message: string): string {
  return message.split('\n')[0].replace(/:$/, '')
}

/** The first `size` bytes of a file, as UTF-8. */
async function readStart (path: string, size: number): Promise<string> {
  const file = await open(path, 'r')

  try {
    const buffer = Buffer.alloc(size)
    let length = 0

    while (length < size) {
      const { bytesRead } = await file.read(buffer, length, size - length, null)

      if (bytesRead === 0) {
        break
      }

      length += bytesRead
    }

    return buffer.toString('utf8', 0, length)
  } finally {
    await file.close()
  }
}
