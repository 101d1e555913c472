/**
 * The durable ledger store: `DatastoreStore` group-commits the writes asked for together into one
 * LevelDB batch, synced by default, and each write resolves once its batch is written. A
 * `PowerLossDatastore` shows what a power cut keeps; a real LevelDB shows that records written
 * through its `db` read back through the datastore.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HOSTED_PREFIX, Ledger } from '../src/roles/ledger.js'
import { DatastoreStore } from '../src/store/datastore-store.js'
import { PowerLossDatastore } from './fixtures/power-loss-datastore.js'
import type { HostedRecord } from '../src/roles/ledger.js'
import type { Logger } from '@libp2p/interface'

const log = defaultLogger().forComponent('test')

function record (index: number, state: HostedRecord['state'] = 'running'): HostedRecord {
  return { state, buyer: 'buyer', offerId: 1, requestId: 'req/1', index, resources: { cpuClass: 0, cpus: 1, memory: 256 }, containerId: `c${index}` }
}

test('the writes asked for in one turn of the event loop go in one batch, synced', async () => {
  const datastore = new PowerLossDatastore()
  const store = new DatastoreStore(datastore)
  await Promise.all(Array.from({ length: 20 }, async (_, i) => { await store.put(`/caravela/test/${i}`, `v${i}`) }))

  assert.is(datastore.batches.length, 1)
  assert.is(store.batches, 1)
  assert.is(datastore.batches[0].operations.length, 20)
  assert.ok(datastore.batches[0].sync)
  assert.is((await store.list('/caravela/test/')).length, 20)
})

test('writes asked for while a batch is written go together in the next one; the last write to a key wins', async () => {
  const datastore = new PowerLossDatastore()
  const store = new DatastoreStore(datastore)
  let release = (): void => {}
  datastore.hold = new Promise(resolve => { release = resolve })
  const first = store.put('/k/a', 'first')
  await new Promise(resolve => setImmediate(resolve))
  assert.is(datastore.batches.length, 1, 'the first batch is being written')

  const next = [store.put('/k/a', 'second'), store.put('/k/b', 'x'), store.delete('/k/b'), store.put('/k/a', 'third'), store.put('/k/c', 'y')]
  await new Promise(resolve => setImmediate(resolve))
  assert.is(datastore.batches.length, 1, 'the next batch waits for the first')
  release()
  await Promise.all([first, ...next])

  assert.is(datastore.batches.length, 2)
  assert.equal(datastore.batches[1].operations.map(op => op.type === 'put' ? `${op.key}=${new TextDecoder().decode(op.value)}` : `-${op.key}`), ['-/k/b', '/k/a=third', '/k/c=y'])
  assert.equal((await store.list('/k/')).map(({ key, value }) => `${key}=${value}`).sort(), ['/k/a=third', '/k/c=y'])
})

test('the ledger keeps the order of the writes to a key across batches', async () => {
  const datastore = new PowerLossDatastore()
  const ledger = new Ledger(new DatastoreStore(datastore), log)
  const writes = [ledger.putHosted(record(0, 'creating')), ledger.putHosted(record(0, 'running')), ledger.deleteHosted(record(0)), ledger.putHosted(record(0, 'exited'))]
  await Promise.all(writes)

  assert.equal((await ledger.hosted()).map(r => r.state), ['exited'])
  assert.equal(datastore.batches.map(b => b.operations.map(op => op.type)), [['put'], ['put'], ['del'], ['put']], 'one write per batch: each waits for the one before')
})

test('flush waits for every write asked for, in the batch being written and the next', async () => {
  const datastore = new PowerLossDatastore()
  const store = new DatastoreStore(datastore)
  let release = (): void => {}
  datastore.hold = new Promise(resolve => { release = resolve })
  void store.put('/w/a', '1')
  await new Promise(resolve => setImmediate(resolve))
  void store.put('/w/b', '2')
  let flushed = false
  const flush = store.flush().then(() => { flushed = true })
  await new Promise(resolve => setImmediate(resolve))
  assert.not.ok(flushed)
  release()
  await flush
  assert.equal((await store.list('/w/')).map(e => e.key), ['/w/a', '/w/b'])
  assert.is(datastore.batches.length, 2)
})

test('a failed batch rejects each of its writes; the next batch is written', async () => {
  const datastore = new PowerLossDatastore()
  const store = new DatastoreStore(datastore)
  datastore.failNext = new Error('disk full')
  const results = await Promise.allSettled([store.put('/f/a', '1'), store.delete('/f/b'), store.put('/f/c', '3')])

  assert.equal(results.map(r => r.status === 'rejected' ? (r.reason as Error).message : 'ok'), ['disk full', 'disk full', 'disk full'])
  assert.equal(await store.list('/f/'), [])
  await store.put('/f/a', '1')
  assert.equal(await store.list('/f/'), [{ key: '/f/a', value: '1' }])
  assert.is(datastore.batches.length, 2)
})

test('a power cut: with sync every record whose write resolved is kept; without, they are lost', async () => {
  for (const sync of [true, false]) {
    const datastore = new PowerLossDatastore()
    const ledger = new Ledger(new DatastoreStore(datastore, { sync }), log)
    await ledger.putHosted(record(0), record(1))
    await ledger.deleteHosted(record(1))
    await ledger.putHosted(record(2))
    await datastore.crash()

    const restarted = new Ledger(new DatastoreStore(datastore, { sync }), log)
    assert.equal((await restarted.hosted()).map(r => r.index), sync ? [0, 2] : [], `sync ${String(sync)}`)
  }
})

test('a datastore that is not LevelDB: writes are batched through its batch(), unsynced, and a debug log says so', async () => {
  const datastore = new MemoryDatastore()
  const commits: number[] = []
  const batch = datastore.batch.bind(datastore)
  datastore.batch = () => {
    const inner = batch()
    const ops = { count: 0 }
    return {
      put: (key, value) => { ops.count++; inner.put(key, value) },
      delete: key => { ops.count++; inner.delete(key) },
      commit: async options => { commits.push(ops.count); await inner.commit(options) }
    }
  }
  const lines: string[] = []
  const logger = Object.assign((format: string) => { lines.push(format) }, { error: () => {}, trace: () => {}, enabled: true }) as unknown as Logger
  const store = new DatastoreStore(datastore, { log: logger })

  await Promise.all([store.put('/m/a', '1'), store.put('/m/b', '2'), store.delete('/m/c')])
  assert.equal(commits, [3])
  assert.equal(await store.list('/m/'), [{ key: '/m/a', value: '1' }, { key: '/m/b', value: '2' }])
  assert.match(lines.join('\n'), /not a LevelDB database.*never synced/)
})

test('in a real LevelDB, records written through its db read back through the datastore, after it is opened again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-ledger-store-'))

  try {
    let datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    const ledger = new Ledger(new DatastoreStore(datastore), log)
    const odd = { ...record(0), buyer: 'a b/c%', requestId: 'r:1' }
    await Promise.all([ledger.putHosted(odd, record(1)), ledger.putPlaced({ containerId: 'c1', supplier: { peerId: 'p', multiaddrs: [] }, state: 'running', requestId: 'r', resources: record(0).resources, args: [], portMappings: [], image: 'busybox', name: 'web', createdAt: 1 })])
    await datastore.close()

    datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    const again = new Ledger(new DatastoreStore(datastore), log)
    assert.equal(await again.hosted(), [odd, record(1)].sort((a, b) => a.buyer < b.buyer ? -1 : 1))
    assert.equal((await again.placed()).map(c => c.containerId), ['c1'])
    assert.ok((await datastore.get(new Key(`${HOSTED_PREFIX}buyer/req%2F1/1`))).length > 0, 'under the key the datastore reads')
    await datastore.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
