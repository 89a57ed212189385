// Head-to-head windows (paired.ts measures them) and what is made of them. Pure functions.
//
// Why head to head: this kind of VM changes speed by 20-30 % within a minute for every
// process alike, so two proxies measured one after the other differ by the drift as much
// as by their own cost. Loaded at the same moment on the same core, each gets half the
// core under the same drift, and the ratio of what they serve is the ratio of their cost
// per request; the drift cancels out.

import { fmtRatioWithRange, markdownGrid, median, rangeOf, ratio, textTable } from './report.ts'

export interface PairedWindow {
  window: number
  durationS: number
  rps: number
  baseRps: number
  // utime+stime ÷ requests of each process over the window.
  cpuUsPerReq: number | null
  baseCpuUsPerReq: number | null
  // Both processes' CPU over the window, in cores: a pair that did not keep their shared
  // core busy was held back by something else (the load generator), which pushes the
  // req/s ratio towards 1; such a window is left out of the req/s ratio.
  coreBusy: number | null
  // This contender's part of that CPU (0.5 = an even split).
  share: number | null
  failures: number // non-2xx + errors + timeouts, either side
  timedOut: boolean
}

export interface PairedSummary {
  windows: PairedWindow[]
  // Windows whose shared core was busy enough for the req/s ratio to mean cost.
  saturatedWindows: number
  rpsRatio: number | null
  rpsRatioRange: [number, number] | null
  cpuRatio: number | null
  cpuRatioRange: [number, number] | null
  share: number | null
  failures: number
}

// Below this the shared core was idle part of the time (CLK_TCK 100 over a 4 s window
// is 400 ticks: 0.9 leaves room for rounding and the odd tick spent elsewhere).
export const SATURATED_CORES = 0.9

export function summarisePaired (windows: PairedWindow[]): PairedSummary {
  const saturated = windows.filter((w) => w.coreBusy === null || w.coreBusy >= SATURATED_CORES)
  const rps = saturated.map((w) => ratio(w.rps, w.baseRps)).filter((q): q is number => q !== null && Number.isFinite(q))
  // CPU per request is a cost whether or not the core was full: every window counts.
  const cpu = windows.map((w) => ratio(w.cpuUsPerReq, w.baseCpuUsPerReq)).filter((q): q is number => q !== null && Number.isFinite(q))
  return {
    windows,
    saturatedWindows: saturated.length,
    rpsRatio: median(rps),
    rpsRatioRange: rangeOf(rps),
    cpuRatio: median(cpu),
    cpuRatioRange: rangeOf(cpu),
    share: median(windows.map((w) => w.share).filter((s): s is number => s !== null)),
    failures: windows.reduce((n, w) => n + w.failures, 0),
  }
}

// ---- formatting ----

const PAIRED_COLUMNS = ['head to head', 'req/s vs bare', 'CPU vs bare', 'CPU share', 'windows', 'failed']

export interface PairedRow {
  name: string
  paired: PairedSummary
}

function pairedCells ({ name, paired: p }: PairedRow): string[] {
  return [
    name,
    fmtRatioWithRange(p.rpsRatio, p.rpsRatioRange),
    fmtRatioWithRange(p.cpuRatio, p.cpuRatioRange),
    p.share === null ? 'n/a' : `${(p.share * 100).toFixed(0)} %`,
    // Saturated windows (counted in req/s) of all windows.
    p.saturatedWindows === p.windows.length ? String(p.windows.length) : `${p.saturatedWindows} of ${p.windows.length}`,
    p.failures === 0 ? '0' : `${p.failures} (!)`,
  ]
}

export function formatPairedTable (rows: PairedRow[]): string {
  return textTable(PAIRED_COLUMNS, rows.map(pairedCells))
}

export function markdownPairedTable (rows: PairedRow[]): string {
  return markdownGrid(PAIRED_COLUMNS, rows.map(pairedCells))
}

// The rows of a run: the control first (it says how far the method itself is off),
// then every contender that ran head to head.
export function pairedRows (contenders: Array<{ name: string, paired: PairedSummary | null }>, control: PairedSummary | null, baseline: string): PairedRow[] {
  const rows: PairedRow[] = []
  if (control !== null) rows.push({ name: `${baseline} (control: a second copy)`, paired: control })
  for (const c of contenders) if (c.paired !== null) rows.push({ name: c.name, paired: c.paired })
  return rows
}

export function pairedMethodLine (windows: number, durationS: number, connections: number): string {
  return `Head to head: each proxy and the bare proxy loaded at the same time (${connections} connections each), ` +
    `both pinned to the one core, ${windows} window(s) of ${durationS} s; each window's ratio, the median (lowest-highest window). ` +
    `The VM's drift hits both sides of a window alike. req/s counts only windows that kept the core at least ${SATURATED_CORES * 100} % busy.`
}
