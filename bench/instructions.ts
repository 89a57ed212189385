// `npm run bench -- --instructions`: instructions executed per request (Ir, counted by
// valgrind's callgrind) by each proxy contender. Wall-clock and CPU time on a small VM
// drift by 20-30 % within minutes; instruction counts do not, so a 2-3 % change shows.
// Each contender runs alone under valgrind (pinned like the other modes), is warmed up
// with instrumentation off, then counted over a few windows of a fixed number of requests;
// the lowest window counts: what disturbs a window (a late JIT compilation, a timer that
// fires for the first time minutes in and the deoptimisations it brings) only ever adds
// instructions.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { callgrindCommand, callgrindSetup, dumpFiles, dumpTotal, valgrindProblem, valgrindVersion, type Callgrind } from './callgrind.ts'
import { diffFunctions, functionCosts, readPerfMap } from './callgrind-functions.ts'
import { BASELINE, CONTENDER_ORDER, LOAD_PATH, type ContenderName } from './contenders.ts'
import { runLoad, type LoadResult } from './load.ts'
import { machineInfo } from './machine.ts'
import type { BenchOptions } from './options.ts'
import { logTail } from './processes.ts'
import { machineLine, ratio, type BenchReport, type MachineInfo, type SkippedContender } from './report.ts'
import { RESULTS_DIR, ROOT, SkipContender, type Running, type Session } from './session.ts'

// Until V8 has stopped tiering up: Maglev and then TurboFan compilations go on until
// ~30,000-40,000 requests (TurboFan wants 3,000 calls per function since its last
// feedback change); one left in a window costs it 3-10 %. The warm-up is made of runs
// shaped like the windows (each opens and closes its connections), or the connection
// set-up and tear-down code would still be tiering up in the windows. Uninstrumented,
// it takes about a minute per contender.
export const WARMUP_REQUESTS = 40_000
export const WINDOWS = 5
export const CONNECTIONS = 8
// The same for every contender. V8 sizes the young generation and runs its memory
// reducer by allocation per millisecond, which valgrind's 30-50x slowdown makes look
// idle: it then shrinks the young generation (~10x more scavenges from then on) and runs
// full GCs that throw away optimised code. Pinned to the size a natively loaded
// process grows to (64 MB) and with the reducer off, the process under valgrind keeps
// the heap a natively loaded one has.
export const NODE_FLAGS = ['--no-memory-reducer', '--min-semi-space-size=16', '--max-semi-space-size=16']
const START_TIMEOUT_MS = 120_000 // start-up under valgrind (~5-10 s uninstrumented)

const NOT_MEASURED: Partial<Record<ContenderName, string>> = {
  direct: 'not a proxy (the backend alone)',
  // Measured, 5-10 % of its requests answer 503 once instrumented.
  'gatehouse-redis': 'its 50 ms Redis timeout does not hold at callgrind\'s speed (503s)',
}

export interface InstructionsSample {
  name: string
  description: string
  requestsPerWindow: number
  windows: number[] // Ir/request of each window, in order
  irPerRequest: number // the lowest window
  settled: boolean // the two lowest windows within 1 %
  ratio: number | null // vs the baseline (bare proxy)
  measureS: number // wall time of the counted windows (under callgrind)
  // --functions: Ir/request by function in the lowest window, largest first (top FUNCTIONS_KEPT).
  functions?: Array<{ name: string, ir: number }>
}

const FUNCTIONS_KEPT = 150
const FUNCTIONS_SHOWN = 40

export interface InstructionsReport {
  date: string
  machine: MachineInfo
  settings: {
    warmupRequests: number
    windows: number
    requestsPerWindow: number
    connections: number
    path: string
    nodeFlags: string[]
    valgrind: string
    valgrindArgs: string[]
  }
  pinning: string
  baseline: string
  contenders: InstructionsSample[]
  skipped: SkippedContender[]
  durationS: number
  valid: boolean
}

function log (line: string) {
  process.stdout.write(line + '\n')
}

function timestamp (date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
}

function requireAllOk (name: string, what: string, expected: number, r: LoadResult): void {
  const failed = r.non2xx + r.errors + r.timeouts
  if (failed > 0 || r.timedOut || r.requests !== expected) {
    const statuses = Object.entries(r.statuses).map(([s, n]) => `${n}x ${s}`).join(', ')
    throw new Error(`${name}: ${what}: ${r.requests} of ${expected} requests answered, ${r.non2xx} non-2xx` +
      `${statuses === '' ? '' : ` (${statuses})`}, ${r.errors} errors, ${r.timeouts} timeouts${r.timedOut ? ', stopped by the time limit' : ''}`)
  }
}

// A generous limit for `amount` requests: at least 20 a second (callgrind does ~100-300).
function limitS (amount: number): number {
  return 60 + Math.ceil(amount / 20)
}

async function firstAnswer (c: Running, headers: Record<string, string>): Promise<void> {
  const res = await fetch(c.url, { headers, signal: AbortSignal.timeout(60_000) })
  const body = await res.text()
  if (res.status < 200 || res.status > 299) throw new Error(`${c.name}: GET ${LOAD_PATH} answered ${res.status}: ${body.slice(0, 300)}`)
}

// The lowest of the windows, and whether the next lowest agrees with it within 1 %.
export function lowestWindow (windows: number[]): { irPerRequest: number, settled: boolean } {
  if (windows.length === 0) throw new Error('no window counted')
  const sorted = [...windows].sort((a, b) => a - b)
  return { irPerRequest: sorted[0], settled: sorted.length > 1 && sorted[1] <= sorted[0] * 1.01 }
}

async function measureOne (session: Session, cg: Callgrind, name: ContenderName, requestsPerWindow: number,
  byFunction: boolean): Promise<InstructionsSample> {
  // --perf-basic-prof: V8 writes where each compiled function lives (see callgrind-functions.ts).
  // (It also opens V8's log file, isolate-*.log in the working directory by default.)
  const flags = byFunction
    ? [...NODE_FLAGS, '--perf-basic-prof', `--logfile=${path.join(cg.dir, 'v8.log')}`, '--no-logfile-per-isolate']
    : NODE_FLAGS
  const c = await session.start(name, flags, { wrap: cg.wrap, readyTimeoutMs: START_TIMEOUT_MS })
  const perfMapFile = `/tmp/perf-${c.child.pid}.map`
  try {
    await firstAnswer(c, session.headers)
    const pid = c.child.pid
    const load = { url: c.url, connections: CONNECTIONS, pipelining: 1, headers: session.headers, signal: session.signal }
    const step = async (what: string, amount: number) => {
      const t0 = Date.now()
      const r = await runLoad({ ...load, amount, durationS: limitS(amount) })
      session.signal.throwIfAborted()
      requireAllOk(name, what, amount, r)
      if (c.child.hasExited()) throw new Error(`${name} exited:\n${logTail(c.child.logFile)}`)
      return (Date.now() - t0) / 1000
    }
    const warmupRuns = Math.ceil(WARMUP_REQUESTS / requestsPerWindow)
    log(`${name} (pid ${pid}) under valgrind: ${warmupRuns} x ${requestsPerWindow} warm-up requests, instrumentation off`)
    let warmS = 0
    for (let run = 1; run <= warmupRuns; run++) warmS += await step(`warm-up ${run}`, requestsPerWindow)
    await callgrindCommand(cg, pid, 'instrumentation on', session.signal)
    await callgrindCommand(cg, pid, 'zero', session.signal)
    const windows: number[] = []
    let measureS = 0
    for (let w = 1; w <= WINDOWS; w++) {
      measureS += await step(`window ${w}`, requestsPerWindow)
      // A dump also zeroes the counters: each dump holds one window.
      windows.push(await dumpTotal(cg, pid, session.signal) / requestsPerWindow)
    }
    const { irPerRequest, settled } = lowestWindow(windows)
    log(`${name}: ${fmtIr(irPerRequest)} Ir/request (windows: ${windows.map(fmtIr).join(', ')}` +
      `; ${measureS.toFixed(0)} s under callgrind, warm-up ${warmS.toFixed(0)} s)${settled ? '' : '  NOT SETTLED: the two lowest windows differ by more than 1 %'}`)
    const sample: InstructionsSample = { name, description: c.description, requestsPerWindow, windows, irPerRequest, settled, ratio: null, measureS }
    if (byFunction) {
      // The dumps are numbered in window order; the lowest window's is the one shown.
      const dump = dumpFiles(cg.dir, pid)[windows.indexOf(irPerRequest)]!
      sample.functions = functionCosts(readFileSync(dump, 'utf8'), readPerfMap(perfMapFile), requestsPerWindow, ROOT).slice(0, FUNCTIONS_KEPT)
    }
    return sample
  } finally {
    await session.processes.stop(c.child)
    for (const f of [...dumpFiles(cg.dir, c.child.pid), path.join(cg.dir, `cg.${c.child.pid}`), perfMapFile]) rmSync(f, { force: true })
  }
}

// Per contender: its costliest functions, and what it spends more than the baseline, by function.
export function functionsReport (samples: InstructionsSample[], baseline: string): string {
  const base = samples.find((s) => s.name === baseline)
  const out: string[] = ['Ir/request by function, in the lowest window (self cost: callees not included; JS functions named',
    'through --perf-basic-prof, whatever tier ran them)']
  for (const s of samples) {
    if (s.functions === undefined) continue
    out.push('', `${s.name}: ${fmtIr(s.irPerRequest)} Ir/request, top ${FUNCTIONS_SHOWN}`)
    for (const f of s.functions.slice(0, FUNCTIONS_SHOWN)) out.push(`${fmtIr(f.ir).padStart(9)}  ${f.name}`)
    if (base?.functions === undefined || s === base) continue
    out.push('', `${s.name} - ${baseline}: ${fmtIr(s.irPerRequest - base.irPerRequest)} Ir/request; largest differences (${baseline} | ${s.name} | difference)`)
    const rows = diffFunctions(base.functions, s.functions)
    const shown = [...rows.slice(0, FUNCTIONS_SHOWN), ...rows.slice(-10).filter((r) => r.diff < 0)]
    for (const r of shown) out.push(`${fmtIr(r.base).padStart(9)} ${fmtIr(r.other).padStart(9)} ${(r.diff > 0 ? '+' : '') + fmtIr(r.diff)}`.padEnd(32) + `  ${r.name}`)
  }
  return out.join('\n')
}

function fmtIr (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

export function withIrRatios (samples: InstructionsSample[], baseline: string): InstructionsSample[] {
  const base = samples.find((s) => s.name === baseline)
  return samples.map((s) => ({ ...s, ratio: base === undefined ? null : ratio(s.irPerRequest, base.irPerRequest) }))
}

const COLUMNS = ['contender', 'Ir/request', 'vs bare', 'windows (k Ir/request)']

function rows (samples: InstructionsSample[]): string[][] {
  return samples.map((s) => [
    s.name,
    fmtIr(s.irPerRequest) + (s.settled ? '' : ' (!)'),
    s.ratio === null ? '-' : `${s.ratio.toFixed(3)}x`,
    s.windows.map((w) => (w / 1000).toFixed(1)).join(' '),
  ])
}

export function formatIrTable (samples: InstructionsSample[]): string {
  const all = [COLUMNS, ...rows(samples)]
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => r[i].length)))
  return all.map((r) => r.map((cell, i) => i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  ').trimEnd()).join('\n')
}

function settingsText (r: InstructionsReport): string {
  const s = r.settings
  return `${fmtIr(s.warmupRequests)} warm-up requests (instrumentation off), then ${s.windows} counted windows, all in runs of ` +
    `${fmtIr(s.requestsPerWindow)} over ${s.connections} new connections (autocannon); GET ${s.path}; node ${s.nodeFlags.join(' ')}; ${s.valgrind}`
}

export function irMarkdown (r: InstructionsReport): string {
  const lines = [
    `# Gatehouse instructions per request, ${r.date}`,
    '',
    `- Machine: ${machineLine({ machine: r.machine } as BenchReport)}`,
    `- Load: ${settingsText(r)}`,
    `- ${r.pinning}`,
    '- Ir/request: instructions executed by the proxy process (all its threads: JIT compilers and GC',
    '  helpers too) in a window, ÷ its requests; the lowest window (a late JIT compilation or a',
    '  deoptimisation only adds). (!): the two lowest windows differ by more than 1 %. The backend',
    '  and the load generator are not counted.',
    `- Ratios: vs \`${r.baseline}\` in the same run.`,
    '',
    `| ${COLUMNS.join(' | ')} |`,
    '|:---|---:|---:|:---|',
    ...rows(r.contenders).map((row) => `| ${row.join(' | ')} |`),
    '',
  ]
  for (const c of r.contenders) lines.push(`- \`${c.name}\`: ${c.description}`)
  if (r.skipped.length > 0) {
    lines.push('', 'Not measured:')
    for (const s of r.skipped) lines.push(`- \`${s.name}\`: ${s.reason.split('\n')[0]}`)
  }
  lines.push('', `This run took ${Math.round(r.durationS / 60)} min. Reproduce with \`npm run bench -- --instructions\` ` +
    '(valgrind needed; `--only a,b` for fewer contenders); results land in `bench/results/instructions-*.{json,md}`.', '')
  return lines.join('\n')
}

export async function runInstructions (session: Session, opts: BenchOptions): Promise<number> {
  const problem = valgrindProblem()
  if (problem !== null) throw new Error(problem)
  const started = Date.now()
  const cg = callgrindSetup(path.join(session.tmpDir, 'callgrind'))
  mkdirSync(cg.dir, { recursive: true })
  const skipped: SkippedContender[] = []
  const wanted: ContenderName[] = []
  for (const name of CONTENDER_ORDER.filter((n) => opts.only.includes(n))) {
    const reason = NOT_MEASURED[name]
    if (reason === undefined) wanted.push(name)
    else skipped.push({ name, reason })
  }
  if (wanted.length === 0) throw new Error(`--instructions: nothing to measure (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`)
  const samples: InstructionsSample[] = []
  let broken = false
  for (const name of wanted) {
    session.signal.throwIfAborted()
    try {
      samples.push(await measureOne(session, cg, name, opts.requests, opts.functions))
    } catch (err) {
      if (session.signal.aborted) throw err
      const reason = (err as Error).message
      skipped.push({ name, reason })
      if (!(err instanceof SkipContender)) broken = true
      log(`not measured: ${name}: ${reason}`)
    }
  }

  const date = new Date()
  const report: InstructionsReport = {
    date: date.toISOString(),
    machine: machineInfo(),
    settings: {
      warmupRequests: Math.ceil(WARMUP_REQUESTS / opts.requests) * opts.requests,
      windows: WINDOWS,
      requestsPerWindow: opts.requests,
      connections: CONNECTIONS,
      path: LOAD_PATH,
      nodeFlags: NODE_FLAGS,
      valgrind: valgrindVersion(),
      valgrindArgs: cg.wrap.slice(1).filter((a) => !a.includes(cg.dir)),
    },
    pinning: session.pinning.note,
    baseline: BASELINE,
    contenders: withIrRatios(samples, BASELINE),
    skipped,
    durationS: Math.round((Date.now() - started) / 1000),
    valid: !broken,
  }
  if (broken) session.keepLogs = true

  log('')
  log(`Gatehouse instructions per request, ${report.date}`)
  log(`machine: ${machineLine({ machine: report.machine } as BenchReport)}`)
  log(`load: ${settingsText(report)}`)
  log(session.pinning.note)
  log('')
  log(formatIrTable(report.contenders))
  for (const s of skipped) log(`not measured: ${s.name}: ${s.reason.split('\n')[0]}`)
  const functionsText = opts.functions ? functionsReport(report.contenders, BASELINE) : null
  if (functionsText !== null) log('\n' + functionsText)

  mkdirSync(RESULTS_DIR, { recursive: true })
  const stamp = `instructions-${timestamp(date)}`
  const json = JSON.stringify(report, null, 2) + '\n'
  const markdown = irMarkdown(report)
  for (const name of [stamp, 'instructions-latest']) {
    writeFileSync(path.join(RESULTS_DIR, `${name}.json`), json)
    writeFileSync(path.join(RESULTS_DIR, `${name}.md`), markdown)
  }
  if (functionsText !== null) {
    for (const name of [`${stamp}-functions`, 'instructions-functions-latest']) writeFileSync(path.join(RESULTS_DIR, `${name}.txt`), functionsText + '\n')
  }
  log('')
  log(`written: ${path.relative(process.cwd(), path.join(RESULTS_DIR, stamp))}.{json,md}${functionsText === null ? '' : ', -functions.txt'} and instructions-latest.* (${Math.round(report.durationS / 60)} min)`)
  return broken ? 1 : 0
}
