/**
 * Small networks of real libp2p peers on 127.0.0.1, as a first testnet is: 1 to 8 peers with new
 * random identities every time, the default configuration, memory runtimes, and requests sent as
 * soon as the network is up. Every request that fits some peer's free resources is placed, at the
 * first try.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { contains } from '../src/resources/resource-map.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { createTestNetwork, stopAll } from './fixtures/network.js'
import type { ContainerConfig } from '../src/types.js'

/** Network sizes, each tried with two sets of random identities. */
const SIZES = [1, 2, 3, 5, 8]
/** Every peer's capacity: a homogeneous testnet, as `npm run testnet -- --cpus 2 --memory 2048` makes it. */
const CAPACITY = { cpus: 2, memory: 2048 }
/** Requests, in turn: the whole of a peer, then smaller ones, until nothing fits. */
const REQUESTS: Array<[number, number]> = [[2, 512], [1, 512], [1, 1024], [2, 2048], [1, 256], [1, 200]]

function container (cpus: number, memory: number): ContainerConfig {
  return { name: '', image: 'busybox', args: [], portMappings: [], resources: { cpuClass: 0, cpus, memory }, groupPolicy: 'spread' }
}

test('a request that fits some peer is placed at the first try, on fresh networks of 1 to 8 peers with random ids', async () => {
  let networks = 0
  let placed = 0
  let askedEveryPeer = 0
  const misses: string[] = []

  for (const size of SIZES) {
    for (let round = 0; round < 2; round++) {
      const runtimes = Array.from({ length: size }, () => new MemoryRuntime(CAPACITY))
      const nodes = await createTestNetwork(size, {
        minTable: size - 1,
        runtime: i => runtimes[i],
        config: c => {
          c.node.cpus = CAPACITY.cpus
          c.node.memory = CAPACITY.memory
        }
      })

      try {
        for (let i = 0; i < size * REQUESTS.length; i++) {
          const [cpus, memory] = REQUESTS[i % REQUESTS.length]
          const fits = nodes.some(n => contains(n.services.caravela.offers().supplying.available, { cpuClass: 0, cpus, memory }))
          const buyer = nodes[i % size].services.caravela
          const asked = buyer.metrics().requests.askingEveryPeer

          try {
            await buyer.run([container(cpus, memory)], { signal: AbortSignal.timeout(30_000) })
            placed++
            askedEveryPeer += buyer.metrics().requests.askingEveryPeer - asked
            assert.ok(fits, `${cpus} CPUs and ${memory} MB were placed, though no peer had room`)
          } catch (err: any) {
            if (fits) {
              misses.push(`${size} peers, request ${i}: ${cpus} CPUs and ${memory} MB: ${err.message}`)
            }
          }
        }
      } finally {
        await stopAll(nodes)
      }

      networks++
    }
  }

  console.info(`  ${networks} networks of 1 to ${SIZES[SIZES.length - 1]} peers: ${placed} placed (${askedEveryPeer} of them by asking every peer), ${misses.length} that fitted missed`)
  assert.equal(misses, [])
  assert.ok(placed >= networks, 'every network placed something')
})

test.run()
