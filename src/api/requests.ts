/**
 * Validation of control-API request bodies. The shapes are checked here; the field limits are the
 * wire protocol's own (a container the API accepts is one a launch can carry).
 */

import { CODECS } from '../protocols/codec.js'
import { checkRestartPolicy } from '../stacks/restart.js'
import { STACK_NAME_PATTERN, STACK_NAME_RULE } from '../stacks/stack-file.js'
import { GROUP_POLICIES } from '../types.js'
import { ApiError } from './errors.js'
import type { ContainerConfig, GroupPolicy, LogsOptions, PortMapping, RestartPolicy } from '../types.js'

/** A stack to deploy: its name and its containers, placed as one request. */
export interface StackRequest {
  stack: string
  containers: ContainerConfig[]
}

/** `{ containers: ContainerConfig[] }` → the containers, or ApiError 400 naming the bad field. */
export function parseRunRequest (body: unknown): ContainerConfig[] {
  const list = field(object(body, 'body').containers, 'containers')

  if (!Array.isArray(list) || list.length === 0) {
    throw new ApiError(400, 'containers: must be a non-empty array')
  }

  const containers = list.map((item, i) => parseContainer(item, `containers[${i}]`))

  try {
    // the launch codec enforces every length, count and range limit of the wire protocol
    CODECS.launchContainer.encodeRequest({ offerId: 0, requestId: 'validation', containers })
  } catch (err: any) {
    throw new ApiError(400, err.message)
  }

  return containers
}

/** `{ stack: string, containers: ContainerConfig[] }` → the stack's name and containers. */
export function parseStackRequest (body: unknown): StackRequest {
  const stack = object(body, 'body').stack

  if (typeof stack !== 'string' || !STACK_NAME_PATTERN.test(stack)) {
    throw new ApiError(400, `stack: must be a stack name: ${STACK_NAME_RULE}`)
  }

  return { stack, containers: parseRunRequest(body) }
}

/** `{ ids: string[], force?: boolean }` → the ids, and whether to forget those whose supplier cannot be reached. */
export function parseStopRequest (body: unknown): { ids: string[], force: boolean } {
  const { ids, force } = object(body, 'body')

  if (!Array.isArray(ids) || ids.length === 0 || !ids.every(id => typeof id === 'string' && id.length > 0)) {
    throw new ApiError(400, 'ids: must be a non-empty array of container ids')
  }

  if (force !== undefined && typeof force !== 'boolean') {
    throw new ApiError(400, 'force: must be true or false')
  }

  return { ids, force: force === true }
}

function parseContainer (value: unknown, path: string): ContainerConfig {
  const container = object(value, path)
  const resources = object(container.resources ?? {}, `${path}.resources`)
  const groupPolicy = container.groupPolicy ?? 'spread'

  if (!GROUP_POLICIES.includes(groupPolicy as GroupPolicy)) {
    throw new ApiError(400, `${path}.groupPolicy: must be ${GROUP_POLICIES.join(' or ')}`)
  }

  let restart: RestartPolicy | undefined

  try {
    restart = container.restart == null ? undefined : checkRestartPolicy(container.restart)
  } catch (err: any) {
    throw new ApiError(400, `${path}.restart: ${err.message}`)
  }

  return {
    name: string(container.name ?? '', `${path}.name`),
    image: string(field(container.image, `${path}.image`), `${path}.image`),
    args: array(container.args ?? [], `${path}.args`).map((arg, i) => string(arg, `${path}.args[${i}]`)),
    portMappings: array(container.portMappings ?? [], `${path}.portMappings`).map((p, i) => parsePort(p, `${path}.portMappings[${i}]`)),
    resources: {
      cpuClass: integer(resources.cpuClass ?? 0, `${path}.resources.cpuClass`),
      cpus: integer(resources.cpus ?? 0, `${path}.resources.cpus`),
      memory: integer(resources.memory ?? 0, `${path}.resources.memory`)
    },
    groupPolicy: groupPolicy as GroupPolicy,
    ...(restart == null || restart.name === 'no' ? {} : { restart })
  }
}

function parsePort (value: unknown, path: string): PortMapping {
  const port = object(value, path)
  const protocol = port.protocol ?? 'tcp'

  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw new ApiError(400, `${path}.protocol: must be tcp or udp`)
  }

  return {
    hostPort: integer(port.hostPort ?? 0, `${path}.hostPort`),
    containerPort: integer(field(port.containerPort, `${path}.containerPort`), `${path}.containerPort`),
    protocol
  }
}

function field (value: unknown, path: string): unknown {
  if (value === undefined) {
    throw new ApiError(400, `${path}: missing`)
  }

  return value
}

function object (value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value == null || Array.isArray(value)) {
    throw new ApiError(400, `${path}: must be an object`)
  }

  return value as Record<string, unknown>
}

function array (value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new ApiError(400, `${path}: must be an array`)
  }

  return value
}

function string (value: unknown, path: string): string {
  if (typeof value !== 'string') {
    throw new ApiError(400, `${path}: must be a string`)
  }

  return value
}

function integer (value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ApiError(400, `${path}: must be a whole number ≥ 0`)
  }

  return value
}

/**
 * The query of `GET /v1/containers/:id/logs`: `follow` (1 or true), `tail` (lines, a
 * non-negative integer) and `since` (milliseconds since the epoch).
 */
export function parseLogsQuery (query: URLSearchParams): Omit<LogsOptions, 'signal'> {
  const options: Omit<LogsOptions, 'signal'> = {}
  const follow = query.get('follow')
  const tail = query.get('tail')
  const since = query.get('since')

  if (follow != null) {
    if (!['1', 'true', '0', 'false'].includes(follow)) {
      throw new ApiError(400, 'follow: must be 1, true, 0 or false')
    }

    options.follow = follow === '1' || follow === 'true'
  }

  if (tail != null) {
    options.tail = queryInteger('tail', tail, 0xFFFF_FFFF)
  }

  if (since != null) {
    options.since = queryInteger('since', since, Number.MAX_SAFE_INTEGER)
  }

  return options
}

function queryInteger (name: string, value: string, max: number): number {
  const number = Number(value)

  if (!/^\d+$/.test(value) || number > max) {
    throw new ApiError(400, `${name}: must be an integer from 0 to ${max}`)
  }

  return number
}
