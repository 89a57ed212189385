// The soak's verdict and its printed report.
import type { LoadStats } from './load.ts'
import { percentile } from './load.ts'
import type { ResourceSample } from './gateway.ts'
import type { Settled } from './settle.ts'
import type { TimelineEntry } from './faults.ts'

export interface SoakResult {
  durationMs: number
  smoke: boolean
  load: LoadStats
  start: Settled
  end: Settled
  timeline: TimelineEntry[]
  messages: Map<string, number>
  gatewayAlive: boolean
  redisKeys: number
  tolerance: number
  logFile: string | null
}

export interface Verdict {
  ok: boolean
  failures: string[]
}

function growth (start: number, end: number): number {
  return start > 0 ? (end - start) / start : 0
}

export function judge (r: SoakResult): Verdict {
  const failures: string[] = []
  const unanswered = sum(r.load.unanswered)
  const truncated = sum(r.load.truncated)
  if (unanswered > 0) failures.push(`${unanswered} request(s) unanswered`)
  if (truncated > 0) failures.push(`${truncated} answer(s) cut mid-body`)
  if (!r.gatewayAlive) failures.push('the gateway process died')
  if (sum(r.load.answered) + unanswered + truncated !== r.load.sent) failures.push('request accounting does not add up')
  const checks: Array<[string, number, number]> = [
    ['RSS', r.start.sample.rssBytes, r.end.sample.rssBytes],
    ['open fds', r.start.sample.openFds, r.end.sample.openFds],
  ]
  if (r.start.sample.activeHandles !== null && r.end.sample.activeHandles !== null) {
    checks.push(['active handles', r.start.sample.activeHandles, r.end.sample.activeHandles])
  }
  for (const [what, a, b] of checks) {
    if (growth(a, b) > r.tolerance) failures.push(`${what} grew ${(growth(a, b) * 100).toFixed(1)} % (${a} -> ${b}), over ${r.tolerance * 100} %`)
  }
  if (!r.end.stable) failures.push(`the gateway did not settle within ${r.end.settleMs} ms after the load stopped`)
  return { ok: failures.length === 0, failures }
}

export function formatReport (r: SoakResult, v: Verdict): string {
  const out: string[] = []
  const line = (s = '') => out.push(s)
  const secs = (r.load.stoppedAt - r.load.startedAt) / 1000
  const sorted = [...r.load.durationsMs].sort((a, b) => a - b)
  line(`gatehouse soak${r.smoke ? ' (SMOKE RUN: shorter than the 2 min a soak needs)' : ''}`)
  line(`load phase ${fmtMs(r.durationMs)} with faults; ${r.load.sent} requests in ${secs.toFixed(1)} s (${(r.load.sent / secs).toFixed(0)} req/s achieved)`)
  line()
  line('requests')
  line(`  sent         ${r.load.sent}`)
  line(`  answered     ${sum(r.load.answered)}`)
  for (const [k, n] of [...r.load.answered].sort(([a], [b]) => a.localeCompare(b))) line(`    ${k.padEnd(34)} ${n}`)
  line(`  truncated    ${sum(r.load.truncated)}${fmtMap(r.load.truncated)}`)
  line(`  unanswered   ${sum(r.load.unanswered)}${fmtMap(r.load.unanswered)}`)
  line(`  latency      p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(0)} ms`)
  line()
  line('gateway resources, settled: load stopped and client connections closed; handle count unchanged for 3 s,')
  line('>= 6 s after the load; RSS read after two full GCs (inspector HeapProfiler.collectGarbage)')
  line(`  ${''.padEnd(16)} ${'start'.padStart(12)} ${'end'.padStart(12)} ${'change'.padStart(9)}`)
  row(line, 'RSS (MiB)', r.start.sample.rssBytes / 2 ** 20, r.end.sample.rssBytes / 2 ** 20, 1)
  if (r.start.sample.heapUsedBytes !== null && r.end.sample.heapUsedBytes !== null) {
    row(line, 'heap used (MiB)', r.start.sample.heapUsedBytes / 2 ** 20, r.end.sample.heapUsedBytes / 2 ** 20, 1)
  }
  if (r.start.sample.activeHandles !== null && r.end.sample.activeHandles !== null) {
    row(line, 'active handles', r.start.sample.activeHandles, r.end.sample.activeHandles, 0)
  }
  row(line, 'open fds', r.start.sample.openFds, r.end.sample.openFds, 0)
  line(`  handles by type  start ${fmtTypes(r.start.sample)} | end ${fmtTypes(r.end.sample)}`)
  line(`  settle time      start ${fmtMs(r.start.settleMs)}, end ${fmtMs(r.end.settleMs)}`)
  line()
  line('faults (time from the start of the load phase)')
  for (const e of r.timeline) line(`  ${fmtMs(e.atMs).padStart(7)}  ${e.what}`)
  line()
  line('gateway log events')
  for (const [msg, n] of [...r.messages].sort(([, a], [, b]) => b - a)) line(`  ${String(n).padStart(6)}  ${msg}`)
  line(`  rate-limit keys written through the Redis proxy: ${r.redisKeys}`)
  if (r.logFile !== null) line(`  gateway log: ${r.logFile}`)
  line()
  line(v.ok ? 'PASS: every request answered, no leak' : `FAIL: ${v.failures.join('; ')}`)
  return out.join('\n')
}

function row (line: (s: string) => void, name: string, a: number, b: number, digits: number) {
  const change = a > 0 ? `${((b - a) / a * 100).toFixed(1)} %` : 'n/a'
  line(`  ${name.padEnd(16)} ${a.toFixed(digits).padStart(12)} ${b.toFixed(digits).padStart(12)} ${change.padStart(9)}`)
}

function sum (m: Map<string, number>): number {
  let n = 0
  for (const v of m.values()) n += v
  return n
}

function fmtMap (m: Map<string, number>): string {
  return m.size === 0 ? '' : '  (' + [...m].map(([k, n]) => `${k}: ${n}`).join(', ') + ')'
}

function fmtTypes (s: ResourceSample): string {
  const e = Object.entries(s.handlesByType)
  return e.length === 0 ? 'n/a' : e.map(([k, n]) => `${k} ${n}`).join(', ')
}

function fmtMs (ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`
}
