/**
 * Drops peers that left from the DHT routing table within seconds.
 *
 * kad-dht 16 removes a peer from its routing table only when a full bucket at the deepest level
 * needs room and the peer fails a ping. It does not act on a closed connection, nor on a peer
 * that stops serving the DHT protocol: in a network of a few hundred peers no bucket fills, and a
 * peer that stopped or crashed stayed in every table until those peers restarted. Lookups then
 * walked towards it, and `caravela peers` listed it.
 *
 * `DepartureWatch` removes a routing-table peer as soon as it is known not to serve the DHT:
 * - when its last connection to us closes (it stopped, it crashed and its system closed the
 *   sockets, the connection monitor gave up on it, or someone pruned the connection: libp2p does
 *   not say who closed a connection cleanly), it is checked at once: a DHT stream is opened to
 *   it, and when that fails (no connection, or the protocol is no longer served) it is removed;
 * - when identify (or an identify push) says it no longer lists the DHT protocol (it switched to
 *   client mode), it is removed at once;
 * - every `SWEEP_INTERVAL`, a few table peers we hold no connection to, least recently checked
 *   first, are checked the same way, so that a peer whose connection was pruned does not stay
 *   for ever once it vanishes.
 *
 * A failed check removes the peer at once when it proves the peer gone (the connection was
 * refused, or the peer answered without the DHT protocol). A timeout or an unreachable network
 * may be our own network's fault: the peer is checked again `SUSPECT_RECHECK` later (`MIN_RECHECK`
 * after a connection reset, which a host that is up sends, often while its peer stops) and removed
 * at that second failure only while we still hold a connection to some other peer, so that a
 * peer cut off from the network does not empty its own table.
 *
 * A check that succeeds keeps its connection, as kad-dht's own pings do. Near the connection
 * limit (`ROOM_FOR_CHECKS`) closed connections are taken to be the connection manager's pruning
 * and left to the sweep, so that checks do not undo it. A peer that answered a check is checked
 * again no sooner than `MIN_RECHECK` later, and that spacing doubles (up to `MAX_RECHECK`) each
 * time it answers again within twice the spacing: a peer that keeps hanging up on us costs ever
 * fewer dials, while one that answered once, long ago, is checked at once when it goes. Checks
 * run `CHECK_CONCURRENCY` at a time.
 */

import type { KadInternals } from './kad-internals.js'
import type { ComponentLogger, Connection, IdentifyResult, Libp2pEvents, Logger, PeerId, PeerUpdate, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** Time a check has to connect to a peer and open a DHT stream. */
export const CHECK_TIMEOUT = 5_000
/** Checks in flight at once (many peers may hang up together, e.g. when our network drops). */
export const CHECK_CONCURRENCY = 8
/** A peer that answered a check is not checked again sooner than this... */
export const MIN_RECHECK = 1_000
/** ...nor, when it keeps being checked, than this. */
export const MAX_RECHECK = 300_000
/** A peer whose check timed out (or found no route) is checked again this much later. */
export const SUSPECT_RECHECK = 10_000
/** How often table peers we hold no connection to are checked, a few at a time. */
export const SWEEP_INTERVAL = 60_000
/** Unconnected table peers checked per sweep. */
export const SWEEP_BATCH = 16
/** A closed connection is checked only while fewer connections than this share of the limit are open. */
export const ROOM_FOR_CHECKS = 0.9

export interface DepartureWatchComponents {
  peerId: PeerId
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface DepartureWatchInit {
  /** @default CHECK_TIMEOUT */
  checkTimeout?: number
  /** @default SUSPECT_RECHECK */
  suspectRecheck?: number
  /** @default SWEEP_INTERVAL */
  sweepInterval?: number
}

/** Counts since start, for tests and metrics. */
export interface DepartureCounters {
  /** checks made (a DHT stream opened or tried) */
  checks: number
  /** peers removed because a check failed (unreachable, or the DHT protocol refused) */
  removedUnreachable: number
  /** peers removed because they no longer list the DHT protocol */
  removedNotServing: number
}

export class DepartureWatch {
  private readonly components: DepartureWatchComponents
  private readonly kad: KadInternals
  private readonly log: Logger
  private readonly checkTimeout: number
  private readonly suspectRecheck: number
  private readonly sweepInterval: number
  private running = false
  private shutdown = new AbortController()
  /** when each table peer last answered a check */
  private readonly confirmed = new Map<string, { at: number, spacing: number }>()
  /** peers waiting for a check, in order, and the checks running */
  private readonly queue = new Map<string, PeerId>()
  private readonly inFlight = new Set<string>()
  /** checks deferred until a peer's recheck interval ends */
  private readonly deferred = new Map<string, ReturnType<typeof setTimeout>>()
  /** peers whose last check failed inconclusively (timed out, network unreachable) */
  private readonly suspects = new Set<string>()
  private sweepTimer?: ReturnType<typeof setInterval>
  readonly counters: DepartureCounters = { checks: 0, removedUnreachable: 0, removedNotServing: 0 }

  constructor (components: DepartureWatchComponents, kad: KadInternals, init: DepartureWatchInit = {}) {
    this.components = components
    this.kad = kad
    this.log = components.logger.forComponent('caravela:overlay:departures')
    this.checkTimeout = init.checkTimeout ?? CHECK_TIMEOUT
    this.suspectRecheck = init.suspectRecheck ?? SUSPECT_RECHECK
    this.sweepInterval = init.sweepInterval ?? SWEEP_INTERVAL
  }

  start (): void {
    if (this.running) {
      return
    }

    this.running = true
    this.shutdown = new AbortController()
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('peer:update', this.onPeerUpdate)
    this.components.connectionManager.getConnections().forEach(connection => { this.watchConnection(connection) })
    this.sweepTimer = setInterval(() => { this.sweep() }, this.sweepInterval)
    this.sweepTimer.unref?.()
  }

  /** Stop watching, and abandon the checks under way (they remove nobody). */
  stop (): void {
    if (!this.running) {
      return
    }

    this.running = false
    this.shutdown.abort()
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('peer:update', this.onPeerUpdate)
    clearInterval(this.sweepTimer)
    this.deferred.forEach(timer => { clearTimeout(timer) })
    this.deferred.clear()
    this.queue.clear()
    this.suspects.clear()
  }

  private readonly onConnectionOpen = (event: CustomEvent<Connection>): void => {
    this.watchConnection(event.detail)
  }

  private watchConnection (connection: Connection): void {
    connection.addEventListener('close', () => { this.connectionClosed(connection) }, { once: true })
  }

  /**
   * A connection closed: when it was the last one to its peer, the peer may be gone. Near the
   * connection limit the close is most likely the connection manager's pruning: the sweep sees to
   * the peer then.
   */
  private connectionClosed (connection: Connection): void {
    if (!this.running) {
      return
    }

    const { connectionManager } = this.components
    const peerId = connection.remotePeer
    const others = connectionManager.getConnections(peerId).filter(c => c !== connection && c.status === 'open')

    if (others.length === 0 && connectionManager.getConnections().length < ROOM_FOR_CHECKS * connectionManager.getMaxConnections()) {
      this.request(peerId)
    }
  }

  /** Identify (or an identify push) says what the peer serves: one not serving the DHT leaves the table. */
  private readonly onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    if (!event.detail.protocols.includes(this.kad.protocol)) {
      this.removeIfHeld(event.detail.peerId, 'it no longer serves the DHT')
    }
  }

  private readonly onPeerUpdate = (event: CustomEvent<PeerUpdate>): void => {
    const { peer, previous } = event.detail

    // only a change says something: a peer the store knows nothing about yet lists no protocol
    if (previous?.protocols.includes(this.kad.protocol) === true && !peer.protocols.includes(this.kad.protocol)) {
      this.removeIfHeld(peer.id, 'it no longer serves the DHT')
    }
  }

  private removeIfHeld (peerId: PeerId, why: string): void {
    if (!this.running || peerId.equals(this.components.peerId)) {
      return
    }

    void (async () => {
      if (await this.kad.hasPeer(peerId)) {
        await this.kad.removePeer(peerId)
        this.counters.removedNotServing++
        this.log('removed %p from the routing table: %s', peerId, why)
      }
    })().catch(err => {
      this.log.error('could not remove %p from the routing table - %e', peerId, err)
    })
  }

  /** Check `peerId` now, or when its recheck interval ends if it answered a check lately. */
  private request (peerId: PeerId): void {
    const id = peerId.toString()

    if (!this.running || this.queue.has(id) || this.inFlight.has(id) || this.deferred.has(id)) {
      return
    }

    const last = this.confirmed.get(id)
    const wait = last == null ? 0 : last.at + last.spacing - Date.now()

    if (wait > 0) {
      this.later(peerId, wait)
      return
    }

    this.queue.set(id, peerId)
    this.next()
  }

  /** Check `peerId` in `ms` milliseconds. */
  private later (peerId: PeerId, ms: number): void {
    const id = peerId.toString()

    if (!this.running || this.deferred.has(id)) {
      return
    }

    const timer = setTimeout(() => {
      this.deferred.delete(id)
      this.request(peerId)
    }, ms)
    timer.unref?.()
    this.deferred.set(id, timer)
  }

  private next (): void {
    while (this.running && this.inFlight.size < CHECK_CONCURRENCY && this.queue.size > 0) {
      const [id, peerId] = this.queue.entries().next().value as [string, PeerId]
      this.queue.delete(id)
      this.inFlight.add(id)

      void this.check(peerId)
        .catch(err => { this.log.error('checking %p failed - %e', peerId, err) })
        .finally(() => {
          this.inFlight.delete(id)
          this.next()
        })
    }
  }

  /**
   * Open a DHT stream to a routing-table peer: when none can be opened (no connection, or the
   * peer no longer serves the protocol) the peer leaves the table.
   */
  private async check (peerId: PeerId): Promise<void> {
    if (!(await this.kad.hasPeer(peerId))) {
      return
    }

    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.checkTimeout)])
    let failure: Error | undefined

    this.counters.checks++

    try {
      const connection = await this.components.connectionManager.openConnection(peerId, { signal })
      const stream = await connection.newStream(this.kad.protocol, { signal })
      // an empty request ends the stream: the peer's DHT handler reads no message
      await stream.close({ signal }).catch((err: Error) => { stream.abort(err) })
    } catch (err: any) {
      failure = err
    }

    if (this.shutdown.signal.aborted) {
      return
    }

    const id = peerId.toString()

    if (failure == null) {
      const now = Date.now()
      const last = this.confirmed.get(id)
      const spacing = last != null && now - last.at < 2 * last.spacing ? Math.min(2 * last.spacing, MAX_RECHECK) : MIN_RECHECK
      this.confirmed.set(id, { at: now, spacing })
      this.suspects.delete(id)
      return
    }

    this.confirmed.delete(id)

    // a timeout or an unreachable network may be our own fault: such a peer is removed at the
    // second failed check, a recheck interval later, and only while we still reach other peers
    if (!isConclusive(failure)) {
      const online = this.components.connectionManager.getConnections().some(c => c.status === 'open' && !c.remotePeer.equals(peerId))

      if (!this.suspects.has(id)) {
        // a reset comes from a host that is up (often a peer in the middle of stopping): soon
        const delay = isReset(failure) ? MIN_RECHECK : this.suspectRecheck
        this.suspects.add(id)
        this.later(peerId, delay)
        this.log('%p did not answer a check, checking again in %d ms - %e', peerId, delay, failure)
        return
      }

      if (!online) {
        this.log('%p did not answer a check again, but no other peer is connected either: kept - %e', peerId, failure)
        return
      }
    }

    this.suspects.delete(id)

    if (await this.kad.hasPeer(peerId)) {
      await this.kad.removePeer(peerId)
      this.counters.removedUnreachable++
      this.log('removed %p from the routing table: no DHT stream could be opened - %e', peerId, failure)
    }
  }

  /** Check a few table peers we hold no connection to, least recently confirmed first. */
  private sweep (): void {
    const held = new Set<string>()
    const stale: Array<{ peerId: PeerId, at: number }> = []

    for (const { peerId } of this.kad.tablePeers()) {
      const id = peerId.toString()
      held.add(id)

      // a connection that closes is noticed when it does
      if (this.components.connectionManager.getConnections(peerId).length === 0) {
        stale.push({ peerId, at: this.confirmed.get(id)?.at ?? 0 })
      }
    }

    // forget peers that left the table
    for (const id of [...this.confirmed.keys(), ...this.suspects]) {
      if (!held.has(id)) {
        this.confirmed.delete(id)
        this.suspects.delete(id)
      }
    }

    stale.sort((a, b) => a.at - b.at).slice(0, SWEEP_BATCH).forEach(({ peerId }) => { this.request(peerId) })
  }
}

/** Whether a failed check met a connection reset: the peer's host answered, but dropped it. */
export function isReset (err: unknown, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 4) {
    return false
  }

  const { code, message, errors, cause } = err as { code?: unknown, message?: unknown, errors?: unknown, cause?: unknown }

  // libp2p's encryption errors keep only the message of the socket error
  if (code === 'ECONNRESET' || code === 'EPIPE' || (typeof message === 'string' && /\b(ECONNRESET|EPIPE)\b/.test(message))) {
    return true
  }

  if (Array.isArray(errors) && errors.length > 0) {
    return errors.some(e => isReset(e, depth + 1))
  }

  return isReset(cause, depth + 1)
}

/**
 * Whether a failed check proves the peer gone: its host refused the connection (nothing listens
 * on its port any more), or the peer answered and no longer serves the DHT protocol. A timeout
 * or an unreachable network does not: the fault may be on our side.
 */
export function isConclusive (err: unknown, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 4) {
    return false
  }

  const { code, name, errors, cause } = err as { code?: unknown, name?: unknown, errors?: unknown, cause?: unknown }

  if (code === 'ECONNREFUSED' || name === 'UnsupportedProtocolError') {
    return true
  }

  // every address refused: each of a dial's errors must prove it
  if (Array.isArray(errors) && errors.length > 0) {
    return errors.every(e => isConclusive(e, depth + 1))
  }

  return isConclusive(cause, depth + 1)
}
