// Command line of `npm run soak`. Durations use the gateway's own syntax (20s, 2m, 3m).
import { parseArgs } from 'node:util'
import { parseDuration } from '../../lib/config/units.ts'

export interface SoakOptions {
  durationMs: number
  warmupMs: number
  // Offered load: requests per second over all workers, and the workers (= client connections).
  rate: number
  concurrency: number
  // A request with no complete answer after this long is aborted and counted unanswered.
  requestTimeoutMs: number
  // How long the Redis port stays closed mid-run.
  redisDownMs: number
  redisUrl: string
  // Allowed growth of RSS and open handles between the start and end measurements.
  leakTolerance: number
  smoke: boolean
  keepLogs: boolean
}

export const DEFAULT_SOAK: SoakOptions = {
  durationMs: 3 * 60_000,
  warmupMs: 20_000,
  rate: 300,
  concurrency: 64,
  requestTimeoutMs: 35_000,
  redisDownMs: 10_000,
  redisUrl: 'redis://127.0.0.1:6379',
  leakTolerance: 0.10,
  smoke: false,
  keepLogs: false,
}

// Issue 10: a real soak runs 2 to 5 minutes. Shorter runs are smoke tests of the script
// itself and must say so (--smoke); their verdict is printed but marked as such.
export const MIN_DURATION_MS = 2 * 60_000
export const MAX_DURATION_MS = 5 * 60_000

export const USAGE = `usage: npm run soak [-- options]
  --duration D       load phase with faults, 2m..5m (default 3m)
  --warmup D         load without faults before the start measurement (default 20s)
  --rate N           requests per second offered (default 300)
  --concurrency N    client workers / connections (default 64)
  --redis URL        the Redis the rate-limit store uses, reached through a proxy (default redis://127.0.0.1:6379)
  --smoke            allow a duration under 2m (checks the script, not the gateway)
  --keep-logs        keep the temp dir with the gateway log and config`

export class UsageError extends Error {}

export function parseSoakOptions (argv: string[]): SoakOptions {
  let values: Record<string, string | boolean | undefined>
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        rate: { type: 'string' },
        concurrency: { type: 'string' },
        redis: { type: 'string' },
        smoke: { type: 'boolean' },
        'keep-logs': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help === true) throw new UsageError('')
  const opts: SoakOptions = { ...DEFAULT_SOAK, smoke: values.smoke === true, keepLogs: values['keep-logs'] === true }
  if (typeof values.duration === 'string') opts.durationMs = duration('--duration', values.duration)
  if (typeof values.warmup === 'string') opts.warmupMs = duration('--warmup', values.warmup)
  if (typeof values.rate === 'string') opts.rate = positiveInt('--rate', values.rate)
  if (typeof values.concurrency === 'string') opts.concurrency = positiveInt('--concurrency', values.concurrency)
  if (typeof values.redis === 'string') opts.redisUrl = values.redis
  if (opts.durationMs > MAX_DURATION_MS) throw new UsageError('--duration: at most 5m')
  if (opts.durationMs < MIN_DURATION_MS && !opts.smoke) {
    throw new UsageError('--duration: a soak runs at least 2m (add --smoke for a shorter check of the script)')
  }
  if (opts.durationMs < 10_000) throw new UsageError('--duration: at least 10s, even with --smoke')
  // A short smoke run has no room for a 10 s Redis outage and the recovery after it.
  if (opts.smoke) opts.redisDownMs = Math.min(opts.redisDownMs, Math.round(opts.durationMs / 8))
  return opts
}

function duration (name: string, v: string): number {
  try {
    return parseDuration(v)
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`)
  }
}

function positiveInt (name: string, v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name}: must be a positive integer`)
  return n
}
