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
