/**
 * Stack files (src/stacks/stack-file.ts, src/stacks/ports.ts): the original's format, the
 * Compose subset, refused and ignored keys, units, and hostile YAML.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import * as assert from 'uvu/assert'
import { parsePortMapping, portMapping } from '../src/stacks/ports.js'
import { MAX_SERVICES, MAX_STACK_FILE_SIZE, parseStackFile, readStackFile } from '../src/stacks/stack-file.js'
import { suite } from './fixtures/suite.js'
import type { Stack, StackFileError } from '../src/stacks/stack-file.js'
import type { ContainerConfig } from '../src/types.js'

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url))

/**
 * The original's `test_request.yml`, reconstructed from its format: a map of service name →
 * image, args, ports (the `-p` syntax), cpu_power, cpus, memory (MB), group_policy and an ignored
 * name.
 */
const TEST_REQUEST_YML = `
container1:
  name: "container1"
  image: "strabox/caravela-test:latest"
  args: ["-listen", "80"]
  ports:
    - "8080:80"
    - "9000/udp"
  cpu_power: "low"
  cpus: 1
  memory: 256
  group_policy: "spread"
container2:
  name: "ignored-name"
  image: "redis:4"
  ports: ["6379"]
  cpu_power: "high"
  cpus: 2
  memory: 512
  group_policy: "co-location"
container3:
  image: "alpine"
  args: ["sleep", "3600"]
  group_policy: "co-location"
`

function container (overrides: Partial<ContainerConfig> & Pick<ContainerConfig, 'name' | 'image'>): ContainerConfig {
  return {
    args: [],
    portMappings: [],
    resources: { cpuClass: 0, cpus: 0, memory: 0 },
    groupPolicy: 'spread',
    ...overrides
  }
}

/** A Compose file with one service `web` made of `lines` (indented under it). */
function composeWeb (...lines: string[]): string {
  return ['services:', '  web:', ...lines.map(line => `    ${line}`)].join('\n') + '\n'
}

function parse (text: string, source = 'stack.yml'): Stack {
  return parseStackFile(text, source)
}

/** The error `parse` throws, checked to be a StackFileError. */
function failure (text: string, source = 'stack.yml'): StackFileError {
  let error: any

  try {
    parse(text, source)
  } catch (err) {
    error = err
  }

  assert.ok(error, `no error for:\n${text}`)
  assert.is(error.name, 'StackFileError', error.stack)
  assert.is(error.source, source)
  return error
}

function refused (text: string, service: string | undefined, key: string | undefined, message?: RegExp | string): void {
  const err = failure(text)
  assert.is(err.service, service, err.message)
  assert.is(err.key, key, err.message)
  assert.ok(err.message.startsWith('stack.yml: '), err.message)

  if (message != null) {
    assert.match(err.message, message)
  }
}

const Original = suite('stack file: the original\'s format')

Original('the original test_request.yml: services in file order, named after their keys', () => {
  const stack = parse(TEST_REQUEST_YML, 'examples/test_request.yml')
  assert.is(stack.name, 'test_request')
  assert.equal(stack.warnings, [])
  assert.equal(stack.services.map(s => s.name), ['container1', 'container2', 'container3'])
  assert.equal(stack.services.map(s => s.container), [
    container({
      name: 'container1',
      image: 'strabox/caravela-test:latest',
      args: ['-listen', '80'],
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 0, containerPort: 9000, protocol: 'udp' }],
      resources: { cpuClass: 0, cpus: 1, memory: 256 }
    }),
    container({
      name: 'container2',
      image: 'redis:4',
      portMappings: [{ hostPort: 0, containerPort: 6379, protocol: 'tcp' }],
      resources: { cpuClass: 1, cpus: 2, memory: 512 },
      groupPolicy: 'co-location'
    }),
    container({ name: 'container3', image: 'alpine', args: ['sleep', '3600'], groupPolicy: 'co-location' })
  ])
})

Original('args as a string, memory with units, cpu_class for cpu_power, bare port numbers', () => {
  const stack = parse([
    'a:',
    '  image: busybox',
    '  args: sh -c \'echo "hello world"\'',
    '  memory: 1g',
    '  cpu_class: high',
    '  ports: [80, "53/udp", "8080:80/tcp"]',
    'b: { image: busybox, memory: 256m, args: [sleep, 10] }',
    'c: { image: busybox, memory: 0, cpus: 0, args: null, ports: null }'
  ].join('\n'))
  const [a, b, c] = stack.services.map(s => s.container)
  assert.equal(a.args, ['sh', '-c', 'echo "hello world"'])
  assert.equal(a.resources, { cpuClass: 1, cpus: 0, memory: 1024 })
  assert.equal(a.portMappings.map(p => [p.hostPort, p.containerPort, p.protocol]), [[0, 80, 'tcp'], [0, 53, 'udp'], [8080, 80, 'tcp']])
  assert.equal([b.args, b.resources.memory], [['sleep', '10'], 256])
  assert.equal(c, container({ name: 'c', image: 'busybox' }))
})

Original('every value is checked, and the error names the service and the key', () => {
  const cases: Array<[string, string | undefined, string | undefined, RegExp?]> = [
    ['web: { args: [x] }', 'web', 'image', /missing/],
    ['web: { image: 7 }', 'web', 'image'],
    ['web: { image: "" }', 'web', 'image'],
    ['web: { image: x, args: { a: 1 } }', 'web', 'args', /must be a list, got a map/],
    ['web: { image: x, args: [sleep, [1]] }', 'web', 'args[1]'],
    ['web: { image: x, ports: "8080:80" }', 'web', 'ports', /must be a list/],
    ['web: { image: x, ports: ["80:http"] }', 'web', 'ports[0]', /"80:http" is not host:container/],
    ['web: { image: x, ports: ["8080:70000"] }', 'web', 'ports[0]', /from 1 to 65535/],
    ['web: { image: x, ports: ["0"] }', 'web', 'ports[0]'],
    ['web: { image: x, ports: ["1:2:3"] }', 'web', 'ports[0]'],
    ['web: { image: x, cpus: -1 }', 'web', 'cpus'],
    ['web: { image: x, cpus: 1.5 }', 'web', 'cpus', /whole number/],
    ['web: { image: x, cpus: "2" }', 'web', 'cpus'],
    ['web: { image: x, memory: lots }', 'web', 'memory', /"lots"/],
    ['web: { image: x, memory: 1.5 }', 'web', 'memory'],
    ['web: { image: x, memory: -5 }', 'web', 'memory'],
    ['web: { image: x, cpu_power: medium }', 'web', 'cpu_power', /low or high/],
    ['web: { image: x, cpu_power: 1 }', 'web', 'cpu_power'],
    ['web: { image: x, cpu_power: low, cpu_class: low }', 'web', 'cpu_class', /not both/],
    ['web: { image: x, group_policy: everywhere }', 'web', 'group_policy', /spread or co-location/],
    ['web: { image: x, imagee: y }', 'web', 'imagee', /not a key Caravela reads/],
    ['web: { image: x, restart: sometimes }', 'web', 'restart', /no, on-failure\[:N\], always or unless-stopped, got "sometimes"/],
    ['web: { image: x, restart: "on-failure:-1" }', 'web', 'restart', /whole number from 0/],
    ['web: { image: x, restart: "on-failure:x" }', 'web', 'restart'],
    ['web: { image: x, restart: "always:3" }', 'web', 'restart'],
    ['web: { image: x, restart: 3 }', 'web', 'restart', /got 3/],
    ['web: [image, x]', 'web', undefined, /must be a map, got a list/],
    ['web: busybox', 'web', undefined, /must be a map, got "busybox"/],
    ['"my web": { image: x }', 'my web', undefined, /not a service name/],
    ['web: { image: x, args: "echo \'unterminated" }', 'web', 'args', /unterminated ' quote/],
    ['web: { image: x, args: "echo trailing\\\\" }', 'web', 'args', /lone \\/],
    ['- web', undefined, undefined, /must be a map, got a list/],
    ['just text', undefined, undefined, /must be a map/],
    ['{}', undefined, undefined, /from 1 to 64 services, this one has 0/]
  ]

  for (const [text, service, key, message] of cases) {
    refused(text, service, key, message)
  }
})

Original('restart: Docker\'s policies, unless-stopped as always, no and absent as nothing', () => {
  const stack = parse([
    'a: { image: x, restart: always }',
    'b: { image: x, restart: "on-failure:3" }',
    'c: { image: x, restart: on-failure }',
    'd: { image: x, restart: unless-stopped }',
    'e: { image: x, restart: no }',
    'f: { image: x, restart: "no" }',
    'g: { image: x }'
  ].join('\n'))
  assert.equal(stack.services.map(s => s.container.restart), [
    { name: 'always' }, { name: 'on-failure', maxRetries: 3 }, { name: 'on-failure' }, { name: 'always' }, undefined, undefined, undefined
  ])
  assert.equal(stack.warnings, [])
})

Original('limits of the wire protocol are checked before anything is sent', () => {
  refused(`web: { image: "${'x'.repeat(257)}" }`, 'web', 'image')
  refused(`web: { image: x, args: [${Array(257).fill('a').join(', ')}] }`, 'web', 'args', /at most 256 words/)
  refused(`web: { image: x, args: [a, "${'y'.repeat(4097)}"] }`, 'web', 'args[1]', /longer than 4096/)
  refused(`web: { image: x, ports: [${Array(65).fill('80').join(', ')}] }`, 'web', 'ports', /at most 64 ports/)
  refused(`${'w'.repeat(129)}: { image: x }`, 'w'.repeat(129), undefined, /not a service name/)
})

Original('the stack is named after the file, which must make a valid name', () => {
  assert.is(parse('a: { image: x }', '/tmp/deploy/web-app.v2.yaml').name, 'web-app.v2')
  assert.is(parse('a: { image: x }', 'Stackfile').name, 'Stackfile')
  const err = failure('a: { image: x }', 'my stack.yml')
  assert.is(err.key, undefined)
  assert.match(err.message, /^my stack\.yml: "my stack" is not a stack name: .*named after its file/)
  failure('a: { image: x }', '.yml')
})

Original.run()

const Compose = suite('stack file: Docker Compose')

Compose('a Compose file: image, command, ports, limits and x-caravela', () => {
  const stack = parse([
    'name: shop',
    'services:',
    '  web:',
    '    image: nginx:1.27',
    '    command: ["nginx", "-g", "daemon off;"]',
    '    ports: ["8080:80", "443"]',
    '    deploy:',
    '      resources:',
    '        limits: { cpus: "2", memory: 512M }',
    '    x-caravela: { group_policy: co-location, cpu_class: high }',
    '  db:',
    '    image: postgres:16',
    '    x-notes: whatever the team likes',
    'x-defaults: { anything: [1, 2] }'
  ].join('\n'))

  assert.is(stack.name, 'shop')
  assert.equal(stack.warnings, [])
  assert.equal(stack.services.map(s => s.container), [
    container({
      name: 'web',
      image: 'nginx:1.27',
      args: ['nginx', '-g', 'daemon off;'],
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 0, containerPort: 443, protocol: 'tcp' }],
      resources: { cpuClass: 1, cpus: 2, memory: 512 },
      groupPolicy: 'co-location'
    }),
    container({ name: 'db', image: 'postgres:16' })
  ])
})

Compose('a Compose file without name: is named after the file', () => {
  assert.is(parse(composeWeb('image: x'), 'deploy/compose.yaml').name, 'compose')
  refused('name: "my shop"\n' + composeWeb('image: x'), undefined, 'name', /not a stack name/)
  refused('name: [a]\n' + composeWeb('image: x'), undefined, 'name')
})

Compose('ports: the short syntax and the long one', () => {
  const ports = (...lines: string[]): ContainerConfig['portMappings'] => parse(composeWeb('image: x', 'ports:', ...lines.map(l => `  ${l}`))).services[0].container.portMappings

  assert.equal(ports('- "8080:80"', '- "80/udp"', '- 53', '- "5353:53/udp"'), [
    { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostPort: 0, containerPort: 80, protocol: 'udp' },
    { hostPort: 0, containerPort: 53, protocol: 'tcp' },
    { hostPort: 5353, containerPort: 53, protocol: 'udp' }
  ])
  assert.equal(ports('- target: 80', '  published: 8080', '- { target: 53, published: "5353", protocol: udp }', '- { target: 443 }'), [
    { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostPort: 5353, containerPort: 53, protocol: 'udp' },
    { hostPort: 0, containerPort: 443, protocol: 'tcp' }
  ])

  const cases: Array<[string, string, RegExp?]> = [
    ['- "127.0.0.1:8080:80"', 'ports[0]', /is not host:container/],
    ['- "3000-3005"', 'ports[0]'],
    ['- { published: 8080 }', 'ports[0].target', /missing/],
    ['- { target: 80, host_ip: 127.0.0.1 }', 'ports[0].host_ip', /not supported/],
    ['- { target: 80, published: "8080-8081" }', 'ports[0].published', /port number/],
    ['- { target: http }', 'ports[0].target'],
    ['- { target: 80, protocol: sctp }', 'ports[0]', /tcp or udp/],
    ['- { target: 70000 }', 'ports[0]', /from 1 to 65535/],
    ['- { target: 80, hostport: 8080 }', 'ports[0].hostport', /not a key/],
    ['- [80]', 'ports[0]']
  ]

  for (const [line, key, message] of cases) {
    refused(composeWeb('image: x', 'ports:', `  ${line}`), 'web', key, message)
  }

  const stack = parse(composeWeb('image: x', 'ports:', '  - { target: 80, mode: host }'))
  assert.equal(stack.warnings, ['stack.yml: service "web", ports[0].mode: ignored: ports are published on the supplier'])
})

Compose('cpus are rounded up to whole CPUs; memory takes Compose\'s units', () => {
  const resources = (limits: string): ContainerConfig['resources'] => parse(composeWeb('image: x', `deploy: { resources: { limits: { ${limits} } } }`)).services[0].container.resources

  assert.equal(resources('cpus: 2, memory: 256M'), { cpuClass: 0, cpus: 2, memory: 256 })
  assert.equal(resources('cpus: "1.5", memory: 1G'), { cpuClass: 0, cpus: 2, memory: 1024 })
  assert.equal(resources('cpus: 0.25, memory: 512m'), { cpuClass: 0, cpus: 1, memory: 512 })
  assert.equal(resources('memory: 268435456').memory, 256)
  assert.equal(resources('memory: "1000000000"').memory, 954)
  assert.equal(resources('memory: 1536k').memory, 2)
  assert.equal(resources('memory: 100b').memory, 1)
  assert.equal(resources('memory: 1.5gb').memory, 1536)
  assert.equal(resources('memory: 2GB').memory, 2048)

  const rounded = parse(composeWeb('image: x', 'deploy: { resources: { limits: { cpus: "0.5" } } }'))
  assert.equal(rounded.warnings, ['stack.yml: service "web", deploy.resources.limits.cpus: 0.5 rounded up to 1: Caravela places whole CPUs'])

  for (const [limits, key] of [
    ['cpus: 0', 'cpus'], ['cpus: -1', 'cpus'], ['cpus: many', 'cpus'], ['cpus: ""', 'cpus'], ['cpus: [1]', 'cpus'], ['cpus: 1e400', 'cpus'],
    ['memory: 0', 'memory'], ['memory: lots', 'memory'], ['memory: 1.5', 'memory'], ['memory: -1G', 'memory'], ['memory: 1T', 'memory'], ['memory: { m: 1 }', 'memory']
  ]) {
    refused(composeWeb('image: x', `deploy: { resources: { limits: { ${limits} } } }`), 'web', `deploy.resources.limits.${key}`)
  }
})

Compose('command: a string is split as a shell would, a list is taken as it is', () => {
  const args = (command: string): string[] => parse(composeWeb('image: x', `command: ${command}`)).services[0].container.args

  assert.equal(args('sh -c \'echo "hi there"; sleep 1\''), ['sh', '-c', 'echo "hi there"; sleep 1'])
  assert.equal(args(String.raw`'echo "a\"b" c\ d "" x"$"y \$HOME'`), ['echo', 'a"b', 'c d', '', 'x$y', '$HOME'])
  assert.equal(args('"  spaced   out  "'), ['spaced', 'out'])
  assert.equal(args('[sleep, 10]'), ['sleep', '10'])
  assert.equal(args('[]'), [])
  refused(composeWeb('image: x', 'command: "echo \\"open"'), 'web', 'command', /unterminated " quote/)
  refused(composeWeb('image: x', 'command: [echo, { a: 1 }]'), 'web', 'command[1]', /must be a string, got a map/)
  refused(composeWeb('image: x', 'command: [echo, true]'), 'web', 'command[1]')
})

Compose('a command split as a shell would: any words, quoted, come back as they were', () => {
  const quote = (word: string): string => `'${word.replaceAll('\'', '\'\\\'\'')}'`

  fc.assert(fc.property(fc.array(fc.string({ maxLength: 20 }), { maxLength: 10 }), words => {
    const command = words.map(quote).join(' ')
    const stack = parse(`services:\n  web:\n    image: x\n    command: ${JSON.stringify(command)}\n`)
    assert.equal(stack.services[0].container.args, words)
  }))
})

Compose('keys whose absence would break the application are refused, naming the service and the key', () => {
  const keys = [
    'build: .', 'volumes: ["data:/var/lib/data"]', 'volumes_from: [db]', 'privileged: true', 'cap_add: [NET_ADMIN]',
    'devices: ["/dev/fuse"]', 'network_mode: host', 'networks: [back]', 'links: [db]', 'external_links: [db]',
    'environment: { A: "1" }', 'env_file: .env', 'entrypoint: /bin/sh', 'user: "1000"', 'working_dir: /app',
    'secrets: [token]', 'configs: [conf]', 'extends: { service: base }', 'scale: 3', 'cpus: 2', 'mem_limit: 1g',
    'sysctls: { net.core.somaxconn: 1024 }', 'imag: x'
  ]

  for (const line of keys) {
    const key = line.split(':')[0]
    refused(composeWeb('image: x', line), 'web', key, new RegExp(`^stack\\.yml: service "web", ${key}: `))
  }

  refused(composeWeb('image: x', 'deploy: { replicas: 3 }'), 'web', 'deploy.replicas', /one container/)
  refused(composeWeb('image: x', 'deploy: { mode: global }'), 'web', 'deploy.mode')
  refused(composeWeb('image: x', 'deploy: { resources: { limits: { devices: [] } } }'), 'web', 'deploy.resources.limits.devices')
  refused(composeWeb('image: x', 'deploy: []'), 'web', 'deploy', /must be a map/)
  refused(composeWeb('image: x', 'x-caravela: { group_policy: all }'), 'web', 'x-caravela.group_policy', /spread or co-location/)
  refused(composeWeb('image: x', 'x-caravela: { cpu_class: fast }'), 'web', 'x-caravela.cpu_class', /low or high/)
  refused(composeWeb('image: x', 'x-caravela: { replicas: 2 }'), 'web', 'x-caravela.replicas', /not a key/)
  refused(composeWeb('build: .'), 'web', 'build', /push the image/)
  refused('services:\n  web:\n', 'web', undefined, /must be a map, got nothing/)
  refused('services: [web]\n', undefined, 'services', /must be a map/)
  refused('services: {}\n', undefined, 'services', /this one has 0/)
  refused('include: [other.yml]\n' + composeWeb('image: x'), undefined, 'include', /not a key/)
})

Compose('harmless keys are ignored with a warning naming the service and the key', () => {
  const stack = parse([
    'version: "3.8"',
    'services:',
    '  web:',
    '    image: x',
    '    container_name: my-web',
    '    restart: unless-stopped',
    '    labels: { team: shop }',
    '    depends_on: [db]',
    '    healthcheck: { test: ["CMD", "true"] }',
    '    deploy:',
    '      replicas: 1',
    '      restart_policy: { condition: on-failure }',
    '      resources:',
    '        reservations: { memory: 64M }',
    '        limits: { pids: 100, memory: 128M }',
    '  db:',
    '    image: y',
    'volumes:',
    '  data: {}'
  ].join('\n'))

  assert.equal(stack.services.map(s => s.container.name), ['web', 'db'], 'container_name does not rename')
  assert.equal(stack.services[0].container.resources.memory, 128)
  assert.equal(stack.warnings, [
    'stack.yml: version: ignored: obsolete, as in Compose',
    'stack.yml: volumes: ignored: containers get no volumes, so their data would be neither kept nor shared',
    'stack.yml: service "web", container_name: ignored: containers are named after their service',
    'stack.yml: service "web", labels: ignored: containers carry Caravela\'s own labels only',
    'stack.yml: service "web", depends_on: ignored: the services of a stack start together, in no set order',
    'stack.yml: service "web", healthcheck: ignored: no health checks are run',
    'stack.yml: service "web", deploy.resources.reservations: ignored: Caravela reserves what the limits ask for',
    'stack.yml: service "web", deploy.resources.limits.pids: ignored: the supplier sets its own pids limit',
    'stack.yml: service "web", restart: ignored: deploy.restart_policy is given'
  ])
  assert.equal(stack.services[0].container.restart, { name: 'on-failure' }, 'deploy.restart_policy wins over restart, as in Compose')
  assert.is(stack.services[1].container.restart, undefined, 'no policy: never re-placed')
})

Compose('restart: and deploy.restart_policy become the buyer\'s restart policy', () => {
  const policies = [
    ['restart: always'],
    ['restart: "on-failure:2"'],
    ['deploy: { restart_policy: { condition: on-failure, max_attempts: 5 } }'],
    ['deploy: { restart_policy: { condition: any } }'],
    ['deploy: { restart_policy: { max_attempts: 1 } }'],
    ['deploy: { restart_policy: { condition: none, max_attempts: 4 } }'],
    ['restart: "no"']
  ].map(lines => parse(composeWeb('image: x', ...lines)).services[0].container.restart)
  assert.equal(policies, [
    { name: 'always' }, { name: 'on-failure', maxRetries: 2 }, { name: 'on-failure', maxRetries: 5 }, { name: 'always' }, { name: 'always', maxRetries: 1 }, undefined, undefined
  ])

  const delayed = parse(composeWeb('image: x', 'deploy: { restart_policy: { condition: any, delay: 5s, window: 120s } }'))
  assert.equal(delayed.warnings.map(w => w.replace(/: ignored: .*/, '')), ['stack.yml: service "web", deploy.restart_policy.delay', 'stack.yml: service "web", deploy.restart_policy.window'])

  refused(composeWeb('image: x', 'restart: sometimes'), 'web', 'restart', /no, on-failure/)
  refused(composeWeb('image: x', 'deploy: { restart_policy: { condition: never } }'), 'web', 'deploy.restart_policy', /none, on-failure or any, got "never"/)
  refused(composeWeb('image: x', 'deploy: { restart_policy: { condition: 1 } }'), 'web', 'deploy.restart_policy.condition')
  refused(composeWeb('image: x', 'deploy: { restart_policy: { max_attempts: many } }'), 'web', 'deploy.restart_policy.max_attempts', /whole number/)
  refused(composeWeb('image: x', 'deploy: { restart_policy: { max_attempts: 1.5 } }'), 'web', 'deploy.restart_policy', /whole number/)
  refused(composeWeb('image: x', 'deploy: { restart_policy: { backoff: 3 } }'), 'web', 'deploy.restart_policy.backoff', /not a key/)
})

Compose('merge keys and anchors work within the alias limit', () => {
  const stack = parse([
    'x-limits: &limits',
    '  deploy: { resources: { limits: { cpus: 1, memory: 64M } } }',
    'services:',
    '  a: { <<: *limits, image: x }',
    '  b:',
    '    <<: *limits',
    '    image: y'
  ].join('\n'))
  assert.equal(stack.services.map(s => s.container.resources), [{ cpuClass: 0, cpus: 1, memory: 64 }, { cpuClass: 0, cpus: 1, memory: 64 }])
})

Compose.run()

const Hostile = suite('stack file: hostile YAML')

Hostile('an alias bomb is refused', () => {
  const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']

  for (let i = 1; i < 10; i++) {
    lines.push(`a${i}: &a${i} [${Array(10).fill(i === 1 ? '*a' : `*a${i - 1}`).join(', ')}]`)
  }

  const started = Date.now()
  const err = failure(lines.join('\n'))
  assert.match(err.message, /alias/i)
  assert.ok(Date.now() - started < 2_000, 'refused without expanding')
})

Hostile('a file over 1 MiB is refused before it is parsed', () => {
  const huge = `web: { image: x, args: ["${'a'.repeat(MAX_STACK_FILE_SIZE)}"] }`
  const err = failure(huge)
  assert.match(err.message, /larger than 1048576 bytes/)
  // multi-byte characters count as bytes
  assert.match(failure('# ' + 'é'.repeat(MAX_STACK_FILE_SIZE / 2)).message, /larger than/)
})

Hostile('duplicate keys are refused, at the top and within a service', () => {
  assert.match(failure('web: { image: x }\nweb: { image: y }').message, /^stack\.yml: Map keys must be unique at line 2, column 1$/)
  assert.match(failure('web:\n  image: x\n  image: y\n').message, /unique/)
  assert.match(failure(composeWeb('image: x', 'deploy: { resources: {}, resources: {} }')).message, /unique/)
})

Hostile('syntax errors, several documents, deep nesting and empty files are refused', () => {
  assert.match(failure('web: { image: x').message, /line 1/)
  assert.match(failure('a: { image: x }\n---\nb: { image: y }\n').message, /multiple documents/)
  assert.match(failure('a: ' + '['.repeat(100_000)).message, /^stack\.yml: /)
  assert.match(failure('').message, /empty/)
  assert.match(failure('# only a comment\n').message, /empty/)
  assert.match(failure('~').message, /empty/)
})

Hostile('wrong types anywhere give a StackFileError, never a crash', () => {
  for (const value of ['1', 'true', '[]', '{}', '[[]]', 'null', '"x"', '{ a: [{ b: c }] }', '2001-01-01', '0x10', '.inf']) {
    for (const key of ['image', 'command', 'ports', 'deploy', 'x-caravela', 'container_name']) {
      try {
        parse(key === 'image' ? composeWeb(`image: ${value}`) : composeWeb('image: x', `${key}: ${value}`))
      } catch (err: any) {
        assert.is(err.name, 'StackFileError', `${key}: ${value}: ${err.stack}`)
      }
    }
  }
})

Hostile('__proto__ and other odd service names are refused, and nothing is polluted', () => {
  refused('__proto__: { image: x }', '__proto__', undefined, /not a service name/)
  refused(composeWeb('image: x').replace('web', 'constructor') + '  __proto__: { image: y }\n', '__proto__', undefined)
  refused('"-web": { image: x }', '-web', undefined)
  refused('"1": { image: x, ports: { polluted: true } }', '1', 'ports')
  assert.is(({} as any).polluted, undefined)
  assert.is(({} as any).image, undefined)
})

Hostile('unknown tags become warnings, not code', () => {
  const stack = parse('web: { image: !!js/function "x", args: !shell [ls] }')
  assert.equal(stack.services[0].container.image, 'x')
  assert.is(stack.warnings.length, 2)
  assert.match(stack.warnings[0], /^stack\.yml: Unresolved tag: tag:yaml\.org,2002:js\/function at line 1/)
})

Hostile(`at most ${MAX_SERVICES} services`, () => {
  const services = (n: number): string => Array.from({ length: n }, (_, i) => `s${i}: { image: x }`).join('\n')
  assert.is(parse(services(MAX_SERVICES)).services.length, MAX_SERVICES)
  refused(services(MAX_SERVICES + 1), undefined, undefined, /from 1 to 64 services, this one has 65/)
})

Hostile.run()

const Files = suite<{ dir: string }>('stack file: files', { dir: '' })

Files.before(async (ctx) => { ctx.dir = await mkdtemp(join(tmpdir(), 'caravela-stacks-')) })
Files.after(async (ctx) => { await rm(ctx.dir, { recursive: true, force: true }) })

Files('examples/stack.yml and examples/compose.yml parse without warnings', async () => {
  const original = await readStackFile(join(EXAMPLES, 'stack.yml'))
  assert.is(original.name, 'stack')
  assert.equal(original.warnings, [])
  assert.equal(original.services.map(s => [s.name, s.container.groupPolicy]), [['web', 'co-location'], ['cache', 'co-location'], ['worker', 'spread']])
  assert.equal(original.services[0].container.args, ['httpd', '-f', '-v', '-p', '80', '-h', '/var/www'])
  assert.equal(original.services[1].container.args, ['redis-server', '--save', '', '--maxmemory', '200mb'])

  const compose = await readStackFile(join(EXAMPLES, 'compose.yml'))
  assert.is(compose.name, 'shop')
  assert.equal(compose.warnings, [])
  assert.equal(compose.services.map(s => [s.name, s.container.groupPolicy, s.container.resources.cpus, s.container.resources.memory]), [
    ['web', 'co-location', 1, 256], ['api', 'co-location', 1, 128], ['worker', 'spread', 1, 128]
  ])
  assert.equal(compose.services[0].container.portMappings.map(p => `${p.hostPort}:${p.containerPort}`), ['8080:80', '8443:443'])
})

Files('a file that cannot be read, or is too large, is a StackFileError', async (ctx) => {
  const missing = join(ctx.dir, 'missing.yml')
  await readStackFile(missing).then(() => assert.unreachable(), (err: StackFileError) => {
    assert.is(err.name, 'StackFileError')
    assert.match(err.message, `${missing}: cannot read it: ENOENT`)
  })

  const big = join(ctx.dir, 'big.yml')
  await writeFile(big, '#'.repeat(MAX_STACK_FILE_SIZE + 10))
  await readStackFile(big).then(() => assert.unreachable(), (err: StackFileError) => { assert.match(err.message, /larger than/) })
  await readStackFile('/dev/zero').then(() => assert.unreachable(), (err: StackFileError) => { assert.match(err.message, /larger than/) })
  await readStackFile(ctx.dir).then(() => assert.unreachable(), (err: StackFileError) => { assert.match(err.message, /cannot read it/) })
})

Files.run()

const Ports = suite('port mappings')

Ports('host:container/protocol round-trips; out-of-range ports are refused', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.constantFrom('tcp', 'udp'), (host, port, protocol) => {
    assert.equal(parsePortMapping(`${host}:${port}/${protocol}`), { hostPort: host, containerPort: port, protocol })
  }))

  for (const text of ['', '80:', ':80', '65536', '0', '80/sctp', '80:80:80', 'a:80', '-1', '8080:80/tcp/udp', ' 80']) {
    assert.throws(() => parsePortMapping(text), (err: Error) => err.name === 'InvalidPortMappingError', text)
  }

  assert.throws(() => portMapping(1.5, 80, 'tcp'), (err: Error) => err.name === 'InvalidPortMappingError')
  assert.throws(() => portMapping(80, 80, 'icmp'), /tcp or udp/)
})

Ports.run()
