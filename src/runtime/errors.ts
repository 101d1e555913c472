/**
 * What every container runtime throws, whichever engine it drives: the roles tell these apart by
 * name.
 */

/** The runtime has no container with this id (Docker answers 404). */
export class ContainerNotFoundError extends Error {
  static override name = 'ContainerNotFoundError'

  constructor (containerId: string) {
    super(`No such container: ${containerId}`)
    this.name = 'ContainerNotFoundError'
  }
}

/** Running the container would exceed the runtime's capacity, or a host port is taken. */
export class ContainerStartError extends Error {
  static override name = 'ContainerStartError'

  constructor (message: string) {
    super(message)
    this.name = 'ContainerStartError'
  }
}

/**
 * The engine does not answer (stopped, its socket gone): nothing was done. The roles take the
 * runtime to be unavailable on this error, as on Docker's `DockerUnavailableError`.
 */
export class RuntimeUnavailableError extends Error {
  static override name = 'RuntimeUnavailableError'

  constructor (message = 'The container engine does not answer') {
    super(message)
    this.name = 'RuntimeUnavailableError'
  }
}
