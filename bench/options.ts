import { parseArgs } from 'node:util'
import { CONTENDER_ORDER, type ContenderName } from './contenders.ts'

export interface BenchOptions {
  quick: boolean
  profile: boolean
  instructions: boolean
  functions: boolean // with --instructions: Ir by function
  requests: number // requests per counted window with --instructions
  profileContender: ContenderName
  rounds: number
  pairedWindows: number // head-to-head windows per proxy; 0 = none
  primeS: number // once per contender after start-up
  warmupS: number
  durationS: number
  profileS: number
  connections: number
  pipelining: number
  only: ContenderName[]
  pin: boolean
}

export const USAGE = `usage: npm run bench -- [options]
  --quick              ~1 minute: 3 rounds of 1 s warm-up + 2 s measured
                       (each contender is first primed once: 2 s, 5 s without --quick)
  --rounds N           interleaved rounds (default 8: many short rounds, because this
                       kind of VM drifts in speed by 20-30 % within a minute)
  --paired N           head-to-head windows per proxy after the rounds (default 8; none
                       with --quick unless given; 0 = none): each proxy loaded at the same
                       time as the bare proxy, both on one core, so the VM's drift cancels
                       out of the ratio; the issue-9 targets are judged on these
  --warmup S           warm-up seconds per run (default 1)
  --duration S         measured seconds per run (default 4)
  --connections N      concurrent connections (default 50)
  --only a,b,...       contenders to run (${CONTENDER_ORDER.join(', ')})
  --no-pin             do not pin processes to cores with taskset
  --profile            instead of comparing: profile one contender with node --cpu-prof
                       under load and print the top self-time functions
  --contender NAME     the contender --profile profiles (default gatehouse-full)
  --instructions       instead of comparing: instructions per request of each proxy under
                       valgrind's callgrind (repeatable, unlike time on this VM; needs
                       valgrind, ~2.5 min per proxy)
  --requests N         requests per counted window with --instructions (default 2000;
                       5 windows per contender, the lowest counts)
  --functions          with --instructions: also Ir/request by function (JS functions
                       named through node --perf-basic-prof), and each contender's
                       difference from the bare proxy, function by function`

export class UsageError extends Error {}

function positiveNumber (value: string | undefined, name: string, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}`)
  return n
}

function contenderName (value: string): ContenderName {
  if (!(CONTENDER_ORDER as string[]).includes(value)) throw new UsageError(`unknown contender "${value}" (one of ${CONTENDER_ORDER.join(', ')})`)
  return value as ContenderName
}

export function parseOptions (argv: string[]): BenchOptions {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        profile: { type: 'boolean' },
        instructions: { type: 'boolean' },
        functions: { type: 'boolean' },
        requests: { type: 'string' },
        contender: { type: 'string' },
        rounds: { type: 'string' },
        paired: { type: 'string' },
        warmup: { type: 'string' },
        duration: { type: 'string' },
        connections: { type: 'string' },
        only: { type: 'string' },
        'no-pin': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) throw new UsageError('')
  if (values.functions === true && values.instructions !== true) throw new UsageError('--functions goes with --instructions')
  const quick = values.quick === true
  return {
    quick,
    profile: values.profile === true,
    instructions: values.instructions === true,
    functions: values.functions === true,
    requests: positiveNumber(values.requests, 'requests', 2000, true),
    profileContender: contenderName(values.contender ?? 'gatehouse-full'),
    rounds: positiveNumber(values.rounds, 'rounds', quick ? 3 : 8, true),
    // --quick stays a one-minute look: head to head only when asked for.
    pairedWindows: values.paired === '0' ? 0 : positiveNumber(values.paired, 'paired', quick ? 0 : 8, true),
    primeS: quick ? 2 : 5,
    warmupS: positiveNumber(values.warmup, 'warmup', 1, true),
    durationS: positiveNumber(values.duration, 'duration', quick ? 2 : 4, true),
    profileS: positiveNumber(values.duration, 'duration', quick ? 5 : 15, true),
    connections: positiveNumber(values.connections, 'connections', 50, true),
    pipelining: 1,
    only: values.only === undefined ? CONTENDER_ORDER : values.only.split(',').map((s) => contenderName(s.trim())),
    pin: values['no-pin'] !== true,
  }
}
