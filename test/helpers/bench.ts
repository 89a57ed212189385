import type { RoundSample } from '../../bench/report.ts'

// One round of one contender, clean unless `over` says otherwise.
export function roundSample (over: Partial<RoundSample> = {}): RoundSample {
  return {
    round: 1, requests: 1000, durationS: 1, rps: 1000, p50Ms: 1, p99Ms: 2, cpuUsPerReq: 100,
    backendCpuUsPerReq: 30, non2xx: 0, errors: 0, timeouts: 0, warmupFailures: 0, timedOut: false,
    statuses: {}, otherCores: 0, stealCores: 0, ...over,
  }
}
