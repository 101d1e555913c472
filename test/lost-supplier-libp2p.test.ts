/**
 * Over real libp2p peers on 127.0.0.1: a supplier that stops abruptly (its connections cut, no
 * goodbye to the buyer) makes the buyer's `ps` say `lost` within three status intervals, and a
 * stop of its container is accepted as pending.
 */

import * as assert from 'uvu/assert'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { createTestNetwork, stopAll } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaNode } from '../src/node.js'

const NETWORK_SIZE = 5
/** the buyer: the only peer without a runtime, so its container lands on another peer */
const BUYER = 1
const STATUS_INTERVAL = 1_000

interface Context {
  nodes: CaravelaNode[]
}

const Lost = suite<Context>('lost supplier: 5 libp2p peers', { nodes: [] })

Lost.before(async (ctx) => {
  ctx.nodes = await createTestNetwork(NETWORK_SIZE, {
    runtime: i => i === BUYER ? undefined : new MemoryRuntime({ cpus: 2, memory: 2048 }),
    config: (c, i) => {
      if (i !== BUYER) {
        c.node.cpus = 2
        c.node.memory = 2048
      }

      c.network.discoveryBackend = 'random'
      c.network.statusInterval = STATUS_INTERVAL
    }
  })
})

Lost.after(async (ctx) => {
  await stopAll(ctx.nodes)
})

Lost('a supplier stopped abruptly: its container shows lost within 3 status intervals, and a stop of it is pending', async (ctx) => {
  const buyer = ctx.nodes[BUYER].services.caravela
  const [status] = await buyer.run([{ name: 'one', image: 'busybox', args: [], portMappings: [], resources: { cpuClass: 0, cpus: 1, memory: 256 }, groupPolicy: 'spread' }], { signal: AbortSignal.timeout(20_000) })
  const index = ctx.nodes.findIndex(n => n.peerId.toString() === status.supplier.peerId)
  assert.ok(index >= 0 && index !== BUYER)
  // a status check answered: the supplier is known alive
  await new Promise(resolve => setTimeout(resolve, 2 * STATUS_INTERVAL))
  assert.equal(buyer.ps().map(c => c.state), ['running'])

  const supplier = ctx.nodes[index]
  const killedAt = Date.now()
  // no goodbye: every connection is cut at once, then the peer stops
  supplier.getConnections().forEach(c => { c.abort(new Error('killed')) })
  await supplier.stop()

  await waitFor(() => buyer.ps()[0].state === 'lost', { timeout: 10 * STATUS_INTERVAL, message: 'the container to show lost' })
  const took = Date.now() - killedAt
  console.log('libp2p: a stopped supplier\'s container shows lost after %d ms (status interval %d ms)', took, STATUS_INTERVAL)
  assert.ok(took <= 3 * STATUS_INTERVAL + 1_000, `lost after ${took} ms`)

  const [stop] = await buyer.stopContainers([status.containerId])
  assert.ok(stop.pending === true && !stop.stopped, JSON.stringify(stop))
  assert.equal(buyer.ps().map(c => c.state), ['stopping'])
})

Lost.run()
