/**
 * Small networks, as a first testnet is: 1 to 30 peers joining one after another, with random
 * identities, so that some slices of the resource map have no peer at all. Whatever the
 * discovery backend, a request that fits some peer's free resources must be placed. Runs the
 * roles over LocalNetwork (every peer knows the whole network, as routing tables of a network
 * this small do) with the default configuration.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DISCOVERY_BACKENDS, defaultConfig } from '../src/config/config.js'
import { contains } from '../src/resources/resource-map.js'
import { assertWithinCapacity, container, createRolesNetwork, seededUniform } from './fixtures/roles-network.js'
import type { DiscoveryBackend } from '../src/config/types.js'
import type { Resources } from '../src/types.js'
import type { RolesNetwork } from './fixtures/roles-network.js'

/** Network sizes tried, each with several identity sets. */
const SIZES = [1, 2, 3, 4, 6, 8, 12, 20, 30]
/** Identity sets per size and composition. */
const SEEDS = 4
/** Requests issued on each network (it fills up well before, in most). */
const REQUESTS = 40

/** Capacities (cores, MB): homogeneous testnets as `npm run testnet` makes them, and mixed ones. */
const COMPOSITIONS: Record<string, (i: number) => [number, number]> = {
  '4 CPUs, 4096 MB': () => [4, 4096],
  '2 CPUs, 2048 MB': () => [2, 2048],
  '1 CPU, 512 MB': () => [1, 512],
  mixed: i => ([[4, 8192], [1, 1024], [2, 512], [8, 2048], [2, 4096], [1, 256]] as Array<[number, number]>)[i % 6]
}

/** Requests: each partition of the default tree, some between them, some larger than all of them. */
const PROFILES: Array<[number, number]> = [[1, 256], [1, 512], [1, 1024], [2, 512], [2, 1024], [2, 2048], [1, 200], [1, 700], [2, 900], [3, 1000], [1, 3000], [4, 4096]]

/** `size` peers of the default configuration (but for `backend`, when given), started one after another. */
async function joinOneByOne (size: number, seed: number, capacity: (i: number) => [number, number], backend?: DiscoveryBackend): Promise<RolesNetwork> {
  const config = defaultConfig().network

  if (backend != null) {
    config.discoveryBackend = backend
  }

  const net = await createRolesNetwork({
    size,
    config,
    seed: seed * 1000,
    stopped: true,
    runtime: i => ({ cpus: capacity(i)[0], memory: capacity(i)[1] })
  })

  // peers join one after another, as a testnet's do: each starts knowing only those before it
  net.peers.forEach(p => { net.network.setInOverlay(p.peer.peerId, false) })

  for (const p of net.peers) {
    net.network.setInOverlay(p.peer.peerId, true)
    await p.roles.start()
    await net.clock.advance(200)
  }

  return net
}

/** Some peer's free resources hold the request. */
function fits (net: RolesNetwork, req: Resources): boolean {
  return net.peers.some(p => contains(p.roles.offers().supplying.available, req))
}

interface Outcome {
  requests: number
  fitting: number
  placed: number
  messages: number
  misses: string[]
}

/** Issue random requests from the peers in turn; a request that fits and fails is a miss. */
async function fill (net: RolesNetwork, seed: number, name: string): Promise<Outcome> {
  const random = seededUniform(seed)
  const outcome: Outcome = { requests: 0, fitting: 0, placed: 0, messages: 0, misses: [] }

  for (let i = 0; i < REQUESTS; i++) {
    const [cpus, memory] = PROFILES[Math.floor(random() * PROFILES.length)]
    const req = { cpuClass: 0, cpus, memory }
    const fitting = fits(net, req)
    const buyer = net.peers[i % net.peers.length]
    outcome.requests++
    outcome.fitting += fitting ? 1 : 0

    try {
      await buyer.roles.run([container(req)])
      outcome.placed++
      assert.ok(fitting, `${name}: ${cpus} CPUs and ${memory} MB were placed, though no peer had room`)
    } catch (err: any) {
      if (fitting) {
        outcome.misses.push(`${name}, request ${i}: ${cpus} CPUs and ${memory} MB: ${err.message}`)
      }
    }

    // offers are published again on the next macrotask; time passes between requests
    await net.clock.advance(500)
    assertWithinCapacity(net, true)
  }

  outcome.messages = net.peers.reduce((sum, p) => sum + p.roles.stats().messagesPerRequest.sum, 0)
  assert.is(net.network.handlerErrors.length, 0)
  return outcome
}

/** The default backend, then every other one but the central `swarm`. */
const BACKENDS = [undefined, ...DISCOVERY_BACKENDS.filter(b => b !== 'swarm' && b !== defaultConfig().network.discoveryBackend)]

for (const backend of BACKENDS) {
  test(`${backend ?? 'the default backend'}: a request that fits some peer is placed, on 1 to 30 peers joining one by one, whatever their ids`, async () => {
    const totals: Outcome = { requests: 0, fitting: 0, placed: 0, messages: 0, misses: [] }
    let networks = 0

    for (const size of SIZES) {
      for (const [composition, capacity] of Object.entries(COMPOSITIONS)) {
        for (let seed = 1; seed <= SEEDS; seed++) {
          const name = `${size} peers of ${composition}, seed ${seed}`
          const net = await joinOneByOne(size, seed, capacity, backend)
          const outcome = await fill(net, seed, name)
          await net.stop()
          networks++
          totals.requests += outcome.requests
          totals.fitting += outcome.fitting
          totals.placed += outcome.placed
          totals.messages += outcome.messages
          totals.misses.push(...outcome.misses)
        }
      }
    }

    console.info(`  ${backend ?? `default (${defaultConfig().network.discoveryBackend})`}: ${networks} networks, ${totals.requests} requests, ${totals.fitting} fitting, ` +
      `${totals.placed} placed, ${totals.misses.length} fitting missed; ${(totals.messages / totals.requests).toFixed(1)} messages per request`)
    assert.equal(totals.misses.slice(0, 5), [])
  })
}

test.run()
