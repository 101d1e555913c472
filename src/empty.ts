/** The shared empty list: frozen, so that a write to it throws instead of filling every copy. */
const EMPTY_LIST: readonly never[] = Object.freeze([])

/**
 * A copy of `list`, or the shared frozen empty list when `list` is empty: most multiaddr, argument
 * and port lists of a simulated network are empty, and a copy of each is 32 bytes more.
 */
export function copyList<T> (list: readonly T[]): T[] {
  return list.length === 0 ? EMPTY_LIST as unknown as T[] : [...list]
}
