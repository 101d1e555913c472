/**
 * Peer ids the codecs converted, each way, for a codec that meets the same peers again and again:
 * the simulator's, whose network of up to a million peers exchanges billions of messages naming
 * them. Base58 and the parsing of a peer id are the costliest steps of the codec; with a cache
 * that holds every peer of the network, each id is converted once. A text is kept once: the bytes
 * of an id decode to the very string it was encoded from, so the records of many peers that name
 * one peer share its id. The multihashes are kept in slabs, one allocation for a thousand ids.
 *
 * A real peer's codecs (`CODECS`) hold a small one; a codec given none converts every id. The
 * codec decides what goes in: only ids that passed validation, keyed by their exact text or
 * bytes, so that a hit returns what the full conversion would. The oldest entry goes when the
 * cache is full.
 */

/** Bytes of the slabs that hold the cached multihashes. */
const SLAB_BYTES = 64 * 1024

export class PeerIdCache {
  /** entries each way, at most */
  readonly capacity: number
  /** peer id text → its multihash */
  private readonly bytes = new Map<string, Uint8Array<ArrayBuffer>>()
  /** multihash (as a latin1 string) → its canonical peer id text */
  private readonly texts = new Map<string, string>()
  private slab = new Uint8Array(0)
  private slabUsed = 0

  /** A cache of `capacity` ids each way: a simulation gives its number of peers. */
  constructor (capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`a peer-id cache holds at least one id, not ${capacity}`)
    }

    this.capacity = capacity
  }

  /** Ids held each way: texts with their multihash, multihashes with their text. */
  get size (): { bytes: number, texts: number } {
    return { bytes: this.bytes.size, texts: this.texts.size }
  }

  /** The multihash of a peer id text converted before; shared, so only to be read. */
  bytesOf (peerId: string): Uint8Array<ArrayBuffer> | undefined {
    return this.bytes.get(peerId)
  }

  /** The canonical text of a multihash converted before, by the key `keyOf` gave it. */
  textOf (key: string): string | undefined {
    return this.texts.get(key)
  }

  /** The key of a multihash, for `textOf` and `rememberText`. */
  keyOf (bytes: Uint8Array): string {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  }

  /** Remember the multihash of a valid peer id text; returns the copy kept. */
  rememberBytes (peerId: string, bytes: Uint8Array): Uint8Array<ArrayBuffer> {
    return remember(this.bytes, this.capacity, peerId, this.keep(bytes))
  }

  /** Remember the canonical text of the multihash whose key is `key`. */
  rememberText (key: string, peerId: string): string {
    return remember(this.texts, this.capacity, key, peerId)
  }

  /** A copy of `bytes` in the current slab: a view, not an ArrayBuffer of its own per id. */
  private keep (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
    if (this.slabUsed + bytes.byteLength > this.slab.byteLength) {
      this.slab = new Uint8Array(Math.max(SLAB_BYTES, bytes.byteLength))
      this.slabUsed = 0
    }

    const copy = this.slab.subarray(this.slabUsed, this.slabUsed + bytes.byteLength)
    copy.set(bytes)
    this.slabUsed += bytes.byteLength
    return copy
  }
}

function remember<V> (cache: Map<string, V>, capacity: number, key: string, value: V): V {
  if (cache.size >= capacity) {
    cache.delete(cache.keys().next().value as string)
  }

  cache.set(key, value)
  return value
}
