/**
 * The images a Docker runtime pulls, against the real local engine and a registry of this test
 * (test/fixtures/registry.ts, on 127.0.0.1, serving images exported from the engine): the runtime
 * pulls what is missing, and removes again what it pulled once no container has used it for the
 * grace period, or at once when the engine's disk runs low; it never removes an image in use or
 * one that was there before. Then through whole peers: a registry on the supplier's machine is
 * refused unless `allowRegistries` names it.
 *
 * Every image served here is `caravela/busybox:test` with a label of this run added: an image id
 * of its own, sharing the original's layers, so removing it never touches the original. Every
 * container and image this file creates is removed in `after`.
 */

import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import * as assert from 'uvu/assert'
import { DockerRuntime, LABEL_OWNER, PULLED_IMAGES_FILE } from '../src/runtime/docker-runtime.js'
import { createTestNode, dialableAddress, stopAll, testConfig } from './fixtures/network.js'
import { MEDIA_TYPES, TestRegistry } from './fixtures/registry.js'
import { suite } from './fixtures/suite.js'
import { waitFor } from './fixtures/wait.js'
import type { CaravelaConfig } from '../src/config/types.js'
import type { CaravelaNode } from '../src/node.js'
import type { DiskSpace, DockerRuntimeInit } from '../src/runtime/docker-runtime.js'
import type { ContainerConfig } from '../src/types.js'
import type { ManifestFormat, ServedImage } from './fixtures/registry.js'

const IMAGE = 'caravela/busybox:test'
const RUN = randomBytes(4).toString('hex')
const REPOSITORY = `caravela/images-test-${RUN}`
const OWNER = `test-images-${RUN}`
const OTHER = `test-images-other-${RUN}`
/** label of the containers this file creates without a runtime */
const LABEL_TEST = 'caravela.test'
/** label that gives each image served here an id of its own: `<RUN>-<tag>` */
const LABEL_IMAGE = 'caravela.test.image'
const LABELS = { 'caravela.buyer': `test-buyer-${RUN}`, 'caravela.offer': '1', 'caravela.request': `req-${RUN}` }
const GB = 1024 ** 3
const WAIT_MS = 15_000

const docker = new Docker()
let registry: TestRegistry
/** every image reference served, removed in `after` */
const served: ServedImage[] = []
/** every runtime made, closed in `after` */
const runtimes: DockerRuntime[] = []
/** owner labels of every container made through a runtime, removed in `after` */
const owners = new Set([OWNER, OTHER])
const dirs: string[] = []

function config (image: string, overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    name: '',
    image,
    args: ['sleep', '600'],
    portMappings: [],
    resources: { cpuClass: 0, cpus: 1, memory: 32 },
    groupPolicy: 'spread',
    ...overrides
  }
}

/** `caravela/busybox:test` served as `<REPOSITORY>:<tag>`, with an image id of its own. */
async function serve (tag: string, format: ManifestFormat = 'docker'): Promise<ServedImage> {
  const image = await registry.add(IMAGE, REPOSITORY, tag, { labels: { [LABEL_IMAGE]: `${RUN}-${tag}` }, format })
  served.push(image)
  return image
}

function runtime (init: Partial<DockerRuntimeInit> = {}): DockerRuntime {
  const made = new DockerRuntime({ ownerPeerId: OWNER, imageCleanupIntervalMs: 0, ...init })
  runtimes.push(made)
  return made
}

/** The engine has this image (by reference or id). */
async function present (image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect()
    return true
  } catch (err: any) {
    if (err.statusCode === 404) {
      return false
    }

    throw err
  }
}

/** Requests for manifests of `repository` the registry answered. */
function manifestRequests (image: ServedImage): number {
  return registry.requests.filter(r => r.path.startsWith(`/v2/${image.repository}/manifests/${image.tag}`) || r.path === `/v2/${image.repository}/manifests/${image.manifestDigest}`).length
}

async function pullDirectly (reference: string): Promise<void> {
  const stream = await docker.pull(reference)
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: any[]) => {
      const failed = output?.find(m => m.error != null)
      if (err != null || failed != null) reject(err ?? new Error(failed.error))
      else resolve()
    })
  })
}

async function removeContainers (label: string, value: string): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${label}=${value}`] } })) {
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

const Images = suite('docker runtime: the images it pulls')

Images.before(async () => {
  assert.ok(await present(IMAGE), `${IMAGE} is missing: run \`node scripts/docker-setup.mjs\` first`)
  registry = await TestRegistry.start({ docker })
})

Images.after(async () => {
  await Promise.all(runtimes.map(async r => r.close()))

  for (const owner of owners) {
    await removeContainers(LABEL_OWNER, owner)
  }

  await removeContainers(LABEL_TEST, RUN)

  for (const image of served) {
    await docker.getImage(image.reference).remove().catch((err: any) => {
      if (err.statusCode !== 404) console.error(`  could not remove ${image.reference}: ${err.message}`)
    })
  }

  // an image of this run left without a name (a failed test) goes by its id
  for (const image of await docker.listImages({ all: true, filters: { label: [LABEL_IMAGE] } })) {
    if (image.Labels?.[LABEL_IMAGE]?.startsWith(`${RUN}-`) === true) {
      await docker.getImage(image.Id).remove().catch((err: any) => { console.error(`  could not remove ${image.Id}: ${err.message}`) })
    }
  }

  await registry?.close()
  await Promise.all(dirs.map(async dir => rm(dir, { recursive: true, force: true })))
  assert.ok(await present(IMAGE), `${IMAGE} is still there`)
})

Images('the registry serves schema2 and OCI manifests and blobs under their sha256 digests', async () => {
  const base = `http://${registry.host}`
  const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  const root = await fetch(`${base}/v2/`)
  assert.is(root.status, 200)
  assert.is(root.headers.get('docker-distribution-api-version'), 'registry/2.0')

  for (const format of ['docker', 'oci'] as const) {
    const image = await serve(`fixture-${format}`, format)
    const types = MEDIA_TYPES[format]
    const accept = { accept: `${MEDIA_TYPES.docker.manifest}, ${MEDIA_TYPES.oci.manifest}` }
    const head = await fetch(`${base}/v2/${image.repository}/manifests/${image.tag}`, { method: 'HEAD', headers: accept })
    assert.is(head.status, 200)
    assert.is(head.headers.get('content-type'), types.manifest)
    assert.is(head.headers.get('docker-content-digest'), image.manifestDigest)

    const byTag = new Uint8Array(await (await fetch(`${base}/v2/${image.repository}/manifests/${image.tag}`, { headers: accept })).arrayBuffer())
    const byDigest = new Uint8Array(await (await fetch(`${base}/v2/${image.repository}/manifests/${image.manifestDigest}`, { headers: accept })).arrayBuffer())
    assert.equal(byDigest, byTag)
    assert.is(sha256(byTag), image.manifestDigest)
    assert.is(Number(head.headers.get('content-length')), byTag.length)

    const manifest = JSON.parse(Buffer.from(byTag).toString('utf8'))
    assert.is(manifest.schemaVersion, 2)
    assert.is(manifest.mediaType, types.manifest)
    assert.is(manifest.config.mediaType, types.config)
    assert.is(manifest.config.digest, image.imageId)
    assert.ok(manifest.layers.length > 0 && manifest.layers.every((l: any) => l.mediaType === types.layer))

    for (const descriptor of [manifest.config, ...manifest.layers]) {
      const blobHead = await fetch(`${base}/v2/${image.repository}/blobs/${descriptor.digest}`, { method: 'HEAD' })
      assert.is(blobHead.status, 200)
      assert.is(Number(blobHead.headers.get('content-length')), descriptor.size)
      const blob = new Uint8Array(await (await fetch(`${base}/v2/${image.repository}/blobs/${descriptor.digest}`)).arrayBuffer())
      assert.is(blob.length, descriptor.size)
      assert.is(sha256(blob), descriptor.digest)
    }

    const config = JSON.parse(Buffer.from(await (await fetch(`${base}/v2/${image.repository}/blobs/${image.imageId}`)).arrayBuffer()).toString('utf8'))
    assert.is(config.config.Labels[LABEL_IMAGE], `${RUN}-${image.tag}`)

    const ranged = await fetch(`${base}/v2/${image.repository}/blobs/${manifest.layers[0].digest}`, { headers: { range: 'bytes=10-19' } })
    assert.is(ranged.status, 206)
    assert.is((await ranged.arrayBuffer()).byteLength, 10)
  }

  const missing = await fetch(`${base}/v2/${REPOSITORY}/manifests/never`)
  assert.is(missing.status, 404)
  assert.is(((await missing.json()) as any).errors[0].code, 'MANIFEST_UNKNOWN')
  assert.is((await fetch(`${base}/v2/${REPOSITORY}/blobs/sha256:${'0'.repeat(64)}`)).status, 404)
  assert.is((await fetch(`${base}/v2/${REPOSITORY}/manifests/x`, { method: 'PUT', body: '{}' })).status, 405)
})

Images('runContainer pulls a missing image from the registry, schema2 and OCI, and counts it as its own', async () => {
  const pulling = runtime()

  for (const format of ['docker', 'oci'] as const) {
    const image = await serve(`pulled-${format}`, format)
    assert.not.ok(await present(image.reference))

    const started = Date.now()
    const { containerId } = await pulling.runContainer(config(image.reference), LABELS)
    console.log(`  ${format}: pull and start took ${Date.now() - started} ms`)
    const info = await docker.getContainer(containerId).inspect()
    assert.is(info.State.Status, 'running')
    assert.is(info.Config.Image, image.reference)
    assert.is(info.Image, image.imageId, 'the container runs the image the registry served')
    assert.ok(registry.requests.some(r => r.method === 'GET' && r.path === `/v2/${image.repository}/blobs/${image.imageId}` && r.status === 200), 'the engine fetched the config blob')
    assert.ok((await pulling.pulledImages()).some(p => p.reference === image.reference && p.id === image.imageId))

    await pulling.removeContainer(containerId)
  }
})

Images('a pulled image stays while its container runs and goes by the scheduled sweep once the container is gone for the grace period', async () => {
  const GRACE = 1_500
  const swept = runtime({ imageCleanupIntervalMs: 200, imageGracePeriodMs: GRACE })
  const image = await serve('grace')
  const { containerId } = await swept.runContainer(config(image.reference), LABELS)

  // many sweeps, and longer than the grace period: the running container keeps it
  await sleep(GRACE + 1_000)
  assert.ok(await present(image.imageId), 'the image of a running container stays')

  await swept.removeContainer(containerId)
  const removed = Date.now()
  await waitFor(async () => !(await present(image.imageId)), { timeout: WAIT_MS, interval: 50, message: `${image.reference} to be removed` })
  const after = Date.now() - removed
  console.log(`  removed ${after} ms after its container (grace ${GRACE} ms, sweeps every 200 ms)`)
  assert.ok(after >= GRACE - 50, `removed after ${after} ms, before the grace period of ${GRACE} ms`)
  assert.equal(await swept.pulledImages(), [])
  assert.ok(await present(IMAGE))
})

Images('an image some container uses, ours or another owner\'s or none\'s, is kept; it goes with the last of them', async () => {
  const ours = runtime()
  const theirs = runtime({ ownerPeerId: OTHER })
  const image = await serve('in-use')
  const first = await ours.runContainer(config(image.reference), LABELS)
  await ours.removeContainer(first.containerId)

  // a container made on the engine directly, never started, and one of another peer
  const bystander = await docker.createContainer({ Image: image.reference, Cmd: ['true'], Labels: { [LABEL_TEST]: RUN } })
  const other = await theirs.runContainer(config(image.reference), LABELS)
  assert.equal(await theirs.pulledImages(), [], 'the other runtime found the image present: not its own')

  assert.equal(await ours.cleanImages({ ignoreGrace: true }), [])
  assert.ok(await present(image.imageId), 'kept while two containers use it')

  await bystander.remove()
  assert.equal(await ours.cleanImages({ ignoreGrace: true }), [])
  assert.ok(await present(image.imageId), 'kept while another peer\'s container uses it')

  await theirs.removeContainer(other.containerId)
  assert.equal(await theirs.cleanImages({ ignoreGrace: true }), [], 'the other runtime removes nothing it did not pull')
  assert.equal(await ours.cleanImages({ ignoreGrace: true }), [image.reference])
  assert.not.ok(await present(image.imageId))
})

Images('an image that was there before the runtime launched it is never removed', async () => {
  const image = await serve('operator')
  await pullDirectly(image.reference)
  const requests = manifestRequests(image)
  const launching = runtime({ imageGracePeriodMs: 0 })

  const { containerId } = await launching.runContainer(config(image.reference), LABELS)
  assert.is(manifestRequests(image), requests, 'nothing was pulled')
  assert.equal(await launching.pulledImages(), [])
  await launching.removeContainer(containerId)

  assert.equal(await launching.cleanImages({ ignoreGrace: true }), [])
  assert.ok(await present(image.reference), 'the operator\'s image stays')
})

Images('a low disk removes idle pulled images at once: before the next pull, and when a container goes', async () => {
  let space: DiskSpace = { free: 50 * GB, total: 100 * GB }
  const disk = runtime({ imageGracePeriodMs: 3_600_000, diskSpace: async () => space })
  const a = await serve('disk-a')
  const b = await serve('disk-b')

  const first = await disk.runContainer(config(a.reference), LABELS)
  await disk.removeContainer(first.containerId)
  assert.equal(await disk.cleanImages(), [], 'within the grace period, with room on the disk')
  assert.ok(await present(a.imageId))

  // 1.5 GB free: under 2 GB
  space = { free: 1.5 * GB, total: 100 * GB }
  const second = await disk.runContainer(config(b.reference), LABELS)
  assert.not.ok(await present(a.imageId), 'the idle image made room for the pull')
  assert.ok(await present(b.imageId))

  // 8 GB free of 100: under 10 %
  space = { free: 8 * GB, total: 100 * GB }
  await disk.removeContainer(second.containerId)
  await waitFor(async () => !(await present(b.imageId)), { timeout: WAIT_MS, interval: 50, message: `${b.reference} to go once its container went` })
  assert.equal(await disk.pulledImages(), [])
})

Images('the free space is read from the engine\'s data directory (DockerRootDir) by default', async () => {
  // a threshold every disk is under, with the runtime's own statfs of the engine's directory
  const always = runtime({ imageGracePeriodMs: 3_600_000, diskLow: { freeBytes: Number.MAX_SAFE_INTEGER, freeFraction: 1 } })
  const never = runtime({ ownerPeerId: OTHER, imageGracePeriodMs: 3_600_000, diskLow: { freeBytes: 0, freeFraction: 0 } })
  const image = await serve('statfs')
  const kept = await serve('statfs-kept')

  const { containerId } = await always.runContainer(config(image.reference), LABELS)
  await always.removeContainer(containerId)
  await waitFor(async () => !(await present(image.imageId)), { timeout: WAIT_MS, interval: 50, message: `${image.reference} to go on a low disk` })

  const other = await never.runContainer(config(kept.reference), LABELS)
  await never.removeContainer(other.containerId)
  assert.equal(await never.cleanImages(), [])
  assert.ok(await present(kept.imageId), 'kept within the grace period on a disk with room')
  assert.equal(await never.cleanImages({ ignoreGrace: true }), [kept.reference])
})

Images('the pulls are recorded in stateDir: a restarted runtime removes them; a broken record is ignored', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-images-'))
  dirs.push(dir)
  const image = await serve('restart')
  const before = runtime({ stateDir: dir })
  const { containerId } = await before.runContainer(config(image.reference), LABELS)
  await before.removeContainer(containerId)
  await before.close()

  const file = join(dir, PULLED_IMAGES_FILE)
  const recorded = JSON.parse(await readFile(file, 'utf8'))
  assert.equal(recorded.images.map((i: any) => [i.reference, i.id]), [[image.reference, image.imageId]])

  const restarted = runtime({ stateDir: dir, imageGracePeriodMs: 0 })
  assert.equal((await restarted.pulledImages()).map(p => p.reference), [image.reference])
  assert.equal(await restarted.cleanImages(), [image.reference])
  assert.not.ok(await present(image.imageId))
  await restarted.close()
  assert.equal(JSON.parse(await readFile(file, 'utf8')).images, [])

  // an entry that is no image reference, and an unreadable file, are ignored
  await writeFile(file, JSON.stringify({ version: 1, images: [{ reference: '../../etc', id: 'sha256:x', pulledAt: 1 }, { reference: IMAGE, id: `sha256:${'a'.repeat(64)}`, pulledAt: 1 }] }))
  assert.equal((await runtime({ stateDir: dir }).pulledImages()).map(p => p.reference), [IMAGE])
  await writeFile(file, '{ not json')
  assert.equal(await runtime({ stateDir: dir }).pulledImages(), [])
  assert.ok(await present(IMAGE))
})

Images('an image left without a name for a container made meanwhile is removed by id once unused; one named again is left alone', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-images-'))
  dirs.push(dir)
  const nameless = await serve('nameless')
  const named = await serve('named-again')
  await pullDirectly(nameless.reference)
  await pullDirectly(named.reference)

  // what the engine leaves when a container appears while it removes a reference: the image without a name
  const bystander = await docker.createContainer({ Image: nameless.reference, Cmd: ['sleep', '600'], Labels: { [LABEL_TEST]: RUN } })
  await bystander.start()
  await docker.getImage(nameless.reference).remove({ force: true })
  const left = await docker.getImage(nameless.imageId).inspect()
  assert.equal([left.RepoTags ?? [], left.RepoDigests ?? []], [[], []], 'the image stays, without a name')

  const record = (id: string): unknown => ({ reference: id, id, pulledAt: Date.now() })
  await writeFile(join(dir, PULLED_IMAGES_FILE), JSON.stringify({ version: 1, images: [record(nameless.imageId), record(named.imageId)] }))
  const sweeping = runtime({ stateDir: dir, imageGracePeriodMs: 0 })
  assert.equal(await sweeping.cleanImages({ ignoreGrace: true }), [])
  assert.ok(await present(nameless.imageId), 'kept while its container runs')
  assert.ok(await present(named.reference), 'an image that has a name is not removed by id')
  assert.equal((await sweeping.pulledImages()).map(p => p.id), [nameless.imageId], 'the named one is forgotten')

  await bystander.remove({ force: true })
  assert.equal(await sweeping.cleanImages({ ignoreGrace: true }), [nameless.imageId])
  assert.not.ok(await present(nameless.imageId))
  assert.ok(await present(named.reference))
})

Images('a launch of an image a sweep is removing gets it pulled again', async () => {
  const racing = runtime({ imageGracePeriodMs: 0 })
  const image = await serve('race')

  const sweep = async (): Promise<string[]> => racing.cleanImages()
  const launch = async (): Promise<{ containerId: string }> => racing.runContainer(config(image.reference), LABELS)
  const orders: Record<string, () => Promise<[unknown, { containerId: string }]>> = {
    'sweep, then launch': async () => Promise.all([sweep(), launch()]),
    'launch, then sweep': async () => { const launched = launch(); return Promise.all([sweep(), launched]) },
    'a sweep 5 ms into the launch': async () => Promise.all([sleep(5).then(sweep), launch()])
  }

  for (const [order, race] of Object.entries(orders)) {
    const first = await launch()
    await racing.removeContainer(first.containerId)
    const [, launched] = await race()
    const info = await docker.getContainer(launched.containerId).inspect()
    assert.is(info.State.Status, 'running', order)
    assert.ok(await present(image.imageId), order)
    assert.ok((await racing.pulledImages()).some(p => p.reference === image.reference), `${order}: still counted as pulled`)
    await racing.removeContainer(launched.containerId)
  }

  assert.equal(await racing.cleanImages(), [image.reference])
})

/** One slice holding every peer, and offers that move fast. */
function peerConfig (bootstrap: string[], edit: (config: CaravelaConfig) => void = () => {}): CaravelaConfig {
  return testConfig(c => {
    c.node.protocolPrefix = `caravela-test-images-${RUN}`
    c.node.bootstrap = bootstrap
    c.node.cpus = 2
    c.node.memory = 2048
    c.network.resources = { cpuClasses: [{ value: 0, percentage: 100, cpuCores: [{ value: 2, percentage: 100, memory: [{ value: 2048, percentage: 100 }] }] }] }
    c.network.discoveryBackend = 'multi-offer-updates'
    c.network.supplyingInterval = 1_000
    c.network.refreshingInterval = 1_000
    c.network.refreshesCheckInterval = 2_000
    c.network.refreshMissedTimeout = 3_000
    edit(c)
  })
}

/** `buyer` runs `image`, again while the supplier's offer is on its way; the error once there was an offer. */
async function place (buyer: CaravelaNode, image: string): Promise<{ containerId?: string, error?: Error }> {
  const deadline = Date.now() + 20_000

  for (;;) {
    try {
      const [status] = await buyer.services.caravela.run([config(image, { resources: { cpuClass: 0, cpus: 1, memory: 64 } })])
      return { containerId: status.containerId }
    } catch (err: any) {
      if (err.name !== 'NoOffersError' || Date.now() > deadline) {
        return { error: err }
      }

      await sleep(250)
    }
  }
}

Images('through whole peers: a registry on the supplier\'s machine is refused by default, nothing is pulled; allowed when allowRegistries names it', async () => {
  const image = await serve('peer')

  for (const allowed of [false, true]) {
    let supplier: CaravelaNode | undefined
    let buyer: CaravelaNode | undefined

    try {
      supplier = await createTestNode('supplier', {
        config: peerConfig([], c => { c.supplier.allowRegistries = allowed ? [registry.host] : [] }),
        runtime: ({ peerId }) => new DockerRuntime({ ownerPeerId: peerId.toString(), imageCleanupIntervalMs: 200, imageGracePeriodMs: 0 })
      })
      owners.add(supplier.peerId.toString())
      buyer = await createTestNode('buyer', { config: peerConfig([dialableAddress(supplier)]) })
      const requests = manifestRequests(image)
      const placed = await place(buyer, image.reference)

      if (!allowed) {
        assert.is(placed.error?.name, 'AllOffersRejectedError', String(placed.error))
        assert.match(placed.error?.message ?? '', `images from registry ${registry.host}, on the supplier's own machine or private network, are not allowed here`)
        assert.is(manifestRequests(image), requests, 'the supplier asked the registry nothing')
        assert.not.ok(await present(image.reference))
        assert.equal(await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${supplier.peerId.toString()}`] } }), [])
        continue
      }

      assert.ok(placed.containerId, String(placed.error))
      const info = await docker.getContainer(placed.containerId).inspect()
      assert.is(info.State.Status, 'running')
      assert.is(info.Image, image.imageId)
      assert.ok(manifestRequests(image) > requests, 'the supplier pulled the image')

      const [stopped] = await buyer.services.caravela.stopContainers([placed.containerId])
      assert.ok(stopped.stopped, stopped.error)
      await waitFor(async () => !(await present(image.imageId)), { timeout: WAIT_MS, interval: 100, message: `the supplier to remove ${image.reference} once its container stopped` })
    } finally {
      await stopAll([buyer, supplier])
    }
  }
})

Images.run()
