/**
 * A Map that holds no table while it is empty, for the tables that mostly are: a peer's hosted
 * containers, launches, placed containers, a memory runtime's containers, a memory store's
 * entries. A `Map` costs some 150 bytes even empty, and a simulated network of a million peers
 * would hold several a peer; a `LazyMap` costs 16 until its first entry, makes its table then, and
 * drops it when its last entry goes.
 *
 * It is written as a Map is: nothing to remember before a write or after a delete.
 */

/** What an empty `LazyMap` reads from; no `LazyMap` ever writes to it. */
const NONE: ReadonlyMap<any, any> = new Map()

export class LazyMap<K, V> implements Iterable<[K, V]> {
  /** the entries, absent while there are none */
  private map: Map<K, V> | undefined

  get size (): number {
    return this.map?.size ?? 0
  }

  has (key: K): boolean {
    return this.map?.has(key) ?? false
  }

  get (key: K): V | undefined {
    return this.map?.get(key)
  }

  set (key: K, value: V): this {
    (this.map ??= new Map()).set(key, value)
    return this
  }

  delete (key: K): boolean {
    const map = this.map

    if (map?.delete(key) !== true) {
      return false
    }

    if (map.size === 0) {
      this.map = undefined
    }

    return true
  }

  clear (): void {
    this.map = undefined
  }

  /**
   * The keys, values and entries as a Map iterates them. Entries deleted meanwhile are skipped; an
   * entry set after the last one was deleted (which drops the table) is not visited.
   */
  keys (): MapIterator<K> {
    return (this.map ?? NONE as Map<K, V>).keys()
  }

  values (): MapIterator<V> {
    return (this.map ?? NONE as Map<K, V>).values()
  }

  entries (): MapIterator<[K, V]> {
    return (this.map ?? NONE as Map<K, V>).entries()
  }

  [Symbol.iterator] (): MapIterator<[K, V]> {
    return this.entries()
  }
}
