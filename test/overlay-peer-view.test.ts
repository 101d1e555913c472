import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base32 } from 'multiformats/bases/base32'
import * as assert from 'uvu/assert'
import { LruMap } from '../src/lru.js'
import { PeerView, peerViewOf } from '../src/overlay/peer-view.js'
import { createTestNetwork, createTestNode, dialableAddress, stopAll, testConfig } from './fixtures/network.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaNode } from '../src/node.js'
import type { Libp2pEvents, Peer, PeerData, PeerId, PeerStore, TypedEventTarget } from '@libp2p/interface'

const View = suite('overlay: the peer view')

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

function record (id: PeerId, protocols: string[] = [], addresses: string[] = []): Peer {
  return { id, protocols, addresses: addresses.map(a => ({ multiaddr: multiaddr(a), isCertified: false })), metadata: new Map(), tags: new Map() }
}

/** A peer store that counts what reaches it, and announces its changes as libp2p's does. */
async function fakeStore (): Promise<{ peerId: PeerId, peerStore: PeerStore, events: TypedEventTarget<Libp2pEvents>, records: Map<string, Peer>, calls: { get: number, merge: number }, update: (peer: Peer) => void }> {
  const events = new EventTarget() as unknown as TypedEventTarget<Libp2pEvents>
  const records = new Map<string, Peer>()
  const calls = { get: 0, merge: 0 }
  const update = (peer: Peer): void => {
    records.set(peer.id.toString(), peer)
    events.dispatchEvent(new CustomEvent('peer:update', { detail: { peer } }))
  }
  const peerStore = {
    get: async (id: PeerId) => {
      calls.get++
      const peer = records.get(id.toString())

      if (peer == null) {
        throw Object.assign(new Error('not found'), { name: 'NotFoundError' })
      }

      return peer
    },
    merge: async (id: PeerId, data: PeerData) => {
      calls.merge++
      const old = records.get(id.toString()) ?? record(id)
      const addresses = [...old.addresses.map(a => a.multiaddr.toString()), ...(data.multiaddrs ?? []).map(a => a.toString())]
      const peer = record(id, [...new Set([...old.protocols, ...(data.protocols ?? [])])], addresses)
      update(peer)
      return peer
    },
    delete: async (id: PeerId) => { records.delete(id.toString()) }
  } as unknown as PeerStore

  return { peerId: await newPeerId(), peerStore, events, records, calls, update }
}

View('an LRU map holds at most its capacity and forgets the least recently used entry', () => {
  const map = new LruMap<string, number>(2)
  assert.is(map.set('a', 1), undefined)
  assert.is(map.set('b', 2), undefined)
  assert.is(map.get('a'), 1)
  assert.is(map.set('c', 3), 'b', 'b was used least recently')
  assert.is(map.size, 2)
  assert.is(map.get('b'), undefined)
  assert.is(map.set('a', 4), undefined, 'replacing an entry evicts none')
  assert.is(map.peek('a'), 4)
  assert.throws(() => new LruMap(0), RangeError)
})

View('a merge of protocols the view lists is skipped and returns the record; any other goes to the store', async () => {
  const { peerId, peerStore, events, calls, update } = await fakeStore()
  const view = peerViewOf({ peerId, peerStore, events })
  assert.is(peerViewOf({ peerId, peerStore, events }), view, 'one view per peer store')
  const id = await newPeerId()
  update(record(id, ['/a/1', '/b/1'], ['/ip4/127.0.0.1/tcp/1']))

  const skipped = await peerStore.merge(id, { protocols: ['/b/1'] })
  assert.is(calls.merge, 0, 'a protocol the record lists is not merged')
  assert.equal(skipped.protocols, ['/a/1', '/b/1'])
  assert.is(view.counters.skippedMerges, 1)

  const merged = await peerStore.merge(id, { protocols: ['/c/1'] })
  assert.is(calls.merge, 1, 'a new protocol is merged')
  assert.equal(merged.protocols, ['/a/1', '/b/1', '/c/1'])
  await peerStore.merge(id, { protocols: ['/c/1'] })
  assert.is(calls.merge, 1, 'and only once')

  await peerStore.merge(id, { protocols: ['/a/1'], multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/2')] })
  assert.is(calls.merge, 2, 'a merge that brings addresses goes to the store')

  await peerStore.delete(id)
  assert.is(view.get(id), undefined, 'a deleted peer is dropped')
  await peerStore.merge(id, { protocols: ['/a/1'] })
  assert.is(calls.merge, 3, 'and its next merge goes to the store')
})

View('the view is bounded, and answers from the store a peer it does not hold, or holds for too long', async () => {
  const { peerId, peerStore, events, calls, update } = await fakeStore()
  let now = 0
  const view = new PeerView({ peerId, peerStore, events }, { capacity: 2, ttl: 1_000, now: () => now })
  const [a, b, c] = await Promise.all([newPeerId(), newPeerId(), newPeerId()])
  update(record(a, [], ['/ip4/127.0.0.1/tcp/1']))
  update(record(b))
  update(record(c))

  assert.is(view.size, 2)
  assert.is(view.get(a), undefined, 'the least recently used peer went')
  assert.ok(view.get(c))
  assert.equal((await view.read(a)).addresses.map(x => x.multiaddr.toString()), ['/ip4/127.0.0.1/tcp/1'])
  assert.is(calls.get, 1, 'a peer the view does not hold is read from the store')
  await view.read(a)
  assert.is(calls.get, 1, 'and kept')
  assert.is(view.size, 2)

  now += 1_001
  assert.is(view.get(a), undefined, 'a record older than the ttl is not used')
  await view.read(a)
  assert.is(calls.get, 2, 'it is read again')
  await view.read(a)
  assert.is(calls.get, 2)
})

View('a store read that a delete overtook is not kept', async () => {
  const { peerId, peerStore, events, calls, update } = await fakeStore()
  const view = peerViewOf({ peerId, peerStore, events })
  const id = await newPeerId()
  update(record(id))
  view.drop(id)

  const reading = view.read(id)
  await peerStore.delete(id)
  await reading
  assert.is(view.get(id), undefined)
  await view.read(id).catch(() => {})
  assert.is(calls.get, 2, 'the peer is read from the store again')
})

View('this peer\'s own record is never held: a protocol it starts to handle always reaches the store', async () => {
  const { peerId, peerStore, events, calls, records } = await fakeStore()
  const view = peerViewOf({ peerId, peerStore, events })
  records.set(peerId.toString(), record(peerId, ['/kad/1']))

  // read once (no caller does today), then its kad protocol is removed without
  // an event the view hears (libp2p patches its own record and says so with self:peer:update)
  await view.read(peerId)
  records.set(peerId.toString(), record(peerId, []))
  await peerStore.merge(peerId, { protocols: ['/kad/1'] })
  assert.is(calls.merge, 1, 'the merge of its own protocol reached the store')
  assert.equal(records.get(peerId.toString())?.protocols, ['/kad/1'])
  assert.is(view.size, 0)
})

View.run()

const Streams = suite<{ nodes: CaravelaNode[] }>('overlay: no peer-store write per stream', { nodes: [] })

Streams.after.each(async (ctx) => {
  await stopAll(ctx.nodes)
  ctx.nodes = []
})

function peerKey (peerId: PeerId): string {
  return `/peers/${peerId.toCID().toString(base32)}`
}

/** Counts the writes and reads of each datastore key of a node's peer store. */
function spyPeerStore (node: CaravelaNode): { puts: Map<string, number>, gets: Map<string, number> } {
  const datastore = (node as any).components.datastore
  const put = datastore.put.bind(datastore)
  const get = datastore.get.bind(datastore)
  const spy = { puts: new Map<string, number>(), gets: new Map<string, number>() }
  const count = (counts: Map<string, number>, key: { toString: () => string }): void => {
    const text = key.toString()

    if (text.startsWith('/peers/')) {
      counts.set(text, (counts.get(text) ?? 0) + 1)
    }
  }
  datastore.put = async (key: any, ...rest: any[]) => { count(spy.puts, key); return put(key, ...rest) }
  datastore.get = async (key: any, ...rest: any[]) => { count(spy.gets, key); return get(key, ...rest) }
  return spy
}

/** Waits until no peer-store write happened for `ms`, then forgets the counts. */
async function quiet (spies: Array<ReturnType<typeof spyPeerStore>>, ms: number): Promise<void> {
  const writes = (): number => spies.reduce((sum, spy) => sum + [...spy.puts.values()].reduce((a, b) => a + b, 0), 0)
  let last = writes()
  let since = Date.now()
  await waitFor(() => {
    if (writes() !== last) {
      last = writes()
      since = Date.now()
    }

    return Date.now() - since >= ms
  }, { timeout: 10_000, interval: Math.min(100, ms), message: 'the peer stores to settle' })
  spies.forEach(spy => { spy.puts.clear(); spy.gets.clear() })
}

Streams('streams of a protocol the peer record lists write nothing to either peer store; a new protocol is still merged', async (ctx) => {
  const server = await createTestNode('server')
  ctx.nodes.push(server)
  const protocol = '/peer-view-test/1.0.0'
  const other = '/peer-view-test/2.0.0'
  let accepted = 0
  // handled before the client connects: identify tells it, no later push rewrites its record
  await server.handle([protocol, other], async (stream) => { accepted++; await stream.close() })
  const client = await createTestNode('client', { config: testConfig(c => { c.node.bootstrap = [dialableAddress(server)] }) })
  ctx.nodes.push(client)
  const serverSpy = spyPeerStore(server)
  const clientSpy = spyPeerStore(client)

  const open = async (p: string): Promise<void> => {
    const stream = await client.dialProtocol(server.peerId, p)
    await stream.close()
  }

  // identify pushes each peer's own record once it has its addresses, a second after its start: a
  // push replaces the protocols the other side recorded, and the next stream merges them again
  await quiet([serverSpy, clientSpy], 1_500)
  // the first stream of the protocol makes it known on both sides (the server learns the client speaks it)
  await open(protocol)
  await waitFor(async () => (await server.peerStore.get(client.peerId)).protocols.includes(protocol) && (await client.peerStore.get(server.peerId)).protocols.includes(protocol),
    { timeout: 5_000, message: 'both records to list the protocol' })
  await quiet([serverSpy, clientSpy], 0)
  const streams = 20
  const before = accepted

  for (let i = 0; i < streams; i++) {
    await open(protocol)
  }

  await waitFor(() => accepted === before + streams, { timeout: 5_000, message: 'every stream to be accepted' })
  assert.is(clientSpy.puts.get(peerKey(server.peerId)) ?? 0, 0, 'the client did not rewrite the server\'s record')
  assert.is(serverSpy.puts.get(peerKey(client.peerId)) ?? 0, 0, 'the server did not rewrite the client\'s record')
  assert.is(clientSpy.gets.get(peerKey(server.peerId)) ?? 0, 0, 'nor read it')

  // the skipped merge answers with the record
  const answered = await client.peerStore.merge(server.peerId, { protocols: [protocol] })
  assert.ok(answered.id.equals(server.peerId))
  assert.ok(answered.protocols.includes(protocol))
  assert.ok(answered.addresses.length > 0)

  // a protocol the server's record of the client does not list yet is merged into it
  assert.not.ok((await server.peerStore.get(client.peerId)).protocols.includes(other))
  await open(other)
  await waitFor(async () => (await server.peerStore.get(client.peerId)).protocols.includes(other), { timeout: 5_000, message: 'the server to record the new protocol' })
  assert.ok((serverSpy.puts.get(peerKey(client.peerId)) ?? 0) >= 1, 'the new protocol was written')
})

Streams('a local lookup reads no peer store for known peers and returns their current addresses', async (ctx) => {
  ctx.nodes = await createTestNetwork(3, { minTable: 2 })
  const [node, ...others] = ctx.nodes
  const overlay = node.services.caravela.overlay
  const map = node.services.caravela.resourceMap
  const spy = spyPeerStore(node)
  const reads = (): number => [...spy.gets.values()].reduce((a, b) => a + b, 0)

  const all = await overlay.allPeers(100)
  assert.ok(all)
  assert.equal(all.map(p => p.peerId).sort(), others.map(o => o.peerId.toString()).sort())
  assert.ok(all.every(p => p.multiaddrs.length > 0), 'every known peer comes with its addresses')
  assert.is(reads(), 0, 'allPeers read the peer store')

  const target = others[0]
  const slice = map.sliceOf(target.services.caravela.overlay.nodeId())
  const sources: string[] = []
  const found = await overlay.lookup(map.randomKeyIn(slice), { count: 3, onStats: s => { sources.push(s.source) } })
  assert.equal(sources, ['local'])
  const answer = found.find(p => p.peerId === target.peerId.toString())
  assert.ok(answer, 'the lookup returns the peer of the slice')
  assert.ok(answer.multiaddrs.length > 0)
  assert.is(reads(), 0, 'a local lookup read the peer store')

  // the peer's addresses change: the next lookup has them, still without reading the store
  const moved = '/ip4/127.0.0.1/tcp/1'
  await node.peerStore.merge(target.peerId, { multiaddrs: [multiaddr(moved)] })
  let readsBefore = reads()
  const again = await overlay.lookup(map.randomKeyIn(slice), { count: 3 })
  assert.ok(again.find(p => p.peerId === target.peerId.toString())?.multiaddrs.includes(moved), 'the lookup returns the new address')
  assert.is(reads(), readsBefore, 'the lookup read the peer store')
  await node.peerStore.patch(target.peerId, { multiaddrs: [multiaddr(moved)] })
  readsBefore = reads()
  const patched = await overlay.allPeers(100)
  assert.equal(patched?.find(p => p.peerId === target.peerId.toString())?.multiaddrs, [moved], 'and only the current ones')
  assert.is(reads(), readsBefore, 'allPeers read the peer store')
})

Streams.run()
