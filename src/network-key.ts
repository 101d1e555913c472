/**
 * Network keys: the pre-shared key of a closed network. A peer started with one runs libp2p's
 * private-network protector (`@libp2p/pnet`): every connection is encrypted with the key before
 * anything else is said, so a peer without it cannot complete a connection, let alone join the
 * DHT or send a Caravela message. The file is libp2p's (and IPFS's) swarm key format:
 *
 *     /key/swarm/psk/1.0.0/
 *     /base16/
 *     <64 hex digits>
 */

import { open } from 'node:fs/promises'
import { UnsafePermissionsError } from './errors.js'

/** The key file's first two lines. */
const HEADER = ['/key/swarm/psk/1.0.0/', '/base16/']
/** Bytes of the key itself. */
const KEY_BYTES = 32

/** A network key file that cannot be read or is not a swarm key. */
export class InvalidNetworkKeyError extends Error {
  static override name = 'InvalidNetworkKeyError'

  constructor (file: string, reason: string) {
    super(`Network key ${file}: ${reason}`)
    this.name = 'InvalidNetworkKeyError'
  }
}

/** A new network key, in the swarm key format. */
export function createNetworkKey (): Uint8Array {
  // what `generateKey` of @libp2p/pnet writes, without loading that package (and its ciphers), nor
  // node:crypto, on every start of the `caravela` command
  const hex = Buffer.from(crypto.getRandomValues(new Uint8Array(KEY_BYTES))).toString('hex')
  return new Uint8Array(Buffer.from(`${HEADER.join('\n')}\n${hex}`, 'utf8'))
}

/**
 * Write a new network key to `file`, readable by its owner only. An existing file is never
 * replaced: peers that hold the old key would be cut off.
 */
export async function writeNetworkKey (file: string): Promise<void> {
  let handle

  try {
    handle = await open(file, 'wx', 0o600)
  } catch (err: any) {
    throw new InvalidNetworkKeyError(file, err.code === 'EEXIST' ? 'the file exists; remove it first, or choose another name' : err.message)
  }

  try {
    await handle.writeFile(createNetworkKey())
  } finally {
    await handle.close()
  }
}

/** Read and check a network key file; the bytes are what the protector takes. */
export async function readNetworkKey (file: string): Promise<Uint8Array> {
  let handle

  try {
    handle = await open(file, 'r')
  } catch (err: any) {
    throw new InvalidNetworkKeyError(file, err.code === 'ENOENT' ? 'no such file' : err.message)
  }

  try {
    // the mode of the file read, through the same handle
    const { mode } = await handle.stat()

    if ((mode & 0o077) !== 0) {
      throw new UnsafePermissionsError(file, mode, 'The network key', '600')
    }

    const bytes = new Uint8Array(await handle.readFile())
    checkNetworkKey(bytes, file)
    return bytes
  } finally {
    await handle.close()
  }
}

/** Throws `InvalidNetworkKeyError` unless `bytes` hold a swarm key. */
export function checkNetworkKey (bytes: Uint8Array, file = 'the network key'): void {
  const [tag, codec, hex = '', ...rest] = Buffer.from(bytes).toString('utf8').split(/\r?\n/)

  if (tag !== HEADER[0] || codec !== HEADER[1] || !new RegExp(`^[0-9a-fA-F]{${KEY_BYTES * 2}}$`).test(hex) || rest.some(line => line.trim() !== '')) {
    throw new InvalidNetworkKeyError(file, `not a swarm key: expected the lines ${HEADER.join(' and ')} then ${KEY_BYTES * 2} hex digits (make one with \`caravela network-key FILE\`)`)
  }
}
