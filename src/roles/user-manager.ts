/**
 * The containers this peer placed (the original's user manager), with their suppliers: listed by
 * `ps`, stopped by full or unique short id, told by their suppliers when they exit. Kept in the
 * ledger, so that a restarted peer still lists them.
 */

import { copyPortMappings } from '../copy.js'
import { copyList } from '../empty.js'
import { ProtocolStatusError } from '../errors.js'
import { LazyMap } from '../lazy-map.js'
import type { AbortOptions, CaravelaClient, Clock, ContainerStatus, ContainerView, NodeRef, StopResult } from '../types.js'
import type { Ledger } from './ledger.js'
import type { Reputation } from './reputation.js'
import type { Logger } from '@libp2p/interface'

/** Shortest prefix of a container id accepted by `stop`. */
export const MIN_SHORT_ID_LENGTH = 4

/** What the user manager works with. */
export interface UserManagerInit {
  client: CaravelaClient
  clock: Clock
  ledger: Ledger
  log: Logger
  /** where a supplier that lost a container, or does not answer a stop, is marked (the buyer's) */
  reputation?: Reputation
}

/** The containers this peer placed. */
export class UserManager {
  private readonly init: UserManagerInit
  /** container id → the container */
  private readonly placed = new LazyMap<string, ContainerView>()
  private loading?: Promise<void>

  constructor (init: UserManagerInit) {
    this.init = init
  }

  /** The first time: the containers placed before a restart, from the ledger. */
  async load (): Promise<void> {
    this.loading ??= (async () => {
      for (const container of await this.init.ledger.placed()) {
        this.placed.set(container.containerId, container)
      }
    })()
    await this.loading
  }

  /** Record the containers of a placed request, and the stack they make up, if any. */
  async add (statuses: ContainerStatus[], requestId: string, stack?: string): Promise<void> {
    const createdAt = this.init.clock.now()

    for (const status of statuses) {
      this.placed.set(status.containerId, {
        containerId: status.containerId,
        name: status.name,
        image: status.image,
        args: copyList(status.args),
        supplier: { peerId: status.supplier.peerId, multiaddrs: copyList(status.supplier.multiaddrs) },
        state: status.state,
        resources: { ...status.resources },
        portMappings: copyPortMappings(status.portMappings),
        requestId,
        createdAt,
        ...(stack == null ? {} : { stack })
      })
    }

    await Promise.all(statuses.map(async ({ containerId }) => { await this.persist(containerId) }))
  }

  /**
   * ContainerExited from a supplier: the container shows as `exited (<code>)`. Only the
   * container's supplier may say so.
   */
  async containerExited (supplier: string, containerId: string, exitCode: number | undefined, reason: string): Promise<void> {
    const container = this.placed.get(containerId)

    if (container == null) {
      throw new ProtocolStatusError('NOT_FOUND', `no container ${containerId} was placed by this peer`)
    }

    if (container.supplier.peerId !== supplier) {
      throw new ProtocolStatusError('REFUSED', `container ${containerId} runs at another supplier`)
    }

    this.init.log('container %s exited at %s with code %s: %s', containerId, supplier, exitCode, reason)
    container.state = exitCode == null ? 'exited' : `exited (${exitCode})`
    await this.persist(containerId)
  }

  /** The containers this peer placed, oldest first. */
  list (): ContainerView[] {
    return [...this.placed.values()].map(c => structuredClone(c))
  }

  /**
   * Stop containers by full id or unique prefix of at least `MIN_SHORT_ID_LENGTH` characters,
   * each at its supplier. One result per id given, in order; a container its supplier no longer
   * runs counts as stopped. A supplier that answers it has no container it never said had ended,
   * or that does not answer at all, is marked in the buyer's reputation table.
   */
  async stop (ids: string[], options: AbortOptions = {}): Promise<StopResult[]> {
    return Promise.all(ids.map(async id => {
      const found = this.resolve(id)

      if (typeof found === 'string') {
        return { id, stopped: false, error: found }
      }

      try {
        await this.stopAt(found.supplier, found.containerId, options)
      } catch (err: any) {
        if (!isNotFound(err)) {
          this.init.log('could not stop %s at %s - %e', found.containerId, found.supplier.peerId, err)

          if (err?.name !== 'RemoteRequestError' && options.signal?.aborted !== true) {
            this.init.reputation?.mark(found.supplier.peerId, 'unreachable')
          }

          return { id, stopped: false, error: `supplier ${found.supplier.peerId} did not stop it: ${err?.message ?? err}` }
        }

        // gone, though its supplier never said it ended: lost, or never started
        if (!found.state.startsWith('exited')) {
          this.init.log('%s no longer has container %s, which it never said ended', found.supplier.peerId, found.containerId)
          this.init.reputation?.mark(found.supplier.peerId, 'lost')
        }
      }

      this.placed.delete(found.containerId)
      await this.persist(found.containerId)
      return { id, stopped: true }
    }))
  }

  /**
   * StopLocalContainer, asked once more when the first answer was lost (a timeout, a dropped
   * stream): stopping is idempotent, a container already gone answers NOT_FOUND.
   */
  private async stopAt (supplier: NodeRef, containerId: string, options: AbortOptions): Promise<void> {
    try {
      await this.init.client.stopLocalContainer(supplier, containerId, options)
    } catch (err: any) {
      if (err?.name === 'RemoteRequestError' || options.signal?.aborted === true) {
        throw err
      }

      this.init.log('stopping %s at %s failed, asking again - %e', containerId, supplier.peerId, err)
      await this.init.client.stopLocalContainer(supplier, containerId, options)
    }
  }

  /** Write a container's record, or delete it once the container is no longer placed. */
  private async persist (containerId: string): Promise<void> {
    const container = this.placed.get(containerId)

    try {
      await (container == null ? this.init.ledger.deletePlaced(containerId) : this.init.ledger.putPlaced(container))
    } catch (err: any) {
      this.init.log.error('could not record container %s - %e', containerId, err)
    }
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
