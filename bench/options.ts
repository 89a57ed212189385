import { existsSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { BASELINE, KINDS } from './contenders.ts'

export type BenchOptions = ReturnType<typeof parseOptions>

export const USAGE = `usage: npm run bench -- [options]
  --rounds N         interleaved rounds (default 15; 3 with --quick)
  --forks N          processes per contender, measured in turn round by round
                     (default 3; 1 with --quick)
  --warmup S         warm-up seconds before each measured window (default 1)
  --duration S       measured seconds per contender per round (default 1)
                     (--egress: 5 rounds of 4 s by default)
  --connections N    concurrent keep-alive connections (default 50)
  --only a,b,...     contenders to run, of: ${KINDS.join(', ')}
                     (${BASELINE} always runs: the ratios are to it)
  --compare DIR      also run gatehouse-none and gatehouse-full from the checkout at DIR
                     (its own apps/gateway/cli.ts), named e.g. gatehouse-full@<sha>
  --load TOOL        wrk or autocannon (default: wrk when installed)
  --quick            a one-minute look: one process each, 3 rounds of 1 s warm-up + 1 s measured
  --egress           the egress port instead: absolute-form GETs against tinyproxy and
                     squid, and a 1 GiB CONNECT tunnel against a direct TCP copy and
                     against tinyproxy's and squid's own tunnels
  --help             this text`

export class UsageError extends Error {}

function count (value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}`)
  return n
}

const S = { type: 'string' } as const
const B = { type: 'boolean' } as const

// Throws UsageError (its message '' for --help).
export function parseOptions (argv: string[]) {
  let v
  try {
    v = parseArgs({ args: argv, strict: true, options: { rounds: S, forks: S, warmup: S, duration: S, connections: S, only: S, compare: S, load: S, quick: B, egress: B, help: B } }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (v.help === true) throw new UsageError('')
  const quick = v.quick === true
  const only = v.only === undefined ? [...KINDS] : v.only.split(',').map((s) => s.trim())
  for (const name of only) if (!(KINDS as readonly string[]).includes(name)) throw new UsageError(`unknown contender "${name}" (one of ${KINDS.join(', ')})`)
  if (v.load !== undefined && v.load !== 'wrk' && v.load !== 'autocannon') throw new UsageError('--load is wrk or autocannon')
  const compare = v.compare === undefined ? null : path.resolve(v.compare)
  if (compare !== null && !existsSync(path.join(compare, 'apps/gateway/cli.ts'))) throw new UsageError(`--compare ${compare}: no apps/gateway/cli.ts there`)
  return {
    // The egress bench keeps its own rounds: 5 of 4 s (it runs one gateway process).
    rounds: count(v.rounds, 'rounds', quick ? 3 : v.egress === true ? 5 : 15),
    forks: count(v.forks, 'forks', quick ? 1 : 3),
    warmupS: count(v.warmup, 'warmup', 1, 0),
    durationS: count(v.duration, 'duration', v.egress === true && !quick ? 4 : 1),
    primeS: quick ? 1 : 2, // once per process after start-up
    connections: count(v.connections, 'connections', 50),
    only: KINDS.filter((k) => k === BASELINE || only.includes(k)),
    compare, // another checkout of this repository
    load: (v.load ?? null) as 'wrk' | 'autocannon' | null, // null: wrk when installed
    quick,
    egress: v.egress === true,
  }
}
