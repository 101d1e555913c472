/**
 * The roles' source of randomness: random keys, request ids, ranking ties. A seeded source makes a
 * local network or a simulation reproducible.
 */

import { randomBytes } from 'node:crypto'

/** `bytes` random bytes. */
export type RandomSource = (bytes: number) => Uint8Array

/** Random bytes from the operating system. */
export const cryptoRandom: RandomSource = bytes => randomBytes(bytes)

/** Uniform in [0, 1), from 32 random bits. */
export function uniform (random: RandomSource): number {
  return Buffer.from(random(4)).readUInt32BE(0) / 2 ** 32
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex (random: RandomSource, bytes: number): string {
  return Buffer.from(random(bytes)).toString('hex')
}

/** A reproducible uniform random source in [0, 1) (mulberry32), for testnets and tests driven by a seed. */
export function seededUniform (seed: number): () => number {
  let state = seed >>> 0

  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
