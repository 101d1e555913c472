/**
 * What a simulator run leaves behind: `report.json` (everything), `summary.csv` (one row per
 * backend), `series.csv` (one row per backend and window), `peer-load.csv` (per-peer load
 * quantiles) and, with churn, `churn.csv` (one row per backend and tick), plus the summary table
 * printed on stdout.
 */

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BackendResult, SimReport } from './report-types.js'

/** Columns of `summary.csv`, in order. */
const SUMMARY_COLUMNS: Array<[string, (r: BackendResult) => number | string]> = [
  ['backend', r => r.backend],
  ['nodes', r => r.nodes],
  ['ticks', r => r.ticks],
  ['seed', r => r.seed],
  ['requests', r => r.requests],
  ['succeeded', r => r.succeeded],
  ['success_ratio', r => r.successRatio],
  ['messages_per_request_mean', r => r.messagesPerRequest.mean],
  ['messages_per_request_p50', r => r.messagesPerRequest.p50],
  ['messages_per_request_p95', r => r.messagesPerRequest.p95],
  ['messages_per_request_p99', r => r.messagesPerRequest.p99],
  ['lookups_per_request_mean', r => r.lookupsPerRequest.mean],
  ['hops_per_request_mean', r => r.hopsPerRequest.mean],
  ['allocation_efficiency', r => r.allocationEfficiency],
  ['peer_messages_median', r => r.peerMessagesReceived.p50],
  ['peer_messages_p99', r => r.peerMessagesReceived.p99],
  ['peer_messages_max', r => r.peerMessagesReceived.max],
  ['peer_bytes_median', r => r.peerBytesReceived.p50],
  ['peer_bytes_p99', r => r.peerBytesReceived.p99],
  ['peer_bytes_max', r => r.peerBytesReceived.max],
  ['busiest_peer_share', r => r.busiestPeerShare],
  ['total_messages', r => r.totalMessages],
  ['total_bytes', r => r.totalBytes],
  ['wall_time_s', r => r.wallTimeMs / 1000],
  ['start_up_s', r => r.startUpMs / 1000],
  ['peak_rss_mb', r => r.peakRssBytes / 2 ** 20],
  ['joined', r => r.churn?.joined ?? 0],
  ['left', r => r.churn?.left ?? 0],
  ['crashed', r => r.churn?.crashed ?? 0],
  ['containers_lost', r => r.churn?.containersLost ?? 0],
  ['containers_left', r => r.churn?.containersLeft ?? 0],
  ['containers_orphaned', r => r.churn?.containersOrphaned ?? 0],
  ['requests_abandoned', r => r.churn?.requestsAbandoned ?? 0],
  ['rescheduled', r => r.churn?.rescheduled ?? 0],
  ['live_peers_end', r => r.churn?.ticks.at(-1)?.livePeers ?? r.nodes]
]

/** Write the report's JSON and CSV files into `outDir`; returns their paths. */
export async function writeReport (report: SimReport, outDir: string): Promise<string[]> {
  const files: Array<[string, string]> = [
    ['report.json', JSON.stringify(report, null, 2) + '\n'],
    ['summary.csv', csv(SUMMARY_COLUMNS.map(([name]) => name), report.results.map(r => SUMMARY_COLUMNS.map(([, value]) => value(r))))],
    ['series.csv', csv(
      ['backend', 'tick', 'minutes', 'requests', 'succeeded', 'success_ratio', 'window_requests', 'used_resource_ratio', 'messages_per_request', 'live_peers'],
      report.results.flatMap(r => r.series.map(p => [r.backend, p.tick, p.minutes, p.requests, p.succeeded, p.successRatio, p.windowRequests, p.usedResourceRatio, p.messagesPerRequest, p.livePeers]))
    )],
    ['peer-load.csv', csv(
      ['backend', 'quantile', 'messages_received', 'bytes_received'],
      report.results.flatMap(r => r.peerLoadQuantiles.map(p => [r.backend, p.q, p.messages, p.bytes]))
    )]
  ]

  if (hasChurn(report.results)) {
    files.push(['churn.csv', csv(
      ['backend', 'tick', 'live_peers', 'requests', 'succeeded'],
      report.results.flatMap(r => (r.churn?.ticks ?? []).map(t => [r.backend, t.tick, t.livePeers, t.requests, t.succeeded]))
    )])
  }

  return Promise.all(files.map(async ([name, text]) => {
    const path = join(outDir, name)
    await writeFile(path, text)
    return path
  }))
}

/** Whether any backend's run had churn. */
export function hasChurn (results: BackendResult[]): boolean {
  return results.some(r => r.churn != null)
}

/** The summary table: one row per backend; with churn, what it did too. */
export function summaryTable (results: BackendResult[]): string[][] {
  const churn = hasChurn(results)

  return [
    ['backend', 'requests', 'success', 'msgs/req mean/p50/p99', 'lookups/req', 'hops/req', 'alloc. eff.', 'peer msgs median/p99/max', 'busiest share', 'wall', 'peak RSS',
      ...(churn ? ['joined/left/crashed', 'containers lost/left/orphaned', 'rescheduled'] : [])],
    ...results.map(r => [
      r.backend,
      String(r.requests),
      r.successRatio.toFixed(3),
      `${r.messagesPerRequest.mean.toFixed(1)} / ${r.messagesPerRequest.p50} / ${r.messagesPerRequest.p99}`,
      r.lookupsPerRequest.mean.toFixed(2),
      r.hopsPerRequest.mean.toFixed(2),
      r.allocationEfficiency.toFixed(3),
      `${r.peerMessagesReceived.p50} / ${r.peerMessagesReceived.p99} / ${r.peerMessagesReceived.max}`,
      `${(100 * r.busiestPeerShare).toFixed(2)} %`,
      `${(r.wallTimeMs / 1000).toFixed(1)} s`,
      `${Math.round(r.peakRssBytes / 2 ** 20)} MB`,
      ...(churn
        ? [
            `${r.churn?.joined ?? 0} / ${r.churn?.left ?? 0} / ${r.churn?.crashed ?? 0}`,
            `${r.churn?.containersLost ?? 0} / ${r.churn?.containersLeft ?? 0} / ${r.churn?.containersOrphaned ?? 0}`,
            String(r.churn?.rescheduled ?? 0)
          ]
        : [])
    ])
  ]
}

function csv (header: string[], rows: Array<Array<number | string>>): string {
  return [header, ...rows].map(row => row.map(cell => typeof cell === 'number' ? formatNumber(cell) : quote(cell)).join(',')).join('\n') + '\n'
}

function formatNumber (n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)))
}

function quote (text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}
