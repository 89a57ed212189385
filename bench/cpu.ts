import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

// CPU time of a process from /proc/<pid>/stat: utime + stime, in clock ticks, summed over
// all its threads (main thread, GC helpers, JIT compiler, libuv pool), which is what a
// request really costs the machine.

export interface CpuTicks {
  utime: number
  stime: number
}

// The command name (field 2) is in parentheses and may itself hold spaces or ")", so the
// fields are counted from the last ")". utime and stime are fields 14 and 15 (1-based).
export function parseProcStat (line: string): CpuTicks {
  const close = line.lastIndexOf(')')
  if (close === -1) throw new Error('not a /proc/<pid>/stat line')
  const rest = line.slice(close + 2).trim().split(/\s+/)
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const utime = Number(rest[14 - 3])
  const stime = Number(rest[15 - 3])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('not a /proc/<pid>/stat line')
  return { utime, stime }
}

// null when /proc is not there (macOS): the bench then reports no CPU figures.
export function readCpuTicks (pid: number): number | null {
  try {
    const { utime, stime } = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
    return utime + stime
  } catch {
    return null
  }
}

export const DEFAULT_CLK_TCK = 100

export function clockTicksPerSecond (): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim())
    return Number.isInteger(value) && value > 0 ? value : DEFAULT_CLK_TCK
  } catch {
    return DEFAULT_CLK_TCK
  }
}

export function cpuMicrosPerRequest (ticksDelta: number, clkTck: number, requests: number): number | null {
  if (requests <= 0 || ticksDelta < 0) return null
  return (ticksDelta / clkTck) * 1e6 / requests
}

// Machine-wide CPU from the first line of /proc/stat ("cpu user nice system idle iowait
// irq softirq steal ..."), to see how much else ran during a measurement.
export interface SystemTicks {
  busy: number
  steal: number
}

export function parseSystemStat (text: string): SystemTicks {
  const line = text.split('\n').find((l) => l.startsWith('cpu '))
  if (line === undefined) throw new Error('no "cpu" line in /proc/stat')
  const [user, nice, system, , , , , steal] = line.trim().split(/\s+/).slice(1).map(Number)
  // irq/softirq are left out: loopback networking lands there, in proportion to the
  // bench's own request rate, and is charged to no process.
  return { busy: user + nice + system, steal: steal ?? 0 }
}

export function readSystemTicks (): SystemTicks | null {
  try {
    return parseSystemStat(readFileSync('/proc/stat', 'utf8'))
  } catch {
    return null
  }
}
