/**
 * A container runtime that runs nothing: it accounts containers, their resources and their
 * published ports in memory, with the `ContainerRuntime` interface of the Docker runtime. For
 * in-process tests, large local testnets and the simulator.
 */

import { randomBytes } from 'node:crypto'
import { copyContainerConfig } from '../copy.js'
import { LazyMap } from '../lazy-map.js'
import { ContainerNotFoundError, ContainerStartError, RuntimeUnavailableError } from './errors.js'
import type { AbortOptions, ContainerConfig, ContainerExitListener, ContainerRuntime, LogChunk, LogsOptions, LogStreamName, OwnedContainer, PortMapping, Resources } from '../types.js'

export { ContainerNotFoundError, ContainerStartError, RuntimeUnavailableError }

/** Host ports handed out for mappings with host port 0 (Linux's default ephemeral range). */
export const DEFAULT_PORT_RANGE: Readonly<[number, number]> = [32768, 60999]
/** Bytes of a container id (64 hex characters, like Docker's). */
const CONTAINER_ID_BYTES = 32
/** Exit code of a container killed by `kill()` (SIGKILL, as Docker reports it). */
const KILLED_EXIT_CODE = 137

/** Capacity and behaviour of a memory runtime. */
export interface MemoryRuntimeInit {
  /** cores reported by `getCpuAndRam` */
  cpus: number
  /** MB reported by `getCpuAndRam` */
  memory: number
  /**
   * Largest sum of the resources of running containers, in the units of `ContainerConfig`
   * (CPU slices, MB): above it `runContainer` refuses. Set it when the network overcommits or
   * slices CPUs.
   *
   * @default { cpus, memory }
   */
  allocatable?: { cpus: number, memory: number }
  /** first and last host port given to mappings with host port 0 @default [32768, 60999] */
  portRange?: [number, number]
  /** a reason to refuse a container (an injected failure), or undefined to run it */
  failWhen?: (config: ContainerConfig, labels: Record<string, string>) => string | undefined
  /** random bytes of container ids; a seeded source makes a simulation reproducible @default crypto.randomBytes */
  random?: (bytes: number) => Uint8Array
  /** the time output is written at (`write`), for `logs`' `since`, in ms since the epoch @default Date.now */
  now?: () => number
}

/** One line a container wrote (the last may lack its newline), and when. */
interface OutputLine {
  at: number
  stream: LogStreamName
  data: Uint8Array
}

/** What a container wrote, and the readers waiting for more. */
interface Output {
  lines: OutputLine[]
  /** woken by a write, the container's end or its removal */
  waiting: Set<() => void>
}

/** A container the runtime accounts. */
export interface MemoryContainer {
  id: string
  config: ContainerConfig
  labels: Record<string, string>
  portMappings: PortMapping[]
  state: 'running' | 'exited'
  exitCode?: number
}

/** `ContainerRuntime` that accounts containers without running them. */
export class MemoryRuntime implements ContainerRuntime {
  private readonly init: MemoryRuntimeInit
  private readonly allocatable: { cpus: number, memory: number }
  private readonly containers = new LazyMap<string, MemoryContainer>()
  /** `<protocol>/<port>` of every host port in use (made at the first one) */
  private hostPorts?: Set<string>
  /** replaced, never changed in place: a listener that unsubscribes while being told changes nothing */
  private listeners: readonly ContainerExitListener[] = []
  private nextPort: number
  /** set while the engine is down (`down()`): every call throws `RuntimeUnavailableError` with it */
  private outage?: string
  /** container id → its output, made at its first write or reader */
  private readonly outputs = new Map<string, Output>()

  constructor (init: MemoryRuntimeInit) {
    this.init = init
    this.allocatable = init.allocatable ?? { cpus: init.cpus, memory: init.memory }
    this.nextPort = this.portRange[0]
  }

  /**
   * Stop answering, as an engine that stopped or whose socket went away: every call throws
   * `RuntimeUnavailableError` until `up()`. Containers that `kill` ends meanwhile are not reported
   * to `onExit` listeners (the engine's event stream is gone with it); with `stopContainers` every
   * running container ends at once, as when a real engine stops.
   */
  down (reason = 'the container engine was stopped', options: { stopContainers?: boolean } = {}): void {
    if (options.stopContainers === true) {
      for (const container of this.containers.values()) {
        if (container.state === 'running') {
          this.release(container)
          container.state = 'exited'
          container.exitCode = KILLED_EXIT_CODE
          this.wake(container.id)
        }
      }
    }

    this.outage = reason
  }

  /** Answer again after `down()`; the containers are as the outage left them. */
  up (): void {
    this.outage = undefined
  }

  /** Whether the engine answers (not `down()`). */
  get available (): boolean {
    return this.outage == null
  }

  /** Resolves while the engine answers; throws `RuntimeUnavailableError` while it is down. */
  async health (): Promise<void> {
    this.answer()
  }

  async getCpuAndRam (): Promise<{ cpus: number, memory: number }> {
    this.answer()
    return { cpus: this.init.cpus, memory: this.init.memory }
  }

  async checkContainerStatus (containerId: string): Promise<string> {
    this.answer()
    return this.get(containerId).state
  }

  async runContainer (config: ContainerConfig, labels: Record<string, string>, options?: AbortOptions): Promise<{ containerId: string, portMappings: PortMapping[] }> {
    options?.signal?.throwIfAborted()
    this.answer()
    const failure = this.init.failWhen?.(config, labels)

    if (failure != null) {
      throw new ContainerStartError(failure)
    }

    const used = this.used()

    if (used.cpus + config.resources.cpus > this.allocatable.cpus || used.memory + config.resources.memory > this.allocatable.memory) {
      throw new ContainerStartError(`Not enough capacity for ${config.resources.cpus} CPUs and ${config.resources.memory} MB: ` +
        `${used.cpus} of ${this.allocatable.cpus} CPUs and ${used.memory} of ${this.allocatable.memory} MB are in use`)
    }

    const portMappings = this.publish(config.portMappings)
    const id = Buffer.from((this.init.random ?? randomBytes)(CONTAINER_ID_BYTES)).toString('hex')
    this.containers.set(id, { id, config: copyContainerConfig(config), labels: { ...labels }, portMappings, state: 'running' })

    return { containerId: id, portMappings: portMappings.map(m => ({ ...m })) }
  }

  async removeContainer (containerId: string): Promise<void> {
    this.answer()
    const container = this.get(containerId)
    this.release(container)
    this.containers.delete(containerId)
    this.wake(containerId)
    this.outputs.delete(containerId)
  }

  /**
   * Make a running container print `text` (or bytes) on one of its outputs, as its process would:
   * its readers see it at once. Lines are kept one by one, for `logs`' `tail`.
   */
  write (containerId: string, stream: LogStreamName, text: string | Uint8Array): void {
    if (this.get(containerId).state !== 'running') {
      throw new Error(`container ${containerId} is not running`)
    }

    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text
    const output = this.output(containerId)
    const at = (this.init.now ?? Date.now)()
    let start = 0

    while (start < bytes.length) {
      const newline = bytes.indexOf(0x0a, start)
      const end = newline < 0 ? bytes.length : newline + 1
      output.lines.push({ at, stream, data: bytes.slice(start, end) })
      start = end
    }

    this.wake(containerId)
  }

  /**
   * What a container wrote (`write`): the last `tail` lines, those written from `since` on; with
   * `follow`, then what it writes until it ends or is removed, or the signal aborts.
   */
  async * logs (containerId: string, options: LogsOptions = {}): AsyncGenerator<LogChunk> {
    this.answer()
    this.get(containerId)
    const output = this.output(containerId)
    const { signal, since, tail } = options
    let next = 0

    if (since != null) {
      while (next < output.lines.length && output.lines[next].at < since) {
        next++
      }
    }

    if (tail != null) {
      next = Math.max(next, output.lines.length - tail)
    }

    while (signal?.aborted !== true) {
      while (next < output.lines.length) {
        const { stream, data, at } = output.lines[next++]
        yield { stream, data, time: at }
      }

      if (options.follow !== true || this.containers.get(containerId)?.state !== 'running') {
        return
      }

      await new Promise<void>(resolve => {
        const done = (): void => {
          output.waiting.delete(done)
          signal?.removeEventListener('abort', done)
          resolve()
        }
        output.waiting.add(done)
        signal?.addEventListener('abort', done)
      })
    }
  }

  /**
   * Make a running container exit as if it died (Docker's `die` event): its resources and ports
   * are free again and every `onExit` listener hears of it (none does while the engine is
   * `down()`). The container stays listed, exited, until it is removed.
   */
  kill (containerId: string, exitCode = KILLED_EXIT_CODE): void {
    const container = this.get(containerId)

    if (container.state !== 'running') {
      return
    }

    this.release(container)
    container.state = 'exited'
    container.exitCode = exitCode
    this.wake(containerId)

    if (this.outage != null) {
      return
    }

    for (const listener of this.listeners) {
      listener({ containerId, exitCode })
    }
  }

  /** Call `listener` whenever a container exits on its own; returns a function that unsubscribes. */
  onExit (listener: ContainerExitListener): () => void {
    if (!this.listeners.includes(listener)) {
      this.listeners = this.listeners.concat([listener])
    }

    return () => { this.listeners = this.listeners.filter(l => l !== listener) }
  }

  /** Resources of the running containers, summed (CPU slices and MB), and how many there are. */
  used (): Pick<Resources, 'cpus' | 'memory'> & { containers: number } {
    let cpus = 0
    let memory = 0
    let containers = 0

    for (const container of this.containers.values()) {
      if (container.state === 'running') {
        cpus += container.config.resources.cpus
        memory += container.config.resources.memory
        containers++
      }
    }

    return { cpus, memory, containers }
  }

  /** Every container the runtime holds, running or exited. */
  list (): MemoryContainer[] {
    return [...this.containers.values()].map(c => structuredClone(c))
  }

  /**
   * Every container, as a restarted peer reconciles them. A memory runtime has no owner: when
   * peers share one, each keeps the containers labelled with its own peer id.
   */
  async listOwned (): Promise<OwnedContainer[]> {
    this.answer()
    return this.list().map(({ id, state, labels, exitCode, portMappings }) => ({ containerId: id, state, labels, exitCode, portMappings }))
  }

  private output (containerId: string): Output {
    let output = this.outputs.get(containerId)

    if (output == null) {
      output = { lines: [], waiting: new Set() }
      this.outputs.set(containerId, output)
    }

    return output
  }

  /** Wake the readers of a container's output. */
  private wake (containerId: string): void {
    for (const done of [...this.outputs.get(containerId)?.waiting ?? []]) {
      done()
    }
  }

  /** Throw while the engine is down. */
  private answer (): void {
    if (this.outage != null) {
      throw new RuntimeUnavailableError(`The container engine does not answer: ${this.outage}`)
    }
  }

  private get portRange (): Readonly<[number, number]> {
    return this.init.portRange ?? DEFAULT_PORT_RANGE
  }

  private get (containerId: string): MemoryContainer {
    const container = this.containers.get(containerId)

    if (container == null) {
      throw new ContainerNotFoundError(containerId)
    }

    return container
  }

  /** Reserve the host ports of the mappings, choosing free ones for host port 0; all or none. */
  private publish (mappings: PortMapping[]): PortMapping[] {
    const taken: string[] = []

    try {
      return mappings.map(mapping => {
        const hostPort = mapping.hostPort === 0 ? this.freePort(mapping.protocol) : mapping.hostPort
        const key = `${mapping.protocol}/${hostPort}`

        this.hostPorts ??= new Set()

        if (this.hostPorts.has(key)) {
          throw new ContainerStartError(`Host port ${hostPort}/${mapping.protocol} is already allocated`)
        }

        this.hostPorts.add(key)
        taken.push(key)
        return { ...mapping, hostPort }
      })
    } catch (err) {
      taken.forEach(key => this.hostPorts?.delete(key))
      throw err
    }
  }

  /** The next free port of the range, round robin. */
  private freePort (protocol: string): number {
    const [first, last] = this.portRange
    const size = last - first + 1

    for (let i = 0; i < size; i++) {
      const port = this.nextPort
      this.nextPort = port === last ? first : port + 1

      if (this.hostPorts?.has(`${protocol}/${port}`) !== true) {
        return port
      }
    }

    throw new ContainerStartError(`No free host port left in ${first}-${last}/${protocol}`)
  }

  private release (container: MemoryContainer): void {
    if (container.state === 'running') {
      container.portMappings.forEach(m => this.hostPorts?.delete(`${m.protocol}/${m.hostPort}`))
    }
  }
}
