/**
 * An application that embeds Caravela in its own libp2p node. The application keeps its own
 * service (a greeting protocol); `caravelaDefaults()` adds what Caravela needs, from one
 * configuration. The peer supplies: its MemoryRuntime accounts the containers other peers place
 * on it without running them (`dockerRuntime()` runs them on the local Docker engine).
 *
 *   npm run build && node dist/examples/embed.js [<bootstrap multiaddr>]
 *
 * Without a bootstrap address it creates a network. test/embed.test.ts runs it.
 */

import { fileURLToPath } from 'node:url'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { caravelaDefaults, MemoryRuntime } from 'caravela'
import type { ComponentLogger, Libp2p, PeerId, Startable, Stream } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CaravelaConfig, CaravelaServices } from 'caravela'

/** The application's own protocol: a peer sends its name and is greeted back. */
export const GREET_PROTOCOL = '/embed-example/greet/1.0.0'

/** The application's own libp2p service, which answers `GREET_PROTOCOL`. */
export class Greeter implements Startable {
  private readonly components: { peerId: PeerId, registrar: Registrar }

  constructor (components: { peerId: PeerId, registrar: Registrar }) {
    this.components = components
  }

  async start (): Promise<void> {
    await this.components.registrar.handle(GREET_PROTOCOL, async stream => { await this.answer(stream) })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(GREET_PROTOCOL)
  }

  private async answer (stream: Stream): Promise<void> {
    const lp = lpStream(stream)
    const name = new TextDecoder().decode((await lp.read()).subarray())
    await lp.write(new TextEncoder().encode(`hello ${name}, from ${this.components.peerId.toString()}`))
    await stream.close()
  }
}

/** Asks a peer's greeter, from any libp2p node. */
export async function greet (node: Libp2p, peer: PeerId | Multiaddr, name: string): Promise<string> {
  const stream = await node.dialProtocol(peer, GREET_PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(new TextEncoder().encode(name))
  const answer = new TextDecoder().decode((await lp.read()).subarray())
  await stream.close()
  return answer
}

export type AppServices = CaravelaServices & { greeter: Greeter }

export interface AppInit {
  /** Caravela's configuration, the protocol prefix included @default defaultConfig() */
  config?: CaravelaConfig
  /** peers of the network to join; none: create a network */
  bootstrap?: string[]
  logger?: ComponentLogger
}

/** Starts the application's node, supplying 4 cores and 4 GB to the Caravela network. */
export async function startApp (init: AppInit = {}): Promise<Libp2p<AppServices>> {
  const options = caravelaDefaults({ config: init.config, runtime: new MemoryRuntime({ cpus: 4, memory: 4096 }) })
  const node = await createLibp2p({
    ...options,
    logger: init.logger,
    // the application's services join Caravela's (identify, ping, dht, caravela)
    services: { ...options.services, greeter: (components: { peerId: PeerId, registrar: Registrar }) => new Greeter(components) }
  })

  try {
    if ((init.bootstrap ?? []).length > 0) {
      await node.services.caravela.join(init.bootstrap ?? [])
    } else {
      await node.services.caravela.create()
    }
  } catch (err) {
    await node.stop()
    throw err
  }

  return node
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const node = await startApp({ bootstrap: process.argv.slice(2) })
  const { capacity } = node.services.caravela.status()
  console.info(`peer ${node.peerId.toString()} supplies ${capacity.cpus} CPUs and ${capacity.memory} MB, greets on ${GREET_PROTOCOL}, listens on:`)
  console.info(node.getMultiaddrs().map(address => `  ${address.toString()}`).join('\n'))
  process.once('SIGINT', () => { void node.stop() })
}
