/**
 * Go-style durations ("45s", "1m", "15m30s", "500ms", "1.5h"), as in the original's configuration.
 * Caravela keeps durations as whole milliseconds.
 */

import { InvalidConfigurationError } from '../errors.js'

const NS_PER_UNIT: Record<string, bigint> = {
  h: 3_600_000_000_000n,
  m: 60_000_000_000n,
  s: 1_000_000_000n,
  ms: 1_000_000n,
  us: 1_000n,
  µs: 1_000n,
  ns: 1n
}

const NS_PER_MS = 1_000_000n

const EXPECTED = 'expected numbers with units (h, m, s, ms, us, ns) such as "45s", "1m", "15m30s" or "500ms"'

/** One term of a duration: a decimal number ("1", "1.5", "1.", ".5") and a unit; "ms" comes before "m". */
const TERM = /(\d+)?(?:\.(\d*))?(ms|us|µs|ns|h|m|s)/y

/**
 * Parse a Go-style duration into milliseconds: a sequence of decimal numbers, each with a unit
 * (`h`, `m`, `s`, `ms`, `us`/`µs`, `ns`), such as "1m", "15m30s", "1.5s" or "500ms". "0" alone is
 * zero. The sum must be a whole number of milliseconds. Signs are not accepted.
 *
 * @param text - the duration
 * @param key - the configuration key named by the error
 * @throws InvalidConfigurationError when the text is not such a duration
 */
export function parseDuration (text: string, key = 'duration'): number {
  const invalid = (why: string): InvalidConfigurationError =>
    new InvalidConfigurationError(key, `invalid duration ${JSON.stringify(text)}: ${why}`)

  if (text === '0') {
    return 0
  }

  if (text === '') {
    throw invalid(EXPECTED)
  }

  let total = 0n
  TERM.lastIndex = 0

  while (TERM.lastIndex < text.length) {
    const [, whole = '', fraction = '', unit] = TERM.exec(text) ?? []

    if (whole === '' && fraction === '') {
      throw invalid(EXPECTED)
    }

    const perUnit = NS_PER_UNIT[unit]
    total += BigInt(whole === '' ? 0 : whole) * perUnit

    if (fraction !== '') {
      total += BigInt(fraction) * perUnit / 10n ** BigInt(fraction.length)
    }
  }

  if (total % NS_PER_MS !== 0n) {
    throw invalid('not a whole number of milliseconds')
  }

  const ms = total / NS_PER_MS

  if (ms > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalid('too long')
  }

  return Number(ms)
}

/**
 * Format milliseconds as a Go-style duration that `parseDuration` reads back: 45000 → "45s",
 * 930000 → "15m30s", 1500 → "1s500ms", 0 → "0s". Fractions of a millisecond are rounded; negative
 * or non-finite values throw a RangeError.
 */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`Cannot format ${ms} as a duration`)
  }

  let rest = Math.round(ms)

  if (rest === 0) {
    return '0s'
  }

  let text = ''

  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const count = Math.floor(rest / size)

    if (count > 0) {
      text += `${count}${unit}`
      rest -= count * size
    }
  }

  return text
}
