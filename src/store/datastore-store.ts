/**
 * `Store` over an interface-datastore `Datastore`: the libp2p datastore of a peer, a LevelDB
 * database in its data directory.
 */

import { Key } from 'interface-datastore'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import type { Store, StoreEntry } from './store.js'
import type { Datastore } from 'interface-datastore'

/** `Store` whose entries are UTF-8 values under datastore keys. */
export class DatastoreStore implements Store {
  private readonly datastore: Datastore

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  async put (key: string, value: string): Promise<void> {
    await this.datastore.put(new Key(key), uint8ArrayFromString(value))
  }

  async delete (key: string): Promise<void> {
    await this.datastore.delete(new Key(key))
  }

  async list (prefix: string): Promise<StoreEntry[]> {
    const entries: StoreEntry[] = []

    for await (const { key, value } of this.datastore.query({ prefix })) {
      entries.push({ key: key.toString(), value: uint8ArrayToString(value) })
    }

    return entries
  }
}
