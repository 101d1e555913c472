/**
 * A Map of at most `capacity` entries that forgets the least recently used one to make room: the
 * caches of what a peer recomputes on every message (the peer view's records, the codec's
 * multiaddrs), which a hostile peer naming ever new values must not grow without end. A Map keeps
 * its keys in insertion order, so a hit moves its entry to the end and the first key is the
 * least recently used.
 */
export class LruMap<K, V> implements Iterable<[K, V]> {
  /** entries held, at most */
  readonly capacity: number
  private readonly map = new Map<K, V>()

  constructor (capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`an LRU map holds at least one entry, not ${capacity}`)
    }

    this.capacity = capacity
  }

  get size (): number {
    return this.map.size
  }

  /** The value of `key`, now the most recently used. */
  get (key: K): V | undefined {
    const value = this.map.get(key)

    if (value !== undefined) {
      this.map.delete(key)
      this.map.set(key, value)
    }

    return value
  }

  /** The value of `key`, leaving the order as it is. */
  peek (key: K): V | undefined {
    return this.map.get(key)
  }

  /** Set `key`, the most recently used; returns the key forgotten to make room, if one was. */
  set (key: K, value: V): K | undefined {
    let evicted: K | undefined

    if (!this.map.delete(key) && this.map.size >= this.capacity) {
      const oldest = this.map.keys().next()

      if (oldest.done !== true) {
        evicted = oldest.value
        this.map.delete(evicted)
      }
    }

    this.map.set(key, value)
    return evicted
  }

  delete (key: K): boolean {
    return this.map.delete(key)
  }

  clear (): void {
    this.map.clear()
  }

  /** The values, least recently used first; the order is left as it is. */
  values (): MapIterator<V> {
    return this.map.values()
  }

  [Symbol.iterator] (): MapIterator<[K, V]> {
    return this.map.entries()
  }
}
