// From the rounds to the table: each round's ratio to the baseline measured in that same
// round (this VM drifts 20-30 % within a minute, alike for every process), then medians.

export interface Sample {
  round: number
  fork: number // which of the contender's processes
  requests: number
  rps: number
  p50Ms: number | null
  p99Ms: number | null
  cpuUsPerReq: number | null
  errors: Record<string, number> // warm-up and measured window together
}

export interface Range { median: number, low: number, high: number }

export interface Summary {
  name: string
  rounds: number
  rps: number | null
  p50Ms: number | null
  p99Ms: number | null
  cpuUsPerReq: number | null
  rpsRatio: Range | null // to the baseline, per round
  cpuRatio: Range | null
  failed: number
}

export function median (xs: number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function range (xs: number[]): Range | null {
  const m = median(xs)
  return m === null ? null : { median: m, low: Math.min(...xs), high: Math.max(...xs) }
}

const known = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null)

export function summarise (name: string, samples: Sample[], baseline: Sample[]): Summary {
  const rps: number[] = []
  const cpu: number[] = []
  for (const s of samples) {
    const b = baseline.find((x) => x.round === s.round)
    if (b === undefined) continue
    if (b.rps > 0) rps.push(s.rps / b.rps)
    if (s.cpuUsPerReq !== null && b.cpuUsPerReq) cpu.push(s.cpuUsPerReq / b.cpuUsPerReq)
  }
  return {
    name,
    rounds: samples.length,
    rps: median(samples.map((s) => s.rps)),
    p50Ms: median(known(samples.map((s) => s.p50Ms))),
    p99Ms: median(known(samples.map((s) => s.p99Ms))),
    cpuUsPerReq: median(known(samples.map((s) => s.cpuUsPerReq))),
    rpsRatio: range(rps),
    cpuRatio: range(cpu),
    failed: samples.reduce((n, s) => n + Object.values(s.errors).reduce((a, b) => a + b, 0), 0),
  }
}

const fixed = (x: number | null, digits: number) => x === null ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const ratio = (r: Range | null) => r === null ? '-' : `${r.median.toFixed(2)}x (${r.low.toFixed(2)}-${r.high.toFixed(2)})`

export const HEADER = ['contender', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'req/s vs bare', 'CPU vs bare', 'failed']

export function tableRows (summaries: Summary[]): string[][] {
  return summaries.map((s) => [
    s.name, fixed(s.rps, 0), fixed(s.p50Ms, 2), fixed(s.p99Ms, 2), fixed(s.cpuUsPerReq, 1), ratio(s.rpsRatio), ratio(s.cpuRatio), String(s.failed),
  ])
}

export function textTable (rows: string[][]): string {
  const all = [HEADER, ...rows]
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i].length)))
  return all.map((r) => r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ')).join('\n')
}

export function markdownTable (rows: string[][]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`
  return [line(HEADER), `|:---|${HEADER.slice(1).map(() => '---:').join('|')}|`, ...rows.map(line)].join('\n')
}
