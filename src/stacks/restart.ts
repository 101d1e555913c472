/**
 * Restart policies as Docker users write them (`--restart`, Compose's `restart:`), and as
 * Compose's `deploy.restart_policy` gives them.
 */

import type { RestartPolicy } from '../types.js'

/** Largest `on-failure:N`: a policy is a bound on re-placements, not a counter of every try. */
export const MAX_RESTART_RETRIES = 1_000_000

/** A restart policy is not one Caravela knows. */
export class InvalidRestartPolicyError extends Error {
  static override name = 'InvalidRestartPolicyError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidRestartPolicyError'
  }
}

/**
 * `no`, `on-failure`, `on-failure:N`, `always` or `unless-stopped` (the same as `always` here:
 * a container its user stopped is never re-placed).
 *
 * @throws {InvalidRestartPolicyError}
 */
export function parseRestartPolicy (text: string): RestartPolicy {
  const [name, retries, ...rest] = text.trim().split(':')

  if (rest.length === 0) {
    if (retries == null) {
      if (name === 'no' || name === 'always' || name === 'on-failure') {
        return { name }
      }

      if (name === 'unless-stopped') {
        return { name: 'always' }
      }
    } else if (name === 'on-failure') {
      return { name, maxRetries: parseRetries(retries) }
    }
  }

  throw new InvalidRestartPolicyError(`a restart policy is no, on-failure[:N], always or unless-stopped, got "${text}"`)
}

/**
 * Compose's `deploy.restart_policy` condition (`none`, `on-failure`, `any`) and `max_attempts`.
 *
 * @throws {InvalidRestartPolicyError}
 */
export function restartPolicyOfCondition (condition: string, maxAttempts?: number): RestartPolicy {
  const name = ({ none: 'no', 'on-failure': 'on-failure', any: 'always' } as const)[condition as 'none' | 'on-failure' | 'any']

  if (name == null) {
    throw new InvalidRestartPolicyError(`a restart condition is none, on-failure or any, got "${condition}"`)
  }

  return maxAttempts == null || name === 'no' ? { name } : { name, maxRetries: checkRetries(maxAttempts) }
}

/** The policy as `--restart` takes it: `no`, `on-failure:3`, `always`. */
export function formatRestartPolicy (policy: RestartPolicy | undefined): string {
  if (policy == null) {
    return 'no'
  }

  return policy.maxRetries == null ? policy.name : `${policy.name}:${policy.maxRetries}`
}

/**
 * A policy from outside (the control API's JSON): the same checks as the text form.
 *
 * @throws {InvalidRestartPolicyError}
 */
export function checkRestartPolicy (value: unknown): RestartPolicy {
  const policy = value as Partial<RestartPolicy> | null

  if (typeof policy !== 'object' || policy == null || typeof policy.name !== 'string' || Object.keys(policy).some(key => key !== 'name' && key !== 'maxRetries')) {
    throw new InvalidRestartPolicyError('a restart policy is an object { name, maxRetries? }')
  }

  const parsed = parseRestartPolicy(policy.name)

  if (policy.maxRetries == null || parsed.name === 'no') {
    return parsed
  }

  return { name: parsed.name, maxRetries: checkRetries(policy.maxRetries) }
}

function parseRetries (text: string): number {
  return checkRetries(/^\d+$/.test(text) ? Number(text) : NaN)
}

function checkRetries (retries: number): number {
  if (!Number.isSafeInteger(retries) || retries < 0 || retries > MAX_RESTART_RETRIES) {
    throw new InvalidRestartPolicyError(`the most re-placements of a restart policy is a whole number from 0 to ${MAX_RESTART_RETRIES}, got ${String(retries)}`)
  }

  return retries
}
