import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

// Running a process under valgrind's callgrind and reading how many instructions (Ir) it
// executed between a zero and a dump, for `npm run bench -- --instructions`.

export interface Callgrind {
  dir: string // dump files (cg.<pid>.<n>) and vgdb's FIFOs
  wrap: string[] // the command node is started under
}

// Instrumentation starts switched off: until `instrumentation on`, valgrind only
// translates the code (~5x slower instead of ~30-50x), so start-up and warm-up are cheap.
// --smc-check=all-non-file (the amd64 default, spelled out) lets valgrind see V8 rewrite
// its JIT code; "stack" is hardly faster and would run stale translations.
export function callgrindSetup (dir: string): Callgrind {
  return {
    dir,
    wrap: [
      'valgrind', '--tool=callgrind', `--callgrind-out-file=${path.join(dir, 'cg.%p')}`,
      '--dump-instr=no', '--collect-jumps=no', '--instr-atstart=no', '--smc-check=all-non-file',
      `--vgdb-prefix=${path.join(dir, 'vgdb')}`,
    ],
  }
}

// null when valgrind is usable, else why not.
export function valgrindProblem (): string | null {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8', timeout: 10_000 })
  if (probe.error !== undefined || probe.status !== 0) return 'valgrind not found (apt-get install valgrind)'
  return null
}

export function valgrindVersion (): string {
  return spawnSync('valgrind', ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout?.trim() ?? 'valgrind'
}

// A callgrind monitor command ("zero", "dump", "instrumentation on") through vgdb, which
// (unlike callgrind_control) fails with an exit status when it cannot reach the process.
export function callgrindCommand (cg: Callgrind, pid: number, command: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('vgdb', [`--vgdb-prefix=${path.join(cg.dir, 'vgdb')}`, `--pid=${pid}`, ...command.split(' ')],
      { encoding: 'utf8', timeout: 60_000, signal },
      (err, _stdout, stderr) => {
        if (err) reject(new Error(`vgdb ${command} (pid ${pid}) failed: ${err.message} ${stderr}`.trim()))
        else resolve()
      })
  })
}

// The total Ir of one callgrind dump: the "totals:" line (the sum of every cost in the
// file), else "summary:"; the Ir column of "events:" when more events were collected.
export function parseCallgrindTotal (text: string): number {
  const events = /^events:\s*(.+)$/m.exec(text)?.[1].trim().split(/\s+/) ?? ['Ir']
  const column = events.indexOf('Ir')
  if (column === -1) throw new Error(`callgrind dump has no Ir event (events: ${events.join(' ')})`)
  const line = /^totals:\s*(.+)$/m.exec(text) ?? /^summary:\s*(.+)$/m.exec(text)
  if (line === null) throw new Error('callgrind dump has no "totals:" or "summary:" line (incomplete?)')
  const value = line[1].trim().split(/\s+/)[column]
  if (value === undefined || !/^\d+$/.test(value)) throw new Error(`callgrind dump: no Ir in "${line[0]}"`)
  return Number(value)
}

// The dumps of one process: cg.<pid>.<n>, numbered in the order they were requested
// (cg.<pid> alone is written at exit).
export function dumpFiles (dir: string, pid: number): string[] {
  const re = new RegExp(`^cg\\.${pid}\\.(\\d+)$`)
  return readdirSync(dir)
    .map((f) => ({ f, n: Number(re.exec(f)?.[1] ?? Number.NaN) }))
    .filter((x) => Number.isInteger(x.n))
    .sort((a, b) => a.n - b.n)
    .map((x) => path.join(dir, x.f))
}

// Dumps and returns the dump's total Ir, once its file is complete.
export async function dumpTotal (cg: Callgrind, pid: number, signal?: AbortSignal, timeoutMs = 60_000): Promise<number> {
  const before = new Set(dumpFiles(cg.dir, pid))
  await callgrindCommand(cg, pid, 'dump', signal)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    signal?.throwIfAborted()
    const file = dumpFiles(cg.dir, pid).filter((f) => !before.has(f)).at(-1)
    if (file !== undefined && existsSync(file)) {
      const text = readFileSync(file, 'utf8')
      // "summary:" heads the file, "totals:" ends it.
      if (/^totals:/m.test(text)) return parseCallgrindTotal(text)
    }
    if (Date.now() > deadline) throw new Error(`no complete callgrind dump from pid ${pid} in ${cg.dir} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
