/**
 * A peer's metrics: traffic per protocol, lookups and their cost, placements and the messages
 * they took. `caravela node --json` shows them; the control API serves them in Prometheus text
 * format at `/metrics`.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createMetrics, PROTOCOL_NAMES } from './protocols/metrics.js'
import { PLACEMENT_STAGES } from './roles/stats.js'
import type { LookupCounters } from './overlay/kad-overlay.js'
import type { MessageCounters, ProtocolMetrics } from './protocols/metrics.js'
import type { ReputationStats } from './roles/reputation.js'
import type { Distribution, RoleStats } from './roles/stats.js'
import type { ContainerCheckStats } from './roles/user-manager.js'
import type { RuntimeHealthState } from './types.js'
import type { IntervalHistogram } from 'node:perf_hooks'

export interface PeerMetrics {
  /** per protocol, what this peer sent and received as a client and as a server */
  protocols: ProtocolMetrics
  lookups: LookupCounters
  requests: {
    placed: number
    failed: number
    /** placements that asked every peer of a small network, the traders' offers not being enough */
    askingEveryPeer: number
    /** messages this peer sent for one request: submission, lookup requests, get-offers, launches, rollbacks */
    messages: Distribution
    lookups: Distribution
    hops: Distribution
    /** where the time of a placed request went, in real ms, per stage (`RoleStats.stageMsPerRequest`) */
    stages: RoleStats['stageMsPerRequest']
    /** GetOffers answers the buyer took from its recent ones, and those it asked a trader for */
    offersCache: RoleStats['offersCache']
  }
  /** how late this process's event loop ran a timer, since the peer started or the last reset */
  eventLoopDelay?: EventLoopDelay
  /**
   * what the buyer remembers of suppliers that let it down: marks given per kind (launch refused,
   * failed, unanswered; container lost), offers passed over for them, suppliers remembered now
   */
  suppliers: ReputationStats
  /** whether the container engine answers, since when, and how many outages it had */
  runtime: RuntimeHealthState
  /**
   * the containers this peer placed by state (running, exited, lost, stopping), what the status
   * checks of their suppliers found, and the containers this peer as a supplier removed because
   * their buyer never claimed them
   */
  containers?: ContainerCheckStats & { unclaimedRemoved: number }
}

/** How late the event loop ran the monitor's timer, in ms. */
export interface EventLoopDelay {
  /** timers measured */
  count: number
  mean: number
  p50: number
  p99: number
  max: number
  /** when the measurement started (the peer's start or the last reset), ms since the epoch */
  since: number
}

/** Period of the monitor's timer, in ms: its delays are measured to about this resolution. */
const EVENT_LOOP_RESOLUTION = 10

/** The process's one histogram, shared by its peers (they share one loop), while one runs. */
const loop: { histogram?: IntervalHistogram, users: number, since: number } = { users: 0, since: Date.now() }

/**
 * The event loop's delay, as Node measures it (`monitorEventLoopDelay`): a timer every
 * `EVENT_LOOP_RESOLUTION` ms, and how much later than due it ran. Work that holds the loop (a
 * request's CPU, a synchronous write) delays every request waiting behind it by as much. The
 * peers of one process (tests, embeddings) share one timer and one histogram: a reset by one
 * restarts the measure for all.
 */
export class EventLoopMonitor {
  private running = false

  start (): void {
    if (this.running) {
      return
    }

    this.running = true

    if (loop.users++ === 0) {
      loop.histogram ??= monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION })
      loop.histogram.enable()
      this.reset()
    }
  }

  stop (): void {
    if (!this.running) {
      return
    }

    this.running = false

    if (--loop.users === 0) {
      loop.histogram?.disable()
    }
  }

  /** Start measuring afresh (a benchmark's phase). */
  reset (): void {
    loop.histogram?.reset()
    loop.since = Date.now()
  }

  /** The delays since the start or the last reset: the histogram's figures less the timer's own period. */
  read (): EventLoopDelay {
    const h = loop.histogram
    const ms = (ns: number): number => Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION)

    if (!this.running || h == null || h.count === 0) {
      return { count: 0, mean: 0, p50: 0, p99: 0, max: 0, since: loop.since }
    }

    return { count: h.count, mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), since: loop.since }
  }
}

/** Sum of two sets of protocol counters (a peer's client side and server side). */
export function addProtocolMetrics (a: ProtocolMetrics, b: ProtocolMetrics): ProtocolMetrics {
  const sum = createMetrics()

  for (const name of PROTOCOL_NAMES) {
    sum[name].messagesSent = a[name].messagesSent + b[name].messagesSent
    sum[name].messagesReceived = a[name].messagesReceived + b[name].messagesReceived
    sum[name].bytesSent = a[name].bytesSent + b[name].bytesSent
    sum[name].bytesReceived = a[name].bytesReceived + b[name].bytesReceived
  }

  sum.logStreams.opened = a.logStreams.opened + b.logStreams.opened
  sum.logStreams.refused = a.logStreams.refused + b.logStreams.refused
  return sum
}

/** The metrics in the Prometheus text exposition format (version 0.0.4). */
export function toPrometheus (metrics: PeerMetrics): string {
  const lines: string[] = []
  const family = (name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: Array<[labels: string, value: number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)

    for (const [labels, value] of samples) {
      lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`)
    }
  }
  const perProtocol = (field: keyof MessageCounters): Array<[string, number]> =>
    PROTOCOL_NAMES.map(name => [`{message="${name}"}`, metrics.protocols[name][field]])
  const summary = (name: string, help: string, d: Distribution): void => {
    family(name, 'summary', help, [['{quantile="0.5"}', d.p50], ['{quantile="0.99"}', d.p99]])
    lines.push(`${name}_sum ${d.sum}`, `${name}_count ${d.count}`)
  }

  family('caravela_messages_sent_total', 'counter', 'Protocol messages sent, requests and responses', perProtocol('messagesSent'))
  family('caravela_messages_received_total', 'counter', 'Protocol messages received, requests and responses', perProtocol('messagesReceived'))
  family('caravela_bytes_sent_total', 'counter', 'Protobuf bytes sent', perProtocol('bytesSent'))
  family('caravela_bytes_received_total', 'counter', 'Protobuf bytes received', perProtocol('bytesReceived'))
  family('caravela_log_streams_total', 'counter', 'containerLogs streams, as a supplier and as a buyer, by their answer', [
    ['{outcome="opened"}', metrics.protocols.logStreams.opened],
    ['{outcome="refused"}', metrics.protocols.logStreams.refused]
  ])
  family('caravela_lookups_total', 'counter', 'Overlay lookups by where they were answered', [
    ['{source="local"}', metrics.lookups.local],
    ['{source="network"}', metrics.lookups.network]
  ])
  family('caravela_lookup_rpcs_total', 'counter', 'FIND_NODE requests sent by overlay lookups', [['', metrics.lookups.rpcs]])
  family('caravela_lookup_hops_total', 'counter', 'Hops taken by overlay lookups', [['', metrics.lookups.hops]])
  family('caravela_lookups_missed_slice_total', 'counter', 'Lookups that found no peer of the target slice', [['', metrics.lookups.missedSlice]])
  family('caravela_requests_total', 'counter', 'Placement requests submitted at this peer by outcome', [
    ['{outcome="placed"}', metrics.requests.placed],
    ['{outcome="failed"}', metrics.requests.failed]
  ])
  family('caravela_placements_asking_every_peer_total', 'counter', 'Placements that asked every peer of a small network, the traders\' offers not being enough', [['', metrics.requests.askingEveryPeer]])
  summary('caravela_request_messages', 'Messages sent for one placement request', metrics.requests.messages)
  summary('caravela_request_lookups', 'Overlay lookups made for one placement request', metrics.requests.lookups)
  summary('caravela_request_hops', 'Overlay hops taken for one placement request', metrics.requests.hops)
  const stages = metrics.requests.stages
  family('caravela_placement_stage_ms', 'summary', 'Real time a placed request spent per stage: lookups, get-offers, launches, the ledger record, the whole request', PLACEMENT_STAGES.flatMap(stage => [
    [`{stage="${stage}",quantile="0.5"}`, stages[stage].p50],
    [`{stage="${stage}",quantile="0.99"}`, stages[stage].p99]
  ]))
  lines.push(...PLACEMENT_STAGES.flatMap(stage => [`caravela_placement_stage_ms_sum{stage="${stage}"} ${stages[stage].sum}`, `caravela_placement_stage_ms_count{stage="${stage}"} ${stages[stage].count}`]))
  family('caravela_offers_cache_total', 'counter', 'GetOffers answers the buyer took from its recent ones (hit) or asked a trader for (miss)', [
    ['{outcome="hit"}', metrics.requests.offersCache.hits],
    ['{outcome="miss"}', metrics.requests.offersCache.misses]
  ])
  family('caravela_supplier_marks_total', 'counter', 'Marks the buyer gave suppliers: launches refused, failed or unanswered, containers lost', Object.entries(metrics.suppliers.marks).map(([kind, n]) => [`{kind="${kind}"}`, n]))
  family('caravela_suppliers_passed_over_total', 'counter', 'Suppliers a placement did not try, for their recent marks', [['', metrics.suppliers.skipped]])
  family('caravela_suppliers_marked', 'gauge', 'Suppliers with marks the buyer remembers', [['', metrics.suppliers.remembered]])
  const loop = metrics.eventLoopDelay

  if (loop != null) {
    family('caravela_event_loop_delay_ms', 'summary', 'How late the event loop ran a timer, since the peer started or the last reset', [['{quantile="0.5"}', loop.p50], ['{quantile="0.99"}', loop.p99], ['{quantile="1"}', loop.max]])
    lines.push(`caravela_event_loop_delay_ms_count ${loop.count}`)
  }

  family('caravela_runtime_up', 'gauge', 'Whether the container engine answers (1) or not (0): while it does not, the peer offers nothing', [['', metrics.runtime.state === 'ok' ? 1 : 0]])
  family('caravela_runtime_state_since_seconds', 'gauge', 'When the container engine entered its current state, seconds since the epoch', [['', Math.floor(metrics.runtime.since / 1000)]])
  family('caravela_runtime_outages_total', 'counter', 'Times the container engine was found not answering', [['', metrics.runtime.outages]])

  const c = metrics.containers

  if (c != null) {
    family('caravela_placed_containers', 'gauge', 'Containers this peer placed, by the state its status checks found', ['running', 'exited', 'lost', 'stopping'].map(state => [`{state="${state}"}`, c.byState[state] ?? 0]))
    family('caravela_status_checks_total', 'counter', 'Status checks of the suppliers of placed containers, by outcome', [['{outcome="answered"}', c.checks - c.unanswered], ['{outcome="unanswered"}', c.unanswered]])
    family('caravela_suppliers_lost_total', 'counter', 'Suppliers taken for lost after missing their status checks', [['', c.suppliersLost]])
    family('caravela_lost_detection_ms', 'gauge', 'Time from a lost supplier\'s last answer to its containers shown lost, total and largest', [['{stat="sum"}', c.lostDetectionMsSum], ['{stat="max"}', c.lostDetectionMsMax]])
    family('caravela_stops_total', 'counter', 'Stops recorded while the supplier could not be reached, those carried out since, and those forgotten (--force)', [['{outcome="pending"}', c.stopsPending], ['{outcome="carried_out"}', c.stopsCarriedOut], ['{outcome="forgotten"}', c.stopsForgotten]])
    family('caravela_restarts_total', 'counter', 'Containers placed again for their restart policy, and re-placements that failed (tried again later)', [['{outcome="placed"}', c.restarts], ['{outcome="failed"}', c.restartsFailed]])
    family('caravela_unclaimed_containers_removed_total', 'counter', 'Containers this supplier removed because their buyer never claimed them', [['', c.unclaimedRemoved]])
  }

  return lines.join('\n') + '\n'
}
