import { evaluateTargets, type BenchReport, type BenchSettings, type ContenderSummary, type RoundSample, type SkippedContender } from '../../bench/report.ts'
import type { PairedSummary } from '../../bench/paired-summary.ts'

// One round of one contender, clean unless `over` says otherwise.
export function roundSample (over: Partial<RoundSample> = {}): RoundSample {
  return {
    round: 1, requests: 1000, durationS: 1, rps: 1000, p50Ms: 1, p99Ms: 2, cpuUsPerReq: 100,
    backendCpuUsPerReq: 30, non2xx: 0, errors: 0, timeouts: 0, warmupFailures: 0, timedOut: false,
    statuses: {}, otherCores: 0, stealCores: 0, ...over,
  }
}

// A whole report around `contenders` (and a control), targets judged as run.ts does.
export function benchReport (contenders: ContenderSummary[], over: {
  control?: PairedSummary | null
  settings?: Partial<BenchSettings>
  skipped?: SkippedContender[]
} = {}): BenchReport {
  const control = over.control ?? null
  return {
    date: '2026-01-02T03:04:05.000Z',
    machine: { cpuModel: 'Test CPU', cores: 2, node: 'v24.0.0', platform: 'Linux', totalMemGb: 4, loadAvg: [0.1, 0.2, 0.3] },
    settings: {
      connections: 50, pipelining: 1, warmupS: 1, durationS: 4, rounds: 8, quick: false, loadGenerator: 'autocannon',
      path: '/api/bench/hello', clkTck: 100, pairedWindows: 0, nodeFlags: [], ...over.settings,
    },
    pinning: 'pinned with taskset',
    contenders,
    skipped: over.skipped ?? [],
    targets: evaluateTargets(contenders, control),
    control,
    baseline: 'bare-proxy',
    valid: false,
  }
}
