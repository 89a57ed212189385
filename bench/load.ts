import { readFileSync } from 'node:fs'
import path from 'node:path'
import autocannon from 'autocannon'
import { logTail, type ProcessSet } from './processes.ts'

// One bounded load window: fixed connections, keep-alive, no rate. wrk when installed (a C
// load generator: more load per core than one in JavaScript), else autocannon in-process.

export interface LoadResult {
  requests: number
  durationS: number
  rps: number
  p50Ms: number | null
  p99Ms: number | null
  errors: Record<string, number> // failed requests by kind (non-2xx, socket errors...)
}

export interface LoadSettings {
  tool: 'wrk' | 'autocannon'
  connections: number
  headers: Record<string, string>
  signal: AbortSignal
  processes: ProcessSet
  core: number | null
  tmpDir: string
}

// A run that has not ended this long after its duration is stopped and fails.
const GRACE_MS = 10_000
const TO_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

function ms (value: string, unit: string): number {
  return Number(value) * TO_MS[unit]
}

// wrk --latency's report. wrk counts answers >= 400 as failed, not 3xx: none come here
// (the backend only answers 200 and each contender's smoke request must be a 2xx).
export function parseWrk (text: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b/.exec(text)
  if (total === null) throw new Error(`not a wrk report:\n${text.slice(-500)}`)
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text)
    return m === null ? null : ms(m[1], m[2])
  }
  const requests = Number(total[1])
  const durationS = ms(total[2], total[3]) / 1000
  const errors: Record<string, number> = {}
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  if (sockets !== null) ['connect', 'read', 'write', 'timeout'].forEach((k, i) => { errors[k] = Number(sockets[i + 1]) })
  errors['non-2xx'] = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0)
  return { requests, durationS, rps: requests / durationS, p50Ms: pct('50'), p99Ms: pct('99'), errors }
}

export function failedRequests (r: Pick<LoadResult, 'errors'>): number {
  return Object.values(r.errors).reduce((a, b) => a + b, 0)
}

let windows = 0

async function wrk (s: LoadSettings, url: string, durationS: number): Promise<LoadResult> {
  const headers = Object.entries(s.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`])
  const logFile = path.join(s.tmpDir, `wrk-${++windows}.log`)
  const argv = ['wrk', '-t1', `-c${s.connections}`, `-d${durationS}s`, '--latency', '--timeout', '10s', ...headers, url]
  const child = s.processes.start('wrk', argv, { core: s.core, logFile })
  const stop = () => { void s.processes.stop(child, 0) }
  const watchdog = setTimeout(stop, durationS * 1000 + GRACE_MS)
  s.signal.addEventListener('abort', stop)
  const code = await child.exited
  clearTimeout(watchdog)
  s.signal.removeEventListener('abort', stop)
  s.signal.throwIfAborted()
  if (code !== 0) throw new Error(`wrk on ${url} ended with ${code}:\n${logTail(logFile)}`)
  return parseWrk(readFileSync(logFile, 'utf8'))
}

function percentile (sorted: number[], p: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.ceil((p / 100) * sorted.length) - 1]
}

function autocannonRun (s: LoadSettings, url: string, durationS: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    // autocannon's own histogram has 1 ms buckets, too coarse on loopback: keep each time.
    const times: number[] = []
    const instance = autocannon({ url, connections: s.connections, duration: durationS, headers: s.headers, timeout: 10 }, (err, r) => {
      clearTimeout(watchdog)
      s.signal.removeEventListener('abort', stop)
      if (err || s.signal.aborted) return reject(err ?? s.signal.reason)
      times.sort((a, b) => a - b)
      const errors = { 'non-2xx': r.non2xx, 'socket errors and timeouts': r.errors }
      resolve({ requests: r.requests.total, durationS: r.duration, rps: r.requests.total / r.duration, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), errors })
    })
    instance.on('response', (_client, _status, _bytes, ms) => { times.push(ms) })
    const stop = () => instance.stop()
    const watchdog = setTimeout(stop, durationS * 1000 + GRACE_MS)
    s.signal.addEventListener('abort', stop)
  })
}

export function runLoad (s: LoadSettings, url: string, durationS: number): Promise<LoadResult> {
  return s.tool === 'wrk' ? wrk(s, url, durationS) : autocannonRun(s, url, durationS)
}
