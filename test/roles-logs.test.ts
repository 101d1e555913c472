/**
 * Logs and inspect at the roles level, over LocalNetwork and MemoryRuntime: a buyer reads the
 * output of a container it placed on another peer, follows it as it is written until the container
 * ends, and no other peer may read it.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RemoteRequestError } from '../src/errors.js'
import { LOGS_CODEC } from '../src/protocols/codec.js'
import { DEFAULT_KEPT_EXITED } from '../src/roles/containers-manager.js'
import { LOGS_RESUME_ATTEMPTS, LOGS_RESUME_BACKOFF, resumingLogs } from '../src/roles/logs-follow.js'
import { demuxDockerLogs, timestamped } from '../src/runtime/docker-runtime.js'
import { ManualClock } from './fixtures/fake-clock.js'
import { container, createRolesNetwork, rejection, until } from './fixtures/roles-network.js'
import type { LogChunk, LogsOptions, RestartPolicy } from '../src/types.js'
import type { RolesNetwork, RolesPeer } from './fixtures/roles-network.js'

/**
 * A buyer with nothing to offer (peer 0), so that its container runs on another peer; `now` is
 * the runtimes' clock of output.
 */
async function placed (now?: () => number, restart?: RestartPolicy): Promise<{ net: RolesNetwork, buyer: RolesPeer, supplier: RolesPeer, stranger: RolesPeer, id: string }> {
  const net = await createRolesNetwork({ size: 4, runtime: i => i === 0 ? { cpus: 0, memory: 0 } : { cpus: 2, memory: 2048, now } })
  const buyer = net.peers[0]
  const [status] = await buyer.roles.run([container({ cpus: 1, memory: 256 }, { name: 'ticker', ...(restart == null ? {} : { restart }) })])
  const supplier = net.byId(status.supplier.peerId)
  const stranger = net.peers.find(p => p !== buyer && p !== supplier) as RolesPeer
  assert.is.not(supplier, buyer)
  return { net, buyer, supplier, stranger, id: status.containerId }
}

function text (chunks: LogChunk[], stream: LogChunk['stream'] = 'stdout'): string {
  return chunks.filter(c => c.stream === stream).map(c => new TextDecoder().decode(c.data)).join('')
}

async function all (chunks: AsyncIterable<LogChunk>): Promise<LogChunk[]> {
  const out: LogChunk[] = []

  for await (const chunk of chunks) {
    out.push(chunk)
  }

  return out
}

test('logs: the buyer reads what its container on another peer wrote, by short id, with tail and since', async () => {
  // lines written at 1000, 2000 and 3000
  let now = 1_000
  const { net, buyer, supplier, id } = await placed(() => now)
  supplier.runtime.write(id, 'stdout', 'one\n')
  now = 2_000
  supplier.runtime.write(id, 'stderr', 'warning\n')
  now = 3_000
  supplier.runtime.write(id, 'stdout', 'two\nthree\n')

  const chunks = await all(await buyer.roles.logs(id.slice(0, 12)))
  assert.is(text(chunks), 'one\ntwo\nthree\n')
  assert.is(text(chunks, 'stderr'), 'warning\n')
  assert.is(text(await all(await buyer.roles.logs(id, { tail: 2 }))), 'two\nthree\n')
  assert.is(text(await all(await buyer.roles.logs(id, { since: 2_000 })), 'stderr'), 'warning\n')
  assert.is(text(await all(await buyer.roles.logs(id, { since: 2_500 }))), 'two\nthree\n')
  assert.is((await rejection(buyer.roles.logs('nope-nope-nope'))).name, 'ContainerNotPlacedError')
  await net.stop()
})

test('logs -f: a follower sees lines written after it started, and its stream ends when the container exits', async () => {
  const { net, buyer, supplier, id } = await placed()
  supplier.runtime.write(id, 'stdout', 'before\n')
  const seen: string[] = []
  const following = (async () => {
    for await (const chunk of await buyer.roles.logs(id, { follow: true })) {
      seen.push(new TextDecoder().decode(chunk.data))
    }
  })()

  await waitUntil(() => seen.length === 1)
  supplier.runtime.write(id, 'stdout', 'after 1\n')
  await waitUntil(() => seen.length === 2)
  supplier.runtime.write(id, 'stderr', 'after 2\n')
  await waitUntil(() => seen.length === 3)
  assert.equal(seen, ['before\n', 'after 1\n', 'after 2\n'])

  supplier.runtime.kill(id, 0)
  await following
  assert.is(seen.length, 3)
  await net.stop()
})

test('logs -f: a reader that goes away ends the follow at the supplier', async () => {
  const { net, buyer, supplier, id } = await placed()
  const controller = new AbortController()
  const chunks = await buyer.roles.logs(id, { follow: true, signal: controller.signal })
  const seen: LogChunk[] = []
  const reading = (async () => {
    for await (const chunk of chunks) {
      seen.push(chunk)
    }
  })()
  supplier.runtime.write(id, 'stdout', 'x\n')
  await waitUntil(() => seen.length === 1)
  controller.abort()
  // the follow ends though the container runs on and writes more
  await reading
  supplier.runtime.write(id, 'stdout', 'y\n')
  assert.is(text(seen), 'x\n')
  assert.equal(supplier.runtime.list().map(c => c.state), ['running'])
  await net.stop()
})

test('logs: no other peer may read a container\'s output; an unknown container is NOT_FOUND', async () => {
  const { net, supplier, stranger, id } = await placed()
  supplier.runtime.write(id, 'stdout', 'secret\n')
  const client = net.network.client(stranger.peer.peerId)
  const refused = await rejection(client.containerLogs(supplier.peer.node, id))
  assert.is(refused.name, 'RemoteRequestError')
  assert.is(refused.status, 'REFUSED')
  const unknown = await rejection(client.containerLogs(supplier.peer.node, 'f'.repeat(64)))
  assert.is(unknown.status, 'NOT_FOUND')
  // the stranger placed nothing: its own roles know no such container
  assert.is((await rejection(stranger.roles.logs(id))).name, 'ContainerNotPlacedError')
  await net.stop()
})

test('inspect: the record of a placed container and its supplier\'s word on it; a supplier gone says why', async () => {
  const { net, buyer, supplier, id } = await placed()
  const inspected = await buyer.roles.inspect(id.slice(0, 12))
  assert.is(inspected.containerId, id)
  assert.is(inspected.name, 'ticker')
  assert.is(inspected.supplier.peerId, supplier.peer.peerId)
  assert.equal(inspected.remote, { containerId: id, state: 'running' })

  net.network.kill(supplier.peer.peerId)
  const lost = await buyer.roles.inspect(id)
  assert.is(lost.remote, undefined)
  assert.match(lost.remoteError ?? '', /unreachable/)
  await net.stop()
})

test('logs of a container that crashed: its supplier keeps it stopped with its output, frees its resources, and removes it once the retention is up', async () => {
  const { net, buyer, supplier, id } = await placed()
  const free = supplier.roles.offers().supplying.max
  supplier.runtime.write(id, 'stderr', 'panic: out of cheese\n')
  supplier.runtime.kill(id, 2)
  await net.clock.settle()

  assert.equal(supplier.roles.offers().supplying.available, free, 'its CPU and memory are free at its exit')
  assert.equal(supplier.roles.hosted(), [])
  assert.is(text(await all(await buyer.roles.logs(id)), 'stderr'), 'panic: out of cheese\n')
  // following an exited container's output reads what it wrote and ends
  assert.is(text(await all(await buyer.roles.logs(id, { follow: true })), 'stderr'), 'panic: out of cheese\n')

  const inspected = await buyer.roles.inspect(id)
  assert.equal([inspected.state, inspected.exitCode, inspected.finishedAt], ['exited (2)', 2, net.clock.now()])
  assert.equal(inspected.remote, { containerId: id, state: 'exited', exitCode: 2 })

  // only its buyer reads it
  const stranger = net.network.client(net.peers.find(p => p !== buyer && p !== supplier)?.peer.peerId as string)
  assert.is((await rejection(stranger.containerLogs(supplier.peer.node, id))).status, 'REFUSED')

  await net.clock.advance(DEFAULT_KEPT_EXITED.retention)
  assert.equal(supplier.runtime.list(), [])
  assert.is((await rejection(buyer.roles.logs(id))).status, 'NOT_FOUND')
  await net.stop()
})

test('kept exited containers are bounded per buyer and in total, the oldest going first', async () => {
  // peer 1 hosts; peers 0 and 2 place
  const net = await createRolesNetwork({
    size: 3,
    runtime: i => i === 1 ? { cpus: 4, memory: 4096 } : { cpus: 0, memory: 0 },
    keptExited: { retention: 3_600_000, perBuyer: 2, total: 3 }
  })
  const [first, supplier, second] = net.peers
  const crash = async (buyer: RolesPeer, name: string): Promise<string> => {
    const [status] = await buyer.roles.run([container({ cpus: 1, memory: 256 }, { name })])
    assert.is(status.supplier.peerId, supplier.peer.peerId)
    supplier.runtime.write(status.containerId, 'stdout', `${name}\n`)
    supplier.runtime.kill(status.containerId, 1)
    await net.clock.settle()
    return status.containerId
  }
  const kept = (): string[] => supplier.runtime.list().map(c => c.config.name)

  const a = [await crash(first, 'a1'), await crash(first, 'a2'), await crash(first, 'a3')]
  assert.equal(kept(), ['a2', 'a3'], 'a buyer evicts its own oldest')
  assert.is((await rejection(first.roles.logs(a[0]))).status, 'NOT_FOUND')
  assert.is(text(await all(await first.roles.logs(a[2]))), 'a3\n')

  await crash(second, 'b1')
  await crash(second, 'b2')
  assert.equal(kept(), ['a3', 'b1', 'b2'], 'the oldest of all goes beyond the total')
  await net.stop()
})

test('restart: the exited copy a restart replaced is not listed, but its logs and exit code stay readable by its old id', async () => {
  const { net, buyer, supplier, id } = await placed(undefined, { name: 'on-failure' })
  supplier.runtime.write(id, 'stdout', 'first life\n')
  supplier.runtime.kill(id, 1)
  const replaced = await until(net, () => buyer.roles.ps().some(c => c.replaces === id && c.state === 'running'), 30_000)
  assert.ok(replaced != null, `placed again: ${JSON.stringify(buyer.roles.ps().map(c => c.state))}`)

  assert.equal(buyer.roles.ps().map(c => c.replaces), [id], 'ps lists the new copy only')
  assert.is(text(await all(await buyer.roles.logs(id))), 'first life\n')
  const old = await buyer.roles.inspect(id)
  assert.equal([old.state, old.exitCode, old.replacedBy], ['exited (1)', 1, buyer.roles.ps()[0].containerId])

  // the buyer forgets the old copy once its supplier no longer keeps it
  await net.clock.advance(DEFAULT_KEPT_EXITED.retention)
  await net.clock.advance(net.config.statusInterval)
  assert.is((await rejection(buyer.roles.logs(id))).name, 'ContainerNotPlacedError')
  await net.stop()
})

test('logs -f resumes after its stream drops: from the last time it delivered, without duplicates or gaps', async () => {
  let now = 1_000
  const { net, buyer, supplier, id } = await placed(() => now)
  const seen: string[] = []
  const following = (async () => {
    for await (const chunk of await buyer.roles.logs(id, { follow: true })) {
      seen.push(new TextDecoder().decode(chunk.data))
    }
  })()
  supplier.runtime.write(id, 'stdout', 'a\nb\n')
  await waitUntil(() => seen.length === 2)

  // the connection drops; meanwhile the container writes, in the same millisecond as before and later
  net.network.kill(supplier.peer.peerId)
  await net.clock.settle()
  supplier.runtime.write(id, 'stdout', 'c\n')
  now = 2_000
  supplier.runtime.write(id, 'stderr', 'd\n')
  net.network.revive(supplier.peer.peerId)
  await net.clock.advance(LOGS_RESUME_BACKOFF)
  await waitUntil(() => seen.length === 4)

  supplier.runtime.write(id, 'stdout', 'e\n')
  await waitUntil(() => seen.length === 5)
  supplier.runtime.kill(id, 0)
  await following
  assert.equal(seen, ['a\n', 'b\n', 'c\n', 'd\n', 'e\n'])
  await net.stop()
})

test('logs -f: a container that ends while the stream is down is read to its end once the supplier answers again', async () => {
  const { net, buyer, supplier, id } = await placed()
  const seen: string[] = []
  const following = (async () => {
    for await (const chunk of await buyer.roles.logs(id, { follow: true })) {
      seen.push(new TextDecoder().decode(chunk.data))
    }
  })()
  supplier.runtime.write(id, 'stdout', 'before\n')
  await waitUntil(() => seen.length === 1)
  net.network.kill(supplier.peer.peerId)
  await net.clock.settle()
  supplier.runtime.write(id, 'stdout', 'last words\n')
  supplier.runtime.kill(id, 1)
  // the first attempt finds it unreachable; the second reads the rest
  await net.clock.advance(LOGS_RESUME_BACKOFF)
  net.network.revive(supplier.peer.peerId)
  await net.clock.advance(2 * LOGS_RESUME_BACKOFF)
  await following
  assert.equal(seen, ['before\n', 'last words\n'])
  await net.stop()
})

test('logs -f: a supplier gone for good ends the follow after a bounded number of attempts, saying so', async () => {
  const { net, buyer, supplier, id } = await placed()
  const following = (async () => {
    for await (const chunk of await buyer.roles.logs(id, { follow: true })) {
      assert.ok(chunk)
    }
  })()
  const failed = rejection(following)
  await net.clock.settle()
  net.network.kill(supplier.peer.peerId)
  await net.clock.advance(LOGS_RESUME_BACKOFF * 2 ** LOGS_RESUME_ATTEMPTS)
  const err = await failed
  assert.is(err.name, 'LogsInterruptedError')
  assert.match(err.message, new RegExp(`could not be reached again after ${LOGS_RESUME_ATTEMPTS} attempts`))
  await net.stop()
})

test('resumingLogs: a supplier that no longer has the container ends the follow; a busy one is asked again; the reader\'s signal ends it at once', async () => {
  const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as any
  const init = { clock: new ManualClock(), log, containerId: 'c1', supplier: 'p1', ended: async () => true }
  const broken = (chunks: LogChunk[]): AsyncIterable<LogChunk> => (async function * () {
    yield * chunks
    throw new Error('connection reset')
  })()
  const line = (data: string, time?: number): LogChunk => ({ stream: 'stdout', data: new TextEncoder().encode(data), ...(time == null ? {} : { time }) })

  // busy, then gone
  const asked: LogsOptions[] = []
  const answers = [new RemoteRequestError('RATE_LIMITED', 'slow down'), new RemoteRequestError('NOT_FOUND', 'no container c1 runs or is kept here')]
  const gone = resumingLogs(broken([line('x\n', 5)]), async options => { asked.push(options); throw answers.shift() }, { follow: true }, init)
  const seen: string[] = []
  const reading = (async () => { for await (const c of gone) seen.push(new TextDecoder().decode(c.data)) })()
  const err = rejection(reading)
  await init.clock.advance(10 * LOGS_RESUME_BACKOFF)
  assert.is((await err).name, 'LogsInterruptedError')
  assert.match((await err).message, /container c1 is gone from its supplier p1/)
  assert.equal(seen, ['x\n'])
  assert.equal(asked.map(o => [o.since, o.follow]), [[5, true], [5, true]], 'asked again from the last time delivered')

  // output without times resumes with new output only
  const untimed: LogsOptions[] = []
  const resumed = resumingLogs(broken([line('y\n')]), async options => { untimed.push(options); return (async function * () { yield line('z\n') })() }, { follow: true, tail: 10 }, init)
  const got: string[] = []
  const reading2 = (async () => { for await (const c of resumed) got.push(new TextDecoder().decode(c.data)) })()
  await init.clock.advance(LOGS_RESUME_BACKOFF)
  await reading2
  assert.equal(got, ['y\n', 'z\n'])
  assert.equal(untimed.map(o => o.tail), [0])

  // a stream that ends while its container runs (the connection went away quietly) is opened again
  let running = true
  const quiet = resumingLogs((async function * () { yield line('p\n', 7) })(), async () => (async function * () {
    yield line('p\n', 7)
    yield line('q\n', 8)
    running = false
  })(), { follow: true }, { ...init, ended: async () => !running })
  const got2: string[] = []
  const reading4 = (async () => { for await (const c of quiet) got2.push(new TextDecoder().decode(c.data)) })()
  await init.clock.advance(LOGS_RESUME_BACKOFF)
  await reading4
  assert.equal(got2, ['p\n', 'q\n'])

  // the reader goes away while a new opening waits
  const controller = new AbortController()
  const aborted = resumingLogs(broken([]), async () => { throw new Error('unreachable') }, { follow: true, signal: controller.signal }, init)
  const reading3 = rejection((async () => { for await (const c of aborted) assert.ok(c) })())
  await init.clock.settle()
  controller.abort()
  assert.is((await reading3).name, 'AbortError')
})

test('demuxDockerLogs: Docker\'s frames, split anywhere across chunks, become stdout and stderr chunks; empty frames none', async () => {
  const frame = (stream: number, text: string): Buffer => {
    const payload = Buffer.from(text)
    const header = Buffer.alloc(8)
    header[0] = stream
    header.writeUInt32BE(payload.length, 4)
    return Buffer.concat([header, payload])
  }
  const bytes = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, ''), frame(1, 'out 2\n')])

  for (const cut of [1, 3, 8, 13, bytes.length]) {
    const pieces = Array.from({ length: Math.ceil(bytes.length / cut) }, (_, i) => bytes.subarray(i * cut, (i + 1) * cut))
    const chunks = await all(demuxDockerLogs(pieces))
    assert.equal(chunks.map(c => `${c.stream}:${new TextDecoder().decode(c.data)}`), ['stdout:out 1\n', 'stderr:err 1\n', 'stdout:out 2\n'], `pieces of ${cut}`)
  }
})

test('timestamped: the engine\'s leading time of each line becomes the chunk\'s time; the codec carries it', async () => {
  const line = (text: string): LogChunk => ({ stream: 'stdout', data: new TextEncoder().encode(text) })
  const chunks = await all(timestamped((async function * () {
    yield line('2026-01-02T03:04:05.123456789Z hello\n')
    yield line('2026-01-02T03:04:05Z bye\n')
    yield line('no time here\n')
  })()))
  assert.equal(chunks.map(c => [new TextDecoder().decode(c.data), c.time]), [
    ['hello\n', Date.UTC(2026, 0, 2, 3, 4, 5, 123)],
    ['bye\n', Date.UTC(2026, 0, 2, 3, 4, 5)],
    ['no time here\n', undefined]
  ])
  assert.equal(LOGS_CODEC.decodeChunk(LOGS_CODEC.encodeChunk(chunks[0])), chunks[0])
  assert.equal(LOGS_CODEC.decodeChunk(LOGS_CODEC.encodeChunk(chunks[2])), chunks[2])
})

/** Wait for a condition that in-process messages make true within a few turns of the event loop. */
async function waitUntil (check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) {
    await new Promise(resolve => setImmediate(resolve))
  }

  assert.ok(check(), 'the condition never held')
}

test.run()
