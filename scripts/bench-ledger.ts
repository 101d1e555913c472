/**
 * `npm run bench:ledger`: what a durable ledger write costs on this machine's disk. Times one
 * LevelDB put with and without `sync`, one synced batch of 10 puts, and a burst of ledger writes
 * through the group-committing `DatastoreStore`, synced and not (writes per batch, writes per
 * second), and a launch's ledger writes until its answer, in the order of the launch path before
 * and now, in a LevelDB database in a temporary directory.
 *
 * Flags: --rounds N (default 300), --burst N (writes asked for at once, default 100), --json.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { DatastoreStore } from '../src/store/datastore-store.js'
import { parseScriptArgs } from './script-args.js'

const { values } = parseScriptArgs('bench:ledger', {
  options: {
    rounds: { type: 'string', default: '300' },
    burst: { type: 'string', default: '100' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})
const rounds = Number(values.rounds)
const burst = Number(values.burst)

if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(burst) || burst < 1) {
  console.error('bench:ledger: --rounds and --burst must be integers ≥ 1')
  process.exit(2)
}

const VALUE = new TextEncoder().encode(JSON.stringify({ version: 1, state: 'running', buyer: '12D3KooW'.padEnd(52, 'x'), requestId: 'r'.repeat(32), index: 0, resources: { cpuClass: 0, cpus: 1, memory: 256 } }))

function percentiles (samples: number[]): { p50: number, p99: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(3))
  return { p50: at(0.5), p99: at(0.99) }
}

async function timed (operation: (i: number) => Promise<void>): Promise<{ p50: number, p99: number }> {
  const samples: number[] = []

  for (let i = 0; i < rounds; i++) {
    const start = performance.now()
    await operation(i)
    samples.push(performance.now() - start)
  }

  return percentiles(samples)
}

/** `burst` writes asked for at once, `rounds / 10` times (at least once). */
async function bursts (store: DatastoreStore): Promise<{ writesPerBatch: number, writesPerSecond: number }> {
  const before = store.batches
  const times = Math.max(1, Math.round(rounds / 10))
  const start = performance.now()

  for (let i = 0; i < times; i++) {
    await Promise.all(Array.from({ length: burst }, async (_, j) => { await store.put(`/caravela/bench/burst/${j}`, `value ${i}`) }))
  }

  const seconds = (performance.now() - start) / 1000
  return { writesPerBatch: Number((times * burst / (store.batches - before)).toFixed(1)), writesPerSecond: Math.round(times * burst / seconds) }
}

/**
 * The supplier's writes on a launch's path, with a runtime that creates at once: `creating`, the
 * create, then `running` before the answer (each awaited in turn), against `creating` written
 * with the create and `running` left to the next batch. `concurrency` launches run at once.
 */
async function launches (store: DatastoreStore, overlapped: boolean, concurrency: number): Promise<{ p50: number, p99: number }> {
  const samples: number[] = []
  const create = async (): Promise<void> => {}
  /** the `running` writes left to the next batch, awaited once the launches are timed */
  const later: Array<Promise<void>> = []
  let next = 0

  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < rounds; i = next++) {
      const key = `/caravela/bench/launch/${i}`
      const start = performance.now()

      if (overlapped) {
        await Promise.all([store.put(key, 'creating'), create()])
        later.push(store.put(key, 'running'))
      } else {
        await store.put(key, 'creating')
        await create()
        await store.put(key, 'running')
      }

      samples.push(performance.now() - start)
    }
  }))

  await Promise.all(later)
  return percentiles(samples)
}

const dir = await mkdtemp(join(tmpdir(), 'caravela-bench-ledger-'))
const datastore = new LevelDatastore(join(dir, 'datastore'))
await datastore.open()

try {
  const { db } = datastore
  const results = {
    putUnsynced: await timed(async i => { await db.batch([{ type: 'put', key: `/bench/u/${i}`, value: VALUE }], { sync: false }) }),
    putSynced: await timed(async i => { await db.batch([{ type: 'put', key: `/bench/s/${i}`, value: VALUE }], { sync: true }) }),
    batchOf10Synced: await timed(async i => {
      await db.batch(Array.from({ length: 10 }, (_, j) => ({ type: 'put' as const, key: `/bench/b/${i}/${j}`, value: VALUE })), { sync: true })
    }),
    storeBurstSynced: await bursts(new DatastoreStore(datastore, { sync: true })),
    storeBurstUnsynced: await bursts(new DatastoreStore(datastore, { sync: false })),
    launchSequentialSynced: await launches(new DatastoreStore(datastore), false, 1),
    launchOverlappedSynced: await launches(new DatastoreStore(datastore), true, 1),
    launchSequentialUnsynced: await launches(new DatastoreStore(datastore, { sync: false }), false, 1),
    launchOverlappedSynced32: await launches(new DatastoreStore(datastore), true, 32),
    launchSequentialSynced32: await launches(new DatastoreStore(datastore), false, 32)
  }

  if (values.json) {
    console.log(JSON.stringify({ rounds, burst, ...results }))
  } else {
    const ms = ({ p50, p99 }: { p50: number, p99: number }): string => `p50 ${p50} ms, p99 ${p99} ms`
    console.log(`one put, not synced:         ${ms(results.putUnsynced)}`)
    console.log(`one put, synced:             ${ms(results.putSynced)}`)
    console.log(`a batch of 10 puts, synced:  ${ms(results.batchOf10Synced)}`)
    console.log(`${burst} writes at once, synced:  ${results.storeBurstSynced.writesPerBatch} writes per batch, ${results.storeBurstSynced.writesPerSecond} writes/s`)
    console.log(`${burst} writes at once, no sync: ${results.storeBurstUnsynced.writesPerBatch} writes per batch, ${results.storeBurstUnsynced.writesPerSecond} writes/s`)
    console.log('a launch\'s ledger writes, until the answer:')
    console.log(`  creating, create, running, not synced:        ${ms(results.launchSequentialUnsynced)}`)
    console.log(`  creating, create, running, synced:            ${ms(results.launchSequentialSynced)}`)
    console.log(`  creating with the create, synced:             ${ms(results.launchOverlappedSynced)}`)
    console.log(`  creating, create, running, synced, 32 at once: ${ms(results.launchSequentialSynced32)}`)
    console.log(`  creating with the create, synced, 32 at once:  ${ms(results.launchOverlappedSynced32)}`)
  }
} finally {
  await datastore.close()
  await rm(dir, { recursive: true, force: true })
}
