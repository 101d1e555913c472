/**
 * Errors, one class per condition, matched by `name` (js-libp2p convention).
 */

/** A configuration value is invalid; `key` names the offending key (dotted path). */
export class InvalidConfigurationError extends Error {
  static override name = 'InvalidConfigurationError'
  readonly key: string

  constructor (key: string, message: string) {
    super(`${key}: ${message}`)
    this.name = 'InvalidConfigurationError'
    this.key = key
  }
}

/** The network we join computes a different resource map than we would. */
export class IncompatibleNetworkError extends Error {
  static override name = 'IncompatibleNetworkError'

  constructor (message = 'The network uses a different resource map') {
    super(message)
    this.name = 'IncompatibleNetworkError'
  }
}

/** A remote peer answered a request with a non-OK status. */
export class RemoteRequestError extends Error {
  static override name = 'RemoteRequestError'
  readonly status: string

  constructor (status: string, message = 'The remote peer refused the request') {
    super(message)
    this.name = 'RemoteRequestError'
    this.status = status
  }
}

/** No bootstrap peer could be reached. */
export class JoinFailedError extends Error {
  static override name = 'JoinFailedError'

  constructor (message = 'Could not reach any bootstrap peer') {
    super(message)
    this.name = 'JoinFailedError'
  }
}

/**
 * A call that needs a network (placing or stopping containers) came before the peer created or
 * joined one: the service's roles start only then.
 */
export class NotJoinedError extends Error {
  static override name = 'NotJoinedError'

  constructor (message = 'This peer is in no Caravela network yet: call create() or join() first') {
    super(message)
    this.name = 'NotJoinedError'
  }
}

/** A handler for this message exists in the protocol but has no logic behind it yet. */
export class NotImplementedError extends Error {
  static override name = 'NotImplementedError'

  constructor (message = 'Not implemented') {
    super(message)
    this.name = 'NotImplementedError'
  }
}

/** Another running peer holds this data directory's datastore. */
export class DataDirInUseError extends Error {
  static override name = 'DataDirInUseError'
  readonly dataDir: string

  constructor (dataDir: string) {
    super(`The data directory ${dataDir} is in use by another running peer: stop it or pass another --data-dir`)
    this.name = 'DataDirInUseError'
    this.dataDir = dataDir
  }
}

/**
 * A data directory, or a network key file, that other users of the machine may read or write: the
 * datastore holds the peer's private key, and the key file is the network's membership.
 */
export class UnsafePermissionsError extends Error {
  static override name = 'UnsafePermissionsError'
  readonly path: string

  constructor (path: string, mode: number, what: string, fix: string) {
    super(`${what} ${path} is open to other users of this machine (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run \`chmod ${fix} ${path}\``)
    this.name = 'UnsafePermissionsError'
    this.path = path
  }
}

/** A non-OK status of a Caravela response (`protocols/README.md`): what a request handler may answer. */
export type RequestStatus = 'INVALID_REQUEST' | 'NOT_FOUND' | 'REFUSED' | 'UNAVAILABLE' | 'RATE_LIMITED' | 'NOT_IMPLEMENTED' | 'INTERNAL_ERROR'

/**
 * Thrown by a request handler to answer with a status other than OK (for example `REFUSED` when a
 * refresh does not come from the offer's trader). The caller receives a `RemoteRequestError` with
 * the same status and message.
 */
export class ProtocolStatusError extends Error {
  static override name = 'ProtocolStatusError'
  readonly status: RequestStatus

  constructor (status: RequestStatus, message: string) {
    super(message)
    this.name = 'ProtocolStatusError'
    this.status = status
  }
}

/** A wire message failed to decode or to validate; `field` names the offending field (dotted path). */
export class MalformedMessageError extends Error {
  static override name = 'MalformedMessageError'
  readonly field: string

  constructor (field: string, reason: string) {
    super(`${field}: ${reason}`)
    this.name = 'MalformedMessageError'
    this.field = field
  }
}
