import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

// CPU time of a process from /proc/<pid>/stat, utime + stime in clock ticks over all its
// threads (main thread, GC helpers, JIT compiler, libuv pool): what a request really costs.

// The command name (field 2) is in parentheses and may hold spaces or ")", so fields are
// counted from the last ")": rest[0] is field 3, utime and stime are fields 14 and 15.
export function parseProcStat (line: string): number {
  const close = line.lastIndexOf(')')
  const rest = close === -1 ? [] : line.slice(close + 2).trim().split(/\s+/)
  const ticks = Number(rest[11]) + Number(rest[12])
  if (!Number.isFinite(ticks)) throw new Error('not a /proc/<pid>/stat line')
  return ticks
}

// null without /proc (macOS): the bench then reports no CPU figures.
export function readCpuTicks (pid: number): number | null {
  try { return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) } catch { return null }
}

export function clockTicksPerSecond (): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim())
    return Number.isInteger(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
}
