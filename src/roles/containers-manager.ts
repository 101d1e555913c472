/**
 * The containers this peer runs for others (`caravela-original.md` §8): launches against an offer,
 * idempotent by request id, with a rollback that neither deadlocks nor leaks (§18-10); stops only
 * on the word of the buyer that launched; releases the resources of containers that exit.
 */

import { ProtocolStatusError } from '../errors.js'
import { totalResources } from './resources.js'
import type { Supplier } from './supplier.js'
import type { RequestContext } from '../protocols/server.js'
import type { ContainerConfig, ContainerRuntime, ContainerStatus, NodeRef, Resources } from '../types.js'
import type { Logger } from '@libp2p/interface'

/** Label of every container: the peer id of the supplier running it (a restarted peer finds its containers again). */
export const LABEL_SUPPLIER = 'caravela.supplier'
/** Label of every container: the peer id of the buyer that launched it. */
export const LABEL_BUYER = 'caravela.buyer'
/** Label of every container: the offer it was launched against. */
export const LABEL_OFFER = 'caravela.offer'
/** Label of every container: the request id of its launch. */
export const LABEL_REQUEST = 'caravela.request'

/** Finished launches remembered for idempotency; the oldest is forgotten first. */
export const MAX_REMEMBERED_LAUNCHES = 1024
/** The state of a container the runtime started. */
const RUNNING = 'running'
/** `name` of the error a runtime throws for an unknown container. */
const NOT_FOUND_ERROR = 'ContainerNotFoundError'

/** A container this peer runs for a buyer. */
export interface HostedContainer {
  containerId: string
  buyer: string
  offerId: number
  requestId: string
  resources: Resources
  status: ContainerStatus
}

/** What the containers manager works with. */
export interface ContainersManagerInit {
  self: () => NodeRef
  runtime: ContainerRuntime
  supplier: Supplier
  log: Logger
  /** called when a hosted container exits on its own (the buyer notification of the next issue) */
  onContainerExit?: (container: HostedContainer) => void
}

interface Launch {
  /** the containers asked for, canonical JSON: a retry must ask for the same */
  fingerprint: string
  result: Promise<ContainerStatus[]>
}

/** The containers this peer runs for buyers, on its runtime, with resources taken from its supplier. */
export class ContainersManager {
  private readonly init: ContainersManagerInit
  private readonly log: Logger
  private readonly hosted = new Map<string, HostedContainer>()
  /** `<buyer>/<requestId>` → the launch, in progress or done */
  private readonly launches = new Map<string, Launch>()

  constructor (init: ContainersManagerInit) {
    this.init = init
    this.log = init.log
  }

  /**
   * LaunchContainer from a buyer. A retry with the same request id returns the first launch's
   * statuses; the same request id with other containers is refused.
   */
  async launch (ctx: RequestContext, offerId: number, requestId: string, containers: ContainerConfig[]): Promise<ContainerStatus[]> {
    const key = `${ctx.from.peerId}/${requestId}`
    const fingerprint = JSON.stringify(containers)
    const previous = this.launches.get(key)

    if (previous != null) {
      if (previous.fingerprint !== fingerprint) {
        throw new ProtocolStatusError('REFUSED', `request ${requestId} was launched with other containers`)
      }

      return previous.result
    }

    validate(containers)
    const result = this.start(ctx.from.peerId, offerId, requestId, containers)
    this.remember(key, { fingerprint, result })
    // a failed launch may be tried again
    result.catch(() => { this.launches.delete(key) })

    return result
  }

  /** StopLocalContainer: only the buyer that launched the container may stop it. */
  async stop (ctx: RequestContext, containerId: string): Promise<void> {
    const container = this.hosted.get(containerId)

    if (container == null) {
      throw new ProtocolStatusError('NOT_FOUND', `no container ${containerId} runs here`)
    }

    if (container.buyer !== ctx.from.peerId) {
      throw new ProtocolStatusError('REFUSED', `container ${containerId} was launched by another peer`)
    }

    await this.remove(container)
  }

  /** The runtime says a container ended on its own: release what it held and tell the hook. */
  containerExited (containerId: string): void {
    const container = this.hosted.get(containerId)

    if (container == null) {
      return
    }

    this.log('container %s of %s exited', containerId, container.buyer)
    void this.remove(container)
    this.init.onContainerExit?.(container)
  }

  /** The containers this peer runs for others. */
  list (): HostedContainer[] {
    return [...this.hosted.values()].map(c => structuredClone(c))
  }

  private async start (buyer: string, offerId: number, requestId: string, containers: ContainerConfig[]): Promise<ContainerStatus[]> {
    const { supplier } = this.init
    const needed = totalResources(containers)
    const refusal = supplier.obtainResources(offerId, needed, containers.length)

    if (refusal != null) {
      throw new ProtocolStatusError('REFUSED', refusal)
    }

    const labels = {
      [LABEL_SUPPLIER]: this.init.self().peerId,
      [LABEL_BUYER]: buyer,
      [LABEL_OFFER]: String(offerId),
      [LABEL_REQUEST]: requestId
    }
    const started: HostedContainer[] = []

    try {
      for (const config of containers) {
        started.push(await this.run(config, labels, buyer, offerId, requestId))
      }
    } catch (err: any) {
      await this.rollback(started)
      supplier.returnResources(needed, containers.length)
      throw new ProtocolStatusError('UNAVAILABLE', `could not start ${containers.length === 1 ? 'the container' : 'every container'}: ${err?.message ?? err}`)
    }

    for (const container of started) {
      this.hosted.set(container.containerId, container)
    }

    this.log('launched %d containers for %s on offer %d', started.length, buyer, offerId)
    return started.map(c => structuredClone(c.status))
  }

  private async run (config: ContainerConfig, labels: Record<string, string>, buyer: string, offerId: number, requestId: string): Promise<HostedContainer> {
    const { containerId, portMappings } = await this.init.runtime.runContainer(config, labels)

    return {
      containerId,
      buyer,
      offerId,
      requestId,
      resources: { ...config.resources },
      status: { ...structuredClone(config), portMappings, supplier: this.init.self(), containerId, state: RUNNING }
    }
  }

  /** Remove the containers a failed launch started; their resources go back with the launch's. */
  private async rollback (started: HostedContainer[]): Promise<void> {
    for (const container of started) {
      try {
        await this.init.runtime.removeContainer(container.containerId)
      } catch (err: any) {
        this.log.error('could not remove container %s after a failed launch - %e', container.containerId, err)
      }
    }
  }

  /** Remove a hosted container from the runtime (gone already is fine) and release its resources. */
  private async remove (container: HostedContainer): Promise<void> {
    if (!this.hosted.delete(container.containerId)) {
      return
    }

    this.init.supplier.returnResources(container.resources, 1)

    try {
      await this.init.runtime.removeContainer(container.containerId)
    } catch (err: any) {
      if (err?.name !== NOT_FOUND_ERROR) {
        this.log.error('could not remove container %s - %e', container.containerId, err)
      }
    }
  }

  private remember (key: string, launch: Launch): void {
    this.launches.set(key, launch)

    for (const oldest of this.launches.keys()) {
      if (this.launches.size <= MAX_REMEMBERED_LAUNCHES) {
        break
      }

      this.launches.delete(oldest)
    }
  }
}

/** A launch must hold containers, each asking for some CPU and memory (§18-9: no unlimited containers). */
function validate (containers: ContainerConfig[]): void {
  if (containers.length === 0) {
    throw new ProtocolStatusError('INVALID_REQUEST', 'a launch holds at least one container')
  }

  for (const [i, c] of containers.entries()) {
    if (c.resources.cpus === 0 || c.resources.memory === 0) {
      throw new ProtocolStatusError('INVALID_REQUEST', `containers[${i}] asks for no CPU or no memory: every container must ask for both`)
    }
  }
}
