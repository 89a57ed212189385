// `npm run bench`: the backend alone, a bare @fastify/http-proxy, fast-gateway and three
// Gatehouse configurations, measured in the same run under the same load; prints the
// table and writes bench/results/<timestamp>.{json,md,svg} and latest.*. See USAGE.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { readCpuTicks, readSystemTicks, cpuMicrosPerRequest } from './cpu.ts'
import { runLoad } from './load.ts'
import { machineInfo } from './machine.ts'
import { parseOptions, UsageError, USAGE, type BenchOptions } from './options.ts'
import {
  evaluateTargets, totalFailures, formatStatuses, formatTable, noiseLine, formatTargets, machineLine, settingsLine, summarise, toMarkdown, withRatios,
  type BenchReport, type RoundSample, type SkippedContender,
} from './report.ts'
import { BASELINE, CONTENDER_ORDER, LOAD_PATH, type ContenderName } from './contenders.ts'
import { openSession, smokeCheck, SkipContender, BENCH_NODE_FLAGS, RESULTS_DIR, type Running, type Session } from './session.ts'
import { runProfile } from './profile.ts'
import { runInstructions } from './instructions.ts'
import { renderChart } from './svg.ts'
import { logTail } from './processes.ts'
import { headToHead } from './paired.ts'
import { formatPairedTable, pairedMethodLine, pairedRows } from './paired-summary.ts'

function log (line: string) {
  process.stdout.write(line + '\n')
}

function rotate<T> (xs: T[], by: number): T[] {
  const k = xs.length === 0 ? 0 : by % xs.length
  return [...xs.slice(k), ...xs.slice(0, k)]
}

async function measure (session: Session, c: Running, opts: BenchOptions, round: number): Promise<RoundSample> {
  const load = { url: c.url, connections: opts.connections, pipelining: opts.pipelining, headers: session.headers, signal: session.signal }
  const warm = await runLoad({ ...load, durationS: opts.warmupS })
  // Everything the bench itself runs for this contender, to tell it apart from other load.
  const ours = [...new Set([process.pid, session.backend.pid, c.child.pid, ...(c.extraPids ?? [])])]
  const before = { sys: readSystemTicks(), ours: ours.map(readCpuTicks), cpu: readCpuTicks(c.child.pid), backend: readCpuTicks(session.backend.pid) }
  const run = await runLoad({ ...load, durationS: opts.durationS })
  const after = { sys: readSystemTicks(), ours: ours.map(readCpuTicks), cpu: readCpuTicks(c.child.pid), backend: readCpuTicks(session.backend.pid) }
  const perReq = (a: number | null, b: number | null) =>
    a === null || b === null ? null : cpuMicrosPerRequest(b - a, session.clkTck, run.requests)
  const cores = (ticks: number) => Math.max(0, ticks / session.clkTck / run.durationS)
  let otherCores: number | null = null
  let stealCores: number | null = null
  if (before.sys !== null && after.sys !== null && before.ours.every((t) => t !== null) && after.ours.every((t) => t !== null)) {
    const oursDelta = after.ours.reduce((n: number, t, i) => n + t! - before.ours[i]!, 0)
    otherCores = cores(after.sys.busy - before.sys.busy - oursDelta)
    stealCores = cores(after.sys.steal - before.sys.steal)
  }
  return {
    round,
    requests: run.requests,
    durationS: run.durationS,
    rps: run.rps,
    p50Ms: run.p50Ms,
    p99Ms: run.p99Ms,
    cpuUsPerReq: perReq(before.cpu, after.cpu),
    backendCpuUsPerReq: perReq(before.backend, after.backend),
    non2xx: run.non2xx,
    errors: run.errors,
    timeouts: run.timeouts,
    warmupFailures: warm.non2xx + warm.errors + warm.timeouts,
    timedOut: run.timedOut || warm.timedOut,
    statuses: run.statuses,
    otherCores,
    stealCores,
  }
}

function timestamp (date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
}

async function compare (session: Session, opts: BenchOptions): Promise<number> {
  const skipped: SkippedContender[] = []
  const running: Running[] = []
  let broken = false
  const wanted = CONTENDER_ORDER.filter((n) => opts.only.includes(n))
  for (const name of wanted) {
    session.signal.throwIfAborted()
    try {
      const c = await session.start(name)
      await smokeCheck(c, session.headers)
      log(`started ${name} (pid ${c.child.pid}): ${c.url}`)
      // Let the JIT settle once before round 1, so the first round is not the slow one.
      await runLoad({ url: c.url, connections: opts.connections, pipelining: opts.pipelining, headers: session.headers, signal: session.signal, durationS: opts.primeS })
      running.push(c)
    } catch (err) {
      if (session.signal.aborted) throw err
      const reason = (err as Error).message
      skipped.push({ name, reason })
      if (!(err instanceof SkipContender)) broken = true
      log(`skipped ${name}: ${reason}`)
    }
  }

  const samples = new Map<ContenderName, RoundSample[]>(running.map((c) => [c.name, []]))
  const active = new Set(running)
  for (let round = 1; round <= opts.rounds; round++) {
    // Interleaved: every contender once per round, the order rotated each round.
    for (const c of rotate(running, round - 1)) {
      session.signal.throwIfAborted()
      if (!active.has(c)) continue
      const s = await measure(session, c, opts, round)
      samples.get(c.name)!.push(s)
      const failed = s.non2xx + s.errors + s.timeouts
      log(`round ${round}/${opts.rounds}  ${c.name.padEnd(16)} ${Math.round(s.rps).toString().padStart(7)} req/s  ` +
        `p50 ${s.p50Ms?.toFixed(2)} ms  p99 ${s.p99Ms?.toFixed(2)} ms  ${s.cpuUsPerReq?.toFixed(1) ?? 'n/a'} µs/req` +
        (s.otherCores === null ? '' : `  (other load ${s.otherCores.toFixed(2)} cores)`) +
        (failed > 0 ? `  FAILED REQUESTS: ${failed} ${formatStatuses(s.statuses)}` : ''))
      if (c.child.hasExited()) {
        broken = true
        active.delete(c)
        log(`${c.name} exited during the run:\n${logTail(c.child.logFile)}`)
      }
    }
  }

  const { pairedBy, control, windows: pairedWindows, broke } = await headToHead(session, running.filter((c) => active.has(c)), opts, log)
  if (broke) broken = true

  const summaries = withRatios(
    running.filter((c) => samples.get(c.name)!.length > 0).map((c) => summarise(c.name, c.description, c.cpuOf, samples.get(c.name)!)),
    BASELINE).map((s) => ({ ...s, paired: pairedBy.get(s.name as ContenderName) ?? null }))
  const date = new Date()
  const report: BenchReport = {
    date: date.toISOString(),
    machine: machineInfo(),
    settings: {
      connections: opts.connections,
      pipelining: opts.pipelining,
      warmupS: opts.warmupS,
      durationS: opts.durationS,
      rounds: opts.rounds,
      quick: opts.quick,
      loadGenerator: 'autocannon (in the bench process)',
      path: LOAD_PATH,
      clkTck: session.clkTck,
      pairedWindows,
      nodeFlags: BENCH_NODE_FLAGS,
    },
    pinning: session.pinning.note,
    contenders: summaries,
    skipped,
    targets: evaluateTargets(summaries, control),
    control,
    baseline: BASELINE,
    valid: false,
  }

  log('')
  log(`Gatehouse bench, ${report.date}`)
  log(`machine: ${machineLine(report)}`)
  log(`load: ${settingsLine(report.settings)}`)
  log(session.pinning.note)
  log('')
  log(formatTable(summaries))
  const noise = noiseLine(summaries)
  if (noise !== null) log(noise)
  const paired = pairedRows(summaries, control, BASELINE)
  if (paired.length > 0) {
    log('')
    log(pairedMethodLine(pairedWindows, opts.durationS, opts.connections))
    log(formatPairedTable(paired))
  }
  log('')
  log(formatTargets(report.targets))
  for (const s of skipped) log(`not measured: ${s.name}: ${s.reason.split('\n')[0]}`)
  const failed = summaries.filter((s) => totalFailures(s) > 0)
  if (failed.length > 0) {
    log(`FAILED REQUESTS in: ${failed.map((s) => `${s.name} (${totalFailures(s)})`).join(', ')}; their numbers are not valid`)
  }
  report.valid = !broken && failed.length === 0 && (control?.failures ?? 0) === 0
  // The contenders' logs tell why; keep them.
  if (!report.valid) session.keepLogs = true

  mkdirSync(RESULTS_DIR, { recursive: true })
  const stamp = timestamp(date)
  const markdown = toMarkdown(report)
  const svg = renderChart(summaries, {
    title: `Gatehouse bench ${report.date.slice(0, 10)}`,
    subtitle: `${report.machine.cpuModel}, ${report.machine.cores} cores, Node ${report.machine.node}; ${opts.connections} connections; medians of ${opts.rounds} rounds`,
    baseline: BASELINE,
  })
  const json = JSON.stringify(report, null, 2) + '\n'
  for (const name of [stamp, 'latest']) {
    writeFileSync(path.join(RESULTS_DIR, `${name}.json`), json)
    writeFileSync(path.join(RESULTS_DIR, `${name}.md`), markdown)
    writeFileSync(path.join(RESULTS_DIR, `${name}.svg`), svg)
  }
  log('')
  log(`written: ${path.relative(process.cwd(), path.join(RESULTS_DIR, stamp))}.{json,md,svg} and latest.*`)
  // Failed requests are flagged (report.valid = false), not an exit status: the run
  // itself worked. A contender that could not start or died is.
  return broken ? 1 : 0
}

export async function main (argv: string[]): Promise<number> {
  let opts: BenchOptions
  try {
    opts = parseOptions(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    if (err.message === '') {
      log(USAGE)
      return 0
    }
    process.stderr.write(`bench: ${err.message}\n${USAGE}\n`)
    return 2
  }
  const session = await openSession({ pin: opts.pin })
  let code = 1
  try {
    log(session.pinning.note)
    code = opts.instructions ? await runInstructions(session, opts) : opts.profile ? await runProfile(session, opts) : await compare(session, opts)
    return code
  } catch (err) {
    if (!session.signal.aborted) throw err
    process.stderr.write(`bench: ${(session.signal.reason as Error).message}; nothing written\n`)
    return (code = 130)
  } finally {
    await session.close({ keepLogs: code === 1 || session.keepLogs })
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  }, (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  })
}
