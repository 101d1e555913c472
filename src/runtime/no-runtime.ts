/**
 * The runtime of a peer that runs no containers: it has no capacity, so its supplier never
 * offers, and it refuses every launch. The peer still trades and places containers elsewhere.
 */

import type { ContainerRuntime } from '../types.js'

export class NoRuntimeError extends Error {
  static override name = 'NoRuntimeError'

  constructor (message = 'This peer runs no containers: start it with a container runtime') {
    super(message)
    this.name = 'NoRuntimeError'
  }
}

export const NO_RUNTIME: ContainerRuntime = {
  async getCpuAndRam () {
    return { cpus: 0, memory: 0 }
  },
  async checkContainerStatus () {
    throw new NoRuntimeError()
  },
  async runContainer () {
    throw new NoRuntimeError()
  },
  async removeContainer () {
    throw new NoRuntimeError()
  },
  async * logs () {
    throw new NoRuntimeError()
  }
}
