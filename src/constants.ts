/** Protocol prefix of every Caravela protocol id: `/<prefix>/<name>/<version>`. */
export const PROTOCOL_PREFIX = 'caravela'
/** The Kademlia DHT's protocol id is `/<prefix>/kad/1.0.0`: never the public IPFS DHT by accident. */
export const DHT_PROTOCOL_NAME = 'kad'
export const DHT_PROTOCOL_VERSION = '1.0.0'

export function dhtProtocol (prefix: string = PROTOCOL_PREFIX): string {
  return `/${prefix}/${DHT_PROTOCOL_NAME}/${DHT_PROTOCOL_VERSION}`
}

/** Number of cells of the key-space grid the partition tree is quantized onto (2^16). */
export const GRID_BITS = 16
export const GRID_CELLS = 1 << GRID_BITS

/** Default data directory of the daemon, relative to the home directory. */
export const DEFAULT_DATA_DIR_NAME = '.caravela'
