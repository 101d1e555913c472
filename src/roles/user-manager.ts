/**
 * The containers this peer placed (`caravela-original.md` §9), with their suppliers: listed by
 * `ps`, stopped by full or unique short id. In memory for now.
 */

import type { AbortOptions, CaravelaClient, Clock, ContainerStatus, ContainerView, StopResult } from '../types.js'
import type { Logger } from '@libp2p/interface'

/** Shortest prefix of a container id accepted by `stop`. */
export const MIN_SHORT_ID_LENGTH = 4

/** What the user manager works with. */
export interface UserManagerInit {
  client: CaravelaClient
  clock: Clock
  log: Logger
}

/** The containers this peer placed. */
export class UserManager {
  private readonly init: UserManagerInit
  private readonly placed = new Map<string, ContainerView>()

  constructor (init: UserManagerInit) {
    this.init = init
  }

  /** Record the containers of a placed request. */
  add (statuses: ContainerStatus[], requestId: string): void {
    const createdAt = this.init.clock.now()

    for (const status of statuses) {
      this.placed.set(status.containerId, {
        containerId: status.containerId,
        name: status.name,
        image: status.image,
        args: [...status.args],
        supplier: { peerId: status.supplier.peerId, multiaddrs: [...status.supplier.multiaddrs] },
        state: status.state,
        resources: { ...status.resources },
        portMappings: status.portMappings.map(m => ({ ...m })),
        requestId,
        createdAt
      })
    }
  }

  /** The containers this peer placed, oldest first. */
  list (): ContainerView[] {
    return [...this.placed.values()].map(c => structuredClone(c))
  }

  /**
   * Stop containers by full id or unique prefix of at least `MIN_SHORT_ID_LENGTH` characters,
   * each at its supplier. One result per id given, in order; a container its supplier no longer
   * runs counts as stopped.
   */
  async stop (ids: string[], options: AbortOptions = {}): Promise<StopResult[]> {
    return Promise.all(ids.map(async id => {
      const found = this.resolve(id)

      if (typeof found === 'string') {
        return { id, stopped: false, error: found }
      }

      try {
        await this.init.client.stopLocalContainer(found.supplier, found.containerId, options)
      } catch (err: any) {
        if (!isNotFound(err)) {
          this.init.log('could not stop %s at %s - %e', found.containerId, found.supplier.peerId, err)
          return { id, stopped: false, error: `supplier ${found.supplier.peerId} did not stop it: ${err?.message ?? err}` }
        }
      }

      this.placed.delete(found.containerId)
      return { id, stopped: true }
    }))
  }

  /** The container an id names, or why none. */
  private resolve (id: string): ContainerView | string {
    const exact = this.placed.get(id)

    if (exact != null) {
      return exact
    }

    if (id.length < MIN_SHORT_ID_LENGTH) {
      return `a container id needs at least ${MIN_SHORT_ID_LENGTH} characters`
    }

    const matches = [...this.placed.values()].filter(c => c.containerId.startsWith(id))

    if (matches.length === 1) {
      return matches[0]
    }

    return matches.length === 0 ? `no container ${id} was placed by this peer` : `${id} is ambiguous: it starts ${matches.length} container ids`
  }
}

/** A supplier answered that it does not run the container (any more). */
function isNotFound (err: any): boolean {
  return err?.name === 'RemoteRequestError' && err.status === 'NOT_FOUND'
}
