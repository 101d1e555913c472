/**
 * A small key-value store of strings, for the records a peer must not lose on restart (the
 * ledger). Roles take this interface only: a real peer uses its libp2p datastore
 * (`DatastoreStore`), in-process networks and the simulator a `MemoryStore`, which costs no I/O.
 */

import { LazyMap } from '../lazy-map.js'

/** One stored entry. */
export interface StoreEntry {
  key: string
  value: string
}

/**
 * Keys are `/`-separated paths (`/caravela/hosted/…`). A `put` resolves once the value is
 * stored; after a crash a store holds every value whose `put` resolved (a synced `DatastoreStore`
 * also after a power loss).
 */
export interface Store {
  put (key: string, value: string): Promise<void>
  /** deleting a missing key is fine */
  delete (key: string): Promise<void>
  /** every entry whose key starts with `prefix` */
  list (prefix: string): Promise<StoreEntry[]>
}

/** `Store` in a `Map`: kept for as long as the object lives, e.g. across a simulated restart. */
export class MemoryStore implements Store {
  /** no table while there are none (a simulated network holds a million stores) */
  private readonly entries = new LazyMap<string, string>()

  async put (key: string, value: string): Promise<void> {
    this.entries.set(key, value)
  }

  async delete (key: string): Promise<void> {
    this.entries.delete(key)
  }

  async list (prefix: string): Promise<StoreEntry[]> {
    return [...this.entries].filter(([key]) => key.startsWith(prefix)).map(([key, value]) => ({ key, value }))
  }
}
