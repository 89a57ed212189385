import { readCpuTicks } from './cpu.ts'
import { failedRequests, runLoad, type LoadSettings } from './load.ts'
import { logTail } from './processes.ts'
import type { Running } from './session.ts'
import type { Sample } from './summary.ts'

// Interleaved rounds: every contender once per round (warm-up, then the measured window),
// the order rotated each round, so the machine's drift spreads over all of them alike.
// A contender runs as several processes (forks), and each round measures the next one:
// identical processes of the same code differ by up to 11 % here for their whole life
// (docs/performance.md), so one process per contender would make its luck the result.

export interface RoundSettings { rounds: number, warmupS: number, durationS: number, clkTck: number, signal: AbortSignal }

// A contender's processes, measured in turn.
export interface Forks { name: string, forks: Running[] }

async function measure (load: LoadSettings, r: Running, o: RoundSettings, round: number): Promise<Sample> {
  const warm = o.warmupS > 0 ? await runLoad(load, r.url, o.warmupS) : { errors: {} }
  const before = readCpuTicks(r.child.pid)
  const run = await runLoad(load, r.url, o.durationS)
  const after = readCpuTicks(r.child.pid)
  const errors = { ...run.errors }
  for (const [k, n] of Object.entries(warm.errors)) errors[k] = (errors[k] ?? 0) + n
  const cpuUsPerReq = before === null || after === null || run.requests === 0 ? null : (after - before) / o.clkTck * 1e6 / run.requests
  return { round, fork: r.fork, requests: run.requests, rps: run.rps, p50Ms: run.p50Ms, p99Ms: run.p99Ms, cpuUsPerReq, errors }
}

// Samples by contender name; a contender that breaks (a process exits, its load fails)
// leaves the rounds and is named in `problems`.
export async function runRounds (load: LoadSettings, contenders: Forks[], o: RoundSettings, problems: string[], log: (line: string) => void) {
  const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]))
  let live = contenders
  for (let round = 1; round <= o.rounds; round++) {
    const k = (round - 1) % Math.max(1, live.length)
    for (const c of [...live.slice(k), ...live.slice(0, k)]) {
      const r = c.forks[(round - 1) % c.forks.length]!
      const name = c.name
      const label = c.forks.length > 1 ? `${name}.${r.fork}` : name
      try {
        const x = await measure(load, r, o, round)
        samples.get(name)!.push(x)
        const failed = failedRequests(x)
        log(`round ${round}/${o.rounds}  ${label.padEnd(24)} ${Math.round(x.rps).toString().padStart(6)} req/s  p99 ${x.p99Ms?.toFixed(2)} ms  ` +
          `${x.cpuUsPerReq?.toFixed(1) ?? '-'} µs/req${failed > 0 ? `  FAILED ${failed} ${JSON.stringify(x.errors)}` : ''}`)
      } catch (err) {
        if (o.signal.aborted) throw err
        problems.push(`${label}: round ${round}: ${(err as Error).message}`)
        live = live.filter((l) => l !== c)
        continue
      }
      if (r.child.hasExited()) {
        problems.push(`${label} exited during the run:\n${logTail(r.child.logFile)}`)
        live = live.filter((l) => l !== c)
      }
    }
  }
  return samples
}
