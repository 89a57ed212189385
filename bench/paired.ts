// Head to head: a contender and the bare proxy loaded at the same time, both pinned to
// the one core the bench gives the process under test (paired-summary.ts says why).
import { cpuMicrosPerRequest, readCpuTicks } from './cpu.ts'
import { runLoad, type LoadResult } from './load.ts'
import type { PairedWindow } from './paired-summary.ts'
import type { Running, Session } from './session.ts'

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
  const both = async (w: number, durationS: number): Promise<[LoadResult, LoadResult]> => {
    if (w % 2 === 0) {
      const b = load(base, durationS)
      const c = load(contender, durationS)
      return [await b, await c]
    }
    const c = load(contender, durationS)
    const b = load(base, durationS)
    return [await b, await c]
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
