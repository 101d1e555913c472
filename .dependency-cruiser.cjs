/**
 * The layers of src/, checked by dependency-cruiser (`npm run check:layers`).
 *
 * Top to bottom; a module imports from its own unit and from the layers below it, never from a
 * layer above nor from another unit of its own layer. Type-only imports count like any other: a
 * type taken from above is a dependency on what is above.
 *
 *   8  cli           the commands: caravela, the daemon, the simulator's; the only code that
 *                    talks to the terminal or exits the process
 *   7  api           the local control API, server and client
 *   6  node-service  node.ts, service.ts, index.ts (the package's entry point), metrics.ts,
 *                  network-key.ts and mdns.ts (LAN discovery)
 *                    (a peer's metrics, gathered from the overlay, the protocols and the roles)
 *      sim           the simulator: the roles over a simulated overlay and transport; only cli
 *                    imports it (tests and scripts live outside src/ and are not checked)
 *   5  roles         supplier, trader, buyer, containers and user managers
 *   4  stacks        stack files; they read memory sizes as the configuration does and check
 *                    the protocol's limits
 *   3  config        configuration: defaults, TOML, validation, which builds a resource map to
 *                    check that the partition tree fits the grid
 *      overlay       Overlay over kad-dht, which places peers and keys on the resource map
 *   2  resources     the resource map and the partition tree it is built from
 *      protocols     the wire: codecs, handlers, the libp2p server and client
 *      store         the datastore the roles persist to
 *      runtime       container runtimes: Docker, memory, none
 *   1  base          types.ts (the contract), errors.ts, constants.ts, clock.ts, empty.ts, tunnel.ts,
 *                    lazy-map.ts, lru.ts, copy.ts
 *
 * Besides: no import cycles at all; nothing but cli imports the simulator; the roles know the
 * overlay, the other peers and the runtime only as the interfaces of types.ts; a runtime does not
 * import another runtime, nor a command another command; a new module of src/ gets a place in
 * LAYERS before anything imports it.
 */

/** Bottom to top: each layer maps its units to the paths they own. */
const LAYERS = [
  { base: ['^src/(types|errors|constants|clock|empty|copy|lazy-map|lru|image-ref|tunnel)\\.ts$'] },
  {
    resources: ['^src/resources/'],
    protocols: ['^src/protocols/'],
    store: ['^src/store/'],
    runtime: ['^src/runtime/']
  },
  { config: ['^src/config/'], overlay: ['^src/overlay/'] },
  { stacks: ['^src/stacks/'] },
  { roles: ['^src/roles/'] },
  { 'node-service': ['^src/(node|service|index|metrics|network-key|mdns|nat)\\.ts$'], sim: ['^src/sim/'] },
  { api: ['^src/api/'] },
  { cli: ['^src/cli/'] }
]

/** One rule per unit: it may reach its own paths and those of the layers below, nothing else in src/. */
function layerRules () {
  const rules = []
  let below = []
  let belowNames = []

  for (const layer of LAYERS) {
    for (const [unit, paths] of Object.entries(layer)) {
      rules.push({
        name: `layer-${unit}`,
        severity: 'error',
        comment: belowNames.length === 0
          ? `${unit} is the bottom layer: it imports nothing else from src/`
          : `${unit} may import only from ${unit} and the layers below: ${belowNames.join(', ')}`,
        from: { path: paths },
        to: { path: '^src/', pathNot: [...paths, ...below] }
      })
    }

    below = [...below, ...Object.values(layer).flat()]
    belowNames = [...belowNames, ...Object.keys(layer)]
  }

  return rules
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'an import cycle: move what both sides need to a module of its own that both import',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'sim-only-from-cli',
      severity: 'error',
      comment: 'only the cli imports the simulator',
      from: { path: '^src/', pathNot: '^src/(cli|sim)/' },
      to: { path: '^src/sim/' }
    },
    {
      name: 'roles-know-interfaces',
      severity: 'error',
      comment: 'the roles know the overlay, the other peers and the runtime only as interfaces of types.ts',
      from: { path: '^src/roles/' },
      to: { path: ['^src/overlay/', '^src/runtime/', '^src/protocols/(server|client)\\.ts$'] }
    },
    {
      name: 'runtimes-apart',
      severity: 'error',
      comment: 'a runtime does not import another: what they share goes in a module of its own',
      from: { path: '^src/runtime/[^/]+-runtime\\.ts$' },
      to: { path: '^src/runtime/[^/]+-runtime\\.ts$' }
    },
    {
      name: 'commands-apart',
      severity: 'error',
      comment: 'a command does not import another: what they share goes in cli/shared.ts',
      from: { path: '^src/cli/(caravela|daemon|sim)\\.ts$' },
      to: { path: '^src/cli/(caravela|daemon|sim)\\.ts$' }
    },
    {
      name: 'unplaced-module',
      severity: 'error',
      comment: 'this module is in no layer: give it a place in LAYERS of .dependency-cruiser.cjs',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: LAYERS.flatMap(layer => Object.values(layer).flat()) }
    },
    {
      name: 'unresolvable',
      severity: 'error',
      comment: 'an import that does not resolve to a file cannot be checked',
      from: { path: '^src/' },
      to: { couldNotResolve: true }
    },
    ...layerRules()
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports are dependencies too
    tsPreCompilationDeps: true,
    // `.js` specifiers resolve to the `.ts` sources, as tsc resolves them
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js'],
      // the packages are ES modules: resolve them as Node resolves an import
      conditionNames: ['import', 'types', 'node', 'default'],
      exportsFields: ['exports']
    }
  }
}
