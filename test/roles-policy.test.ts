/**
 * The supplier's launch policy: who may launch, which images from which registries, which host
 * ports. Each attack is tried as an attacker would, and its outcomes counted.
 */

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { defaultSupplierConfig } from '../src/config/config.js'
import { isLocalRegistry, registryOf } from '../src/image-ref.js'
import { LaunchPolicy } from '../src/roles/launch-policy.js'
import { container, createRolesNetwork, rejection } from './fixtures/roles-network.js'
import type { SupplierConfig } from '../src/config/types.js'
import type { ContainerConfig } from '../src/types.js'
import type { RolesNetwork } from './fixtures/roles-network.js'

const MEMBER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const STRANGER = '12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3'
const DIGEST = `sha256:${'ab'.repeat(32)}`

function policy (edit: Partial<SupplierConfig> = {}): LaunchPolicy {
  return new LaunchPolicy({ ...defaultSupplierConfig(), ...edit })
}

function image (name: string, edit: Partial<ContainerConfig> = {}): ContainerConfig[] {
  return [container({ cpus: 1, memory: 64 }, { image: name, ...edit })]
}

function port (hostPort: number): Partial<ContainerConfig> {
  return { portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp' }] }
}

/** Launch `containers` from a fresh identity on every supplier of `net`, at an offer each supplier answers for itself. */
async function launchEverywhere (net: RolesNetwork, containers: ContainerConfig[]): Promise<{ attempts: number, accepted: number, refused: string[] }> {
  const attacker = await net.network.addPeer('attacker')
  const client = net.network.client(attacker.peerId)
  const outcome = { attempts: 0, accepted: 0, refused: [] as string[] }

  for (const [i, p] of net.peers.entries()) {
    const [offer] = await client.getOffers(p.peer.node, false, { own: true })
    outcome.attempts++

    try {
      await client.launchContainer(p.peer.node, offer?.id ?? 1, `attack-${i}`, containers)
      outcome.accepted++
    } catch (err: any) {
      assert.is(err.name, 'RemoteRequestError', err.message)
      assert.is(err.status, 'REFUSED', err.message)
      outcome.refused.push(err.message)
    }
  }

  return outcome
}

test('policy: buyers outside allowBuyers are refused; an empty list allows any', () => {
  assert.is(policy().refusal(STRANGER, image('nginx')), undefined)
  assert.is(policy({ allowBuyers: [MEMBER] }).refusal(MEMBER, image('nginx')), undefined)
  assert.match(policy({ allowBuyers: [MEMBER] }).refusal(STRANGER, image('nginx')) ?? '', /only for the peers it allows/)
})

test('policy: images by glob and by pinned digest; everything else refused with the allowed list', () => {
  const p = policy({ allowImages: ['nginx:1.*', 'ghcr.io/acme/*', `redis@${DIGEST}`] })

  assert.is(p.refusal(MEMBER, image('nginx:1.27')), undefined)
  assert.is(p.refusal(MEMBER, image('docker.io/library/nginx:1.25')), undefined)
  assert.is(p.refusal(MEMBER, image('ghcr.io/acme/api:v3')), undefined)
  assert.is(p.refusal(MEMBER, image(`redis@${DIGEST}`)), undefined)
  assert.match(p.refusal(MEMBER, image('nginx:latest')) ?? '', /image nginx:latest is not allowed here \(allowed: nginx:1\.\*, ghcr\.io\/acme\/\*, redis@sha256/)
  assert.match(p.refusal(MEMBER, image('redis:7')) ?? '', /not allowed/, 'a tag is not the pinned digest')
  assert.match(p.refusal(MEMBER, image(`redis@sha256:${'cd'.repeat(32)}`)) ?? '', /not allowed/, 'another digest')
  assert.match(p.refusal(MEMBER, image('xmrig/xmrig')) ?? '', /not allowed/)
})

test('policy: registries on the supplier\'s machine or private networks are refused unless named', () => {
  for (const local of ['127.0.0.1:5000/x', 'localhost:5000/x', 'localhost/x', '10.1.2.3/x', '192.168.1.5:443/x', '172.20.0.1/x', '169.254.169.254/x', '[::1]:5000/x', 'registry.local/x']) {
    assert.ok(isLocalRegistry(registryOf(local)), local)
    assert.match(policy().refusal(MEMBER, image(local)) ?? '', /on the supplier's own machine or private network/, local)
  }

  for (const open of ['nginx', 'docker.io/library/nginx', 'index.docker.io/library/nginx', 'ghcr.io/acme/api', 'quay.io/x/y:1', '8.8.8.8:5000/x', '172.32.0.1/x']) {
    assert.is(policy().refusal(MEMBER, image(open)), undefined, open)
  }

  const named = policy({ allowRegistries: ['docker.io', '127.0.0.1:5000'] })
  assert.is(named.refusal(MEMBER, image('127.0.0.1:5000/x')), undefined)
  assert.is(named.refusal(MEMBER, image('nginx')), undefined)
  assert.match(named.refusal(MEMBER, image('ghcr.io/acme/api')) ?? '', /registry ghcr\.io are not allowed here \(allowed: docker\.io, 127\.0\.0\.1:5000\)/)
})

test('policy: host ports below 1024 refused by default, port 0 always allowed, a network of none publishes nothing', () => {
  assert.match(policy().refusal(MEMBER, image('nginx', port(25))) ?? '', /host port 25 is outside the ports containers may publish here \(1024-65535/)
  assert.is(policy().refusal(MEMBER, image('nginx', port(0))), undefined)
  assert.is(policy().refusal(MEMBER, image('nginx', port(8080))), undefined)
  assert.match(policy({ hostPorts: { min: 8000, max: 8099 } }).refusal(MEMBER, image('nginx', port(8100))) ?? '', /8000-8099/)
  assert.is(policy({ hostPorts: { min: 1, max: 65535 } }).refusal(MEMBER, image('nginx', port(80))), undefined)
  assert.match(policy({ network: 'none' }).refusal(MEMBER, image('nginx', port(0))) ?? '', /without a network/)
  assert.is(policy({ network: 'none' }).refusal(MEMBER, image('nginx')), undefined)
})

test('attack: a stranger launching a miner with host port 25 on every supplier is refused by default (0 accepted)', async () => {
  const net = await createRolesNetwork({ size: 3 })
  const outcome = await launchEverywhere(net, image('xmrig/xmrig', port(25)))

  console.log(`policy, default: host port 25 from a stranger: ${outcome.attempts} launches, ${outcome.accepted} accepted, ${outcome.refused.length} refused`)
  assert.equal({ attempts: outcome.attempts, accepted: outcome.accepted }, { attempts: 3, accepted: 0 })
  outcome.refused.forEach(reason => { assert.match(reason, /host port 25/) })
  assert.is(net.peers.reduce((sum, p) => sum + p.runtime.list().length, 0), 0, 'nothing runs')
  assert.is(net.peers.reduce((sum, p) => sum + (p.roles as any).containers.refusedLaunches, 0), 3)
  await net.stop()
})

test('attack: with allowBuyers, a stranger gets 0 launches accepted while a member still places', async () => {
  // the same seeds give the same identities: the members' ids, known before they start
  const members = (await createRolesNetwork({ size: 3, stopped: true })).peers.map(p => p.peer.peerId)
  const guarded = await createRolesNetwork({ size: 3, supplierPolicy: () => ({ ...defaultSupplierConfig(), allowBuyers: members }) })
  const outcome = await launchEverywhere(guarded, image('busybox'))

  console.log(`policy, allowBuyers: a stranger: ${outcome.attempts} launches, ${outcome.accepted} accepted, ${outcome.refused.length} refused`)
  assert.equal({ attempts: outcome.attempts, accepted: outcome.accepted }, { attempts: 3, accepted: 0 })
  outcome.refused.forEach(reason => { assert.match(reason, /only for the peers it allows/) })

  const statuses = await guarded.peers[0].roles.run(image('busybox'))
  assert.is(statuses.length, 1, 'a member places')
  await guarded.stop()
})

test('a launch refused by one supplier\'s policy goes to the next offer', async () => {
  // supplier 0 runs only redis: the buyer's nginx containers land elsewhere
  const net = await createRolesNetwork({ size: 3, supplierPolicy: i => i === 0 ? { ...defaultSupplierConfig(), allowImages: ['redis'] } : undefined })
  const rejected: string[] = []

  for (let i = 0; i < 4; i++) {
    const statuses = await net.peers[1].roles.run(image('nginx'), {
      onProgress: event => { if (event.type === 'rejected') rejected.push(event.reason) }
    })
    assert.is.not(statuses[0].supplier.peerId, net.peers[0].peer.peerId)
  }

  assert.is(net.peers[0].runtime.list().length, 0)
  assert.is(net.peers[1].runtime.list().length + net.peers[2].runtime.list().length, 4)
  // a stale offer may be refused for its resources too; nothing else is
  rejected.forEach(reason => { assert.match(reason, /image nginx is not allowed here|not enough free resources/, reason) })

  // the only room left is at supplier 0, which does not run ubuntu: the error says why
  const err = await rejection(net.peers[1].roles.run(image('ubuntu')))
  assert.match(err.message, /not allowed here/)
  await net.stop()
})

test.run()
