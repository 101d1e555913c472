/**
 * The `caravela` command: talks to a running peer's control API.
 *
 * ```
 * caravela node [--json] [--data-dir <dir> | --api <url> --token <token>]
 * caravela peers [--json] [--data-dir <dir> | --api <url> --token <token>]
 * ```
 *
 * `bin/caravela.js` calls `run()`; tests call `main()` with their own output.
 */

import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ApiClient, ApiRequestError, NoPeerRunningError } from '../api/client.js'
import { DEFAULT_DATA_DIR_NAME } from '../constants.js'
import { CPU_CLASS_NAMES } from '../types.js'
import type { CaravelaStatus, PeerSummary, Resources } from '../types.js'

/** Environment variable holding the API token when `--api` is used without `--token`. */
export const API_TOKEN_ENV = 'CARAVELA_API_TOKEN'

/** Exit code of a usage error (bad flag, unknown command). */
export const EXIT_USAGE = 2

/** One command-line option: `node:util` parseArgs settings plus what `--help` shows. */
export interface CliOption {
  type: 'string' | 'boolean'
  multiple?: boolean
  short?: string
  /** what the value is, shown in `--help` (e.g. `multiaddr`) */
  value?: string
  description: string
}

/** Where the command writes; `run()` uses the process's streams and environment. */
export interface CliIO {
  stdout (text: string): void
  stderr (text: string): void
  env: Record<string, string | undefined>
}

/** A command-line mistake: reported with a pointer to `--help` and exit code 2. */
export class UsageError extends Error {
  static override name = 'UsageError'

  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
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
  run (client: ApiClient, json: boolean, io: CliIO): Promise<void>
}

const commands: Record<string, Command> = {
  node: {
    summary: 'Show this peer: id, addresses, capacity, routing table and the slice it trades for',
    run: async (client, json, io) => {
      const status = await client.node()
      io.stdout(json ? toJson(status) : formatStatus(status))
    }
  },
  peers: {
    summary: 'List the peers this peer is connected to or has in its routing table',
    run: async (client, json, io) => {
      const peers = await client.peers()
      io.stdout(json ? toJson(peers) : formatPeers(peers))
    }
  }
}

const processIO: CliIO = {
  stdout: text => { process.stdout.write(text) },
  stderr: text => { process.stderr.write(text) },
  env: process.env
}

/** Runs `caravela` with the process's arguments and sets the exit code. */
export async function run (): Promise<void> {
  process.exitCode = await main(process.argv.slice(2))
}

/** Runs `caravela <argv>`; resolves to the exit code (0 ok, 1 failure, 2 usage error). */
export async function main (argv: string[], io: CliIO = processIO): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true })
    const [name, ...extra] = positionals
    const command = name != null && Object.hasOwn(commands, name) ? commands[name] : undefined

    if (values.help === true) {
      io.stdout(command == null ? mainHelp() : commandHelp(name, command))
      return 0
    }

    if (name == null) {
      throw new UsageError('no command given')
    }
    if (command == null) {
      throw new UsageError(`unknown command "${name}"`)
    }
    if (extra.length > 0) {
      throw new UsageError(`unexpected argument "${extra[0]}"`)
    }

    const client = await clientFor(values, io.env)
    await command.run(client, values.json === true, io)
    return 0
  } catch (err: any) {
    io.stderr(errorLine(describeError(err), err, io.env))
    return isUsageError(err) ? EXIT_USAGE : 1
  }
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

/** A `UsageError` or one of parseArgs' errors (unknown option, missing value, ...). */
export function isUsageError (err: any): boolean {
  return err instanceof UsageError || String(err?.code).startsWith('ERR_PARSE_ARGS')
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

/** `~/.caravela` */
export function defaultDataDir (): string {
  return join(homedir(), DEFAULT_DATA_DIR_NAME)
}

/**
 * The one line a command prints for a fatal error: `caravela: error: <message>`. The stack
 * follows only when `DEBUG` is set.
 */
export function errorLine (message: string, err: unknown, env: CliIO['env']): string {
  const line = `caravela: error: ${message.replace(/\s*\n\s*/g, ' ')}\n`
  const stack = err instanceof Error ? err.stack : undefined
  return env.DEBUG != null && env.DEBUG !== '' && stack != null ? line + stack + '\n' : line
}

/** `--help` text of an options table, one aligned line per option. */
export function formatOptions (table: Record<string, CliOption>): string {
  const rows = Object.entries(table).map(([name, option]) => [
    `${option.short == null ? '    ' : `-${option.short}, `}--${name}${option.value == null ? '' : ` <${option.value}>`}`,
    option.description + (option.multiple === true ? ' (repeatable)' : '')
  ])
  return formatTable(rows, '  ')
}

/** Rows as aligned columns, each line starting with `indent`; the last column is not padded. */
export function formatTable (rows: string[][], indent = ''): string {
  const widths: number[] = []

  for (const row of rows) {
    row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  }

  return rows
    .map(row => indent + row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join('  ').trimEnd() + '\n')
    .join('')
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
  return `Usage: caravela ${name} [options]\n\n${command.summary}.\n\nOptions:\n${formatOptions(options)}`
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
    ['Routing table', plural(status.routingTableSize, 'peer')],
    ['Slice', `${slice.index}: ${formatResources(slice.resources)} (cells ${slice.firstCell}-${slice.endCell})`],
    ['Resource map', status.resourceMapDigest],
    ['Protocol prefix', status.protocolPrefix],
    ['Uptime', formatDuration(status.uptimeMs)]
  ])
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
