/**
 * Port mappings as users write them: `caravela run -p`, the ports of a stack file's services
 * (the original's syntax, Compose's short and long syntax).
 */

import { MAX_PORT } from '../protocols/constants.js'
import type { PortMapping } from '../types.js'

/** A port mapping that is not `host:container[/tcp|udp]` with ports from 1 to 65535. */
export class InvalidPortMappingError extends Error {
  static override name = 'InvalidPortMappingError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidPortMappingError'
  }
}

/** `8080:80/tcp`, `8080:80`, `80/udp`, `80` (any free host port) → a port mapping. */
export function parsePortMapping (text: string): PortMapping {
  const match = /^(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/.exec(text)

  if (match == null) {
    throw new InvalidPortMappingError(`"${text}" is not host:container[/tcp|udp] with ports from 1 to ${MAX_PORT}`)
  }

  return portMapping(Number(match[1] ?? 0), Number(match[2]), match[3] ?? 'tcp')
}

/** A port mapping from its parts: a host port of 0 lets the engine choose one. */
export function portMapping (hostPort: number, containerPort: number, protocol: string): PortMapping {
  if (!isPort(hostPort) || !isPort(containerPort) || containerPort === 0) {
    throw new InvalidPortMappingError(`ports go from 1 to ${MAX_PORT} (a host port of 0 lets the engine choose), got ${hostPort}:${containerPort}`)
  }
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw new InvalidPortMappingError(`the protocol must be tcp or udp, got "${protocol}"`)
  }

  return { hostPort, containerPort, protocol }
}

function isPort (port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= MAX_PORT
}
