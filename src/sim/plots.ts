/**
 * The simulator's plots: PNG charts of a {@link SimReport} comparing the discovery
 * backends of one run.
 *
 * Each chart is a Vega-Lite spec, compiled to Vega, rendered headlessly to SVG by a Vega `View`
 * (`renderer: 'none'`) and rasterised to a 1200 px wide PNG by resvg. Every chart gives each
 * backend the same colour (the report's order of backends over the `tableau10` scheme) and a
 * legend, and its title says what it shows at how many nodes, with which seed.
 *
 * Counts that span orders of magnitude go on a symlog axis (log-like, but 0 has a place) with
 * explicit 0, 1, 2, 5, 10, … ticks, since Vega's own symlog ticks are linear.
 */

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { importPackages, PLOT_PACKAGES } from './packages.js'
import type { SimReport } from './report-types.js'
import type { TopLevelSpec } from 'vega-lite'

/** A chart of a row of charts. */
type ConcatenatedSpec = Extract<TopLevelSpec, { hconcat: unknown }>['hconcat'][number]

const log = logger('caravela:sim:plots')

/** Width in pixels of every PNG. */
export const PLOT_WIDTH = 1200

/** The file names {@link writePlots} writes, in the order it returns them. */
export const PLOT_FILES = [
  'success-ratio.png',
  'used-resources.png',
  'messages-per-request.png',
  'peer-load.png',
  'messages-over-time.png'
] as const

/** The chart {@link writePlots} adds, last, when a backend's run had churn. */
export const CHURN_PLOT = 'churn.png'

const FONT = 'DejaVu Sans'
/** Width and height of a single-panel chart's plotting area, in Vega pixels (scaled to 1200 px). */
const WIDE = 880
const TALL = 420
/** Per panel when two panels stand side by side. */
const HALF = 470
/** Series with at most this many points get a dot on each. */
const MAX_DOTTED_POINTS = 40
/** A value axis turns symlog when its largest value exceeds the smallest positive one this much. */
const SYMLOG_RATIO = 100

const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 16,
  title: { fontSize: 19, subtitleFontSize: 13, subtitleColor: '#555', anchor: 'start', offset: 14 },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 13, titleFontSize: 13, symbolSize: 140, symbolStrokeWidth: 3, labelLimit: 260 },
  header: { labelFontSize: 14, titleFontSize: 14 },
  view: { stroke: '#bbb' }
} as const

/**
 * Draws the five charts of `report` into `outDir` (which must exist): `success-ratio.png`,
 * `used-resources.png`, `messages-per-request.png`, `peer-load.png` and
 * `messages-over-time.png`, and `churn.png` when a run had churn, each {@link PLOT_WIDTH} pixels
 * wide. Existing files are replaced. Returns the paths written, in that order.
 */
export async function writePlots (report: SimReport, outDir: string): Promise<string[]> {
  const specs: Record<typeof PLOT_FILES[number], TopLevelSpec> = {
    'success-ratio.png': overTimeSpec(report, {
      title: 'Cumulative deploy success ratio',
      field: 'successRatio',
      axisTitle: 'requests succeeded so far',
      ratio: true
    }),
    'used-resources.png': overTimeSpec(report, {
      title: 'Used resources',
      field: 'usedResourceRatio',
      axisTitle: 'mean used share per peer',
      ratio: true
    }),
    'messages-per-request.png': messagesPerRequestSpec(report),
    'peer-load.png': peerLoadSpec(report),
    'messages-over-time.png': overTimeSpec(report, {
      title: 'Messages per deploy request, per 3-minute window',
      field: 'messagesPerRequest',
      axisTitle: 'mean messages per request in the window',
      ratio: false,
      // a window without requests has no mean: leave a gap instead of drawing a 0
      skipEmptyWindows: true
    })
  }
  const files: Array<[string, TopLevelSpec]> = PLOT_FILES.map(file => [file, specs[file]])
  if (report.results.some(result => result.churn != null)) files.push([CHURN_PLOT, churnSpec(report)])
  const paths: string[] = []
  for (const [file, spec] of files) {
    const started = performance.now()
    const png = await renderPng(spec)
    const path = join(outDir, file)
    await writeFile(path, png)
    paths.push(path)
    log('wrote %s (%d bytes) in %d ms', path, png.length, Math.round(performance.now() - started))
  }
  return paths
}

interface PlotPackages {
  compile: typeof import('vega-lite').compile
  Resvg: typeof import('@resvg/resvg-js').Resvg
  View: typeof import('vega').View
  parse: typeof import('vega').parse
  vegaLogger: typeof import('vega').logger
  Warn: typeof import('vega').Warn
}

let plotPackages: Promise<PlotPackages> | undefined

/**
 * Vega, Vega-Lite and resvg, loaded on first use: they are optional peer dependencies of the
 * library. Rejects with a `MissingPackagesError` that says what to install when one is missing.
 */
export async function loadPlotPackages (): Promise<PlotPackages> {
  plotPackages ??= importPackages(async () => {
    const [vega, vegaLite, resvg] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')])
    return { compile: vegaLite.compile, Resvg: resvg.Resvg, View: vega.View, parse: vega.parse, vegaLogger: vega.logger, Warn: vega.Warn }
  }, 'the plots', PLOT_PACKAGES, ' (or pass --no-plots)')
  plotPackages.catch(() => { plotPackages = undefined })
  return plotPackages
}

/**
 * Renders one Vega-Lite spec to a PNG {@link PLOT_WIDTH} pixels wide. Vega and Vega-Lite warnings
 * go to the debug log, never to the console.
 */
export async function renderPng (spec: TopLevelSpec): Promise<Buffer> {
  const { compile, Resvg, View, parse, vegaLogger, Warn } = await loadPlotPackages()
  const quiet = vegaLogger(Warn, 'log', (_method, level, args) => { log('%s %s', level, args.map(String).join(' ')) })
  const vega = compile(spec, { logger: quiet }).spec
  const view = new View(parse(vega), { renderer: 'none', logger: quiet, logLevel: Warn })
  try {
    const svg = await view.toSVG()
    const resvg = new Resvg(svg, {
      fitTo: { mode: 'width', value: PLOT_WIDTH },
      font: { loadSystemFonts: true, defaultFontFamily: FONT }
    })
    return resvg.render().asPng()
  } finally {
    view.finalize()
  }
}

// ---------------------------------------------------------------------------------------------
// The charts

interface OverTime {
  title: string
  field: 'successRatio' | 'usedResourceRatio' | 'messagesPerRequest'
  axisTitle: string
  /** a 0–1 ratio drawn as a percentage, else a count */
  ratio: boolean
  skipEmptyWindows?: boolean
}

/** One line per backend of a window field over simulated minutes. */
function overTimeSpec (report: SimReport, chart: OverTime): TopLevelSpec {
  const values: Array<{ backend: string, minutes: number, value: number }> = []
  let longest = 0
  for (const result of report.results) {
    let points = 0
    for (const point of result.series) {
      if (chart.skipEmptyWindows === true && point.windowRequests <= 0) continue
      values.push({ backend: result.backend, minutes: num(point.minutes), value: num(point[chart.field]) })
      points++
    }
    longest = Math.max(longest, points)
  }
  const y = chart.ratio
    ? { scale: { domain: [0, 1] }, axis: { format: '.0%', title: chart.axisTitle } }
    : valueAxis(values.map(v => v.value), chart.axisTitle)
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: title(report, chart.title),
    width: WIDE,
    height: TALL,
    data: { values },
    mark: {
      type: 'line',
      strokeWidth: 2.5,
      point: longest <= MAX_DOTTED_POINTS ? { filled: true, size: 45 } : false
    },
    encoding: {
      x: { field: 'minutes', type: 'quantitative', title: 'simulated minutes', scale: { zero: true }, axis: { tickCount: 12 } },
      y: { field: 'value', type: 'quantitative', ...y },
      color: colour(report)
    }
  }
}

/**
 * Grouped bars of the mean, p50, p95 and p99 of messages per request, each labelled with its
 * value, above the histogram of messages per request as the share of each backend's requests.
 */
function messagesPerRequestSpec (report: SimReport): TopLevelSpec {
  const stats = ['mean', 'p50', 'p95', 'p99'] as const
  const bars: Array<{ backend: string, stat: string, value: number }> = []
  const histogram: Array<{ backend: string, messages: number, share: number }> = []
  let longest = 0
  for (const result of report.results) {
    for (const stat of stats) bars.push({ backend: result.backend, stat, value: num(result.messagesPerRequest?.[stat]) })
    const entries = result.messagesHistogram ?? []
    const total = entries.reduce((sum, entry) => sum + num(entry.requests), 0)
    for (const entry of entries) {
      histogram.push({ backend: result.backend, messages: num(entry.messages), share: total > 0 ? num(entry.requests) / total : 0 })
    }
    longest = Math.max(longest, entries.length)
  }
  const barAxis = valueAxis(bars.map(b => b.value), 'messages per request')
  const histogramAxis = valueAxis(histogram.map(h => h.messages), 'messages of a request')
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: title(report, 'Messages per deploy request'),
    vconcat: [
      {
        title: { text: 'mean and quantiles', fontSize: 14, anchor: 'start' },
        width: WIDE,
        height: 300,
        data: { values: bars },
        encoding: {
          x: { field: 'stat', type: 'nominal', sort: [...stats], title: null, axis: { labelAngle: 0, labelFontSize: 14 } },
          xOffset: { field: 'backend', type: 'nominal', sort: backends(report) },
          y: { field: 'value', type: 'quantitative', ...barAxis },
          color: colour(report)
        },
        layer: [
          { mark: { type: 'bar', cornerRadiusEnd: 2 } },
          {
            mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 11, color: '#333' },
            encoding: { text: { field: 'value', type: 'quantitative', format: ',.3~r' }, color: { value: '#333' } }
          }
        ]
      },
      {
        title: { text: 'distribution: share of requests by number of messages', fontSize: 14, anchor: 'start' },
        width: WIDE,
        height: 260,
        data: { values: histogram },
        mark: { type: 'line', strokeWidth: 2, point: longest <= MAX_DOTTED_POINTS ? { filled: true, size: 35 } : false },
        encoding: {
          x: { field: 'messages', type: 'quantitative', ...histogramAxis },
          y: { field: 'share', type: 'quantitative', title: 'share of requests', axis: { format: '%' } },
          color: colour(report)
        }
      }
    ],
    resolve: { scale: { color: 'shared' } }
  }
}

/**
 * A run with churn, over simulated minutes: on the left the share of each 3-minute window's
 * deploys that succeeded (not the cumulative ratio, which hides a late decline), on the right the
 * peers in the network at the end of each tick.
 */
function churnSpec (report: SimReport): TopLevelSpec {
  const windows: Array<{ backend: string, minutes: number, value: number }> = []
  const peers: Array<{ backend: string, minutes: number, value: number }> = []
  for (const result of report.results) {
    let before = { requests: 0, succeeded: 0 }
    for (const point of result.series) {
      const requests = num(point.requests) - before.requests
      if (requests > 0) windows.push({ backend: result.backend, minutes: num(point.minutes), value: (num(point.succeeded) - before.succeeded) / requests })
      before = { requests: num(point.requests), succeeded: num(point.succeeded) }
    }
    const tickMinutes = result.series.length > 0 ? num(result.series[0].minutes) / (num(result.series[0].tick) + 1) : 1 / 3
    for (const tick of result.churn?.ticks ?? []) {
      peers.push({ backend: result.backend, minutes: (num(tick.tick) + 1) * tickMinutes, value: num(tick.livePeers) })
    }
  }
  const x = { field: 'minutes', type: 'quantitative', title: 'simulated minutes', scale: { zero: true } } as const
  const line = (points: number): { type: 'line', strokeWidth: number, point: false | { filled: boolean, size: number } } =>
    ({ type: 'line', strokeWidth: 2.5, point: points <= MAX_DOTTED_POINTS ? { filled: true, size: 40 } : false })
  const lost = report.results
    .filter(result => result.churn != null)
    .map(result => `${result.backend} ${num(result.churn?.containersLost)}`)
    .join(', ')
  const heading = title(report, 'Churn')
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: { ...heading, subtitle: [...heading.subtitle, `containers lost with crashed suppliers: ${lost}`] },
    hconcat: [
      {
        title: { text: 'deploys that succeeded, per 3-minute window', fontSize: 14, anchor: 'start' },
        width: HALF,
        height: TALL,
        data: { values: windows },
        mark: line(windows.length / Math.max(1, report.results.length)),
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '.0%', title: 'succeeded in the window' } },
          color: colour(report)
        }
      },
      {
        title: { text: 'peers in the network, per tick', fontSize: 14, anchor: 'start' },
        width: HALF,
        height: TALL,
        data: { values: peers },
        mark: line(peers.length / Math.max(1, report.results.length)),
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'live peers', scale: { zero: true }, axis: { labelExpr: COUNT_LABELS } },
          color: colour(report)
        }
      }
    ],
    resolve: { scale: { color: 'shared' } }
  }
}

/**
 * Messages and bytes received per peer against the peer's quantile (0 the least loaded peer,
 * 1 the busiest), symlog y: a central master shows as a line shooting up at q = 1.
 */
function peerLoadSpec (report: SimReport): TopLevelSpec {
  const values: Array<{ backend: string, q: number, messages: number, bytes: number }> = []
  let longest = 0
  for (const result of report.results) {
    const quantiles = result.peerLoadQuantiles ?? []
    for (const point of quantiles) {
      values.push({ backend: result.backend, q: num(point.q), messages: num(point.messages), bytes: num(point.bytes) })
    }
    longest = Math.max(longest, quantiles.length)
  }
  const busiest = report.results
    .map(result => `${result.backend} ${percent(num(result.busiestPeerShare))}`)
    .join(', ')
  const panel = (field: 'messages' | 'bytes', axisTitle: string): ConcatenatedSpec => ({
    width: HALF,
    height: TALL,
    encoding: {
      x: { field: 'q', type: 'quantitative', title: 'peer quantile (0 least, 1 most loaded)', scale: { domain: [0, 1] } },
      y: { field, type: 'quantitative', ...symlogAxis(values.map(v => v[field]), axisTitle) },
      color: colour(report)
    },
    layer: [
      { mark: { type: 'line', strokeWidth: 2.5, point: longest <= MAX_DOTTED_POINTS ? { filled: true, size: 40 } : false } },
      // the busiest peer, which a central master makes stand far above the rest
      { transform: [{ filter: 'datum.q >= 1' }], mark: { type: 'point', filled: true, size: 90, opacity: 1 } }
    ]
  })
  const heading = title(report, 'Load per peer')
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: {
      ...heading,
      subtitle: [...heading.subtitle, ...(busiest === '' ? [] : [`busiest peer's share of all messages: ${busiest}`])]
    },
    data: { values },
    hconcat: [
      panel('messages', 'messages received (symlog scale)'),
      panel('bytes', 'bytes received (symlog scale)')
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The backends in report order, each once. */
function backends (report: SimReport): string[] {
  return [...new Set(report.results.map(result => result.backend))]
}

/** The colour channel: one fixed colour per backend, in report order, with a legend. */
function colour (report: SimReport): Record<string, unknown> {
  const domain = backends(report)
  return {
    field: 'backend',
    type: 'nominal',
    title: 'backend',
    sort: domain,
    scale: domain.length > 0 ? { domain, scheme: 'tableau10' } : { scheme: 'tableau10' }
  }
}

/** Title and subtitle: what, at how many nodes, with which seed and scenario. */
function title (report: SimReport, what: string): { text: string, subtitle: string[] } {
  const nodes = num(report.nodes)
  const ticks = num(report.ticks)
  const minutes = Math.round(ticks * 20 / 60)
  return {
    text: `${what} — ${nodes.toLocaleString('en-US')} nodes, seed ${String(report.seed)}`,
    subtitle: [`scenario ${report.scenario}, ${ticks.toLocaleString('en-US')} ticks (${minutes.toLocaleString('en-US')} simulated minutes)`]
  }
}

/** A count axis: linear, or symlog when the values span more than two orders of magnitude. */
function valueAxis (values: number[], axisTitle: string): Record<string, unknown> {
  const positive = values.filter(v => v > 0)
  const max = Math.max(0, ...positive)
  const min = Math.min(Infinity, ...positive)
  if (positive.length > 0 && max / min > SYMLOG_RATIO) return symlogAxis(values, `${axisTitle} (symlog scale)`)
  return { title: axisTitle, scale: { zero: true }, axis: { labelExpr: COUNT_LABELS } }
}

/**
 * A symlog axis from 0 to just above the largest value, with 0, 1, 2, 5, 10, … ticks (0 and
 * powers of ten only when the values pass 10^4).
 */
function symlogAxis (values: number[], axisTitle: string): Record<string, unknown> {
  const max = Math.max(1, ...values.filter(Number.isFinite))
  const top = max * 1.05
  const steps = max > 1e4 ? [1] : [1, 2, 5]
  const ticks = [0]
  for (let decade = 1; decade <= top; decade *= 10) {
    for (const step of steps) if (step * decade <= top) ticks.push(step * decade)
  }
  return {
    title: axisTitle,
    scale: { type: 'symlog', domain: [0, top], nice: false },
    axis: { values: ticks, labelExpr: COUNT_LABELS }
  }
}

/**
 * Labels of count ticks: plain numbers below 1000, then k, M, G (Vega's own SI formatting gives
 * every tick the prefix of the largest, e.g. "0k" for 10).
 */
const COUNT_LABELS = [
  'datum.value >= 1e9 ? format(datum.value / 1e9, \',~g\') + \'G\'',
  'datum.value >= 1e6 ? format(datum.value / 1e6, \'~g\') + \'M\'',
  'datum.value >= 1e3 ? format(datum.value / 1e3, \'~g\') + \'k\'',
  'format(datum.value, \'~g\')'
].join(' : ')

/** A finite number, or 0. */
function num (value: number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0
}

function percent (ratio: number): string {
  return `${(ratio * 100).toFixed(ratio >= 0.1 ? 0 : 1)}%`
}
