/**
 * The `caravela` command: talks to a running peer's control API.
 *
 * ```
 * caravela node | peers | ps [--stack NAME] | offers [--json] [--data-dir <dir> | --api <url> --token <token>]
 * caravela run [--cpus N] [--memory 256m] [--cpu-class low|high] [-p host:container[/proto]] [--name N] [--restart POLICY] IMAGE [ARGS…]
 * caravela deploy -f stack.yml
 * caravela stop [--force] ID… | --stack NAME
 * caravela dashboard                                       (prints the web dashboard's login link)
 * caravela logs [-f] [--tail N] [--since 10m|RFC3339] ID | inspect ID
 * caravela port-forward ID [LOCAL:]CONTAINER_PORT          (until Ctrl-C)
 * caravela network-key FILE | config-digest [FILE.toml]   (no peer needed)
 * ```
 *
 * `bin/caravela.js` (CommonJS) calls `run()`; tests call `main()` with their own output.
 */

import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { ApiClient, ApiRequestError, NoPeerRunningError } from '../api/client.js'
import { parseDuration } from '../config/duration.js'
import { parseMemory } from '../config/memory.js'
import { DEFAULT_DATA_DIR_NAME } from '../constants.js'
import { parsePortMapping } from '../stacks/ports.js'
import { parseRestartPolicy } from '../stacks/restart.js'
import { pipeTunnels, socketTunnel } from '../tunnel.js'
import { CPU_CLASS_NAMES } from '../types.js'
import { defaultDataDir, errorLine, EXIT_USAGE, formatOptions, formatTable, isUsageError, UsageError } from './shared.js'
import type { Stack } from '../stacks/stack-file.js'
import type {
  CaravelaStatus, ContainerConfig, ContainerStatus, ContainerView, LogsOptions, LogStreamName, OffersView, OfferView, PeerSummary, PlacementProgress, PortMapping, Resources,
  RestartPolicy
} from '../types.js'
import type { CliOption } from './shared.js'
import type { AddressInfo } from 'node:net'

/**
 * `node:util` as a CommonJS module, not an ES import: the ES wrapper reads every export, and some
 * load more modules (assert's diff, for one), a tenth of the command's start-up.
 */
const load = createRequire(import.meta.url)
const { parseArgs }: typeof import('node:util') = load('node:util')

/** Environment variable holding the API token when `--api` is used without `--token`. */
export const API_TOKEN_ENV = 'CARAVELA_API_TOKEN'

/** Where the command writes; `run()` uses the process's streams and environment. */
export interface CliIO {
  stdout (text: string): void
  stderr (text: string): void
  env: Record<string, string | undefined>
  /** `caravela run` prints its progress to stderr (true when stderr is a terminal) */
  progress?: boolean
  /**
   * Write bytes as they are (a container's output, `caravela logs`), resolving once they may be
   * followed by more; without it they are decoded as UTF-8 for `stdout` and `stderr`
   */
  write?: (stream: LogStreamName, data: Uint8Array) => Promise<void>
  /**
   * Resolves when the user interrupts the command (Ctrl-C, SIGTERM): what ends a command that runs
   * until then (`caravela port-forward`); without it such a command runs until its process dies
   */
  interrupted?: () => Promise<void>
}

const options = {
  json: { type: 'boolean', description: 'Print the raw JSON answer' },
  'data-dir': { type: 'string', value: 'dir', description: `Data dir of the peer to ask (default ~/${DEFAULT_DATA_DIR_NAME})` },
  api: { type: 'string', value: 'url', description: 'URL of the control API, instead of --data-dir' },
  token: { type: 'string', value: 'token', description: `API token for --api (default: $${API_TOKEN_ENV})` },
  help: { type: 'boolean', short: 'h', description: 'Show help' }
} satisfies Record<string, CliOption>

interface Command {
  summary: string
  /** usage after the command name, e.g. `[options] IMAGE [ARGS…]` */
  usage?: string
  /** options of this command only, next to the global ones */
  options?: Record<string, CliOption>
  /**
   * `none`: no positional arguments; `some`: one or more; `any`: checked by the command; `image`:
   * IMAGE then its arguments, passed on verbatim
   */
  positionals?: 'none' | 'some' | 'any' | 'image'
  /** the command, with a client of the peer's control API; or `local`, for one that needs no peer */
  run?: (client: ApiClient, input: CommandInput, io: CliIO) => Promise<number | void>
  local?: (input: CommandInput, io: CliIO) => Promise<number | void>
}

interface CommandInput {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
  json: boolean
}

const runOptions = {
  cpus: { type: 'string', value: 'n', description: 'CPUs the container needs (default: the smallest partition\'s)' },
  memory: { type: 'string', value: 'MB|256m|1g', description: 'Memory the container needs (default: the smallest partition\'s)' },
  'cpu-class': { type: 'string', value: 'low|high', description: 'CPU class the container needs (default low)' },
  publish: { type: 'string', short: 'p', multiple: true, value: 'host:container[/tcp|udp]', description: 'Publish a container port on the supplier; a lone container port gets any free host port' },
  name: { type: 'string', value: 'name', description: 'Name of the container' },
  restart: { type: 'string', value: 'no|on-failure[:N]|always', description: 'Place the container again when it exits (always; on-failure: with a code other than 0) or its supplier is lost (default no)' }
} satisfies Record<string, CliOption>

const deployOptions = {
  file: { type: 'string', short: 'f', value: 'file', description: 'Stack file: Caravela\'s stack format or a Docker Compose file' }
} satisfies Record<string, CliOption>

const commands: Record<string, Command> = {
  'network-key': {
    summary: 'Write a new network key to FILE (readable by you only), for peers started with --network-key FILE',
    usage: 'FILE',
    positionals: 'some',
    local: async ({ positionals }, io) => {
      if (positionals.length > 1) {
        throw new UsageError(`network-key takes one file, got ${positionals.length}`)
      }

      const { writeNetworkKey } = await import('../network-key.js')
      await writeNetworkKey(positionals[0])
      io.stdout(`wrote a new network key to ${positionals[0]}; give it to every peer of the network, over a channel you trust\n`)
    }
  },
  'config-digest': {
    summary: 'Print the digest of a configuration file\'s [network] table (of the defaults without FILE), for --network-config; `caravela node` shows a running peer\'s',
    usage: '[FILE.toml]',
    positionals: 'any',
    local: async ({ positionals, json }, io) => {
      if (positionals.length > 1) {
        throw new UsageError(`config-digest takes at most one file, got ${positionals.length}`)
      }

      return configDigest(positionals[0], json, io)
    }
  },
  node: {
    summary: 'Show this peer: id, addresses, capacity, routing table, the slice it trades for, the digest of its network configuration and its metrics (--json)',
    run: async (client, { json }, io) => {
      const status = await client.node()
      io.stdout(json ? toJson(status) : formatStatus(status))
    }
  },
  peers: {
    summary: 'List the peers this peer is connected to or has in its routing table',
    run: async (client, { json }, io) => {
      const peers = await client.peers()
      io.stdout(json ? toJson(peers) : formatPeers(peers))
    }
  },
  run: {
    summary: 'Place a container on a peer with room and print its id and the supplier it landed on',
    usage: '[options] IMAGE [ARGS…]',
    options: runOptions,
    positionals: 'image',
    run: async (client, { values, positionals, json }, io) => {
      const [image, ...args] = positionals
      const container = runRequest(image, args, values)
      // progress only on a terminal: scripts read stdout and expect stderr to hold errors only
      const onProgress = io.progress === true && !json
        ? (event: PlacementProgress) => { io.stderr(event.type === 'placed' ? '' : formatProgress(event)) }
        : undefined
      const [status] = await client.run([container], { onProgress })
      io.stdout(json ? toJson(status) : `${shortId(status.containerId)}  on ${status.supplier.peerId}${formatPorts(status.portMappings, '  ')}\n`)
    }
  },
  deploy: {
    summary: 'Place every service of a stack file, or none, and print where each landed',
    usage: '[options] -f FILE',
    options: deployOptions,
    run: async (client, { values, json }, io) => deploy(client, values.file as string | undefined, json, io)
  },
  ps: {
    summary: 'List the containers this peer placed, with stack, supplier, state, resources and ports',
    options: { stack: { type: 'string', value: 'name', description: 'Only the containers of this stack' } },
    run: async (client, { values, json }, io) => {
      const stack = values.stack as string | undefined
      const containers = (await client.ps()).filter(c => stack == null || c.stack === stack)
      io.stdout(json ? toJson(containers) : formatContainers(containers, stack))
    }
  },
  stop: {
    summary: 'Stop containers this peer placed, by full or unique short id, or every container of a stack',
    usage: '[options] ID… | --stack NAME',
    options: {
      stack: { type: 'string', value: 'name', description: 'Stop every container of this stack' },
      force: { type: 'boolean', description: 'Forget containers whose supplier cannot be reached instead of stopping them when it answers again (they may still run there)' }
    },
    positionals: 'any',
    run: async (client, { values, positionals, json }, io) => {
      const ids = await stopTargets(client, values.stack as string | undefined, positionals)

      if (ids.length === 0) {
        io.stderr(errorLine(`no container of stack ${String(values.stack)} was placed by this peer`, undefined, io.env))
        return 1
      }

      const results = await client.stop(ids, { force: values.force === true })
      // a stop its supplier will hear when it is back is accepted: `ps` shows it stopping
      const pending = results.filter(result => !result.stopped && result.pending === true)
      const failed = results.filter(result => !result.stopped && result.pending !== true)

      if (json) {
        io.stdout(toJson(results))
      } else {
        results.filter(result => result.stopped).forEach(result => { io.stdout(result.forgotten === true ? `${result.id} (forgotten: its supplier cannot be reached and may still run it)\n` : `${result.id}\n`) })
        pending.forEach(result => { io.stdout(`${result.id} (stopping: its supplier cannot be reached; stopped when it answers again)\n`) })
        failed.forEach(result => { io.stderr(`caravela: error: ${result.id}: ${result.error ?? 'not stopped'}\n`) })
      }

      return failed.length === 0 ? 0 : 1
    }
  },
  dashboard: {
    summary: 'Print the URL of the peer\'s web dashboard with a login code, good once, for a short while',
    run: async (client, { json }, io) => {
      const login = await client.dashboardLogin()
      const minutes = Math.max(1, Math.round((login.expiresAt - Date.now()) / 60_000))
      io.stdout(json ? toJson(login) : `Open this link in a browser on this machine (it logs you in once, within ${minutes} min):\n\n  ${login.url}\n\n`)
    }
  },
  logs: {
    summary: 'Print the output of a container this peer placed, from its supplier: its stdout to stdout, its stderr to stderr',
    usage: '[options] ID',
    options: {
      follow: { type: 'boolean', short: 'f', description: 'Go on printing the output as it is written, until the container ends' },
      tail: { type: 'string', value: 'n|all', description: 'Only the last n lines written so far (default all)' },
      since: { type: 'string', value: '10m|RFC 3339 time', description: 'Only the output written since then: a duration ago (e.g. 10m, 1h30m) or a time (e.g. 2026-01-02T15:04:05Z)' }
    },
    positionals: 'some',
    run: async (client, { values, positionals }, io) => {
      const id = oneId('logs', positionals)
      const options = logsOptions(values)
      const write = io.write ?? textWriter(io)
      await client.logs(id, options, async ({ stream, data }) => { await write(stream, data) })
    }
  },
  inspect: {
    summary: 'Print as JSON everything this peer knows of a container it placed, and what its supplier says of it now',
    usage: 'ID',
    positionals: 'some',
    run: async (client, { positionals }, io) => {
      io.stdout(toJson(await client.inspect(oneId('inspect', positionals))))
    }
  },
  'port-forward': {
    summary: 'Forward a port on 127.0.0.1 to a TCP port a container this peer placed publishes, until Ctrl-C: each connection is tunnelled to the container through its supplier',
    usage: 'ID [LOCAL:]CONTAINER_PORT',
    positionals: 'some',
    run: async (client, { positionals }, io) => portForward(client, positionals, io)
  },
  offers: {
    summary: 'Show the offers this peer holds as a trader and the offers it made as a supplier',
    run: async (client, { json }, io) => {
      const offers = await client.offers()
      io.stdout(json ? toJson(offers) : formatOffers(offers))
    }
  }
}

const processIO: CliIO = {
  stdout: text => { process.stdout.write(text) },
  stderr: text => { process.stderr.write(text) },
  env: process.env,
  // asked only by the commands that show progress: `process.stderr` is made at its first use and
  // `node:tty` loads `node:net`, milliseconds of a command's start-up
  get progress () { return (load('node:tty') as typeof import('node:tty')).isatty(2) },
  interrupted: async () => {
    await new Promise<void>(resolve => {
      process.once('SIGINT', () => { resolve() })
      process.once('SIGTERM', () => { resolve() })
    })
  },
  write: async (stream, data) => {
    const out = stream === 'stderr' ? process.stderr : process.stdout

    // a reader that does not keep up (a pager) slows the output down to its pace
    if (!out.write(data)) {
      await new Promise<void>(resolve => { out.once('drain', resolve) })
    }
  }
}

/** `[LOCAL:]CONTAINER_PORT`: LOCAL 0 (any free port) to 65535, the same as the container port when absent. */
function forwardPorts (text: string): { local: number, remote: number } {
  const match = /^(?:(\d{1,5}):)?(\d{1,5})$/.exec(text)
  const remote = Number(match?.[2] ?? 0)
  const local = match?.[1] == null ? remote : Number(match[1])

  if (match == null || remote < 1 || remote > 65_535 || local > 65_535) {
    throw new UsageError(`"${text}" is not [LOCAL:]CONTAINER_PORT: a container port from 1 to 65535, after a local one from 0 (any free port) to 65535`)
  }

  return { local, remote }
}

/**
 * `caravela port-forward`: listens on 127.0.0.1 and tunnels every connection it accepts through
 * the control API to the container's port (one upgraded API request each), until interrupted;
 * the forward lives as long as the command, as `kubectl port-forward`'s does.
 */
async function portForward (client: ApiClient, positionals: string[], io: CliIO): Promise<number> {
  if (positionals.length !== 2) {
    throw new UsageError(`port-forward takes a container id and [LOCAL:]CONTAINER_PORT, got ${plural(positionals.length, 'argument')}`)
  }

  const { local, remote } = forwardPorts(positionals[1])
  // the full id, and an early, clear error for a port the container was not run with
  const container = await client.inspect(positionals[0])
  const ports = container.requestedPorts ?? container.portMappings

  if (!ports.some(port => port.containerPort === remote && port.protocol === 'tcp')) {
    throw new Error(`container ${shortId(container.containerId)} publishes no TCP port ${remote}${formatPorts(ports, ' (it publishes ')}${ports.length === 0 ? '' : ')'}: run it with -p ${remote}`)
  }

  const open = new Set<{ abort: (err: Error) => void }>()
  const server = createServer({ allowHalfOpen: true }, socket => {
    const near = socketTunnel(socket)
    open.add(near)
    client.portForward(container.containerId, remote).then(async far => {
      await pipeTunnels(near, socketTunnel(far))
    }).catch((err: any) => {
      near.abort(err)
      io.stderr(`caravela: a connection to port ${remote} failed: ${err?.message ?? err}\n`)
    }).finally(() => { open.delete(near) })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(local, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })

  const { port } = server.address() as AddressInfo
  io.stdout(`Forwarding 127.0.0.1:${port} -> container ${shortId(container.containerId)} port ${remote}\n`)
  await (io.interrupted?.() ?? new Promise<void>(() => {}))
  server.close()

  for (const tunnel of open) {
    tunnel.abort(new Error('the forward was stopped'))
  }

  return 0
}

/** The one container id of a command that takes one. */
function oneId (name: string, positionals: string[]): string {
  if (positionals.length !== 1) {
    throw new UsageError(`${name} takes one container id, got ${positionals.length}`)
  }

  return positionals[0]
}

/** `caravela logs`' flags: `--tail n|all`, `--since` a duration ago or an RFC 3339 time. */
function logsOptions (values: CommandInput['values'], now = Date.now()): LogsOptions {
  const options: LogsOptions = { follow: values.follow === true }
  const tail = values.tail as string | undefined
  const since = values.since as string | undefined

  if (tail != null && tail !== 'all') {
    if (!/^\d+$/.test(tail) || Number(tail) > 0xFFFF_FFFF) {
      throw new UsageError(`--tail: "${tail}" is not a number of lines (or all)`)
    }

    options.tail = Number(tail)
  }

  if (since != null) {
    options.since = parseSince(since, now)
  }

  return options
}

/** RFC 3339: a date, a time, an optional fraction and a zone. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** `--since`: a duration ago (10m, 1h30m) or an RFC 3339 time, as milliseconds since the epoch. */
function parseSince (text: string, now: number): number {
  if (RFC3339.test(text)) {
    const time = Date.parse(text)

    if (!Number.isNaN(time) && time >= 0) {
      return time
    }
  }

  try {
    return Math.max(0, now - parseDuration(text, '--since'))
  } catch {
    throw new UsageError(`--since: "${text}" is neither a duration (e.g. 10m, 1h30m) nor an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)`)
  }
}

/** Bytes to text for an output that takes text: one decoder per stream, so split characters join up. */
function textWriter (io: CliIO): NonNullable<CliIO['write']> {
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() }
  return async (stream, data) => { io[stream](decoders[stream].decode(data, { stream: true })) }
}

/** Runs `caravela` with the process's arguments and sets the exit code. */
export async function run (): Promise<void> {
  process.exitCode = await main(process.argv.slice(2))
}

/** Runs `caravela <argv>`; resolves to the exit code (0 ok, 1 failure, 2 usage error). */
export async function main (argv: string[], io: CliIO = processIO): Promise<number> {
  try {
    const name = commandName(argv)
    const command = name != null && Object.hasOwn(commands, name) ? commands[name] : undefined
    const table = { ...options, ...command?.options }
    // everything after a `run` IMAGE belongs to the container, flags included
    const imageAt = command?.positionals === 'image' ? positionalIndexes(argv, table)[1] : undefined
    const head = imageAt == null ? argv : argv.slice(0, imageAt)
    const { values, positionals } = parseArgs({ args: head, options: table, strict: true, allowPositionals: true })
    const rest = [...positionals.slice(1), ...(imageAt == null ? [] : argv.slice(imageAt))]

    if (values.help === true) {
      io.stdout(command == null ? mainHelp() : commandHelp(name ?? '', command))
      return 0
    }

    if (name == null) {
      throw new UsageError('no command given')
    }
    if (command == null) {
      throw new UsageError(`unknown command "${name}"`)
    }

    checkPositionals(name, command, rest)
    const input = { values, positionals: rest, json: values.json === true }

    if (command.local != null) {
      return (await command.local(input, io)) ?? 0
    }

    return (await command.run?.(lazyClient(async () => clientFor(values, io.env)), input, io)) ?? 0
  } catch (err: any) {
    io.stderr(errorLine(describeError(err), err, io.env))
    return isUsageError(err) ? EXIT_USAGE : 1
  }
}

/** The first positional argument: the command. */
function commandName (argv: string[]): string | undefined {
  const allOptions = Object.assign({}, options, ...Object.values(commands).map(c => c.options ?? {}))
  const [first] = positionalIndexes(argv, allOptions)
  return first == null ? undefined : argv[first]
}

/** Indexes in `argv` of the positional arguments, skipping options and their values. */
function positionalIndexes (argv: string[], table: Record<string, CliOption>): number[] {
  const { tokens } = parseArgs({ args: argv, options: table, strict: false, allowPositionals: true, tokens: true })
  return tokens.filter(token => token.kind === 'positional').map(token => token.index)
}

function checkPositionals (name: string, command: Command, positionals: string[]): void {
  const kind = command.positionals ?? 'none'

  if (kind === 'none' && positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"`)
  }
  if (kind === 'some' && positionals.length === 0) {
    throw new UsageError(`${name} needs at least one argument: ${command.usage ?? ''}`)
  }
  if (kind === 'image' && positionals.length === 0) {
    throw new UsageError(`${name} needs an image: caravela ${name} ${command.usage ?? ''}`)
  }
}

/** The container a `caravela run` asks for. */
function runRequest (image: string, args: string[], values: CommandInput['values']): ContainerConfig {
  const cpuClass = values['cpu-class'] as string | undefined
  const classIndex = cpuClass == null ? 0 : CPU_CLASS_NAMES.indexOf(cpuClass as typeof CPU_CLASS_NAMES[number])

  if (classIndex < 0) {
    throw new UsageError(`--cpu-class must be ${CPU_CLASS_NAMES.join(' or ')}, got "${cpuClass}"`)
  }

  return {
    name: (values.name as string | undefined) ?? '',
    image,
    args,
    portMappings: ((values.publish as string[] | undefined) ?? []).map(parsePublishFlag),
    resources: {
      cpuClass: classIndex,
      cpus: parseCpus(values.cpus as string | undefined),
      memory: values.memory == null ? 0 : parseMemoryFlag(values.memory as string)
    },
    groupPolicy: 'spread',
    ...restartFlag(values.restart as string | undefined)
  }
}

function restartFlag (text: string | undefined): { restart?: RestartPolicy } {
  if (text == null) {
    return {}
  }

  try {
    const restart = parseRestartPolicy(text)
    return restart.name === 'no' ? {} : { restart }
  } catch (err: any) {
    throw new UsageError(`--restart: ${err.message}`)
  }
}

function parseCpus (text: string | undefined): number {
  if (text == null) {
    return 0
  }

  const cpus = Number(text)

  if (!Number.isInteger(cpus) || cpus <= 0) {
    throw new UsageError(`--cpus must be a whole number of CPUs ≥ 1, got "${text}"`)
  }

  return cpus
}

function parseMemoryFlag (text: string): number {
  try {
    return parseMemory(text, '--memory')
  } catch (err: any) {
    throw new UsageError(err.message)
  }
}

function parsePublishFlag (text: string): PortMapping {
  try {
    return parsePortMapping(text)
  } catch (err: any) {
    throw new UsageError(`--publish: ${err.message}`)
  }
}

/**
 * `caravela config-digest`: the digest of a file's `[network]`, as `--network-config` takes it. A
 * file that is not a valid configuration has none: exit 2, naming the file and key.
 */
async function configDigest (file: string | undefined, json: boolean, io: CliIO): Promise<number> {
  // loaded for this command only: the TOML reader and the resource map are no other command's
  const { defaultConfig, loadConfigFile, networkConfigDigest } = await import('../config/config.js')
  let config

  try {
    config = file == null ? defaultConfig() : await loadConfigFile(file)
  } catch (err: any) {
    if (err.name !== 'InvalidConfigurationError') {
      throw err
    }

    io.stderr(errorLine(err.key === file ? err.message : `${file}: ${String(err.message)}`, err, io.env))
    return EXIT_USAGE
  }

  const digest = networkConfigDigest(config.network)
  io.stdout(json ? toJson({ file: file ?? null, networkConfigDigest: digest }) : `${digest}\n`)
  return 0
}

/** The ids `stop` stops: the ones given, or those of every container of `--stack`. */
async function stopTargets (client: ApiClient, stack: string | undefined, ids: string[]): Promise<string[]> {
  if (stack == null) {
    if (ids.length === 0) {
      throw new UsageError('stop needs container ids or --stack NAME')
    }
    return ids
  }

  if (ids.length > 0) {
    throw new UsageError('give container ids or --stack, not both')
  }

  return (await client.ps()).filter(c => c.stack === stack).map(c => c.containerId)
}

/**
 * `caravela deploy`: reads the stack file here (the peer gets plain containers) and places it as
 * one request. A bad file exits 2, a stack that cannot be placed 1.
 */
async function deploy (client: ApiClient, path: string | undefined, json: boolean, io: CliIO): Promise<number> {
  if (path == null) {
    throw new UsageError('deploy needs a stack file: caravela deploy -f stack.yml')
  }

  let stack: Stack

  try {
    // loaded for deploy only: the YAML parser is the heaviest module a command would load
    const { readStackFile } = await import('../stacks/stack-file.js')
    stack = await readStackFile(path)
  } catch (err: any) {
    if (err.name !== 'StackFileError') {
      throw err
    }

    io.stderr(errorLine(err.message, err, io.env))
    return EXIT_USAGE
  }

  stack.warnings.forEach(warning => { io.stderr(`caravela: warning: ${warning}\n`) })

  if (!json) {
    io.stdout(`deploying stack ${stack.name}: ${plural(stack.services.length, 'service')}…\n`)
  }

  let shown = false
  const statuses = await deployStack(client, stack, json
    ? undefined
    : event => {
      shown ||= event.type === 'placed'
      // a slow launch's heartbeats depend on timing: on a terminal only, as `run`'s progress
      if (event.type !== 'still-launching') {
        io.stdout(formatProgress(event))
      } else if (io.progress === true) {
        io.stderr(formatProgress(event))
      }
    })
  // the placed containers were shown as they came: only the summary is left
  io.stdout(json ? toJson({ stack: stack.name, containers: statuses }) : formatDeployed(stack.name, statuses, !shown))
  return 0
}

async function deployStack (client: ApiClient, stack: Stack, onProgress?: (event: PlacementProgress) => void): Promise<ContainerStatus[]> {
  try {
    return await client.deploy(stack.name, stack.services.map(service => service.container), { onProgress })
  } catch (err: any) {
    if (err instanceof ApiRequestError) {
      throw new ApiRequestError(`stack ${stack.name} was not deployed: ${err.message}`, err.status)
    }
    throw err
  }
}

/**
 * The client of the peer to ask, found at the command's first request: a command checks its own
 * flags first, so a mistyped flag is reported as such when no peer runs too.
 */
function lazyClient (connect: () => Promise<ApiClient>): ApiClient {
  let client: Promise<ApiClient> | undefined

  return new Proxy<any>({}, {
    // every method of the client is async; `then` is not one (the proxy is not a promise)
    get: (_, method) => method === 'then'
      ? undefined
      : async (...args: unknown[]) => {
        client ??= connect()
        return (await client as any)[method](...args)
      }
  })
}

async function clientFor (values: { 'data-dir'?: string, api?: string, token?: string }, env: CliIO['env']): Promise<ApiClient> {
  if (values.api == null) {
    if (values.token != null) {
      throw new UsageError('--token needs --api')
    }
    return ApiClient.fromDataDir(values['data-dir'] ?? defaultDataDir())
  }

  if (values['data-dir'] != null) {
    throw new UsageError('give either --api or --data-dir, not both')
  }

  const token = values.token ?? env[API_TOKEN_ENV]

  if (token == null || token === '') {
    throw new UsageError(`--api needs --token or $${API_TOKEN_ENV}`)
  }

  try {
    return new ApiClient({ url: new URL(values.api).href, token })
  } catch {
    throw new UsageError(`--api: "${values.api}" is not a URL`)
  }
}

function describeError (err: any): string {
  if (isUsageError(err)) {
    return `${err.message} (see caravela --help)`
  }
  if (err instanceof NoPeerRunningError) {
    return `${err.message}; start one with \`npm start -- --data-dir ${err.dataDir}\`, or point --data-dir or --api at a running peer`
  }
  if (err instanceof ApiRequestError && err.status === 401) {
    return `${err.message}; the token must be the peer's current <data dir>/api-token`
  }
  return err.message ?? String(err)
}

function mainHelp (): string {
  return [
    'Usage: caravela <command> [options]\n\nTalks to a running Caravela peer through its control API.\n\nCommands:\n',
    formatTable(Object.entries(commands).map(([name, command]) => [name, command.summary]), '  '),
    '\nOptions:\n',
    formatOptions(options),
    '\nRun `caravela <command> --help` for one command.\n'
  ].join('')
}

function commandHelp (name: string, command: Command): string {
  return `Usage: caravela ${name} ${command.usage ?? '[options]'}\n\n${command.summary}.\n\nOptions:\n${formatOptions({ ...command.options, ...options })}`
}

function toJson (value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n'
}

/** `low 2 CPUs 1024 MB` */
export function formatResources (resources: Resources): string {
  return formatAmount(CPU_CLASS_NAMES[resources.cpuClass] ?? `class ${resources.cpuClass}`, resources.cpus, resources.memory)
}

function formatAmount (cpuClass: string, cpus: number, memory: number): string {
  return `${cpuClass} ${plural(cpus, 'CPU')} ${memory} MB`
}

function plural (count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

function formatStatus (status: CaravelaStatus): string {
  const [firstAddress = '(none)', ...otherAddresses] = status.multiaddrs
  const { capacity, slice } = status
  return formatTable([
    ['Peer ID', status.peerId],
    ['Node ID', status.nodeId],
    ['Addresses', firstAddress],
    ...otherAddresses.map(address => ['', address]),
    ['Capacity', formatAmount(capacity.cpuClass, capacity.cpus, capacity.memory)],
    ...formatRuntime(status.runtime),
    ['Routing table', plural(status.routingTableSize, 'peer')],
    ['Network', `about ${plural(status.networkSize, 'peer')}, ${status.discoveryBackend} discovery`],
    ['Slice', `${slice.index}: ${formatResources(slice.resources)} (cells ${slice.firstCell}-${slice.endCell})`],
    ['Resource map', status.resourceMapDigest],
    ['Network config', status.networkConfigDigest],
    ...formatPolicy(status.supplierPolicy),
    ['Protocol prefix', status.protocolPrefix],
    ['Uptime', formatDuration(status.uptimeMs)]
  ])
}

/**
 * The state of the container engine: `ok`, or `UNAVAILABLE` with since when and why (the peer
 * then offers nothing and refuses launches). Nothing for a daemon too old to say.
 */
function formatRuntime (runtime: CaravelaStatus['runtime'] | undefined): string[][] {
  if (runtime == null) {
    return []
  }

  const since = new Date(runtime.since).toISOString()

  return runtime.state === 'ok'
    ? [['Runtime', `ok since ${since}${runtime.outages > 0 ? ` (${plural(runtime.outages, 'outage')} before)` : ''}`]]
    : [['Runtime', `UNAVAILABLE since ${since}: offering nothing, refusing launches`], ['', runtime.reason ?? 'the engine does not answer']]
}

/** The supplier policy, a row per rule: `any` where the list is empty. */
function formatPolicy (policy: CaravelaStatus['supplierPolicy'] | undefined): string[][] {
  if (policy == null) {
    return []
  }

  const list = (items: string[], none: string): string => items.length === 0 ? none : items.join(', ')
  return [
    ['Runs for', list(policy.allowBuyers, 'any peer that can connect')],
    ['Images', list(policy.allowImages, 'any')],
    ['Registries', list(policy.allowRegistries, 'any but local and private ones')],
    ['Host ports', `${policy.hostPorts.min}-${policy.hostPorts.max} (or engine-chosen), network ${policy.network}`]
  ]
}

function formatPeers (peers: PeerSummary[]): string {
  if (peers.length === 0) {
    return 'No peers known.\n'
  }

  return formatTable([
    ['PEER ID', 'CONNECTED', 'IN TABLE', 'SLICE', 'ADDRESS'],
    ...peers.map(peer => [
      peer.peerId,
      peer.connected ? 'yes' : 'no',
      peer.inRoutingTable ? 'yes' : 'no',
      String(peer.slice),
      peer.multiaddrs[0] ?? '-'
    ])
  ])
}

/** Docker's short form of a container id: its first 12 characters. */
function shortId (id: string): string {
  return id.slice(0, 12)
}

/** ` 127.0.0.1:8080->80/tcp, …` after `separator`, or nothing. */
function formatPorts (ports: PortMapping[], separator = ''): string {
  return ports.length === 0 ? '' : separator + ports.map(p => `${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ')
}

function formatContainers (containers: ContainerView[], stack?: string): string {
  if (containers.length === 0) {
    return stack == null ? 'No containers placed by this peer.\n' : `No containers of stack ${stack} placed by this peer.\n`
  }

  return formatTable([
    ['CONTAINER ID', 'STACK', 'NAME', 'IMAGE', 'SUPPLIER', 'STATE', 'RESOURCES', 'PORTS'],
    ...containers.map(c => [
      shortId(c.containerId),
      c.stack ?? '-',
      c.name === '' ? '-' : c.name,
      c.image,
      c.supplier.peerId,
      formatState(c),
      formatResources(c.resources),
      formatPorts(c.portMappings) || '-'
    ])
  ])
}

/** `running`, `running (restarts: 2)`, `stopping (replaced by ca2964d157d6)`. */
function formatState (c: ContainerView): string {
  if (c.replacedBy != null) {
    return `${c.state} (replaced by ${shortId(c.replacedBy)})`
  }

  return (c.restartCount ?? 0) > 0 ? `${c.state} (restarts: ${c.restartCount})` : c.state
}

/** One line per placed container (service, id, supplier, ports) unless `rows` is false, then a summary. */
function formatDeployed (stack: string, statuses: ContainerStatus[], rows = true): string {
  const suppliers = new Set(statuses.map(status => status.supplier.peerId)).size
  return (rows ? formatPlaced(statuses) : '') + `stack ${stack} deployed: ${plural(statuses.length, 'container')} on ${plural(suppliers, 'supplier')}\n`
}

/** `  web  ca2964d157d6  on 12D3Koo…  8080->80/tcp`, one line per container. */
function formatPlaced (statuses: ContainerStatus[]): string {
  return formatTable(statuses.map(status => [status.name === '' ? status.image : status.name, shortId(status.containerId), `on ${status.supplier.peerId}`, formatPorts(status.portMappings)]), '  ')
}

/** One line of a placement's progress. */
export function formatProgress (event: PlacementProgress): string {
  switch (event.type) {
    case 'searching':
      return `  ${event.containers.join(', ')}: searching offers for ${event.resources.cpuClass === 0 ? `${plural(event.resources.cpus, 'CPU')} ${event.resources.memory} MB` : formatResources(event.resources)}…\n`
    case 'launching':
      return `  ${event.containers.join(', ')}: launching on ${event.supplier} (pulling the image there if needed)…\n`
    case 'still-launching':
      return `  ${event.containers.join(', ')}: still launching on ${event.supplier} after ${event.seconds} s (pulling the image there, most likely)…\n`
    case 'placed':
      return formatPlaced(event.statuses)
    case 'rejected':
      return `  ${event.supplier} refused: ${event.reason}\n`
    case 'rolling-back':
      return `  rolling back: ${event.reason}\n`
    default:
      return ''
  }
}

function formatOffers (offers: OffersView): string {
  const rows = (list: OfferView[], who: string): string => list.length === 0
    ? '  none\n'
    : formatTable([
      ['OFFER', who, 'FREE', 'USED', 'CONTAINERS'],
      ...list.map(o => [String(o.id), o.peerId, formatResources(o.free), formatResources(o.used), String(o.containersRunning)])
    ], '  ')
  const { trading, supplying } = offers

  return [
    `Trading for slice ${trading.slice.index} (${formatResources(trading.slice.resources)}): ${plural(trading.offers.length, 'offer')}\n`,
    rows(trading.offers, 'SUPPLIER'),
    `\nSupplying: ${formatResources(supplying.available)} free of ${formatResources(supplying.max)}, ${plural(supplying.offers.length, 'offer')}\n`,
    rows(supplying.offers, 'TRADER')
  ].join('')
}

/** `1h 2m 3s` */
function formatDuration (ms: number): string {
  const seconds = Math.floor(ms / 1000)
  const parts: Array<[number, string]> = [
    [Math.floor(seconds / 86_400), 'd'],
    [Math.floor(seconds / 3600) % 24, 'h'],
    [Math.floor(seconds / 60) % 60, 'm'],
    [seconds % 60, 's']
  ]
  const shown = parts.filter(([value], i) => value !== 0 || i === parts.length - 1)
  return shown.map(([value, unit]) => `${value}${unit}`).join(' ')
}
