/**
 * The data a simulator run reports: one {@link BackendResult} per discovery backend,
 * gathered in a {@link SimReport}. The simulator engine fills these; `plots.ts` draws them.
 */

/** Mean and quantiles of a sample. */
export interface Summary { count: number, mean: number, p50: number, p95: number, p99: number, max: number }

/** One snapshot window (9 ticks, 3 simulated minutes, as the original simulator) of one backend's run. */
export interface WindowPoint {
  /** last tick of the window (ticks are 20 s of simulated time) */
  tick: number
  /** simulated minutes since the start */
  minutes: number
  /** deploy requests completed so far (cumulative) */
  requests: number
  /** of which succeeded (cumulative) */
  succeeded: number
  /** succeeded / requests, cumulative (0 when no request yet) */
  successRatio: number
  /** deploy requests completed in this window */
  windowRequests: number
  /** mean over peers of the used share of each peer (a peer with no free CPU or no free memory counts as 1) at the end of the window */
  usedResourceRatio: number
  /** mean messages per request of the requests completed in this window (0 when none) */
  messagesPerRequest: number
  /** peers in the network at the end of the window */
  livePeers: number
}

/** Peers live and deploys of one tick of a run with churn. */
export interface ChurnTick {
  tick: number
  /** peers in the network at the end of the tick */
  livePeers: number
  /** deploy requests completed in the tick */
  requests: number
  /** of which succeeded */
  succeeded: number
}

/** What churn did in one backend's run (`[churn]` of the scenario). */
export interface ChurnResult {
  /** peers that joined, each a fresh supplier and trader */
  joined: number
  /** peers that left cleanly: they withdrew their offers, then left the overlay */
  left: number
  /** peers that crashed: gone without a word */
  crashed: number
  /** containers running on suppliers when they crashed: lost */
  containersLost: number
  /** containers running on suppliers when they left cleanly: out of the network with their supplier */
  containersLeft: number
  /** containers whose buyer crashed or left: still running, but nobody stops them any more */
  containersOrphaned: number
  /** deploys whose buyer crashed before they ended (or still unanswered 10 simulated minutes after the last tick): counted as failed requests */
  requestsAbandoned: number
  /**
   * containers placed again by their buyers' restart policies (`churn.restartPolicy`): a buyer
   * whose supplier missed its status checks re-places the container through discovery; 0 without a policy
   */
  rescheduled: number
  /** one entry per tick */
  ticks: ChurnTick[]
}

/** The result of one backend in one run. */
export interface BackendResult {
  backend: string
  nodes: number
  ticks: number
  seed: number
  requests: number
  succeeded: number
  successRatio: number
  messagesPerRequest: Summary
  lookupsPerRequest: Summary
  hopsPerRequest: Summary
  /** resources of the containers placed / resources every deploy asked for, CPU and memory averaged, as the original simulator's */
  allocationEfficiency: number
  /** messages received per peer (requests and responses) */
  peerMessagesReceived: Summary
  /** bytes received per peer */
  peerBytesReceived: Summary
  /** the busiest peer's messages received / all messages received */
  busiestPeerShare: number
  busiestPeerMessages: number
  totalMessages: number
  totalBytes: number
  wallTimeMs: number
  /** wall time of building and starting the peers, warm-up included: before the first tick */
  startUpMs: number
  peakRssBytes: number
  series: WindowPoint[]
  /** messages per request → number of requests with that many messages */
  messagesHistogram: Array<{ messages: number, requests: number }>
  /** messages received per peer at quantiles q = 0, 0.01, …, 1 (101 points) */
  peerLoadQuantiles: Array<{ q: number, messages: number, bytes: number }>
  /** present when the scenario has churn */
  churn?: ChurnResult
}

/** A whole simulator run: every backend on the same seed and workload. */
export interface SimReport {
  scenario: string
  nodes: number
  ticks: number
  seed: number
  startedAt: string
  results: BackendResult[]
}
