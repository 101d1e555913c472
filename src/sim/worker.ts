/**
 * A worker thread that simulates one backend (`simulate`) and posts its result back: the
 * command line runs the backends of a scenario in parallel, one thread per core. Each run is a
 * function of the seed alone, so running them side by side changes no figure but the wall time.
 */

import { parentPort, workerData } from 'node:worker_threads'
import { loadScenario } from './scenario.js'
import { simulate } from './simulator.js'
import type { DiscoveryBackend } from '../config/types.js'

/** What the command line asks of a worker. */
export interface SimWorkerData {
  scenarioPath: string
  backend: DiscoveryBackend
  nodes?: number
  ticks?: number
  seed?: number
}

const data = workerData as SimWorkerData
const scenario = await loadScenario(data.scenarioPath)
const result = await simulate({
  scenario,
  backend: data.backend,
  nodes: data.nodes,
  ticks: data.ticks,
  seed: data.seed,
  onTick: (tick, requests, succeeded) => { parentPort?.postMessage({ type: 'tick', tick, requests, succeeded }) }
})
parentPort?.postMessage({ type: 'result', result })
