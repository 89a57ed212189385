// Head to head: a contender and the bare proxy loaded at the same time, both pinned to
// the one core the bench gives the process under test (paired-summary.ts says why).
import { BASELINE, type ContenderName } from './contenders.ts'
import { cpuMicrosPerRequest, readCpuTicks } from './cpu.ts'
import { runLoad, type LoadResult } from './load.ts'
import type { BenchOptions } from './options.ts'
import { summarisePaired, type PairedSummary, type PairedWindow } from './paired-summary.ts'
import { logTail } from './processes.ts'
import { ratio } from './report.ts'
import { smokeCheck, type Running, type Session } from './session.ts'

export interface PairedOptions {
  windows: number
  warmupS: number
  durationS: number
  connections: number // each side gets this many
  pipelining: number
}

function failures (r: LoadResult): number {
  return r.non2xx + r.errors + r.timeouts
}

export async function runPaired (session: Session, base: Running, contender: Running, opts: PairedOptions,
  onWindow: (w: PairedWindow) => void = () => {}): Promise<PairedWindow[]> {
  const load = (c: Running, durationS: number) => runLoad({
    url: c.url, connections: opts.connections, pipelining: opts.pipelining, headers: session.headers, signal: session.signal, durationS,
  })
  // Both at once, the one started first alternating, so neither is always ahead.
  // Promise.all: a side that fails while the other still runs is handled, not left unhandled.
  const both = async (w: number, durationS: number): Promise<[LoadResult, LoadResult]> => {
    if (w % 2 === 0) return Promise.all([load(base, durationS), load(contender, durationS)])
    const [c, b] = await Promise.all([load(contender, durationS), load(base, durationS)])
    return [b, c]
  }
  await both(0, opts.warmupS)
  const out: PairedWindow[] = []
  for (let w = 1; w <= opts.windows; w++) {
    session.signal.throwIfAborted()
    const before = [readCpuTicks(base.child.pid), readCpuTicks(contender.child.pid)]
    const [b, c] = await both(w, opts.durationS)
    const after = [readCpuTicks(base.child.pid), readCpuTicks(contender.child.pid)]
    const ticks = before.every((t) => t !== null) && after.every((t) => t !== null)
      ? [after[0]! - before[0]!, after[1]! - before[1]!]
      : null
    const durationS = Math.max(b.durationS, c.durationS)
    const window: PairedWindow = {
      window: w,
      durationS,
      rps: c.rps,
      baseRps: b.rps,
      cpuUsPerReq: ticks === null ? null : cpuMicrosPerRequest(ticks[1]!, session.clkTck, c.requests),
      baseCpuUsPerReq: ticks === null ? null : cpuMicrosPerRequest(ticks[0]!, session.clkTck, b.requests),
      coreBusy: ticks === null ? null : (ticks[0]! + ticks[1]!) / session.clkTck / durationS,
      share: ticks === null || ticks[0]! + ticks[1]! === 0 ? null : ticks[1]! / (ticks[0]! + ticks[1]!),
      failures: failures(b) + failures(c),
      timedOut: b.timedOut || c.timedOut,
    }
    out.push(window)
    onWindow(window)
  }
  return out
}

const CONTROL_PRIME_S = 10

function windowLine (name: string, w: PairedWindow): string {
  const q = (a: number | null, b: number | null) => ratio(a, b)?.toFixed(3) ?? 'n/a'
  return `head to head ${w.window}  ${name.padEnd(16)} ${Math.round(w.rps).toString().padStart(6)} vs ${Math.round(w.baseRps).toString().padStart(6)} req/s (${q(w.rps, w.baseRps)})  ` +
    `${w.cpuUsPerReq?.toFixed(1) ?? 'n/a'} vs ${w.baseCpuUsPerReq?.toFixed(1) ?? 'n/a'} µs/req (${q(w.cpuUsPerReq, w.baseCpuUsPerReq)})  ` +
    `core ${w.coreBusy === null ? 'n/a' : `${(w.coreBusy * 100).toFixed(0)} %`}` + (w.failures > 0 ? `  FAILED REQUESTS: ${w.failures}` : '')
}

// After the rounds: every proxy head to head with the bare proxy, and first the bare proxy
// with a second copy of itself (the control). Needs the pinning, which gives the pair a
// core that nothing else of the bench's uses.
export async function headToHead (session: Session, running: Running[], opts: BenchOptions, log: (line: string) => void):
  Promise<{ pairedBy: Map<ContenderName, PairedSummary>, control: PairedSummary | null, windows: number, broke: boolean }> {
  const pairedBy = new Map<ContenderName, PairedSummary>()
  const base = running.find((c) => c.name === BASELINE)
  const others = running.filter((c) => c.cpuOf === 'gateway' && c.name !== BASELINE)
  if (opts.pairedWindows === 0 || base === undefined || others.length === 0) return { pairedBy, control: null, windows: 0, broke: false }
  if (!session.pinning.enabled) {
    log('head to head: not run (it needs taskset and 2+ cores, to give the pair a core of their own)')
    return { pairedBy, control: null, windows: 0, broke: false }
  }
  const pOpts: PairedOptions = {
    // Both loaded together for primeS first: the contender sat idle through the pairs
    // before its own (and the control copy is new), and its first seconds back are not
    // its steady state.
    windows: opts.pairedWindows, warmupS: opts.primeS, durationS: opts.durationS, connections: opts.connections, pipelining: opts.pipelining,
  }
  let control: PairedSummary | null = null
  let broke = false
  log('')
  try {
    const copy = await session.start(BASELINE, [], { instance: 'control' })
    await smokeCheck(copy, session.headers)
    // As warm as the contenders are by now, or the control measures its JIT warming up
    // (2 s + 2 s read 0.84x; 5 s + 5 s read 1.01-1.03x).
    await runLoad({ url: copy.url, connections: opts.connections, pipelining: opts.pipelining, headers: session.headers, signal: session.signal, durationS: Math.max(opts.primeS, CONTROL_PRIME_S) })
    control = summarisePaired(await runPaired(session, base, copy, pOpts, (w) => log(windowLine('control', w))))
    await session.processes.stop(copy.child)
  } catch (err) {
    if (session.signal.aborted) throw err
    broke = true
    log(`head to head: the control (a second ${BASELINE}) failed: ${(err as Error).message}`)
  }
  for (const c of others) {
    session.signal.throwIfAborted()
    const windows = await runPaired(session, base, c, pOpts, (w) => log(windowLine(c.name, w)))
    pairedBy.set(c.name, summarisePaired(windows))
    for (const r of [base, c]) {
      if (r.child.hasExited()) {
        broke = true
        log(`${r.name} exited during the head-to-head run:\n${logTail(r.child.logFile)}`)
        return { pairedBy, control, windows: opts.pairedWindows, broke }
      }
    }
  }
  return { pairedBy, control, windows: opts.pairedWindows, broke }
}
