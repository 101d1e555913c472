/**
 * The dashboard's page, script and style sheet, as strings: no build step, and they ship in
 * `dist/` with the code that serves them. The script renders with `textContent` only, never
 * markup made from data, and the page's Content-Security-Policy allows no inline script.
 */

/** The dashboard, with the session's CSRF token for the script to send. */
export function dashboardPage (csrf: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="caravela-csrf" content="${csrf}">
<title>Caravela dashboard</title>
<link rel="stylesheet" href="/dashboard/style.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<header>
  <h1>Caravela</h1>
  <span id="connection" class="badge">connecting…</span>
</header>
<main>
  <section id="node" class="card">
    <h2>This peer</h2>
    <dl>
      <dt>Peer id</dt><dd id="peer-id" class="mono">…</dd>
      <dt>Uptime</dt><dd id="uptime">…</dd>
      <dt>Engine</dt><dd id="runtime">…</dd>
      <dt>Capacity</dt><dd id="capacity">…</dd>
      <dt>Trades for</dt><dd id="slice">…</dd>
      <dt>Network</dt><dd id="network-size">…</dd>
    </dl>
  </section>
  <section id="activity" class="card">
    <h2>Placements over time</h2>
    <svg id="chart" viewBox="0 0 320 80" preserveAspectRatio="none" role="img" aria-label="placements and failures over time"></svg>
    <p id="chart-legend" class="legend"></p>
  </section>
  <section id="run" class="card">
    <h2>Run a container</h2>
    <form id="run-form">
      <label>Image <input name="image" required placeholder="busybox"></label>
      <label>Arguments <input name="args" placeholder="httpd -f"></label>
      <label>Name <input name="name" placeholder="web"></label>
      <label>CPUs <input name="cpus" type="number" min="0" step="1" placeholder="auto"></label>
      <label>Memory (MB) <input name="memory" type="number" min="0" step="1" placeholder="auto"></label>
      <button type="submit">Run</button>
    </form>
    <p id="run-status" role="status"></p>
  </section>
  <section id="containers" class="card wide">
    <h2>Containers placed by this peer</h2>
    <table id="placed"><thead><tr><th>Name</th><th>Image</th><th>Id</th><th>Supplier</th><th>State</th><th>Resources</th><th></th></tr></thead><tbody></tbody></table>
    <p class="empty">None.</p>
    <h3>Running here for buyers</h3>
    <table id="hosted"><thead><tr><th>Name</th><th>Image</th><th>Id</th><th>Buyer</th><th>Resources</th></tr></thead><tbody></tbody></table>
    <p class="empty">None.</p>
  </section>
  <section id="logs" class="card wide" hidden>
    <h2>Logs of <span id="logs-name"></span></h2>
    <pre id="logs-text"></pre>
  </section>
  <section id="network" class="card wide">
    <h2>Network</h2>
    <table id="slices"><thead><tr><th>Slice</th><th>Traders (peers whose point falls in it)</th></tr></thead><tbody></tbody></table>
    <table id="peers"><thead><tr><th>Peer</th><th>Slice</th><th>Connected</th><th>Routing table</th><th>Address</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="offers" class="card wide">
    <h2>Offers</h2>
    <h3 id="trading-title">Held as trader</h3>
    <table id="trading"><thead><tr><th>Offer</th><th>Supplier</th><th>Free</th><th>Used</th><th>Containers</th></tr></thead><tbody></tbody></table>
    <h3 id="supplying-title">Made as supplier</h3>
    <table id="supplying"><thead><tr><th>Offer</th><th>Trader</th><th>Free</th><th>Used</th><th>Containers</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`
}

/** A page that only says something, e.g. how to log in. `text` is trusted markup. */
export function messagePage (title: string, text: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Caravela: ${title}</title><link rel="stylesheet" href="/dashboard/style.css"></head>
<body><header><h1>Caravela</h1></header><main><section class="card wide"><h2>${title}</h2><p id="message">${text}</p></section></main></body>
</html>
`
}

export const DASHBOARD_CSS: string = `
:root { --fg: #1d2733; --muted: #66717f; --bg: #f3f5f8; --card: #fff; --line: #dde2e8; --accent: #0b6bcb; --bad: #c0392b; --ok: #1e8e3e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1em; padding: .6em 1.5em; background: #12263f; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; letter-spacing: .04em; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 1em; padding: 1em 1.5em; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .8em 1em; min-width: 0; }
.wide { grid-column: 1 / -1; }
h2 { font-size: 1em; margin: 0 0 .6em; } h3 { font-size: .9em; color: var(--muted); margin: .8em 0 .3em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
.mono, td.mono, pre { font-family: ui-monospace, monospace; font-size: .92em; }
table { width: 100%; border-collapse: collapse; margin-bottom: .5em; }
th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; font-size: .9em; white-space: nowrap; }
table:has(tbody:not(:empty)) + .empty { display: none; }
.empty { color: var(--muted); }
.badge { font-size: .8em; padding: .1em .6em; border-radius: 1em; background: #2c4a6e; }
.badge.live { background: var(--ok); } .badge.down { background: var(--bad); }
.state-running { color: var(--ok); font-weight: 600; } .state-exited, .state-lost { color: var(--bad); }
form { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: .5em; align-items: end; }
label { display: flex; flex-direction: column; font-size: .85em; color: var(--muted); gap: .2em; }
input { font: inherit; padding: .3em .4em; border: 1px solid var(--line); border-radius: 4px; color: var(--fg); }
button { font: inherit; padding: .35em .9em; border: 0; border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #e8edf3; color: var(--fg); } button.danger { background: var(--bad); }
td button { padding: .15em .6em; margin-right: .3em; }
#run-status.error, .error { color: var(--bad); }
pre { background: #0f1720; color: #d7e0ea; padding: .8em; border-radius: 4px; max-height: 24em; overflow: auto; white-space: pre-wrap; margin: 0; }
svg { width: 100%; height: 80px; background: #fafbfc; border: 1px solid var(--line); border-radius: 4px; }
.legend { margin: .4em 0 0; color: var(--muted); }
.legend .placed, polyline.placed { color: var(--accent); stroke: var(--accent); }
.legend .failed, polyline.failed { color: var(--bad); stroke: var(--bad); }
polyline { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
code { background: #e8edf3; padding: 0 .3em; border-radius: 3px; }
`

export const DASHBOARD_JS: string = `
const csrf = document.querySelector('meta[name="caravela-csrf"]').content
const $ = (selector) => document.querySelector(selector)
const shown = new Map()

function cell (text, className) {
  const td = document.createElement('td')
  td.textContent = text
  if (className) td.className = className
  return td
}

function button (text, className, onClick) {
  const b = document.createElement('button')
  b.type = 'button'
  b.textContent = text
  b.className = className
  b.addEventListener('click', onClick)
  return b
}

/** Replaces a table's rows, only when what it shows changed (a click must not land on a row being replaced). */
function rows (selector, items, render) {
  const key = JSON.stringify(items)
  if (shown.get(selector) === key) return
  shown.set(selector, key)
  $(selector + ' tbody').replaceChildren(...items.map(render))
}

const resources = (r) => r.cpus + ' CPU, ' + r.memory + ' MB' + (r.cpuClass === 1 ? ', high' : '')
const short = (id) => id.length > 16 ? id.slice(0, 12) + '…' + id.slice(-4) : id

function duration (ms) {
  const s = Math.floor(ms / 1000)
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']]
  return parts.filter(([n], i) => n > 0 || i === 3).slice(0, 2).map(([n, u]) => n + u).join(' ')
}

function renderNode (node) {
  $('#peer-id').textContent = node.peerId
  $('#uptime').textContent = duration(node.uptimeMs)
  $('#runtime').textContent = node.runtime.state + (node.runtime.reason ? ' (' + node.runtime.reason + ')' : '')
  $('#capacity').textContent = resources(node.capacity)
  $('#slice').textContent = 'slice ' + node.slice.index + ' (' + resources(node.slice.resources) + ')'
  $('#network-size').textContent = '~' + node.networkSize + ' peers, ' + node.routingTableSize + ' in the routing table, ' + node.discoveryBackend
}

function renderNetwork (node, peers) {
  const slices = new Map()
  for (const p of [{ peerId: node.peerId, slice: node.slice.index, self: true }, ...peers]) {
    if (!slices.has(p.slice)) slices.set(p.slice, [])
    slices.get(p.slice).push(p.self ? p.peerId + ' (this peer)' : p.peerId)
  }
  const list = [...slices].sort((a, b) => a[0] - b[0])
  rows('#slices', list, ([slice, traders]) => {
    const tr = document.createElement('tr')
    tr.append(cell(String(slice)), cell(traders.join(', '), 'mono'))
    return tr
  })
  rows('#peers', peers, (p) => {
    const tr = document.createElement('tr')
    tr.dataset.peer = p.peerId
    tr.append(cell(p.peerId, 'mono'), cell(String(p.slice)), cell(p.connected ? 'yes' : 'no'), cell(p.inRoutingTable ? 'yes' : 'no'), cell(p.multiaddrs[0] ?? '', 'mono'))
    return tr
  })
}

function renderOffers (offers) {
  const offer = (o) => {
    const tr = document.createElement('tr')
    tr.append(cell(String(o.id)), cell(o.peerId, 'mono'), cell(resources(o.free)), cell(resources(o.used)), cell(String(o.containersRunning)))
    return tr
  }
  $('#trading-title').textContent = 'Held as trader of slice ' + offers.trading.slice.index + ' (' + offers.trading.offers.length + ')'
  $('#supplying-title').textContent = 'Made as supplier: ' + resources(offers.supplying.available) + ' of ' + resources(offers.supplying.max) + ' free'
  rows('#trading', offers.trading.offers, offer)
  rows('#supplying', offers.supplying.offers, offer)
}

function renderHosted (hosted) {
  rows('#hosted', hosted, (h) => {
    const tr = document.createElement('tr')
    tr.append(cell(h.name || '—'), cell(h.image ?? '—'), cell(short(h.containerId), 'mono'), cell(short(h.buyer), 'mono'), cell(resources(h.resources)))
    return tr
  })
}

function renderContainers (containers) {
  rows('#placed', containers, (c) => {
    const tr = document.createElement('tr')
    tr.dataset.id = c.containerId
    const actions = document.createElement('td')
    actions.append(button('Logs', 'secondary logs', () => showLogs(c)), button('Stop', 'danger stop', () => stop(c)))
    tr.append(cell(c.name || '—', 'name'), cell(c.image + (c.args.length ? ' ' + c.args.join(' ') : '')), cell(short(c.containerId), 'mono'),
      cell(short(c.supplier.peerId), 'mono'), cell(c.state, 'state state-' + c.state), cell(resources(c.resources)), actions)
    return tr
  })
}

function renderChart (history) {
  const svg = $('#chart')
  const last = history[history.length - 1] ?? { placed: 0, failed: 0, running: 0 }
  const first = history[0] ?? last
  const top = Math.max(1, last.placed - first.placed, last.failed - first.failed)
  const t0 = first.t ?? 0
  const span = Math.max(1, (last.t ?? 0) - t0)
  const line = (field) => history.map((s) => (((s.t - t0) / span) * 320).toFixed(1) + ',' + (76 - ((s[field] - first[field]) / top) * 72).toFixed(1)).join(' ')
  const lines = ['placed', 'failed'].map((field) => {
    const p = document.createElementNS('http://www.w3.org/2000/svg', 'polyline')
    p.setAttribute('points', line(field))
    p.setAttribute('class', field)
    return p
  })
  svg.replaceChildren(...lines)
  const legend = $('#chart-legend')
  const minutes = Math.round(span / 60000)
  legend.replaceChildren()
  for (const [field, text] of [['placed', last.placed + ' placed'], ['failed', last.failed + ' failed']]) {
    const s = document.createElement('span')
    s.className = field
    s.textContent = '■ ' + text + '  '
    legend.append(s)
  }
  legend.append((minutes > 0 ? 'over ' + minutes + ' min, ' : '') + last.running + ' running now')
}

async function api (method, path, body) {
  const headers = { 'X-Caravela-CSRF': csrf }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const type = res.headers.get('content-type') ?? ''
  const answer = type.startsWith('application/json') ? await res.json() : await res.text()
  return { status: res.status, ok: res.ok, answer }
}

async function refreshContainers () {
  const { ok, answer } = await api('GET', '/v1/containers')
  if (ok) renderContainers(answer)
}

function status (text, error) {
  const p = $('#run-status')
  p.textContent = text
  p.className = error ? 'error' : ''
}

$('#run-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  const number = (name) => Number(form.get(name) || 0)
  const container = {
    image: String(form.get('image')).trim(),
    args: String(form.get('args')).trim().split(/\\s+/).filter(Boolean),
    name: String(form.get('name')).trim(),
    resources: { cpuClass: 0, cpus: number('cpus'), memory: number('memory') }
  }
  status('placing ' + container.image + '…')
  try {
    const { ok, answer } = await api('POST', '/v1/containers', { containers: [container] })
    if (!ok) return status('not placed: ' + (answer.error ?? answer), true)
    const [placed] = answer.containers
    status('placed ' + short(placed.containerId) + ' on ' + short(placed.supplier.peerId))
    await refreshContainers()
  } catch (err) {
    status('not placed: ' + err.message, true)
  }
})

async function stop (c) {
  status('stopping ' + short(c.containerId) + '…')
  const { ok, answer } = await api('POST', '/v1/containers/stop', { ids: [c.containerId] })
  const result = ok ? answer[0] : undefined
  if (result?.stopped) status('stopped ' + short(c.containerId))
  else status('not stopped: ' + (result?.error ?? answer.error ?? (result?.pending ? 'its supplier cannot be reached; stopped when it answers' : 'unknown')), !result?.pending)
  await refreshContainers()
}

/**
 * The text of a logs answer: NDJSON lines of base64 chunks, { "stream", "data" }, ending with
 * { "end": true } or { "error" }. The chunks are joined before decoding: a character may span two.
 */
async function logText (ndjson) {
  const parts = []
  let error
  for (const line of ndjson.split('\\n')) {
    if (line.trim() === '') continue
    const item = JSON.parse(line)
    if (typeof item.data === 'string') parts.push(Uint8Array.from(atob(item.data), (c) => c.charCodeAt(0)))
    if (typeof item.error === 'string') error = item.error
  }
  const text = await new Blob(parts).text()
  return error == null ? text : text + '\\n[logs cut short: ' + error + ']'
}

async function showLogs (c) {
  $('#logs').hidden = false
  $('#logs-name').textContent = (c.name || c.image) + ' (' + short(c.containerId) + ')'
  const pre = $('#logs-text')
  pre.textContent = 'loading…'
  pre.dataset.state = 'loading'
  try {
    const { status, ok, answer } = await api('GET', '/v1/containers/' + encodeURIComponent(c.containerId) + '/logs?tail=200')
    if (status === 404) {
      pre.textContent = 'logs are not available from this peer'
      pre.dataset.state = 'unavailable'
    } else if (!ok) {
      pre.textContent = 'logs could not be read: ' + (answer.error ?? answer)
      pre.dataset.state = 'error'
    } else {
      const text = await logText(answer)
      pre.textContent = text === '' ? '(no output yet)' : text
      pre.dataset.state = 'loaded'
    }
  } catch (err) {
    pre.textContent = 'logs could not be read: ' + err.message
    pre.dataset.state = 'error'
  }
  $('#logs').scrollIntoView({ block: 'nearest' })
}

const badge = $('#connection')
const events = new EventSource('/v1/events')
events.onopen = () => { badge.textContent = 'live'; badge.className = 'badge live' }
events.onerror = () => {
  // the browser tries again while the peer is away; a refusal (the session ended) closes the stream
  badge.textContent = events.readyState === EventSource.CLOSED ? 'logged out: run caravela dashboard' : 'reconnecting…'
  badge.className = 'badge down'
}
events.onmessage = (message) => {
  const state = JSON.parse(message.data)
  renderNode(state.node)
  renderNetwork(state.node, state.peers)
  renderOffers(state.offers)
  renderContainers(state.containers)
  renderHosted(state.hosted)
  renderChart(state.history)
}
`
