/**
 * The protobuf schema against the code built from it: the limits of repeated fields in
 * `protocols/caravela/v1/caravela.proto` equal the constants the codecs check, and the committed
 * `src/protocols/pb/caravela.ts` is what protons generates from the schema.
 */

import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_ARGS, MAX_CONTAINERS, MAX_MULTIADDRS, MAX_OFFERS, MAX_PORT_MAPPINGS, MAX_STATUS_IDS } from '../src/protocols/constants.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PROTO = 'protocols/caravela/v1/caravela.proto'
const GENERATED = 'src/protocols/pb/caravela.ts'

/** Every repeated field of the schema, as `Message.field`, and the constant its limit must equal. */
const LIMITS: Record<string, { constant: string, value: number }> = {
  'NodeRef.multiaddrs': { constant: 'MAX_MULTIADDRS', value: MAX_MULTIADDRS },
  'ContainerConfig.args': { constant: 'MAX_ARGS', value: MAX_ARGS },
  'ContainerConfig.portMappings': { constant: 'MAX_PORT_MAPPINGS', value: MAX_PORT_MAPPINGS },
  'GetOffersResponse.offers': { constant: 'MAX_OFFERS', value: MAX_OFFERS },
  'LaunchContainerRequest.containers': { constant: 'MAX_CONTAINERS', value: MAX_CONTAINERS },
  'LaunchContainerResponse.containers': { constant: 'MAX_CONTAINERS', value: MAX_CONTAINERS },
  'ContainerStatusRequest.containerIds': { constant: 'MAX_STATUS_IDS', value: MAX_STATUS_IDS },
  'ContainerStatusResponse.containers': { constant: 'MAX_STATUS_IDS', value: MAX_STATUS_IDS }
}

interface RepeatedField {
  /** `Message.field` */
  name: string
  /** the `(protons.options).limit`, if the field has one */
  limit?: number
}

/** The repeated fields of a .proto file, named after the message that holds them. */
function repeatedFields (proto: string): RepeatedField[] {
  const text = proto.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  const scopes: Array<{ kind: string, name: string }> = []
  const fields: RepeatedField[] = []

  for (const [token, kind, name] of text.matchAll(/\b(message|enum|oneof)\s+(\w+)\s*\{|\}|[^;{}]+;/g)) {
    if (kind != null) {
      scopes.push({ kind, name })
    } else if (token === '}') {
      assert.ok(scopes.pop(), `unbalanced braces in ${PROTO}`)
    } else {
      const field = /^\s*repeated\s+[\w.]+\s+(\w+)\s*=\s*\d+\s*(?:\[([^\]]*)\])?\s*;$/.exec(token)

      if (field != null) {
        const message = scopes.filter(scope => scope.kind === 'message').map(scope => scope.name).join('.')
        const limit = /\(protons\.options\)\.limit\s*=\s*(\d+)/.exec(field[2] ?? '')?.[1]
        fields.push({ name: `${message}.${field[1]}`, limit: limit == null ? undefined : Number(limit) })
      }
    }
  }

  assert.is(scopes.length, 0, `unbalanced braces in ${PROTO}`)
  return fields
}

const Schema = suite('protocols: the schema and the code built from it')

Schema('every repeated field of the schema has a limit, and each limit equals the constant the codecs check', async () => {
  const fields = repeatedFields(await readFile(join(ROOT, PROTO), 'utf8'))
  assert.equal(fields.map(f => f.name).sort(), Object.keys(LIMITS).sort(), `the repeated fields of ${PROTO}: a new one needs its limit and constant here`)

  for (const { name, limit } of fields) {
    const { constant, value } = LIMITS[name]
    assert.ok(limit != null, `${name} in ${PROTO} has no [(protons.options).limit = ${value}]`)
    assert.is(limit, value, `${name} is limited to ${limit} in ${PROTO} but ${constant} is ${value} in src/protocols/constants.ts: change both`)
  }
})

Schema('the committed generated code is what protons generates from the schema', async () => {
  const protons = JSON.parse(await readFile(join(ROOT, 'node_modules', 'protons', 'package.json'), 'utf8'))
  const bin = join(ROOT, 'node_modules', 'protons', typeof protons.bin === 'string' ? protons.bin : protons.bin.protons)
  const out = await mkdtemp(join(tmpdir(), 'caravela-protons-'))

  try {
    await promisify(execFile)(process.execPath, [bin, PROTO, '-o', out], { cwd: ROOT, timeout: 60_000 })
    const generated = await readFile(join(out, 'caravela.ts'))
    const committed = await readFile(join(ROOT, GENERATED))

    if (!generated.equals(committed)) {
      const [a, b] = [committed, generated].map(bytes => bytes.toString('utf8').split('\n'))
      const line = a.findIndex((text, i) => text !== b[i])
      const at = line === -1 ? `${GENERATED} has ${a.length} lines, protons gives ${b.length}` : `first difference at line ${line + 1}:\n  committed: ${a[line]}\n  protons:   ${b[line]}`
      assert.unreachable(`${GENERATED} is not what protons ${protons.version} generates from ${PROTO}: run \`npm run generate\` and commit the result (${at})`)
    }
  } finally {
    await rm(out, { recursive: true, force: true })
  }
})

Schema.run()
