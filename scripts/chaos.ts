/**
 * `npm run chaos`: a testnet of peer processes under a steady stream of placements, with peers
 * SIGKILLed mid-stream and some started again; every live buyer's view is then compared with what
 * the suppliers really run (`scripts/chaos-lib.ts` says what each figure counts).
 *
 * Flags: --peers N (12), --kill K (4), --restart R (2), --runtime memory|docker (memory),
 * --duration S (60), --rate R placements per second (2), --settle S (45), --config FILE,
 * --seed N (1), --json.
 */

import { runChaos } from './chaos-lib.js'
import { parseScriptArgs } from './script-args.js'

const { values } = parseScriptArgs('chaos', {
  options: {
    peers: { type: 'string', default: '12' },
    kill: { type: 'string', default: '4' },
    restart: { type: 'string', default: '2' },
    runtime: { type: 'string', default: 'memory' },
    duration: { type: 'string', default: '60' },
    rate: { type: 'string', default: '2' },
    settle: { type: 'string', default: '45' },
    config: { type: 'string' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})

const numbers = Object.fromEntries(['peers', 'kill', 'restart', 'duration', 'rate', 'settle', 'seed'].map(name => [name, Number(values[name as keyof typeof values])]))

for (const [name, value] of Object.entries(numbers)) {
  if (!Number.isFinite(value) || value < 0 || (name === 'peers' && value < 2) || (name === 'rate' && value <= 0)) {
    console.error(`chaos: --${name} must be a number${name === 'peers' ? ' ≥ 2' : name === 'rate' ? ' > 0' : ' ≥ 0'}`)
    process.exit(2)
  }
}

if (values.runtime !== 'memory' && values.runtime !== 'docker') {
  console.error('chaos: --runtime must be memory or docker')
  process.exit(2)
}

try {
  const result = await runChaos({
    peers: numbers.peers,
    kill: numbers.kill,
    restart: numbers.restart,
    runtime: values.runtime,
    duration: numbers.duration,
    rate: numbers.rate,
    settle: numbers.settle,
    seed: numbers.seed,
    ...(values.config == null ? {} : { configFile: values.config }),
    log: line => { if (!values.json) console.error(line) }
  })

  if (values.json) {
    console.info(JSON.stringify(result, null, 2))
  } else {
    const ms = (value: number | null): string => value == null ? '-' : `${(value / 1000).toFixed(1)} s`
    console.info(`${result.peers} peers, killed ${result.killed.join(', ')}, restarted ${result.restarted.join(', ') || 'none'}`)
    console.info(`placed ${result.placed}, failed ${result.failed}, lost ${result.lost} (detected p50 ${ms(result.lostDetectedMs.p50)}, p99 ${ms(result.lostDetectedMs.p99)}, ${result.lostDetectedMs.undetected} never), rescheduled ${result.rescheduled}`)
    console.info(`restart always: ${result.always.runningAgain} of ${result.always.lost} lost run again`)
    console.info(`duplicated ${result.duplicated}, orphaned ${result.orphaned}, wrong states ${result.wrongState}`)
    result.examples.forEach(line => { console.info(`  ${line}`) })
  }
} catch (err: any) {
  console.error(`chaos: ${err.message ?? err}`)
  process.exit(1)
}
