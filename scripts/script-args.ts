/**
 * The flags of a benchmark or tool script, read with `node:util`'s `parseArgs`: a flag it does not
 * know, or one without its value, ends the script with the message and exit code 2, not a stack
 * trace.
 */

import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'

export function parseScriptArgs<T extends ParseArgsConfig> (script: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config)
  } catch (err: any) {
    console.error(`${script}: error: ${String(err?.message).replace(/\s*\n\s*/g, ' ')}`)
    process.exit(2)
  }
}
