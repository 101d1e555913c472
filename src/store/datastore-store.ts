/**
 * `Store` over an interface-datastore `Datastore`: the libp2p datastore of a peer, a LevelDB
 * database in its data directory.
 *
 * Writes are group-committed: the puts and deletes asked for in one turn of the event loop, or
 * while the previous batch is being written, go to the database as ONE batch, and each write
 * resolves once its batch is written. With `sync` (the default) the batch is written with
 * LevelDB's `sync: true`, so a write that resolved survives a power loss; one fsync then covers
 * every write of the batch, which is what makes syncing affordable under a burst of launches.
 * Without `sync` a write that resolved survives the process being killed, not the machine.
 */

import { Key } from 'interface-datastore'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import type { Store, StoreEntry } from './store.js'
import type { Logger } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** One operation of a LevelDB batch, as `level` takes it. */
export type LevelBatchOperation = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/**
 * What `LevelDatastore` (datastore-level) exposes: its `level` database, whose `batch` can sync.
 * It stores a datastore key as the key's string and a value as its bytes, so what is written
 * through `db` reads back through the datastore's `query`.
 */
export interface LevelBacked {
  db: { batch (operations: LevelBatchOperation[], options: { sync: boolean }): Promise<void> }
}

export interface DatastoreStoreInit {
  /**
   * Write each batch with `sync: true` (fsync before it resolves).
   *
   * @default true
   */
  sync?: boolean
  log?: Logger
}

/** The writes of one batch: the last value asked for per key (undefined: delete), and their promise. */
interface Batch {
  writes: Map<string, Uint8Array | undefined>
  done: Promise<void>
  resolve (): void
  reject (err: unknown): void
}

/** `Store` whose entries are UTF-8 values under datastore keys, written in group commits. */
export class DatastoreStore implements Store {
  private readonly datastore: Datastore
  private readonly level?: LevelBacked['db']
  private readonly sync: boolean
  /** the batch taking writes, written once the one being written is */
  private next?: Batch
  /** the batch being written */
  private current?: Batch
  /** set while batches are being written */
  private writing = false
  private written = 0

  constructor (datastore: Datastore, init: DatastoreStoreInit = {}) {
    this.datastore = datastore
    this.sync = init.sync ?? true

    if (isLevelBacked(datastore)) {
      this.level = datastore.db
    } else {
      init.log?.('the datastore is not a LevelDB database: ledger writes are batched through its batch(), never synced')
    }
  }

  /** Batches written (or tried) so far. */
  get batches (): number {
    return this.written
  }

  async put (key: string, value: string): Promise<void> {
    await this.write(key, uint8ArrayFromString(value))
  }

  async delete (key: string): Promise<void> {
    await this.write(key, undefined)
  }

  /** Resolves once every write asked for so far is written, or failed: before the datastore closes. */
  async flush (): Promise<void> {
    for (let batch = this.next ?? this.current; batch != null; batch = this.next ?? this.current) {
      await batch.done.catch(() => {})
    }
  }

  async list (prefix: string): Promise<StoreEntry[]> {
    const entries: StoreEntry[] = []

    for await (const { key, value } of this.datastore.query({ prefix })) {
      entries.push({ key: key.toString(), value: uint8ArrayToString(value) })
    }

    return entries
  }

  /** Join the next batch; a later write to the same key in it replaces this one. */
  private async write (key: string, value: Uint8Array | undefined): Promise<void> {
    let batch = this.next

    if (batch == null) {
      batch = this.next = newBatch()

      if (!this.writing) {
        // the writes asked for in this turn of the event loop join it first
        setImmediate(() => { void this.writeBatches() })
      }
    }

    // the key's latest write goes last: a key written again moves to the end of the batch
    batch.writes.delete(key)
    batch.writes.set(key, value)
    await batch.done
  }

  /** Write the next batch, then those that filled up meanwhile, one at a time. */
  private async writeBatches (): Promise<void> {
    this.writing = true

    for (let batch = this.next; batch != null; batch = this.next) {
      this.next = undefined
      this.current = batch

      try {
        await this.commit(batch.writes)
        this.current = undefined
        batch.resolve()
      } catch (err) {
        this.current = undefined
        batch.reject(err)
      }
    }

    this.writing = false
  }

  private async commit (writes: Map<string, Uint8Array | undefined>): Promise<void> {
    this.written++

    if (this.level != null) {
      const operations: LevelBatchOperation[] = [...writes].map(([key, value]) => {
        // the key as LevelDatastore writes it (`Key` cleans the path)
        const stored = new Key(key).toString()
        return value == null ? { type: 'del', key: stored } : { type: 'put', key: stored, value }
      })
      await this.level.batch(operations, { sync: this.sync })
      return
    }

    const batch = this.datastore.batch()

    for (const [key, value] of writes) {
      if (value == null) {
        batch.delete(new Key(key))
      } else {
        batch.put(new Key(key), value)
      }
    }

    await batch.commit()
  }
}

function newBatch (): Batch {
  const batch: Partial<Batch> = { writes: new Map() }
  batch.done = new Promise<void>((resolve, reject) => { Object.assign(batch, { resolve, reject }) })
  // a batch nobody awaits any more must not be an unhandled rejection
  batch.done.catch(() => {})
  return batch as Batch
}

function isLevelBacked (datastore: Datastore): datastore is Datastore & LevelBacked {
  return typeof (datastore as Partial<LevelBacked>).db?.batch === 'function'
}
