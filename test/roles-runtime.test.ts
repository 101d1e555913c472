import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { systemClock } from '../src/clock.js'
import { MemoryRuntime } from '../src/runtime/memory-runtime.js'
import { ManualClock } from './fixtures/fake-clock.js'
import { container, rejection } from './fixtures/roles-network.js'
import type { ContainerExit } from '../src/types.js'

const LABELS = { 'caravela.buyer': 'b' }

test('memory runtime: reports its capacity, accounts containers with Docker-like ids', async () => {
  const runtime = new MemoryRuntime({ cpus: 4, memory: 4096 })
  assert.equal(await runtime.getCpuAndRam(), { cpus: 4, memory: 4096 })

  const { containerId } = await runtime.runContainer(container({ cpus: 1, memory: 512 }), LABELS)
  assert.match(containerId, /^[0-9a-f]{64}$/)
  assert.is(await runtime.checkContainerStatus(containerId), 'running')
  assert.equal(runtime.used(), { cpus: 1, memory: 512, containers: 1 })
  assert.equal(runtime.list()[0].labels, LABELS)

  await runtime.removeContainer(containerId)
  assert.equal(runtime.used(), { cpus: 0, memory: 0, containers: 0 })
})

test('memory runtime: refuses a container beyond its capacity or its allocatable resources', async () => {
  const runtime = new MemoryRuntime({ cpus: 2, memory: 1024 })
  await runtime.runContainer(container({ cpus: 2, memory: 512 }), LABELS)

  assert.is((await rejection(runtime.runContainer(container({ cpus: 1, memory: 256 }), LABELS))).name, 'ContainerStartError')
  assert.match((await rejection(runtime.runContainer(container({ cpus: 0, memory: 1024 }), LABELS))).message, /Not enough capacity/)

  const sliced = new MemoryRuntime({ cpus: 2, memory: 1024, allocatable: { cpus: 4, memory: 1024 } })
  await sliced.runContainer(container({ cpus: 4, memory: 1024 }), LABELS)
  assert.equal(sliced.used().cpus, 4)
})

test('memory runtime: host port 0 gets a free port from the range, never one in use', async () => {
  const runtime = new MemoryRuntime({ cpus: 8, memory: 8192, portRange: [40000, 40002] })
  const mapping = { hostPort: 0, containerPort: 80, protocol: 'tcp' as const }
  const a = await runtime.runContainer(container({ cpus: 1, memory: 1 }, { portMappings: [mapping, mapping] }), LABELS)
  const b = await runtime.runContainer(container({ cpus: 1, memory: 1 }, { portMappings: [mapping] }), LABELS)
  const ports = [...a.portMappings, ...b.portMappings].map(m => m.hostPort)
  assert.equal(ports.sort(), [40000, 40001, 40002])

  // the range is used up: no duplicate, an error
  assert.match((await rejection(runtime.runContainer(container({ cpus: 1, memory: 1 }, { portMappings: [mapping] }), LABELS))).message, /No free host port/)
  // udp ports are another space
  const udp = await runtime.runContainer(container({ cpus: 1, memory: 1 }, { portMappings: [{ ...mapping, protocol: 'udp' }] }), LABELS)
  assert.is(udp.portMappings[0].protocol, 'udp')

  // a fixed port in use is refused, and nothing of the failed container stays reserved
  assert.match((await rejection(runtime.runContainer(container({ cpus: 1, memory: 1 }, { portMappings: [{ ...mapping, hostPort: 40001 }] }), LABELS))).message, /already allocated/)
  await runtime.removeContainer(a.containerId)
  const c = await runtime.runContainer(container({ cpus: 1, memory: 1 }, { portMappings: [{ ...mapping, hostPort: 40001 }] }), LABELS)
  assert.is(c.portMappings[0].hostPort, 40001)
})

test('memory runtime: unknown ids are NotFound errors; kill() exits a container and tells the listeners', async () => {
  const runtime = new MemoryRuntime({ cpus: 2, memory: 1024 })
  assert.is((await rejection(runtime.removeContainer('f'.repeat(64)))).name, 'ContainerNotFoundError')
  assert.is((await rejection(runtime.checkContainerStatus('nope'))).name, 'ContainerNotFoundError')

  const exits: ContainerExit[] = []
  const unsubscribe = runtime.onExit(exit => { exits.push(exit) })
  const { containerId } = await runtime.runContainer(container({ cpus: 2, memory: 1024 }), LABELS)
  runtime.kill(containerId)
  assert.equal(exits, [{ containerId, exitCode: 137 }])
  assert.is(await runtime.checkContainerStatus(containerId), 'exited')
  assert.equal(runtime.used().cpus, 0)

  // a second kill is a no-op; after unsubscribing nothing is heard
  runtime.kill(containerId)
  unsubscribe()
  const other = await runtime.runContainer(container({ cpus: 2, memory: 1024 }), LABELS)
  runtime.kill(other.containerId)
  assert.is(exits.length, 1)
})

test('memory runtime: an injected failure refuses the container', async () => {
  const runtime = new MemoryRuntime({ cpus: 2, memory: 1024, failWhen: config => config.image === 'broken' ? 'image broken not found' : undefined })
  assert.match((await rejection(runtime.runContainer(container({ cpus: 1, memory: 1 }, { image: 'broken' }), LABELS))).message, /image broken not found/)
  assert.is(runtime.used().containers, 0)
})

test('system clock: timers fire and never keep the process alive', async () => {
  // the clock's timers are unref'd: something else must keep the process alive while we wait
  const keepAlive = setInterval(() => {}, 1_000)
  const fired = await new Promise<number>(resolve => {
    const started = systemClock.now()
    systemClock.setTimeout(() => { resolve(systemClock.now() - started) }, 5)
  })
  assert.ok(fired >= 4)

  let ticks = 0
  await new Promise<void>(resolve => {
    const interval = systemClock.setInterval(() => {
      if (++ticks === 3) {
        interval.cancel()
        resolve()
      }
    }, 1)
  })
  // a deliberate wait, to see that the cancelled 1 ms interval does not tick again in 20 ms
  await new Promise(resolve => setTimeout(resolve, 20))
  assert.is(ticks, 3, 'the interval ticked after it was cancelled')
  clearInterval(keepAlive)

  // an unref'd timer that is never cancelled: the test process still ends on its own
  systemClock.setTimeout(() => {}, 3_600_000)
})

test('manual clock: advance fires due timers in order, intervals repeat, cancel works', async () => {
  const clock = new ManualClock(100)
  const fired: string[] = []
  clock.setTimeout(() => { fired.push(`b@${clock.now()}`) }, 20)
  clock.setTimeout(() => { fired.push(`a@${clock.now()}`) }, 10)
  const cancelled = clock.setTimeout(() => { fired.push('never') }, 15)
  const interval = clock.setInterval(() => {
    fired.push(`i@${clock.now()}`)

    if (clock.now() >= 125) {
      interval.cancel()
    }
  }, 12)
  cancelled.cancel()

  await clock.advance(100)
  assert.equal(fired, ['a@110', 'i@112', 'b@120', 'i@124', 'i@136'])
  assert.is(clock.pending(), 0)
  assert.is(clock.now(), 200)
})

test('manual clock: work a timer starts settles before the next timer fires; 0 ms timers fire without advancing', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  clock.setTimeout(() => {
    void (async () => {
      await Promise.resolve()
      await new Promise(resolve => setImmediate(resolve))
      events.push('async work')
    })()
  }, 10)
  clock.setTimeout(() => { events.push('second') }, 11)
  await clock.advance(11)
  assert.equal(events, ['async work', 'second'])

  await new Promise<void>(resolve => { clock.setTimeout(resolve, 0) })
  assert.is(clock.now(), 11)
})

test.run()
