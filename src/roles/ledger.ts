/**
 * The ledger of a peer: the containers it runs for others and the containers it placed, kept in
 * its `Store` so that a restarted peer loses nothing.
 *
 * Every record is one JSON value with a `version` field, under
 *
 * - `/caravela/hosted/<buyer>/<request id>/<index>`: a container this peer runs for a buyer, the
 *   `index`-th of the buyer's launch `request id`. Written `creating` before the launch is
 *   answered (while the runtime creates the container, or before, see `ContainersManager`),
 *   `running` once it did, after the answer, `exited` while the buyer has not heard that it ended;
 *   deleted when it is stopped or the buyer heard.
 * - `/caravela/placed/<container id>`: a container this peer placed, as `caravela ps` shows it;
 *   written when placed, updated when its state changes, deleted when it is stopped.
 *
 * Key parts are URI-encoded. Writes to one key happen in the order they were asked for.
 */

import type { Store } from '../store/store.js'
import type { ContainerConfig, ContainerView, PortMapping, Resources } from '../types.js'
import type { Logger } from '@libp2p/interface'

/** Version of the records this code writes and reads. */
export const LEDGER_VERSION = 1
/** Prefix of the containers this peer runs for others. */
export const HOSTED_PREFIX = '/caravela/hosted/'
/** Prefix of the containers this peer placed. */
export const PLACED_PREFIX = '/caravela/placed/'

/**
 * `creating`: about to be created; `running`: created; `exited`: ended, and either its buyer not
 * told yet or its stopped container kept for its buyer to read its output (`notified`, `finishedAt`).
 */
export type HostedState = 'creating' | 'running' | 'exited'

const HOSTED_STATES: readonly string[] = ['creating', 'running', 'exited'] satisfies HostedState[]

/** A container this peer runs for a buyer (or is about to, or ran): one ledger record. */
export interface HostedRecord {
  state: HostedState
  buyer: string
  offerId: number
  requestId: string
  /** position of the container in its launch */
  index: number
  resources: Resources
  /** what the buyer asked for; absent in a record rebuilt from the container's labels */
  config?: ContainerConfig
  /** set once the runtime created the container */
  containerId?: string
  /** the host ports the runtime assigned, when known */
  portMappings?: PortMapping[]
  /** of an exited container, when known */
  exitCode?: number
  /** why an exited container ended */
  reason?: string
  /** of an exited container: clock time it ended (or its end was found), from which it is kept */
  finishedAt?: number
  /** of an exited container: its buyer was told; the record stays only while the container is kept */
  notified?: boolean
  /**
   * set while its buyer has not yet asked about the container (`containerStatus`): one still
   * unclaimed after the claim time is removed, since its buyer may never have heard of it. Only
   * the containers of launches that carried a deadline (buyers that claim) are ever unclaimed.
   */
  unclaimed?: boolean
}

/** The containers a peer runs and placed, in its store. */
export class Ledger {
  private readonly store: Store
  private readonly log: Logger
  /** key → its last write, which the next write to the key waits for; none while nothing is written */
  private writes?: Map<string, Promise<void>>

  constructor (store: Store, log: Logger) {
    this.store = store
    this.log = log
  }

  /** Every valid hosted record; invalid ones are logged and skipped. */
  async hosted (): Promise<HostedRecord[]> {
    return this.read(HOSTED_PREFIX, isHostedRecord)
  }

  /** Write hosted records, all at once. */
  async putHosted (...records: HostedRecord[]): Promise<void> {
    await Promise.all(records.map(async record => { await this.put(hostedKey(record), record) }))
  }

  async deleteHosted (record: HostedRecord): Promise<void> {
    await this.delete(hostedKey(record))
  }

  /** Every valid placed container; invalid ones are logged and skipped. */
  async placed (): Promise<ContainerView[]> {
    return this.read(PLACED_PREFIX, isContainerView)
  }

  async putPlaced (container: ContainerView): Promise<void> {
    await this.put(placedKey(container.containerId), container)
  }

  async deletePlaced (containerId: string): Promise<void> {
    await this.delete(placedKey(containerId))
  }

  private async read<T> (prefix: string, valid: (value: any) => value is T): Promise<T[]> {
    const records: T[] = []

    for (const { key, value } of await this.store.list(prefix)) {
      const { version, ...fields } = parse(value) ?? {}

      if (version === LEDGER_VERSION && valid(fields)) {
        records.push(fields)
      } else {
        this.log.error('ignoring ledger record %s: not a version %d record - %s', key, LEDGER_VERSION, value.slice(0, 200))
      }
    }

    return records
  }

  /** The value is serialized now: later changes to the object are not written. */
  private async put (key: string, value: object): Promise<void> {
    const json = JSON.stringify({ version: LEDGER_VERSION, ...value })
    await this.write(key, async () => { await this.store.put(key, json) })
  }

  private async delete (key: string): Promise<void> {
    await this.write(key, async () => { await this.store.delete(key) })
  }

  private async write (key: string, operation: () => Promise<void>): Promise<void> {
    const writes = this.writes ??= new Map()
    const done = (writes.get(key) ?? Promise.resolve()).catch(() => {}).then(operation)
    writes.set(key, done)

    try {
      await done
    } finally {
      if (writes.get(key) === done) {
        writes.delete(key)
      }

      // an idle ledger holds no table: a simulation holds a million ledgers
      if (writes.size === 0 && this.writes === writes) {
        this.writes = undefined
      }
    }
  }
}

function hostedKey (record: Pick<HostedRecord, 'buyer' | 'requestId' | 'index'>): string {
  return HOSTED_PREFIX + [record.buyer, record.requestId, String(record.index)].map(encodeURIComponent).join('/')
}

function placedKey (containerId: string): string {
  return PLACED_PREFIX + encodeURIComponent(containerId)
}

function parse (json: string): any {
  try {
    return JSON.parse(json)
  } catch {
    return undefined
  }
}

function isCount (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isText (value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

function isResources (value: any): value is Resources {
  return isCount(value?.cpuClass) && isCount(value.cpus) && isCount(value.memory)
}

function isHostedRecord (value: any): value is HostedRecord {
  return HOSTED_STATES.includes(value.state) &&
    isText(value.buyer) && isCount(value.offerId) && isText(value.requestId) &&
    isCount(value.index) &&
    isResources(value.resources) &&
    (value.config == null || isResources(value.config.resources)) &&
    (value.state === 'creating' || isText(value.containerId))
}

function isContainerView (value: any): value is ContainerView {
  return isText(value.containerId) && isText(value.supplier?.peerId) && Array.isArray(value.supplier.multiaddrs) &&
    isText(value.state) && isText(value.requestId) && isResources(value.resources) &&
    Array.isArray(value.args) && Array.isArray(value.portMappings) && typeof value.image === 'string'
}
