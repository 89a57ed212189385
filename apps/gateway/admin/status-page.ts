import type { ServiceStatus, StatusSnapshot, UpstreamStatus } from './status.ts'

// GET /status as HTML: rendered here, whole, from the snapshot. No script at all, no
// external asset (the style is inline, and the page's CSP allows nothing else), so it
// reads the same with JavaScript off; <meta http-equiv="refresh"> reloads it. Every
// value that comes from config or state goes through esc().

export const REFRESH_SECONDS = 5

// The page's own Content-Security-Policy: its inline style and nothing else.
export const STATUS_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function esc (value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}

export function duration (ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`
  return `${ms}ms`
}

function uptime (seconds: number): string {
  const d = Math.floor(seconds / 86_400)
  const h = Math.floor((seconds % 86_400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return [d > 0 ? `${d}d` : '', d + h > 0 ? `${h}h` : '', d + h + m > 0 ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ')
}

function badge (text: string, tone: 'ok' | 'warn' | 'bad' | 'off'): string {
  return `<span class="badge ${tone}">${esc(text)}</span>`
}

function policy (p: ServiceStatus['policy']): string {
  const parts = [`auth ${p.auth}`]
  if (p.scopes.length > 0) parts.push(`scopes ${p.scopes.join(' ')}`)
  if (p.rateLimit === false) parts.push('no rate limit')
  else if (p.rateLimit !== null) parts.push(`limit ${p.rateLimit.max}/${duration(p.rateLimit.windowMs)} by ${p.rateLimit.by}`)
  if (p.circuitBreaker === false) parts.push('no breaker')
  else parts.push(`breaker >${p.circuitBreaker.errorThresholdPercentage}% of ${p.circuitBreaker.volumeThreshold}+, reset ${duration(p.circuitBreaker.resetTimeoutMs)}`)
  parts.push(p.loadBalancing)
  if (p.healthCheck !== null) parts.push(`health ${p.healthCheck.path} every ${duration(p.healthCheck.intervalMs)}`)
  parts.push(`retries ${p.retries}`)
  if (p.websocket) parts.push('websocket')
  if (p.routes.length > 0) parts.push(`${p.routes.length} route${p.routes.length === 1 ? '' : 's'}`)
  return esc(parts.join(' · '))
}

function share (s: ServiceStatus): string {
  const { requests, share5xx } = s.lastMinute
  if (requests === 0) return badge('–', 'off')
  const pct = `${(share5xx * 100).toFixed(share5xx > 0 && share5xx < 0.1 ? 1 : 0)}%`
  return badge(pct, share5xx === 0 ? 'ok' : share5xx < 0.05 ? 'warn' : 'bad')
}

function serviceRow (s: ServiceStatus): string {
  return `<tr data-service="${esc(s.name)}"><td><b>${esc(s.name)}</b></td><td><code>${esc(s.prefix)}</code></td><td>${esc(s.source)}</td>` +
    `<td class="num">${s.lastMinute.requests}</td><td class="num">${share(s)}</td><td class="policy">${policy(s.policy)}</td></tr>`
}

const CIRCUIT_TONE = { closed: 'ok', 'half-open': 'warn', open: 'bad', off: 'off' } as const

function upstreamRow (u: UpstreamStatus): string {
  const halfOpen = u.secondsToHalfOpen === null ? '' : `${u.secondsToHalfOpen}s`
  return `<tr data-upstream="${esc(u.service)} ${esc(u.origin)}"><td>${esc(u.service)}</td><td><code>${esc(u.origin)}</code></td>` +
    `<td>${u.up ? badge('up', 'ok') : badge('down', 'bad')}</td><td class="circuit">${badge(u.circuit, CIRCUIT_TONE[u.circuit])}</td>` +
    `<td class="num half-open">${esc(halfOpen)}</td><td class="num">${u.inflight}</td></tr>`
}

function reloadCard (r: StatusSnapshot['lastReload']): string {
  if (r === null) return '<p>none since start</p>'
  const head = `<p>${r.result === 'success' ? badge('success', 'ok') : badge('failure', 'bad')} ${esc(r.trigger)} at <time>${esc(r.time)}</time></p>`
  return r.error === null ? head : `${head}<pre>${esc(r.error)}</pre>`
}

function storeCard (s: StatusSnapshot['rateLimitStore']): string {
  if (s === null) return '<p>no rate limits</p>'
  return `<p>${esc(s.kind)} ${s.degraded ? badge('degraded', 'bad') : badge('ok', 'ok')}</p>`
}

function egressCard (e: StatusSnapshot['egress']): string {
  if (e === null) return '<p>egress: not configured</p>'
  const rows = e.destinations.map((d) => `<li><code>${esc(d.host)}</code> ${d.tunnels}</li>`).join('')
  return `<p>${e.tunnels} tunnel${e.tunnels === 1 ? '' : 's'} open</p>${rows === '' ? '' : `<ul>${rows}</ul>`}`
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2433;background:#f5f6f8}
header{background:#1d2433;color:#fff;padding:14px 24px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header span{opacity:.8}
main{padding:16px 24px;max-width:1280px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px;margin-bottom:16px}
section,.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 14px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#5b6475;margin:0 0 6px}
section{margin-bottom:16px;overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#5b6475;font-size:12px}td.num,th.num{text-align:right;white-space:nowrap}td.policy{color:#5b6475;font-size:12px}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600}
.ok{background:#dcf5e3;color:#17692f}.warn{background:#fff1cc;color:#7a5600}.bad{background:#fde0de;color:#a3231a}.off{background:#eceef2;color:#5b6475}
pre{white-space:pre-wrap;font-size:12px;background:#fdf3f2;padding:6px;margin:4px 0 0}p{margin:2px 0}ul{margin:4px 0;padding-left:18px}
footer{color:#5b6475;font-size:12px;padding:0 24px 16px}`

export function renderStatusPage (s: StatusSnapshot): string {
  const services = s.services.length === 0
    ? '<tr><td colspan="6">no services</td></tr>'
    : s.services.map(serviceRow).join('\n')
  const upstreams = s.upstreams.length === 0
    ? '<tr><td colspan="6">no upstreams</td></tr>'
    : s.upstreams.map(upstreamRow).join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Gatehouse status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Gatehouse</h1><span>version ${esc(s.version)}</span><span>up ${esc(uptime(s.uptimeSeconds))}</span><span>as of <time>${esc(s.now)}</time></span></header>
<main>
<div class="cards">
<div class="card" id="reload"><h2>Last reload</h2>${reloadCard(s.lastReload)}</div>
<div class="card" id="store"><h2>Rate-limit store</h2>${storeCard(s.rateLimitStore)}</div>
<div class="card" id="websockets"><h2>WebSockets</h2><p>${s.websockets.open} open</p></div>
<div class="card" id="egress"><h2>Egress</h2>${egressCard(s.egress)}</div>
</div>
<section id="services"><h2>Services</h2>
<table><thead><tr><th>name</th><th>prefix</th><th>source</th><th class="num">requests (1 min)</th><th class="num">5xx (1 min)</th><th>policy</th></tr></thead>
<tbody>
${services}
</tbody></table></section>
<section id="upstreams"><h2>Upstreams</h2>
<table><thead><tr><th>service</th><th>origin</th><th>health</th><th>breaker</th><th class="num">half-open in</th><th class="num">in flight</th></tr></thead>
<tbody>
${upstreams}
</tbody></table></section>
</main>
<footer>Refreshes every ${REFRESH_SECONDS} s. The same data: <a href="status.json">status.json</a>.</footer>
</body>
</html>
`
}
