import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { writePlots } from '../src/sim/plots.js'
import type { BackendResult, SimReport, Summary, WindowPoint } from '../src/sim/report-types.js'

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
/** The charts `npm run sim` documents, in the order writePlots returns them. */
const CHARTS = ['success-ratio.png', 'used-resources.png', 'messages-per-request.png', 'peer-load.png', 'messages-over-time.png']
/** The documented width of every chart. */
const WIDTH = 1200
/** A PNG smaller than this has hardly anything drawn on it. */
const MIN_PNG_BYTES = 8 * 1024

function summary (mean: number, p50: number, p95: number, p99: number, max: number, count = 900): Summary {
  return { count, mean, p50, p95, p99, max }
}

/** Ten 3-minute windows of a backend that succeeds `ratio` of the time at `messages` per request. */
function series (ratio: number, messages: number, windows = 10): WindowPoint[] {
  const points: WindowPoint[] = []
  let requests = 0
  let succeeded = 0
  for (let w = 1; w <= windows; w++) {
    const windowRequests = 90
    requests += windowRequests
    succeeded += Math.round(windowRequests * ratio * (1 - w / 60))
    points.push({
      tick: w * 9,
      minutes: w * 3,
      requests,
      succeeded,
      successRatio: succeeded / requests,
      windowRequests,
      usedResourceRatio: Math.min(1, 0.08 * w * (0.7 + ratio * 0.3)),
      messagesPerRequest: messages * (1 + 0.1 * Math.sin(w)),
      livePeers: 10_000
    })
  }
  return points
}

/** 101 quantiles of a load rising from `low` to `high`, with the busiest peer at `top`. */
function peerLoad (low: number, high: number, top: number): BackendResult['peerLoadQuantiles'] {
  return Array.from({ length: 101 }, (_, i) => {
    const q = i / 100
    const messages = i === 100 ? top : Math.round(low + (high - low) * q * q)
    return { q, messages, bytes: messages * 180 }
  })
}

function backend (name: string, over: Partial<BackendResult>): BackendResult {
  return {
    backend: name,
    nodes: 10_000,
    ticks: 90,
    seed: 7,
    requests: 900,
    succeeded: 800,
    successRatio: 0.89,
    messagesPerRequest: summary(20, 18, 40, 60, 90),
    lookupsPerRequest: summary(2, 2, 4, 5, 8),
    hopsPerRequest: summary(6, 6, 9, 11, 14),
    allocationEfficiency: 0.93,
    peerMessagesReceived: summary(2, 1, 6, 9, 30, 10_000),
    peerBytesReceived: summary(360, 180, 1080, 1620, 5400, 10_000),
    busiestPeerShare: 0.0015,
    busiestPeerMessages: 30,
    totalMessages: 20_000,
    totalBytes: 3_600_000,
    wallTimeMs: 5_000,
    startUpMs: 1_000,
    peakRssBytes: 300e6,
    series: series(0.9, 20),
    messagesHistogram: [{ messages: 8, requests: 40 }, { messages: 14, requests: 300 }, { messages: 20, requests: 400 }, { messages: 40, requests: 150 }, { messages: 90, requests: 10 }],
    peerLoadQuantiles: peerLoad(0, 9, 30),
    ...over
  }
}

function report (results: BackendResult[]): SimReport {
  return { scenario: 'synthetic', nodes: 10_000, ticks: 90, seed: 7, startedAt: '2025-01-01T00:00:00.000Z', results }
}

const THREE_BACKENDS = report([
  backend('caravela', {}),
  backend('swarm', {
    succeeded: 880,
    successRatio: 0.98,
    messagesPerRequest: summary(2, 2, 2, 2, 2),
    messagesHistogram: [{ messages: 2, requests: 900 }],
    busiestPeerShare: 0.5,
    busiestPeerMessages: 1800,
    series: series(0.98, 2),
    peerLoadQuantiles: peerLoad(0, 0, 1800)
  }),
  backend('random-walk', {
    succeeded: 600,
    successRatio: 0.67,
    messagesPerRequest: summary(150, 120, 400, 700, 1200),
    messagesHistogram: [{ messages: 30, requests: 100 }, { messages: 120, requests: 500 }, { messages: 400, requests: 250 }, { messages: 1200, requests: 50 }],
    series: series(0.7, 150),
    peerLoadQuantiles: peerLoad(3, 40, 120)
  })
])

/**
 * writePlots into a fresh temp dir; checks that the dir then holds the five charts and nothing
 * else, that the paths returned are theirs, in order, and that each is a different PNG of the
 * documented width; removes the dir.
 */
async function drawAndCheck (data: SimReport, minBytes = MIN_PNG_BYTES): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'caravela-sim-plots-'))
  try {
    const paths = await writePlots(data, dir)
    assert.equal((await readdir(dir)).sort(), [...CHARTS].sort(), 'the files written')
    assert.equal(paths, CHARTS.map(chart => join(dir, chart)), 'the paths returned')
    const digests = new Set<string>()
    for (const path of paths) {
      const png = await readFile(path)
      assert.equal([...png.subarray(0, 8)], PNG_SIGNATURE, `${path} is a PNG`)
      // IHDR is the first chunk: length (4), "IHDR" (4), width (4, big-endian), height (4)
      assert.is(png.toString('latin1', 12, 16), 'IHDR')
      assert.is(png.readUInt32BE(16), WIDTH, `${path} width`)
      assert.ok(png.readUInt32BE(20) > 300, `${path} height ${png.readUInt32BE(20)}`)
      assert.ok(png.length > minBytes, `${path} has only ${png.length} bytes`)
      digests.add(createHash('sha256').update(png).digest('hex'))
    }
    assert.is(digests.size, CHARTS.length, 'each file is a different chart')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const Plots = suite('sim plots')

Plots('the five charts of three backends, 1200 px wide PNGs', async () => {
  await drawAndCheck(THREE_BACKENDS)
})

Plots('a single backend with a single window', async () => {
  await drawAndCheck(report([backend('caravela', { series: series(0.9, 20, 1) })]))
})

Plots('zeros everywhere do not throw', async () => {
  const zero = summary(0, 0, 0, 0, 0, 0)
  const zeros = report([
    backend('caravela', {
      requests: 0,
      succeeded: 0,
      successRatio: 0,
      messagesPerRequest: zero,
      lookupsPerRequest: zero,
      hopsPerRequest: zero,
      allocationEfficiency: 0,
      peerMessagesReceived: zero,
      peerBytesReceived: zero,
      busiestPeerShare: 0,
      busiestPeerMessages: 0,
      totalMessages: 0,
      totalBytes: 0,
      series: series(0, 0).map(point => ({ ...point, requests: 0, succeeded: 0, successRatio: 0, windowRequests: 0, usedResourceRatio: 0, messagesPerRequest: 0 })),
      messagesHistogram: [],
      peerLoadQuantiles: peerLoad(0, 0, 0)
    }),
    backend('swarm', {
      series: [{ tick: 0, minutes: 0, requests: 0, succeeded: 0, successRatio: 0, windowRequests: 0, usedResourceRatio: 0, messagesPerRequest: 0, livePeers: 0 }],
      messagesHistogram: [{ messages: 0, requests: 0 }],
      peerLoadQuantiles: [{ q: 0, messages: 0, bytes: 0 }]
    })
  ])
  // axes, titles and legends are still drawn, so even these files are not tiny
  await drawAndCheck(zeros, 4 * 1024)
})

Plots('no backend at all, and non-finite numbers, do not throw', async () => {
  await drawAndCheck({ ...report([]), nodes: 0 }, 1024)
  await drawAndCheck(report([backend('caravela', { series: series(0.9, Number.NaN, 2), busiestPeerShare: Number.POSITIVE_INFINITY })]), 1024)
})

Plots.run()
