// The numbers of a bench run and the text made from them (console table, Markdown).
// Pure functions: run.ts measures, this summarises.
import { markdownPairedTable, pairedMethodLine, pairedRows, type PairedSummary } from './paired-summary.ts'

export interface RoundSample {
  round: number
  requests: number
  durationS: number
  rps: number
  p50Ms: number | null
  p99Ms: number | null
  cpuUsPerReq: number | null // the process under test (the backend for "direct")
  backendCpuUsPerReq: number | null
  non2xx: number
  errors: number
  timeouts: number
  warmupFailures: number // non-2xx + errors + timeouts during the warm-up
  timedOut: boolean
  statuses: Record<string, number> // non-2xx answers by status code
  // CPU (in cores) used during the measured run by everything but the bench's own
  // processes, and stolen by the hypervisor: the noise indicators.
  otherCores: number | null
  stealCores: number | null
}

export interface ContenderSummary {
  name: string
  description: string
  cpuOf: 'gateway' | 'backend'
  rounds: RoundSample[]
  rps: number
  p50Ms: number | null
  p99Ms: number | null
  cpuUsPerReq: number | null
  backendCpuUsPerReq: number | null
  failures: number // non-2xx + errors + timeouts over the measured runs; must be 0
  warmupFailures: number
  statuses: Record<string, number>
  maxOtherCores: number | null
  // Versus the baseline (bare proxy): the median over rounds of this round's value ÷ the
  // baseline's in the same round, so a machine that speeds up or slows down between
  // rounds (this VM does, by 20-30 %) moves both sides of each ratio together.
  rpsRatio: number | null
  cpuRatio: number | null
  // The lowest and highest of those per-round ratios: how far a single round can be off.
  rpsRatioRange: [number, number] | null
  cpuRatioRange: [number, number] | null
  // Head to head with the baseline on one core (paired.ts); null when not run.
  paired: PairedSummary | null
}

export interface Target {
  contender: string
  metric: 'rps' | 'cpu'
  op: '>=' | '<='
  ratio: number
  label: string
}

export interface TargetResult extends Target {
  actual: number | null
  // Which measurement `actual` is: head to head when it ran, else the rounds.
  source: 'paired' | 'rounds' | null
  // Head to head: how far the control (two copies of the bare proxy) read from 1.00x on
  // this metric. A result nearer the line than that is not conclusive either way.
  noise: number | null
  conclusive: boolean | null
  pass: boolean | null // null: not measured
}

// From issue 9: ratios to the bare proxy in the same run.
export const TARGETS: Target[] = [
  { contender: 'gatehouse-full', metric: 'rps', op: '>=', ratio: 0.85, label: 'full pipeline (memory) req/s >= 0.85x bare proxy' },
  { contender: 'gatehouse-full', metric: 'cpu', op: '<=', ratio: 1.2, label: 'full pipeline (memory) CPU/req <= 1.2x bare proxy' },
  { contender: 'gatehouse-redis', metric: 'rps', op: '>=', ratio: 0.75, label: 'full pipeline (Redis) req/s >= 0.75x bare proxy' },
  { contender: 'gatehouse-none', metric: 'rps', op: '>=', ratio: 0.95, label: 'no policies req/s >= 0.95x bare proxy' },
]

export interface MachineInfo {
  cpuModel: string
  cores: number
  node: string
  platform: string
  totalMemGb: number
  loadAvg: number[]
}

export interface BenchSettings {
  connections: number
  pipelining: number
  warmupS: number
  durationS: number
  rounds: number
  quick: boolean
  loadGenerator: string
  path: string
  clkTck: number
  pairedWindows: number // 0: no head-to-head phase
  nodeFlags: string[] // given to every Node process the bench starts
}

export interface SkippedContender {
  name: string
  reason: string
}

export interface BenchReport {
  date: string
  machine: MachineInfo
  settings: BenchSettings
  pinning: string
  contenders: ContenderSummary[]
  skipped: SkippedContender[]
  targets: TargetResult[]
  // The baseline head to head with a second copy of itself: what the method reads for
  // two equal proxies (1.00x if it has no bias), and how far one window can be off.
  control: PairedSummary | null
  baseline: string
  valid: boolean // every contender started, none died, no failed request
}

export function median (values: number[]): number | null {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (xs.length === 0) return null
  const mid = xs.length >> 1
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
}

export function ratio (value: number | null, base: number | null): number | null {
  if (value === null || base === null || base === 0) return null
  return value / base
}

function medianOf (rounds: RoundSample[], pick: (r: RoundSample) => number | null): number | null {
  return median(rounds.map(pick).filter((v): v is number => v !== null))
}

export function summarise (name: string, description: string, cpuOf: 'gateway' | 'backend', rounds: RoundSample[]): ContenderSummary {
  return {
    name,
    description,
    cpuOf,
    rounds,
    rps: medianOf(rounds, (r) => r.rps) ?? 0,
    p50Ms: medianOf(rounds, (r) => r.p50Ms),
    p99Ms: medianOf(rounds, (r) => r.p99Ms),
    cpuUsPerReq: medianOf(rounds, (r) => r.cpuUsPerReq),
    backendCpuUsPerReq: medianOf(rounds, (r) => r.backendCpuUsPerReq),
    failures: rounds.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
    warmupFailures: rounds.reduce((n, r) => n + r.warmupFailures, 0),
    statuses: mergeCounts(rounds.map((r) => r.statuses)),
    maxOtherCores: maxOf(rounds.map((r) => r.otherCores)),
    rpsRatio: null,
    cpuRatio: null,
    rpsRatioRange: null,
    cpuRatioRange: null,
    paired: null,
  }
}

function mergeCounts (counts: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const c of counts) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v
  return out
}

function maxOf (values: Array<number | null>): number | null {
  const xs = values.filter((v): v is number => v !== null)
  return xs.length === 0 ? null : Math.max(...xs)
}

// Per-round ratios to the baseline measured in the same round (rounds are matched by
// number; a round either side lacks is left out), summarised by their median and range.
// The backend's CPU ("direct") is not a proxy's, so it gets no CPU ratio.
export function withRatios (summaries: ContenderSummary[], baseline: string): ContenderSummary[] {
  const base = summaries.find((s) => s.name === baseline)
  return summaries.map((s) => {
    if (base === undefined) return { ...s, rpsRatio: null, cpuRatio: null, rpsRatioRange: null, cpuRatioRange: null }
    const rps = pairedRatios(s.rounds, base.rounds, (r) => r.rps)
    const cpu = s.cpuOf === 'gateway' ? pairedRatios(s.rounds, base.rounds, (r) => r.cpuUsPerReq) : []
    return { ...s, rpsRatio: median(rps), cpuRatio: median(cpu), rpsRatioRange: rangeOf(rps), cpuRatioRange: rangeOf(cpu) }
  })
}

export function pairedRatios (rounds: RoundSample[], baseRounds: RoundSample[], pick: (r: RoundSample) => number | null): number[] {
  const out: number[] = []
  for (const r of rounds) {
    const b = baseRounds.find((x) => x.round === r.round)
    const q = b === undefined ? null : ratio(pick(r), pick(b))
    if (q !== null && Number.isFinite(q)) out.push(q)
  }
  return out
}

export function rangeOf (xs: number[]): [number, number] | null {
  return xs.length === 0 ? null : [Math.min(...xs), Math.max(...xs)]
}

// Failed requests of a contender in the rounds and head to head: any makes its numbers invalid.
export function totalFailures (s: ContenderSummary): number {
  return s.failures + (s.paired?.failures ?? 0)
}

// Judged head to head when that ran (the drift between rounds cancels out there), else on
// the rounds. Failed requests in either measurement fail the target.
export function evaluateTargets (summaries: ContenderSummary[], control: PairedSummary | null = null, targets: Target[] = TARGETS): TargetResult[] {
  return targets.map((t) => {
    const s = summaries.find((c) => c.name === t.contender)
    if (s === undefined) return { ...t, actual: null, source: null, pass: null, noise: null, conclusive: null }
    const paired = s.paired === null ? null : t.metric === 'rps' ? s.paired.rpsRatio : s.paired.cpuRatio
    const source = paired !== null ? 'paired' : 'rounds'
    const actual = paired ?? (t.metric === 'rps' ? s.rpsRatio : s.cpuRatio)
    const pass = actual === null ? null : (t.op === '>=' ? actual >= t.ratio : actual <= t.ratio) && totalFailures(s) === 0
    const controlRatio = control === null ? null : t.metric === 'rps' ? control.rpsRatio : control.cpuRatio
    const noise = paired === null || controlRatio === null ? null : Math.abs(controlRatio - 1)
    const conclusive = noise === null || actual === null ? null : Math.abs(actual - t.ratio) > noise * t.ratio
    return { ...t, actual, source: actual === null ? null : source, pass, noise, conclusive }
  })
}

// ---- formatting ----

export function fmt (value: number | null, digits: number): string {
  if (value === null || !Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function fmtRatio (value: number | null): string {
  return value === null ? '-' : `${value.toFixed(2)}x`
}

export function passLabel (pass: boolean | null): string {
  return pass === null ? 'n/a' : pass ? 'PASS' : 'FAIL'
}

// "0.95x (0.90-1.01)": the median per-round ratio and the lowest and highest round.
export function fmtRatioWithRange (value: number | null, range: [number, number] | null): string {
  if (value === null) return '-'
  if (range === null || range[0] === range[1]) return fmtRatio(value)
  return `${fmtRatio(value)} (${range[0].toFixed(2)}-${range[1].toFixed(2)})`
}

const COLUMNS = ['contender', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'req/s vs bare', 'CPU vs bare', 'failed']

function rows (summaries: ContenderSummary[]): string[][] {
  return summaries.map((s) => [
    s.name,
    fmt(s.rps, 0),
    fmt(s.p50Ms, 2),
    fmt(s.p99Ms, 2),
    s.cpuOf === 'backend' ? `${fmt(s.cpuUsPerReq, 1)} (backend)` : fmt(s.cpuUsPerReq, 1),
    fmtRatioWithRange(s.rpsRatio, s.rpsRatioRange),
    fmtRatioWithRange(s.cpuRatio, s.cpuRatioRange),
    s.failures === 0 ? '0' : `${s.failures} (!) ${formatStatuses(s.statuses)}`.trimEnd(),
  ])
}

export function formatTable (summaries: ContenderSummary[]): string {
  return textTable(COLUMNS, rows(summaries))
}

export function markdownTable (summaries: ContenderSummary[]): string {
  return markdownGrid(COLUMNS, rows(summaries))
}

// Console table: the first column left-aligned, the numbers right-aligned.
export function textTable (columns: string[], body: string[][]): string {
  const all = [columns, ...body]
  const widths = columns.map((_, i) => Math.max(...all.map((r) => r[i].length)))
  const line = (r: string[]) => r.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  ')
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

export function markdownGrid (columns: string[], body: string[][]): string {
  const head = `| ${columns.join(' | ')} |`
  const align = `|${columns.map((_, i) => i === 0 ? ':---' : '---:').join('|')}|`
  return [head, align, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

export function formatStatuses (statuses: Record<string, number>): string {
  const parts = Object.entries(statuses).map(([code, n]) => `${code}×${n}`)
  return parts.length === 0 ? '' : `[${parts.join(' ')}]`
}

// How busy the machine was with other work: worth knowing before trusting a ratio.
export function noiseLine (contenders: ContenderSummary[]): string | null {
  const other = maxOf(contenders.map((c) => c.maxOtherCores))
  const steal = maxOf(contenders.flatMap((c) => c.rounds.map((r) => r.stealCores)))
  if (other === null) return null
  const warn = other > 0.1 ? ' (other work ran during the measurement: treat the ratios with care)' : ''
  return `Other processes used up to ${other.toFixed(2)} cores during the measured runs, VM steal up to ${(steal ?? 0).toFixed(2)} cores${warn}.`
}

export function formatTargets (targets: TargetResult[]): string {
  return targets.map((t) => `${passLabel(t.pass).padEnd(4)}  ${t.label}: ${fmtRatio(t.actual)}${sourceNote(t)}`).join('\n')
}

function sourceNote (t: TargetResult): string {
  if (t.source === 'rounds') return ' (rounds)'
  if (t.source !== 'paired') return ''
  if (t.noise === null) return ' (head to head)'
  return ` (head to head; the control read ${(t.noise * 100).toFixed(1)} % off 1.00x${t.conclusive === false ? ': within that of the line, not conclusive' : ''})`
}

export function machineLine (r: BenchReport): string {
  const m = r.machine
  return `${m.cpuModel}, ${m.cores} cores, ${m.totalMemGb} GB, ${m.platform}, Node ${m.node}, load avg at start ${m.loadAvg.map((x) => x.toFixed(2)).join(' ')}`
}

export function settingsLine (s: BenchSettings): string {
  return `${s.loadGenerator}, ${s.connections} connections, pipelining ${s.pipelining}, ` +
    `${s.rounds} interleaved round(s) of ${s.warmupS} s warm-up + ${s.durationS} s measured per contender, medians; GET ${s.path}` +
    (s.nodeFlags.length === 0 ? '' : `; every Node process runs with ${s.nodeFlags.join(' ')}`)
}

export function toMarkdown (r: BenchReport): string {
  const lines = [
    `# Gatehouse benchmark, ${r.date}`,
    '',
    `- Machine: ${machineLine(r)}`,
    `- Load: ${settingsLine(r.settings)}`,
    `- ${r.pinning}`,
    '- CPU µs/req: utime+stime of the process under test (all its threads) over the measured run ÷ requests' +
      ` (the backend's for "direct"; /proc, CLK_TCK ${r.settings.clkTck}).`,
    `- Ratios: each round's value ÷ \`${r.baseline}\`'s in the same round; the median over rounds, (lowest-highest round).`,
    ...(noiseLine(r.contenders) === null ? [] : [`- ${noiseLine(r.contenders)}`]),
    '',
    markdownTable(r.contenders),
    '',
  ]
  for (const c of r.contenders) lines.push(`- \`${c.name}\`: ${c.description}`)
  if (r.skipped.length > 0) {
    lines.push('', 'Not measured:')
    for (const s of r.skipped) lines.push(`- \`${s.name}\`: ${s.reason}`)
  }
  const paired = pairedRows(r.contenders, r.control, r.baseline)
  if (paired.length > 0) {
    lines.push('', `- ${pairedMethodLine(r.settings.pairedWindows, r.settings.durationS, r.settings.connections)}`, '', markdownPairedTable(paired))
  }
  lines.push('', '| target (issue 9) | ratio | measured | result |', '|:---|---:|:---|:---:|')
  for (const t of r.targets) {
    const how = t.source === 'paired' ? 'head to head' : t.source ?? '-'
    const caveat = t.conclusive === false ? ` (not conclusive: the control read ${(t.noise! * 100).toFixed(1)} % off)` : ''
    lines.push(`| ${t.label} | ${fmtRatio(t.actual)} | ${how} | ${passLabel(t.pass)}${caveat} |`)
  }
  const failed = r.contenders.filter((c) => totalFailures(c) > 0).map((c) => `${c.name} ${totalFailures(c)}`)
  if ((r.control?.failures ?? 0) > 0) failed.push(`the control ${r.control!.failures}`)
  if (failed.length > 0) {
    lines.push('', `**Failed requests** (non-2xx, errors or timeouts; rounds and head to head): ${failed.join(', ')}. Those numbers are not valid.`)
  }
  lines.push('', `This run: \`npm run bench${r.settings.quick ? ' -- --quick' : ''}\`. Reproduce with \`npm run bench\` ` +
    '(about 8 min) or `npm run bench -- --quick` (about 1 min, no head to head); `gatehouse-redis` needs Redis on 127.0.0.1:6379. ' +
    'Results land in `bench/results/` (JSON, Markdown, SVG).', '')
  return lines.join('\n')
}
