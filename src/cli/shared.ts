/**
 * What the commands have in common (`caravela`, the daemon, the simulator's command, and the
 * testnet script too): options tables and their help, usage errors and their exit code, the
 * one-line report of a fatal error, the default data directory.
 */

import { homedir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_DATA_DIR_NAME } from '../constants.js'

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

/** A command-line mistake: reported with a pointer to `--help` and exit code 2. */
export class UsageError extends Error {
  static override name = 'UsageError'

  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** A `UsageError` or one of parseArgs' errors (unknown option, missing value, ...). */
export function isUsageError (err: any): boolean {
  return err instanceof UsageError || String(err?.code).startsWith('ERR_PARSE_ARGS')
}

/** `~/.caravela` */
export function defaultDataDir (): string {
  return join(homedir(), DEFAULT_DATA_DIR_NAME)
}

/**
 * The one line a command prints for a fatal error: `caravela: error: <message>`. The stack
 * follows only when `DEBUG` is set.
 */
export function errorLine (message: string, err: unknown, env: Record<string, string | undefined>): string {
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
