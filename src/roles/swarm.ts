/**
 * The `swarm` baseline of the original's simulator: Docker Swarm's manager/worker model on the
 * same overlay, for comparison with the offering strategies. One peer, the *master*, keeps a
 * registration of every worker (its free and used resources) and answers buyers with the best
 * workers for a request; workers register with it and tell it every change of their free
 * resources. The original made the simulator's node 0 the master; here the master is the peer a
 * lookup of a well-known key finds, so every peer agrees on it without any configuration.
 */

import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'

/** The key whose lookup (`count: 1`) names the master: every peer finds the same peer. */
export const SWARM_MASTER_KEY: Uint8Array = uint8ArrayFromString('/caravela/swarm/master')

/**
 * Registrations a master keeps, one per worker: a cluster this large is far beyond what the
 * simulator runs, and the bound keeps hostile peers from exhausting the master's memory.
 */
export const SWARM_MAX_WORKERS = 2 ** 21
