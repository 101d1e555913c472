/**
 * Memory amounts: "256", "256m", "1g" → megabytes. Its own module with no dependencies, so the
 * `caravela` command can use it without loading the configuration machinery.
 */

import { InvalidConfigurationError } from '../errors.js'

const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)\s*(?:([mg])b?)?$/i

/**
 * Parse an amount of memory into megabytes: "256" and "256m" are 256 MB, "2g" is 2048 MB, "1.5g"
 * is 1536 MB (units are case-insensitive and may end in "b"). The result must be a positive whole
 * number of megabytes.
 *
 * @param key - the configuration key named by the error
 * @throws InvalidConfigurationError when the text is not such an amount
 */
export function parseMemory (text: string, key = 'memory'): number {
  const match = typeof text === 'string' ? MEMORY_PATTERN.exec(text.trim()) : null

  if (match == null) {
    throw new InvalidConfigurationError(key, `invalid memory ${JSON.stringify(text)}: expected megabytes such as "512", "512m", "2g" or "1.5g"`)
  }

  const megabytes = Number(match[1]) * (match[2]?.toLowerCase() === 'g' ? 1024 : 1)

  if (!Number.isSafeInteger(megabytes) || megabytes <= 0) {
    throw new InvalidConfigurationError(key, `invalid memory ${JSON.stringify(text)}: must be a positive whole number of megabytes`)
  }

  return megabytes
}
