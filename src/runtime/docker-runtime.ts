/**
 * The container runtime of a real peer: containers run on the local Docker engine, through
 * dockerode (this is the only file that imports it).
 *
 * - Every container carries the labels the containers manager gives it plus
 *   `caravela.supplier=<ownerPeerId>`; the runtime sees and touches only containers with its
 *   owner's label, so several peers can share one engine.
 * - Limits come from the request: `NanoCpus` (the request's CPU-slice units divided by
 *   `cpuSlices`), `Memory` = `MemorySwap`; and from the supplier's settings: processes, open
 *   files, log size, optionally a read-only root filesystem and a disk quota.
 * - Hardening by default (see `DEFAULT_CAP_ADD` and `createOptions`): never privileged,
 *   `no-new-privileges`, every capability dropped but a few, bounded logs, no restart policy;
 *   the network is Docker's bridge or none at all.
 * - Ports are published on one host IP (127.0.0.1 in tests); host port 0 lets the engine choose,
 *   and `runContainer` returns the ports it chose. `connectPort` (port-forward tunnels) connects
 *   to a published port there, never to the container's bridge address.
 * - A missing image is pulled; whatever fails after the container was created removes it again.
 * - The images the runtime pulled (never those that were there before) are removed again once
 *   no container has used them for a grace period: at every sweep (`imageCleanupIntervalMs`), and
 *   without waiting for the grace period when the disk holding the engine's data runs low. An
 *   image some container uses, ours or not, always stays: the runtime never forces a removal.
 *   With a `stateDir` the runtime records its pulls there, so a restarted peer still removes them.
 */

import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, statfs, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import Docker from 'dockerode'
import { imageMatches, parseImagePattern, parseImageReference } from '../image-ref.js'
import { connectTunnel } from '../tunnel.js'
import { ContainerNotFoundError, ContainerStartError } from './errors.js'
import type { ImagePattern } from '../image-ref.js'
import type { AbortOptions, ByteTunnel, ContainerConfig, ContainerExitEvents, ContainerExitListener, ContainerRuntime, LogChunk, LogsOptions, PortMapping } from '../types.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'

export { ContainerNotFoundError, ContainerStartError }

/** The engine's socket when none is given. */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock'
/** Label holding the peer id of the supplier that runs the container (same as the containers manager's). */
export const LABEL_OWNER = 'caravela.supplier'
/** Most processes (threads included) a container may run: stops fork bombs. */
export const DEFAULT_PIDS_LIMIT = 256
/**
 * Capabilities given back after dropping them all. Common images need them to start: entrypoints
 * that `chown` their data and switch to an unprivileged user (postgres, redis, nginx workers),
 * servers binding ports below 1024 as root, and root processes writing files they do not own.
 * Left out of Docker's default set: NET_RAW (raw sockets, ARP/ICMP spoofing on the bridge),
 * MKNOD, SETFCAP, SETPCAP, SYS_CHROOT, FSETID, AUDIT_WRITE.
 */
export const DEFAULT_CAP_ADD: readonly string[] = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'NET_BIND_SERVICE', 'KILL']
/** Most files one container may hold open. */
export const DEFAULT_OPEN_FILES_LIMIT = 4096
/** Docker's json-file log of a container: at most this many MB per file... */
export const DEFAULT_LOG_MAX_SIZE = 10
/** ...and this many files, so that a chatty container cannot fill the supplier's disk. */
export const DEFAULT_LOG_MAX_FILES = 3
/** Longest time a pull of a missing image may take. */
export const DEFAULT_PULL_TIMEOUT_MS = 5 * 60_000
/** Time between two sweeps of the images the runtime pulled. */
export const DEFAULT_IMAGE_CLEANUP_INTERVAL_MS = 60 * 60_000
/** How long a pulled image no container uses stays, for the next launch of the same image. */
export const DEFAULT_IMAGE_GRACE_PERIOD_MS = 60 * 60_000
/**
 * The disk holding the engine's data is low when less than 2 GB or less than 10 % of it is free:
 * pulled images no container uses then go at once, and before every pull.
 */
export const DEFAULT_DISK_LOW: Readonly<DiskLowThreshold> = { freeBytes: 2 * 1024 ** 3, freeFraction: 0.1 }
/** The file in `stateDir` that records the images the runtime pulled. */
export const PULLED_IMAGES_FILE = 'pulled-images.json'

const NANO_CPUS_PER_CPU = 1e9
const BYTES_PER_MB = 1024 * 1024
/** Docker's rule for container names (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`) */
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/
const MAX_NAME_LENGTH = 128
/** Characters of an image reference (`[registry[:port]/]repo[:tag][@digest]`): nothing that could bend an API path */
const VALID_IMAGE = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/
const MAX_IMAGE_LENGTH = 512
/** Characters of a container id or name */
const VALID_CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
/** Random bytes of the suffix appended to a name already in use */
const NAME_SUFFIX_BYTES = 4
/** First and longest wait before the event stream is opened again */
const EVENTS_RETRY_MIN_MS = 500
const EVENTS_RETRY_MAX_MS = 10_000
/** How long a container removed by us stays known, so its `die` event is not reported as an exit */
const REMOVED_MEMORY_MS = 60_000
const MAX_PORT = 65_535
/** Longest delay of a Node.js timer */
const MAX_TIMER_MS = 2 ** 31 - 1
/** Most pulled images read back from `PULLED_IMAGES_FILE` */
const MAX_PULLED_RECORDS = 10_000
/** An image id: the sha256 of its config */
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/
/** Errors of a socket that has no engine behind it */
const UNAVAILABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'])

/** No Docker engine answers on the runtime's socket; the message says what to do. */
export class DockerUnavailableError extends Error {
  static override name = 'DockerUnavailableError'
  readonly code?: string

  constructor (socketPath: string, code?: string, detail?: string) {
    const todo = code === 'EACCES' || code === 'EPERM'
      ? 'run the peer as root, or add its user to the docker group (usermod -aG docker <user>) and log in again'
      : 'start an engine (as root: node scripts/docker-setup.mjs, or systemctl start docker), or point the peer to the socket of a running one'
    super(`No Docker engine answers on ${socketPath}${code != null ? ` (${code})` : ''}${detail != null ? `: ${detail}` : ''}: ${todo}`)
    this.name = 'DockerUnavailableError'
    this.code = code
  }
}

/** The image is not on the runtime's allow-list; nothing was pulled or created. */
export class ImageNotAllowedError extends Error {
  static override name = 'ImageNotAllowedError'
  readonly image: string

  constructor (image: string, allowList: readonly string[]) {
    super(`Image ${image} is not allowed on this peer (allowed: ${allowList.join(', ')})`)
    this.name = 'ImageNotAllowedError'
    this.image = image
  }
}

/** The image is missing and could not be pulled; no container was created. */
export class ImagePullError extends Error {
  static override name = 'ImagePullError'
  readonly image: string

  constructor (image: string, reason: string) {
    super(`Could not pull image ${image}: ${reason}`)
    this.name = 'ImagePullError'
    this.image = image
  }
}

/** How a `DockerRuntime` reaches the engine and what it allows. */
export interface DockerRuntimeInit {
  /** peer id of the owning supplier: the runtime labels and sees only containers with `caravela.supplier=<ownerPeerId>` */
  ownerPeerId: string
  /** the engine's unix socket @default '/var/run/docker.sock' */
  socketPath?: string
  /** host IP the container ports are published on (127.0.0.1 in tests, 0.0.0.0 to serve other machines) @default '127.0.0.1' */
  hostIp?: string
  /**
   * CPU slices per core of the network: `ContainerConfig.resources.cpus` counts slices. A function
   * is read at every launch, for a peer that adopts its network's configuration after start.
   *
   * @default 1
   */
  cpuSlices?: number | (() => number)
  /**
   * Images allowed to run; empty: any. A pattern is `repository[:tag|@digest]` where `*` matches
   * any characters; without a tag or digest it allows every tag and digest of the repository.
   * `docker.io/`, `library/` and a missing `:latest` are normalised (`nginx` = `docker.io/library/nginx:latest`).
   * Tags are mutable: pin digests (`repo@sha256:…`) for images you do not control.
   */
  imageAllowList?: string[]
  /** most processes (threads included) of one container @default 256 */
  pidsLimit?: number
  /** open files of one container (`nofile`, soft and hard) @default 4096 */
  openFilesLimit?: number
  /** `bridge` (Docker's default network) or `none` (no network at all: no ports either) @default 'bridge' */
  network?: 'bridge' | 'none'
  /** size in MB of one of the container's json-file log files; it keeps `logMaxFiles` @default 10 */
  logMaxSize?: number
  /** @default 3 */
  logMaxFiles?: number
  /** the container's root filesystem is read-only (a tmpfs on /tmp and /run) @default false */
  readOnlyRootfs?: boolean
  /**
   * size in MB of the container's writable layer; only storage drivers with quotas take it
   * (overlay2 on xfs with pquota, btrfs, zfs): elsewhere the engine refuses every container
   */
  diskQuota?: number
  /** capabilities added back after `CapDrop: ['ALL']` @default DEFAULT_CAP_ADD */
  capAdd?: string[]
  /** @default 5 minutes */
  pullTimeoutMs?: number
  /**
   * time between two sweeps of the images this runtime pulled; 0: no sweeps (the disk-low check
   * and `cleanImages` still remove them) @default 1 hour
   */
  imageCleanupIntervalMs?: number
  /** a pulled image is removed once no container has used it for this long @default 1 hour */
  imageGracePeriodMs?: number
  /**
   * directory where the runtime records the images it pulled (`pulled-images.json`), so that a
   * restarted peer still removes them; without one it remembers them in memory only
   */
  stateDir?: string
  /**
   * free and total bytes of the disk holding the engine's images, undefined when unknown
   * @default statfs of the engine's `DockerRootDir`, when this machine sees that directory
   */
  diskSpace?: () => Promise<DiskSpace | undefined>
  /** below either, the disk is low @default DEFAULT_DISK_LOW */
  diskLow?: DiskLowThreshold
  /** @default defaultLogger() from @libp2p/logger */
  logger?: ComponentLogger
}

/** Bytes of a disk. */
export interface DiskSpace {
  /** available to the engine (`bavail`) */
  free: number
  total: number
}

/** A disk is low when less than `freeBytes`, or less than `freeFraction` of it, is free. */
export interface DiskLowThreshold {
  freeBytes: number
  /** from 0 to 1 */
  freeFraction: number
}

/** An image this runtime pulled. */
interface PulledImage {
  /** the reference it was pulled by, which the removal untags */
  reference: string
  /** the image id the pull gave: a reference that names another image now is no longer ours */
  id: string
  /** milliseconds since the epoch */
  pulledAt: number
  /** since when no container is known to use it; undefined while one does */
  idleSince?: number
}

/** What a sweep does: every image whose grace period is over, every idle one, or nothing unless the disk is low. */
type SweepMode = 'grace' | 'idle' | 'if-disk-low'

/** A container of this runtime's owner as the engine lists it (for reconciliation after a restart). */
export interface OwnedContainer {
  containerId: string
  /** without Docker's leading slash; undefined when the engine lists none */
  name?: string
  /** Docker state: created, running, paused, restarting, removing, exited, dead */
  state: string
  /** Docker's human status, e.g. "Exited (3) 2 seconds ago" */
  status: string
  labels: Record<string, string>
  image: string
  /** milliseconds since the epoch */
  created: number
}

/** What `ping` learns from the engine. */
export interface DockerEngineInfo {
  version: string
  apiVersion: string
}

/** A dockerode error: the engine's HTTP status, or a socket error code. */
interface DockerodeError {
  statusCode?: number
  code?: string
  message?: string
  json?: { message?: string }
}

/** One line of an image pull's progress stream. */
interface PullProgress {
  status?: string
  error?: string
  errorDetail?: { message?: string }
}

/** One line of the engine's event stream (the fields we read). */
interface DockerEvent {
  Type?: string
  Action?: string
  status?: string
  id?: string
  time?: number
  timeNano?: number
  Actor?: { ID?: string, Attributes?: Record<string, string> }
}

/**
 * `ContainerRuntime` on a Docker engine. Create it with `DockerRuntime.connect(init)` to fail early
 * with a `DockerUnavailableError` when no engine answers.
 */
export class DockerRuntime implements ContainerRuntime, ContainerExitEvents {
  private readonly docker: Docker
  private readonly log: Logger
  private readonly socketPath: string
  private readonly ownerPeerId: string
  private readonly hostIp: string
  private readonly cpuSlices: number | (() => number)
  private readonly pidsLimit: number
  private readonly openFilesLimit: number
  private readonly network: 'bridge' | 'none'
  private readonly logMaxSize: number
  private readonly logMaxFiles: number
  private readonly readOnlyRootfs: boolean
  private readonly diskQuota?: number
  private readonly capAdd: string[]
  private readonly allowList: ImagePattern[]
  private readonly allowListText: string[]
  private readonly pullTimeoutMs: number
  /** pulls in progress by image, so that concurrent launches of one image pull it once */
  private readonly pulls = new Map<string, Promise<void>>()
  private readonly listeners = new Set<ContainerExitListener>()
  /** containers we removed (id → when), whose `die` event is no exit of their own */
  private readonly removedByUs = new Map<string, number>()
  private events?: AbortController
  private eventsRetry?: ReturnType<typeof setTimeout>
  /** `timeNano` of the last event seen: a reopened stream resumes after it */
  private lastEventNano = 0
  private closed = false
  private readonly imageCleanupIntervalMs: number
  private readonly imageGracePeriodMs: number
  private readonly diskLow: DiskLowThreshold
  private readonly diskSpace: () => Promise<DiskSpace | undefined>
  private readonly pulledFile?: string
  /** the images this runtime pulled, by `imageKey` */
  private readonly pulled = new Map<string, PulledImage>()
  /** launches in progress by `imageKey`: a sweep leaves their images alone */
  private readonly launching = new Map<string, number>()
  /** image removals in progress by `imageKey`: a launch of the same image waits for them, then pulls it again */
  private readonly removals = new Map<string, Promise<unknown>>()
  /** the records of `pulledFile` read back (merged into `pulled`) */
  private readonly loaded: Promise<void>
  /** sweeps run one after the other */
  private sweeps: Promise<unknown> = Promise.resolve()
  /** writes of `pulledFile` run one after the other */
  private saving: Promise<void> = Promise.resolve()
  private sweepTimer?: ReturnType<typeof setTimeout>
  /** the engine's data directory, once docker info told it */
  private rootDir?: Promise<string | undefined>
  /** statfs of the engine's data directory failed once (logged once) */
  private rootDirUnseen = false

  constructor (init: DockerRuntimeInit) {
    if (init.ownerPeerId == null || init.ownerPeerId === '') {
      throw new TypeError('DockerRuntime needs the owner\'s peer id (ownerPeerId)')
    }

    const cpuSlices = init.cpuSlices ?? 1

    if (typeof cpuSlices === 'number' && (!Number.isInteger(cpuSlices) || cpuSlices < 1)) {
      throw new TypeError(`cpuSlices must be a positive integer, got ${cpuSlices}`)
    }

    this.socketPath = init.socketPath ?? DEFAULT_DOCKER_SOCKET
    this.docker = new Docker({ socketPath: this.socketPath })
    this.log = (init.logger ?? defaultLogger()).forComponent('caravela:docker')
    this.ownerPeerId = init.ownerPeerId
    this.hostIp = init.hostIp ?? '127.0.0.1'
    this.cpuSlices = cpuSlices
    this.pidsLimit = positiveInteger(init.pidsLimit ?? DEFAULT_PIDS_LIMIT, 'pidsLimit')
    this.openFilesLimit = positiveInteger(init.openFilesLimit ?? DEFAULT_OPEN_FILES_LIMIT, 'openFilesLimit')
    this.network = init.network ?? 'bridge'
    this.logMaxSize = positiveInteger(init.logMaxSize ?? DEFAULT_LOG_MAX_SIZE, 'logMaxSize')
    this.logMaxFiles = positiveInteger(init.logMaxFiles ?? DEFAULT_LOG_MAX_FILES, 'logMaxFiles')
    this.readOnlyRootfs = init.readOnlyRootfs ?? false
    this.diskQuota = init.diskQuota == null ? undefined : positiveInteger(init.diskQuota, 'diskQuota')

    if (this.network !== 'bridge' && this.network !== 'none') {
      throw new TypeError(`network must be bridge or none, got ${String(this.network)}`)
    }
    this.capAdd = [...(init.capAdd ?? DEFAULT_CAP_ADD)]
    this.allowListText = [...(init.imageAllowList ?? [])]
    this.allowList = this.allowListText.map(parseImagePattern)
    this.pullTimeoutMs = init.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS
    this.imageCleanupIntervalMs = duration(init.imageCleanupIntervalMs ?? DEFAULT_IMAGE_CLEANUP_INTERVAL_MS, 'imageCleanupIntervalMs')
    this.imageGracePeriodMs = duration(init.imageGracePeriodMs ?? DEFAULT_IMAGE_GRACE_PERIOD_MS, 'imageGracePeriodMs')
    this.diskLow = { ...(init.diskLow ?? DEFAULT_DISK_LOW) }

    if (!(this.diskLow.freeBytes >= 0) || !(this.diskLow.freeFraction >= 0 && this.diskLow.freeFraction <= 1)) {
      throw new TypeError(`diskLow must be free bytes ≥ 0 and a free fraction from 0 to 1, got ${JSON.stringify(init.diskLow)}`)
    }

    this.diskSpace = init.diskSpace ?? (async () => this.engineDiskSpace())
    this.pulledFile = init.stateDir == null ? undefined : join(init.stateDir, PULLED_IMAGES_FILE)
    this.loaded = this.loadPulled()
    this.scheduleSweep()
  }

  /** A runtime whose engine answered a ping; throws `DockerUnavailableError` when none does. */
  static async connect (init: DockerRuntimeInit, options?: AbortOptions): Promise<DockerRuntime> {
    const runtime = new DockerRuntime(init)
    const info = await runtime.ping(options)
    runtime.log('engine %s (API %s) answers on %s', info.version, info.apiVersion, runtime.socketPath)
    return runtime
  }

  /** The engine's version; throws `DockerUnavailableError` when no engine answers. */
  async ping (options?: AbortOptions): Promise<DockerEngineInfo> {
    options?.signal?.throwIfAborted()
    // the signal also ends a request to an engine that hangs (a health check gives up on it)
    const version = await this.call('version', undefined, async () => versionWithSignal.call(this.docker, { abortSignal: options?.signal }))
    return { version: version.Version, apiVersion: version.ApiVersion }
  }

  /** `ContainerRuntime.health`: the engine answers a version request; `DockerUnavailableError` when it does not. */
  async health (options?: AbortOptions): Promise<void> {
    await this.ping(options)
  }

  /** Cores and memory (MB) of the engine's machine. */
  async getCpuAndRam (options?: AbortOptions): Promise<{ cpus: number, memory: number }> {
    options?.signal?.throwIfAborted()
    const info = await this.call('info', undefined, async () => this.docker.info())
    return { cpus: Number(info.NCPU), memory: Math.floor(Number(info.MemTotal) / BYTES_PER_MB) }
  }

  /** Docker's state of one of our containers; `ContainerNotFoundError` when missing or not ours. */
  async checkContainerStatus (containerId: string, options?: AbortOptions): Promise<string> {
    const info = await this.inspectOwned(containerId, options)
    return info.State.Status
  }

  /**
   * Create and start a container for `config`, labelled with `labels` and our owner label. Pulls a
   * missing image first. Returns the container id and the host ports the engine assigned. On
   * failure no container is left behind.
   */
  async runContainer (config: ContainerConfig, labels: Record<string, string>, options?: AbortOptions): Promise<{ containerId: string, portMappings: PortMapping[] }> {
    options?.signal?.throwIfAborted()
    const image = config.image

    if (typeof image !== 'string' || image.length > MAX_IMAGE_LENGTH || !VALID_IMAGE.test(image)) {
      throw new ContainerStartError(`Invalid image reference ${JSON.stringify(image)}`)
    }

    if (this.allowList.length > 0 && !this.allowList.some(pattern => imageMatches(pattern, image))) {
      throw new ImageNotAllowedError(image, this.allowListText)
    }

    const create = this.createOptions(config, labels)
    const key = imageKey(image)
    this.launching.set(key, (this.launching.get(key) ?? 0) + 1)

    try {
      // an idle pulled image being removed right now is pulled again once it is gone
      await this.removals.get(key)
      let launched: { containerId: string, portMappings: PortMapping[] }

      try {
        // most launches find their image: the create says when it is missing, which saves asking first
        launched = await this.launch(image, create, config, options)
      } catch (err: any) {
        if (err?.missingImage !== true) {
          throw err
        }

        await this.ensureImage(image, options)
        launched = await this.launch(image, create, config, options)
      }

      this.markUsed(key)
      return launched
    } finally {
      const left = (this.launching.get(key) ?? 1) - 1

      if (left > 0) {
        this.launching.set(key, left)
      } else {
        this.launching.delete(key)
      }
    }
  }

  /** Create and start the container of a present image; on failure no container is left behind. */
  private async launch (image: string, create: Docker.ContainerCreateOptions, config: ContainerConfig, options?: AbortOptions): Promise<{ containerId: string, portMappings: PortMapping[] }> {
    // from here on no call takes the signal: an aborted create could leave a container we do not know of
    options?.signal?.throwIfAborted()

    const started = Date.now()
    let containerId: string

    try {
      containerId = await this.create(create)
    } catch (err: any) {
      throw isOwnError(err) ? err : new ContainerStartError(`Could not create a container of ${image}: ${dockerMessage(err)}`)
    }

    try {
      options?.signal?.throwIfAborted()
      await this.call('start', containerId, async () => this.docker.getContainer(containerId).start(), {
        304: () => undefined // already started
      })
      // the host ports the engine chose are read back; a container that publishes none needs no asking
      const portMappings = config.portMappings.length === 0
        ? []
        : this.assignedPorts(config.portMappings, await this.call('inspect', containerId, async () => this.docker.getContainer(containerId).inspect()))
      this.log('container %s (%s) runs after %d ms', containerId, image, Date.now() - started)
      return { containerId, portMappings }
    } catch (err: any) {
      await this.discard(containerId)
      throw isOwnError(err) || err?.name === 'AbortError' ? err : new ContainerStartError(`Could not start a container of ${image}: ${dockerMessage(err)}`)
    }
  }

  /** Remove one of our containers, running or not; `ContainerNotFoundError` when missing or not ours. */
  async removeContainer (containerId: string, options?: AbortOptions): Promise<void> {
    const info = await this.inspectOwned(containerId, options)
    const id = info.Id
    this.rememberRemoved(id)

    await this.call('remove', id, async () => this.docker.getContainer(id).remove({ force: true, abortSignal: options?.signal }), {
      404: () => { throw new ContainerNotFoundError(containerId) },
      409: () => undefined // removal already in progress
    })
    this.imageFreed(info.Image)
  }

  /**
   * A TCP connection to a port the container publishes, made to the host port the engine bound
   * for it (read back from the engine, not trusted from the caller) on the publish IP, or on the
   * loopback address when that IP is a wildcard: never to the container's own address on
   * Docker's bridge, where a supplier's firewall rules for published ports would not apply.
   */
  async connectPort (containerId: string, mapping: PortMapping, options: AbortOptions = {}): Promise<ByteTunnel> {
    const info = await this.inspectOwned(containerId, options)

    if (info.State?.Running !== true) {
      throw new Error(`container ${containerId} is not running`)
    }

    const bindings = info.NetworkSettings?.Ports?.[`${mapping.containerPort}/tcp`] ?? []

    if (!bindings.some(binding => Number(binding.HostPort) === mapping.hostPort)) {
      throw new Error(`the engine publishes no host port ${mapping.hostPort} for ${mapping.containerPort}/tcp`)
    }

    const host = this.hostIp === '0.0.0.0' ? '127.0.0.1' : this.hostIp === '::' ? '::1' : this.hostIp
    return connectTunnel(host, mapping.hostPort, options)
  }

  /**
   * A container's output, from Docker's log driver: the engine's multiplexed stream, split into
   * stdout and stderr chunks. With `follow` it ends when the container stops or is removed.
   */
  async * logs (containerId: string, options: LogsOptions = {}): AsyncGenerator<LogChunk> {
    const info = await this.inspectOwned(containerId, options)
    const container = this.docker.getContainer(info.Id)
    const query = {
      stdout: true,
      stderr: true,
      // each line with the time it was written, for a follow that resumes after a dropped stream
      timestamps: true,
      abortSignal: options.signal,
      ...(options.tail == null ? {} : { tail: options.tail }),
      // whole seconds: the engine reads a fraction as nanoseconds
      ...(options.since == null ? {} : { since: Math.floor(options.since / 1000) })
    }
    const source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = options.follow === true
      ? await this.call('logs', containerId, async () => container.logs({ ...query, follow: true }) as Promise<AsyncIterable<Uint8Array>>, {
        404: () => { throw new ContainerNotFoundError(containerId) }
      })
      : [await this.call('logs', containerId, async () => container.logs({ ...query, follow: false }), {
          404: () => { throw new ContainerNotFoundError(containerId) }
        })]

    try {
      yield * timestamped(demuxDockerLogs(source))
    } catch (err: any) {
      // the reader went away: the end it asked for; the container was removed while followed,
      // which cuts the engine's stream short: the end of its output
      if (options.signal?.aborted === true || (options.follow === true && !(await this.isRunning(info.Id)))) {
        return
      }

      throw err
    }
  }

  /** Whether the engine still runs a container: false once it stopped or is gone. */
  private async isRunning (containerId: string): Promise<boolean> {
    const info = await this.call('inspect', containerId, async () => this.docker.getContainer(containerId).inspect(), {
      404: () => undefined
    })
    return info?.State?.Running === true
  }

  /**
   * Call `listener` whenever one of our containers ends on its own (Docker's `die` event; not for
   * containers we remove). Returns a function that unsubscribes. The event stream opens with the
   * first listener, reopens when it drops (resuming after the last event) and closes with the last.
   */
  onExit (listener: ContainerExitListener): () => void {
    this.listeners.add(listener)

    if (this.events == null && !this.closed) {
      this.lastEventNano = Date.now() * 1e6
      this.openEvents()
    }

    return () => {
      this.listeners.delete(listener)

      if (this.listeners.size === 0) {
        this.closeEvents()
      }
    }
  }

  /** Every container labelled with our peer id, running or not. */
  async listOwned (options?: AbortOptions): Promise<OwnedContainer[]> {
    const list = await this.call('list', undefined, async () => this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_OWNER}=${this.ownerPeerId}`] },
      abortSignal: options?.signal
    } as Docker.ContainerListOptions))

    return list.map(c => ({
      containerId: c.Id,
      name: c.Names?.[0]?.replace(/^\//, ''),
      state: c.State,
      status: c.Status,
      labels: { ...c.Labels },
      image: c.Image,
      created: c.Created * 1000
    }))
  }

  /**
   * Remove the images this runtime pulled that no container has used for the grace period, or,
   * with `ignoreGrace` or when the disk holding the engine's data is low, that no container uses.
   * An image that a container uses, ours or not, stays: nothing is forced, and the engine refuses
   * to remove an image in use. Only the reference that was pulled is removed: the image goes
   * when no other reference names it. Sweeps run one at a time. Returns the references removed.
   */
  async cleanImages (options: { ignoreGrace?: boolean } = {}): Promise<string[]> {
    return this.enqueueSweep(options.ignoreGrace === true ? 'idle' : 'grace')
  }

  /** The references of the images this runtime pulled and still counts as its own. */
  async pulledImages (): Promise<Array<{ reference: string, id: string, pulledAt: number }>> {
    await this.loaded
    return [...this.pulled.values()].map(({ reference, id, pulledAt }) => ({ reference, id, pulledAt }))
  }

  /**
   * Stop listening to the engine's events and stop the image sweeps, after the one under way.
   * Containers keep running, and so do the pulled images: with a `stateDir`, the sweeps of the
   * next start remove them.
   */
  async close (): Promise<void> {
    this.closed = true
    this.listeners.clear()
    this.closeEvents()
    clearTimeout(this.sweepTimer)
    this.sweepTimer = undefined
    await this.sweeps
    await this.saving
  }

  /** The create options: limits, hardening, labels, ports. Throws `ContainerStartError` for an invalid request. */
  private createOptions (config: ContainerConfig, labels: Record<string, string>): Docker.ContainerCreateOptions {
    const { cpus, memory } = config.resources

    if (!(cpus > 0) || !(memory > 0) || !Number.isFinite(cpus) || !Number.isFinite(memory)) {
      throw new ContainerStartError(`A container must ask for some CPU and memory, got ${cpus} CPUs and ${memory} MB`)
    }

    const exposedPorts: Record<string, {}> = {}
    const portBindings: Record<string, Array<{ HostIp: string, HostPort: string }>> = {}

    if (this.network === 'none' && config.portMappings.length > 0) {
      throw new ContainerStartError('This peer runs containers without a network: they cannot publish ports')
    }

    for (const mapping of config.portMappings) {
      validatePort(mapping)
      const key = `${mapping.containerPort}/${mapping.protocol}`
      exposedPorts[key] = {}
      portBindings[key] = [...(portBindings[key] ?? []), { HostIp: this.hostIp, HostPort: mapping.hostPort === 0 ? '' : String(mapping.hostPort) }]
    }

    if (labels[LABEL_OWNER] != null && labels[LABEL_OWNER] !== this.ownerPeerId) {
      this.log('label %s=%s replaced by our peer id', LABEL_OWNER, labels[LABEL_OWNER])
    }

    return {
      name: containerName(config.name),
      Image: config.image,
      Cmd: config.args.length > 0 ? [...config.args] : undefined,
      Labels: { ...labels, [LABEL_OWNER]: this.ownerPeerId },
      ExposedPorts: exposedPorts,
      HostConfig: {
        NanoCpus: Math.round(cpus / (typeof this.cpuSlices === 'function' ? this.cpuSlices() : this.cpuSlices) * NANO_CPUS_PER_CPU),
        Memory: Math.round(memory * BYTES_PER_MB),
        // no swap on top of the memory limit
        MemorySwap: Math.round(memory * BYTES_PER_MB),
        PidsLimit: this.pidsLimit,
        Privileged: false,
        SecurityOpt: ['no-new-privileges'],
        CapDrop: ['ALL'],
        CapAdd: [...this.capAdd],
        PortBindings: portBindings,
        PublishAllPorts: false,
        // the exit state stays for `die` handling and reconciliation; removal is explicit
        AutoRemove: false,
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': `${this.logMaxSize}m`, 'max-file': String(this.logMaxFiles) } },
        Ulimits: [{ Name: 'nofile', Soft: this.openFilesLimit, Hard: this.openFilesLimit }],
        NetworkMode: this.network,
        ...(this.readOnlyRootfs ? { ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=64m', '/run': 'rw,nosuid,nodev,size=16m' } } : {}),
        ...(this.diskQuota == null ? {} : { StorageOpt: { size: `${this.diskQuota}M` } })
      }
    }
  }

  /** Create the container; a name in use gets a random suffix, then no name at all. */
  private async create (create: Docker.ContainerCreateOptions): Promise<string> {
    const names = create.name == null ? [undefined] : [create.name, `${create.name}-${randomBytes(NAME_SUFFIX_BYTES).toString('hex')}`, undefined]

    for (const [i, name] of names.entries()) {
      const last = i === names.length - 1
      const conflict = Symbol('conflict')
      const result = await this.call('create', name ?? create.Image, async () => {
        const { name: _, ...rest } = create
        const container = await this.docker.createContainer(name == null ? rest : { ...rest, name })
        return container.id
      }, {
        404: err => { throw Object.assign(new ContainerStartError(`Image ${create.Image} is missing: ${dockerMessage(err)}`), { missingImage: true }) },
        409: err => {
          if (last) {
            throw new ContainerStartError(`Could not create a container of ${create.Image}: ${dockerMessage(err)}`)
          }

          this.log('name %s is in use, trying %s', name, names[i + 1] ?? 'no name')
          return conflict
        },
        400: err => { throw new ContainerStartError(`The engine refused the container of ${create.Image}: ${dockerMessage(err)}`) }
      })

      if (result !== conflict) {
        return result as string
      }
    }

    throw new ContainerStartError(`Could not create a container of ${create.Image}`)
  }

  /** Pull the image unless the engine has it; one pull per image at a time. */
  private async ensureImage (image: string, options?: AbortOptions): Promise<void> {
    const present = await this.call('image inspect', image, async () => {
      await this.docker.getImage(image).inspect()
      return true
    }, {
      404: () => false
    })

    if (present) {
      return
    }

    let pull = this.pulls.get(image)

    if (pull == null) {
      pull = this.pullAndRecord(image).finally(() => { this.pulls.delete(image) })
      this.pulls.set(image, pull)
    }

    // a caller giving up does not stop the pull others may wait for
    if (options?.signal == null) {
      return pull
    }

    const signal = options.signal
    await Promise.race([pull, new Promise<never>((resolve, reject) => {
      signal.throwIfAborted()
      signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
    })])
  }

  /**
   * Pull a missing image, after making room when the disk is low, and record it as ours: the
   * image the reference names after the pull.
   */
  private async pullAndRecord (image: string): Promise<void> {
    await this.enqueueSweep('if-disk-low').catch(err => { this.log.error('could not make room before pulling %s - %e', image, err) })
    await this.pull(image)
    let id: string

    try {
      id = await this.call('image inspect', image, async () => (await this.docker.getImage(image).inspect()).Id)
    } catch (err: any) {
      this.log.error('pulled %s but could not read its id: it will not be removed - %s', image, dockerMessage(err))
      return
    }

    const now = Date.now()
    await this.loaded
    this.pulled.set(imageKey(image), { reference: image, id, pulledAt: now, idleSince: now })
    await this.savePulled()
  }

  /** Pull an image, reading the progress stream to its end; an error in it fails the pull. */
  private async pull (image: string): Promise<void> {
    const started = Date.now()
    const signal = AbortSignal.timeout(this.pullTimeoutMs)
    this.log('pulling %s', image)

    try {
      const stream = await this.call('pull', image, async () => this.docker.pull(image, { abortSignal: signal }), {
        404: err => { throw new ImagePullError(image, dockerMessage(err)) },
        500: err => { throw new ImagePullError(image, dockerMessage(err)) }
      })
      const messages = await new Promise<PullProgress[]>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (err: Error | null, output: PullProgress[]) => {
          if (err != null) {
            reject(err)
          } else {
            resolve(output)
          }
        })
      })
      const failed = messages.find(m => m.error != null || m.errorDetail != null)

      if (failed != null) {
        throw new ImagePullError(image, failed.errorDetail?.message ?? failed.error ?? 'unknown error')
      }
    } catch (err: any) {
      if (err instanceof ImagePullError || err instanceof DockerUnavailableError) {
        throw err
      }

      throw new ImagePullError(image, signal.aborted ? `no result within ${this.pullTimeoutMs} ms` : dockerMessage(err))
    }

    this.log('pulled %s in %d ms', image, Date.now() - started)
  }

  /** A launch of a pulled image succeeded: a container uses it. */
  private markUsed (key: string): void {
    const record = this.pulled.get(key)

    if (record != null) {
      record.idleSince = undefined
    }
  }

  /** A container of image `id` was removed: the grace period of a pulled image starts now. */
  private imageFreed (id: string | undefined): void {
    let ours = false

    for (const record of this.pulled.values()) {
      if (record.id === id) {
        record.idleSince = Date.now()
        ours = true
      }
    }

    if (ours) {
      this.enqueueSweep('if-disk-low').catch(err => { this.log.error('image sweep after a removal failed - %e', err) })
    }
  }

  /** Sweep every `imageCleanupIntervalMs`, on an unref'd timer, until `close`. */
  private scheduleSweep (): void {
    if (this.closed || this.imageCleanupIntervalMs === 0) {
      return
    }

    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined
      this.enqueueSweep('grace')
        .catch(err => { this.log.error('image sweep failed - %e', err) })
        .finally(() => { this.scheduleSweep() })
    }, this.imageCleanupIntervalMs)
    this.sweepTimer.unref()
  }

  /** Run a sweep after those already queued. */
  private async enqueueSweep (mode: SweepMode): Promise<string[]> {
    const sweep = this.sweeps.then(async () => this.sweep(mode))
    this.sweeps = sweep.catch(() => undefined)
    return sweep
  }

  /**
   * Remove the pulled images no container uses: those idle for the grace period, or every idle
   * one when `mode` is `idle` or the disk is low (`if-disk-low` does nothing otherwise).
   */
  private async sweep (mode: SweepMode): Promise<string[]> {
    await this.loaded

    if (this.pulled.size === 0 || this.closed) {
      return []
    }

    const low = await this.diskIsLow()

    if (mode === 'if-disk-low' && !low) {
      return []
    }

    const skipGrace = mode === 'idle' || low
    const containers = await this.call('list', 'every container', async () => this.docker.listContainers({ all: true }))
    const inUse = new Set(containers.map(c => c.ImageID))
    const now = Date.now()
    const removed: string[] = []
    let changed = false

    for (const [key, record] of [...this.pulled]) {
      if (this.closed) {
        break
      }

      if (inUse.has(record.id) || this.launching.has(key)) {
        record.idleSince = undefined
        continue
      }

      record.idleSince ??= now

      if (!skipGrace && now - record.idleSince < this.imageGracePeriodMs) {
        continue
      }

      const outcome = await this.removeImage(key, record)

      if (outcome === 'removed') {
        removed.push(record.reference)
      }

      changed ||= outcome !== 'kept'
    }

    if (changed) {
      await this.savePulled()
    }

    if (removed.length > 0 || low) {
      this.log('image sweep%s removed %d of the images this runtime pulled, %d left', low ? ' (disk low)' : '', removed.length, this.pulled.size)
    }

    return removed
  }

  /**
   * Remove the reference of one pulled image, never forced. `kept`: a container uses it (the
   * engine answered 409) or a launch of it began; `gone`: it no longer names the image we pulled,
   * so it is forgotten and left alone.
   *
   * The engine checks for containers before it untags, and again before it deletes: a container
   * created in between (by another peer on the engine, or its operator) keeps the image, without
   * a name. Such an image stays ours, recorded by its id (`reference` = `id`), and is removed by
   * id once unused, as long as nothing has named it since.
   */
  private async removeImage (key: string, record: PulledImage): Promise<'removed' | 'gone' | 'kept'> {
    const { reference, id } = record
    const byId = reference === id
    const current = await this.inspectImage(reference)

    if (current?.id !== id || (byId && current.named)) {
      this.log('%s %s: forgotten, not removed', reference, current == null ? 'is gone' : current.id !== id ? `names another image now (${current.id})` : 'has a name again')
      this.pulled.delete(key)
      return 'gone'
    }

    // a launch that began while we looked gets the image
    if (this.launching.has(key)) {
      record.idleSince = undefined
      return 'kept'
    }

    const removal = this.call('image remove', reference, async () => {
      const answer: unknown = await this.docker.getImage(reference).remove()
      return Array.isArray(answer) && answer.some(item => item?.Deleted === id) ? 'deleted' as const : 'untagged' as const
    }, {
      404: () => 'gone' as const,
      409: err => {
        this.log('%s is in use, kept: %s', reference, dockerMessage(err))
        return 'kept' as const
      }
    })
    this.removals.set(key, removal.catch(() => undefined))

    try {
      const outcome = await removal

      if (outcome === 'kept') {
        record.idleSince = undefined
        return 'kept'
      }

      this.pulled.delete(key)
      this.log('removed %s (%s), pulled %d s ago', reference, id, Math.round((Date.now() - record.pulledAt) / 1000))

      if (outcome === 'untagged' && !byId) {
        // the image stayed: under another name (not ours then), or for a container made meanwhile
        const left = await this.inspectImage(id)

        if (left != null && !left.named) {
          this.log('%s stays without a name for a container made meanwhile: removed by id once unused', id)
          this.pulled.set(imageKey(id), { reference: id, id, pulledAt: record.pulledAt })
        }
      }

      return outcome === 'gone' ? 'gone' : 'removed'
    } finally {
      this.removals.delete(key)
    }
  }

  /** The id of the image `reference` names, and whether any reference names it; undefined when missing. */
  private async inspectImage (reference: string): Promise<{ id: string, named: boolean } | undefined> {
    return this.call('image inspect', reference, async () => {
      const info = await this.docker.getImage(reference).inspect()
      return { id: info.Id, named: (info.RepoTags ?? []).length > 0 || (info.RepoDigests ?? []).length > 0 }
    }, {
      404: () => undefined
    })
  }

  /** True when the disk holding the engine's data has less free space than `diskLow`; false when unknown. */
  private async diskIsLow (): Promise<boolean> {
    let space: DiskSpace | undefined

    try {
      space = await this.diskSpace()
    } catch (err: any) {
      this.log.error('could not read the free space of the engine\'s disk - %e', err)
      return false
    }

    if (space == null || !(space.total > 0) || !(space.free >= 0)) {
      return false
    }

    const low = space.free < this.diskLow.freeBytes || space.free < space.total * this.diskLow.freeFraction

    if (low) {
      this.log('the engine\'s disk is low: %d MB free of %d MB', Math.round(space.free / BYTES_PER_MB), Math.round(space.total / BYTES_PER_MB))
    }

    return low
  }

  /**
   * Free and total bytes of the filesystem of the engine's data directory (docker info's
   * `DockerRootDir`); undefined when this machine cannot see it (an engine elsewhere, or in
   * another mount namespace): then only the scheduled sweeps remove images.
   */
  private async engineDiskSpace (): Promise<DiskSpace | undefined> {
    if (this.rootDirUnseen) {
      return undefined
    }

    this.rootDir ??= this.call('info', undefined, async () => this.docker.info())
      .then(info => typeof info.DockerRootDir === 'string' && info.DockerRootDir !== '' ? info.DockerRootDir as string : undefined)
      .catch(err => {
        this.rootDir = undefined
        throw err
      })
    const dir = await this.rootDir

    if (dir == null) {
      return undefined
    }

    try {
      const stats = await statfs(dir)
      return { free: Number(stats.bavail) * Number(stats.bsize), total: Number(stats.blocks) * Number(stats.bsize) }
    } catch (err: any) {
      this.rootDirUnseen = true
      this.log('the engine\'s data directory %s is not visible here (%s): images are removed on schedule only', dir, err.code ?? err.message)
      return undefined
    }
  }

  /** Read back the pulls recorded in `pulledFile`; a missing file is none, a broken one is logged. */
  private async loadPulled (): Promise<void> {
    if (this.pulledFile == null) {
      return
    }

    let text: string

    try {
      text = await readFile(this.pulledFile, 'utf8')
    } catch (err: any) {
      if (err.code !== 'ENOENT') {
        this.log.error('could not read %s: the images pulled before this start will not be removed - %e', this.pulledFile, err)
      }

      return
    }

    let images: unknown

    try {
      images = JSON.parse(text)?.images
    } catch (err: any) {
      this.log.error('%s is not JSON: the images pulled before this start will not be removed - %s', this.pulledFile, err.message)
      return
    }

    if (!Array.isArray(images)) {
      this.log.error('%s holds no list of images: ignored', this.pulledFile)
      return
    }

    const now = Date.now()

    for (const entry of images.slice(0, MAX_PULLED_RECORDS)) {
      const { reference, id, pulledAt } = entry ?? {}

      if (typeof reference !== 'string' || reference.length > MAX_IMAGE_LENGTH || !VALID_IMAGE.test(reference) ||
        typeof id !== 'string' || !IMAGE_ID.test(id) || typeof pulledAt !== 'number' || !Number.isFinite(pulledAt)) {
        this.log.error('%s: ignoring a malformed entry %j', this.pulledFile, entry)
        continue
      }

      const key = imageKey(reference)

      // a pull of this start is newer; the grace period of a recorded one starts again now
      if (!this.pulled.has(key)) {
        this.pulled.set(key, { reference, id, pulledAt, idleSince: now })
      }
    }

    this.log('%d pulled images recorded in %s', this.pulled.size, this.pulledFile)
  }

  /** Write the pulled images to `pulledFile` (replacing it whole), after the writes before. */
  private async savePulled (): Promise<void> {
    const file = this.pulledFile

    if (file == null) {
      return
    }

    const text = JSON.stringify({ version: 1, images: [...this.pulled.values()].map(({ reference, id, pulledAt }) => ({ reference, id, pulledAt })) }, null, 2)
    this.saving = this.saving.then(async () => {
      const temporary = `${file}.${randomBytes(NAME_SUFFIX_BYTES).toString('hex')}.tmp`
      await mkdir(dirname(file), { recursive: true, mode: 0o700 })
      await writeFile(temporary, `${text}\n`, { mode: 0o600 })
      await rename(temporary, file)
    }).catch(err => { this.log.error('could not record the pulled images in %s - %e', file, err) })
    return this.saving
  }

  /** The requested mappings with the host ports the engine bound (host port 0 → the chosen one). */
  private assignedPorts (requested: PortMapping[], info: Docker.ContainerInspectInfo): PortMapping[] {
    const ports = info.NetworkSettings?.Ports ?? {}
    const used = new Map<string, number>()

    return requested.map(mapping => {
      const key = `${mapping.containerPort}/${mapping.protocol}`
      const all = ports[key] ?? []
      const exact = all.filter(b => b.HostIp === this.hostIp)
      // an engine may list an IPv6 twin ('::') of each binding: prefer the ones on our host IP
      const bindings = exact.length > 0 ? exact : all
      const index = used.get(key) ?? 0
      used.set(key, index + 1)
      const binding = bindings.find((b, i) => i >= index && (mapping.hostPort === 0 || Number(b.HostPort) === mapping.hostPort)) ?? bindings[index]

      if (binding == null) {
        // a container that exited already has no bindings left
        this.log('container %s: no binding for %s (state %s)', info.Id, key, info.State?.Status)
        return { ...mapping }
      }

      return { ...mapping, hostPort: Number(binding.HostPort) }
    })
  }

  /** Inspect a container that carries our owner label; any other is "not found". */
  private async inspectOwned (containerId: string, options?: AbortOptions): Promise<Docker.ContainerInspectInfo> {
    if (typeof containerId !== 'string' || !VALID_CONTAINER_ID.test(containerId)) {
      throw new ContainerNotFoundError(String(containerId))
    }

    const info = await this.call('inspect', containerId, async () => this.docker.getContainer(containerId).inspect({ abortSignal: options?.signal }), {
      404: () => { throw new ContainerNotFoundError(containerId) }
    })

    if (info.Config?.Labels?.[LABEL_OWNER] !== this.ownerPeerId) {
      this.log('container %s belongs to another owner (%s): not touched', containerId, info.Config?.Labels?.[LABEL_OWNER])
      throw new ContainerNotFoundError(containerId)
    }

    return info
  }

  /** Force-remove a container a failed launch created; failures are logged, not thrown. */
  private async discard (containerId: string): Promise<void> {
    this.rememberRemoved(containerId)

    try {
      await this.call('remove', containerId, async () => this.docker.getContainer(containerId).remove({ force: true }), {
        404: () => undefined,
        409: () => undefined
      })
    } catch (err: any) {
      this.log.error('could not remove container %s after a failed start - %e', containerId, err)
    }
  }

  private rememberRemoved (containerId: string): void {
    const now = Date.now()

    for (const [id, at] of this.removedByUs) {
      if (now - at < REMOVED_MEMORY_MS) {
        break
      }

      this.removedByUs.delete(id)
    }

    this.removedByUs.delete(containerId)
    this.removedByUs.set(containerId, now)
  }

  private wasRemovedByUs (containerId: string): boolean {
    const at = this.removedByUs.get(containerId)
    return at != null && Date.now() - at < REMOVED_MEMORY_MS
  }

  /** Open the `die` event stream of our containers; reopen it with a backoff when it drops. */
  private openEvents (attempt = 0): void {
    const controller = new AbortController()
    this.events = controller
    const since = Math.floor(this.lastEventNano / 1e9)
    const filters = { type: ['container'], event: ['die'], label: [`${LABEL_OWNER}=${this.ownerPeerId}`] }

    let retrying = false
    const retry = (reason: string): void => {
      // error, end and close may all come: reopen once
      if (retrying || controller.signal.aborted || this.events !== controller) {
        return
      }

      retrying = true
      const delay = Math.min(EVENTS_RETRY_MAX_MS, EVENTS_RETRY_MIN_MS * 2 ** attempt)
      this.log('event stream %s, reopening in %d ms', reason, delay)
      this.eventsRetry = setTimeout(() => {
        this.eventsRetry = undefined

        if (this.events === controller && !this.closed) {
          this.openEvents(attempt + 1)
        }
      }, delay)
    }

    this.log('opening the event stream (since %d)', since)
    this.docker.getEvents({ since, filters, abortSignal: controller.signal } as Docker.GetEventsOptions)
      .then(stream => {
        if (controller.signal.aborted) {
          (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
          return
        }

        attempt = 0
        this.log('event stream open')
        let buffer = ''
        stream.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8')
          let newline: number

          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).trim()
            buffer = buffer.slice(newline + 1)

            if (line !== '') {
              this.handleEvent(line)
            }
          }
        })
        stream.on('error', (err: Error) => { retry(`failed (${err.message})`) })
        stream.on('end', () => { retry('ended') })
        stream.on('close', () => { retry('closed') })
        controller.signal.addEventListener('abort', () => {
          (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
        }, { once: true })
      })
      .catch((err: any) => { retry(`could not open (${dockerMessage(err)})`) })
  }

  private closeEvents (): void {
    clearTimeout(this.eventsRetry)
    this.eventsRetry = undefined
    this.events?.abort()
    this.events = undefined
  }

  private handleEvent (line: string): void {
    let event: DockerEvent

    try {
      event = JSON.parse(line)
    } catch {
      this.log('unreadable event %s', line)
      return
    }

    const nano = event.timeNano ?? (event.time ?? 0) * 1e9

    // a reopened stream replays from the start of the second of the last event
    if (nano <= this.lastEventNano && nano !== 0) {
      return
    }

    this.lastEventNano = Math.max(this.lastEventNano, nano)
    const containerId = event.Actor?.ID ?? event.id
    const attributes = event.Actor?.Attributes ?? {}

    if ((event.Action ?? event.status) !== 'die' || containerId == null || attributes[LABEL_OWNER] !== this.ownerPeerId) {
      return
    }

    if (this.wasRemovedByUs(containerId)) {
      this.log('container %s died on removal', containerId)
      return
    }

    const code = Number(attributes.exitCode)
    const exitCode = attributes.exitCode != null && Number.isInteger(code) ? code : undefined
    this.log('container %s exited with code %s', containerId, exitCode)

    for (const listener of [...this.listeners]) {
      try {
        listener({ containerId, exitCode })
      } catch (err: any) {
        this.log.error('exit listener failed for %s - %e', containerId, err)
      }
    }
  }

  /**
   * One engine call, logged before and after with its subject. `handlers` map HTTP statuses the
   * caller expects (304, 404, 409...) to a result or an error; a socket error becomes a
   * `DockerUnavailableError`; anything else is rethrown.
   */
  private async call<T, R = T> (what: string, subject: string | undefined, fn: () => Promise<T>, handlers: Partial<Record<number, (err: DockerodeError) => R>> = {}): Promise<T | R> {
    const started = Date.now()
    this.log.trace('%s %s', what, subject ?? '')

    try {
      const result = await fn()
      this.log.trace('%s %s done in %d ms', what, subject ?? '', Date.now() - started)
      return result
    } catch (err: any) {
      const handler = err?.statusCode != null ? handlers[err.statusCode as number] : undefined

      if (handler != null) {
        this.log.trace('%s %s answered %d in %d ms', what, subject ?? '', err.statusCode, Date.now() - started)
        return handler(err)
      }

      if (err?.statusCode == null && UNAVAILABLE_CODES.has(err?.code)) {
        this.log.error('%s %s: no engine on %s (%s)', what, subject ?? '', this.socketPath, err.code)
        throw new DockerUnavailableError(this.socketPath, err.code)
      }

      this.log.error('%s %s failed after %d ms - %s', what, subject ?? '', Date.now() - started, dockerMessage(err))
      throw err
    }
  }
}

/** dockerode's `version`, which takes an abort signal though its types do not say so. */
const versionWithSignal = Docker.prototype.version as unknown as (this: Docker, options: { abortSignal?: AbortSignal }) => Promise<Docker.DockerVersion>

/** Bytes of the header of each frame of Docker's multiplexed output: stream, 3 zero bytes, length (big endian). */
const FRAME_HEADER = 8

/**
 * Docker's multiplexed output of a container without a TTY, split into its frames: each is an
 * 8-byte header (the stream, 1 for stdout and 2 for stderr; 3 bytes of zeros; the payload's length
 * as a big-endian uint32) and its payload. Frames may span the chunks `source` gives.
 */
export async function * demuxDockerLogs (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<LogChunk> {
  let pending: Uint8Array = new Uint8Array(0)

  for await (const chunk of source) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])

    while (pending.length >= FRAME_HEADER) {
      const length = new DataView(pending.buffer, pending.byteOffset, pending.byteLength).getUint32(4)

      if (pending.length < FRAME_HEADER + length) {
        break
      }

      // 0 is stdin, which a container's output never carries: taken as stdout
      const stream = pending[0] === 2 ? 'stderr' : 'stdout'

      if (length > 0) {
        yield { stream, data: pending.slice(FRAME_HEADER, FRAME_HEADER + length) }
      }

      pending = pending.subarray(FRAME_HEADER + length)
    }
  }
}

/** The RFC 3339 time (nanoseconds at most) and space the engine puts before each line with `timestamps`. */
const LOG_TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) /

/**
 * The engine's lines with `timestamps`, each chunk's leading time taken off its data into `time`
 * (ms since the epoch); a chunk without one is passed as it is.
 */
export async function * timestamped (chunks: AsyncIterable<LogChunk>): AsyncGenerator<LogChunk> {
  for await (const chunk of chunks) {
    const head = new TextDecoder().decode(chunk.data.subarray(0, 40))
    const match = LOG_TIMESTAMP.exec(head)
    const time = match == null ? NaN : Date.parse(`${match[1]}${(match[2] ?? '').slice(0, 4)}${match[3]}`)

    if (match == null || Number.isNaN(time)) {
      yield chunk
    } else if (chunk.data.byteLength > match[0].length) {
      yield { stream: chunk.stream, data: chunk.data.subarray(match[0].length), time }
    }
  }
}

/** Errors of this runtime that already say what went wrong. */
function isOwnError (err: any): boolean {
  return err instanceof DockerUnavailableError || err instanceof ContainerStartError || err instanceof ImagePullError || err instanceof ContainerNotFoundError
}

/** The engine's message of a dockerode error, without dockerode's "(HTTP code …)" prefix. */
function dockerMessage (err: any): string {
  const message = err?.json?.message ?? (typeof err?.json === 'string' ? err.json : undefined) ?? err?.message ?? String(err)
  // dockerode's own prefix: "(HTTP code 500) server error - "
  return String(message).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim()
}

/** `config.name` made a valid Docker name, or undefined (the engine picks one). */
export function containerName (name: string | undefined): string | undefined {
  if (name == null) {
    return undefined
  }

  const cleaned = name.replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '').slice(0, MAX_NAME_LENGTH)
  return VALID_NAME.test(cleaned) ? cleaned : undefined
}

function validatePort (mapping: PortMapping): void {
  const { containerPort, hostPort, protocol } = mapping

  if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > MAX_PORT ||
    !Number.isInteger(hostPort) || hostPort < 0 || hostPort > MAX_PORT ||
    (protocol !== 'tcp' && protocol !== 'udp')) {
    throw new ContainerStartError(`Invalid port mapping ${hostPort}:${containerPort}/${protocol}`)
  }
}

/**
 * One key per image reference, as Docker reads it: `nginx`, `nginx:latest` and
 * `docker.io/library/nginx:latest` are one image.
 */
function imageKey (reference: string): string {
  const { registry, repository, tag, digest } = parseImageReference(reference)
  return `${registry}/${repository}${tag != null ? `:${tag}` : digest != null ? '' : ':latest'}${digest != null ? `@${digest}` : ''}`
}

/** `value` when it is a whole number of milliseconds a timer can wait (0 included); a `TypeError` otherwise. */
function duration (value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new TypeError(`${name} must be a whole number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${value}`)
  }

  return value
}

/** `value` when it is a positive integer; a `TypeError` naming `name` otherwise. */
function positiveInteger (value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer, got ${value}`)
  }

  return value
}
