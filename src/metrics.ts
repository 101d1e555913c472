/**
 * A peer's metrics: traffic per protocol, lookups and their cost, placements and the messages
 * they took. `caravela node --json` shows them; the control API serves them in Prometheus text
 * format at `/metrics`.
 */

import { createMetrics, PROTOCOL_NAMES } from './protocols/metrics.js'
import type { LookupCounters } from './overlay/kad-overlay.js'
import type { MessageCounters, ProtocolMetrics } from './protocols/metrics.js'
import type { ReputationStats } from './roles/reputation.js'
import type { Distribution } from './roles/stats.js'
import type { ContainerCheckStats } from './roles/user-manager.js'
import type { RuntimeHealthState } from './types.js'

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
  }
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
  family('caravela_supplier_marks_total', 'counter', 'Marks the buyer gave suppliers: launches refused, failed or unanswered, containers lost', Object.entries(metrics.suppliers.marks).map(([kind, n]) => [`{kind="${kind}"}`, n]))
  family('caravela_suppliers_passed_over_total', 'counter', 'Suppliers a placement did not try, for their recent marks', [['', metrics.suppliers.skipped]])
  family('caravela_suppliers_marked', 'gauge', 'Suppliers with marks the buyer remembers', [['', metrics.suppliers.remembered]])
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
