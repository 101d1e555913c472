/**
 * One shared empty Map for the tables that are mostly empty: a peer's hosted containers, launches,
 * placed containers, ledger entries. Such a table points at the shared empty Map until its first
 * write and again once it is empty, instead of holding a table of its own (some 150 bytes, which a
 * simulated network of a million peers holds several times a peer).
 *
 * Reads go to the table as they are; writes go through `writable`, deletions end with `compact`.
 */

/** The shared empty Map: it refuses writes, so that no owner can fill it for all the others. */
class EmptyMap<K, V> extends Map<K, V> {
  override set (): this {
    throw new TypeError('the shared empty Map is read-only: write through writable()')
  }
}

const EMPTY_MAP: Map<any, any> = new EmptyMap()

/** The shared empty Map. */
export function emptyMap<K, V> (): Map<K, V> {
  return EMPTY_MAP
}

/** `map`, or a new Map when `map` is the shared empty one: assign it back, then write. */
export function writable<K, V> (map: Map<K, V>): Map<K, V> {
  return map === EMPTY_MAP ? new Map() : map
}

/** `map`, or the shared empty Map when `map` holds nothing: assign it back after deleting. */
export function compact<K, V> (map: Map<K, V>): Map<K, V> {
  return map.size === 0 ? EMPTY_MAP : map
}

/** The shared empty list: frozen, so that a write to it throws instead of filling every copy. */
const EMPTY_LIST: readonly never[] = Object.freeze([])

/**
 * A copy of `list`, or the shared frozen empty list when `list` is empty: most multiaddr, argument
 * and port lists of a simulated network are empty, and a copy of each is 32 bytes more.
 */
export function copyList<T> (list: readonly T[]): T[] {
  return list.length === 0 ? EMPTY_LIST as unknown as T[] : [...list]
}
