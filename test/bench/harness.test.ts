import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseProcStat } from '../../bench/cpu.ts'
import { failedRequests, parseWrk } from '../../bench/load.ts'
import { parseOptions, UsageError } from '../../bench/options.ts'
import { median, summarise, type Sample } from '../../bench/summary.ts'

// Reports as wrk 4.1.0 printed them (the second against a server answering 503 to every
// third request and closing every fiftieth connection).
const WRK_CLEAN = `Running 1s test @ http://127.0.0.1:39111/x
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   615.94us    0.96ms  16.32ms   92.87%
    Req/Sec    23.03k     6.72k   33.10k    80.00%
  Latency Distribution
     50%  377.00us
     75%  522.00us
     90%    1.11ms
     99%    4.70ms
  22910 requests in 1.00s, 6.03MB read
Requests/sec:  22855.85
Transfer/sec:      6.02MB
`
const WRK_FAILING = `Running 1s test @ http://127.0.0.1:39113/x
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.12ms    3.07ms  40.64ms   95.00%
    Req/Sec    21.93k    11.74k   36.84k    60.00%
  Latency Distribution
     50%  293.00us
     75%  636.00us
     90%    1.90ms
     99%   17.63ms
  21734 requests in 1.00s, 2.67MB read
  Socket errors: connect 0, read 443, write 0, timeout 0
  Non-2xx or 3xx responses: 7245
Requests/sec:  21687.59
Transfer/sec:      2.66MB
`

test('wrk report: requests, rate and latency percentiles in ms whatever unit wrk printed', () => {
  const r = parseWrk(WRK_CLEAN)
  assert.equal(r.requests, 22910)
  assert.equal(r.durationS, 1)
  assert.equal(r.rps, 22910)
  assert.equal(r.p50Ms, 0.377)
  assert.equal(r.p99Ms, 4.7)
  assert.equal(failedRequests(r), 0)
  assert.equal(parseWrk(WRK_CLEAN.replace('in 1.00s', 'in 1.00m')).durationS, 60)
})

test('wrk report: non-2xx answers and socket errors count as failed requests', () => {
  const r = parseWrk(WRK_FAILING)
  assert.deepEqual(r.errors, { connect: 0, read: 443, write: 0, timeout: 0, 'non-2xx': 7245 })
  assert.equal(failedRequests(r), 7688)
  assert.equal(r.p99Ms, 17.63)
})

test('wrk output without a report is an error, not zero requests', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:39112 Connection refused\n'), /not a wrk report/)
})

test('/proc/<pid>/stat: utime + stime even when the command name holds spaces and ")"', () => {
  const fields = 'S 1 2 3 4 5 6 7 8 9 10 1234 56 0 0 20 0 11 0 12345'
  assert.equal(parseProcStat(`4242 (node) ${fields}`), 1290)
  assert.equal(parseProcStat(`4242 (we) (ird name) ${fields}`), 1290)
  assert.throws(() => parseProcStat('garbage'))
})

const sample = (round: number, rps: number, cpuUsPerReq: number | null, errors = {}): Sample =>
  ({ round, fork: 0, requests: rps * 4, rps, p50Ms: 1, p99Ms: 2, cpuUsPerReq, errors })

test('median of odd and even counts; none of nothing', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
  assert.equal(median([]), null)
})

test('ratios are taken per round against the baseline of the same round, then the median', () => {
  // The machine's speed halves in round 2; the samples come in any order.
  const bare = [sample(1, 1000, 100), sample(2, 500, 200), sample(3, 800, 100)]
  const fast = [sample(3, 1200, 50, { 'non-2xx': 3 }), sample(1, 2000, 50), sample(2, 1100, 100)]
  const s = summarise('fast', fast, bare)
  // Per round: 2.0, 2.2, 1.5 (the ratio of the medians would be 1200 / 800 = 1.5).
  assert.deepEqual(s.rpsRatio, { median: 2, low: 1.5, high: 2.2 })
  assert.deepEqual(s.cpuRatio, { median: 0.5, low: 0.5, high: 0.5 })
  assert.equal(s.rps, 1200)
  assert.equal(s.failed, 3)
  // A round the baseline has no sample for gives no ratio; no CPU figure gives no CPU ratio.
  const alone = summarise('alone', [sample(4, 900, null)], bare)
  assert.equal(alone.rpsRatio, null)
  assert.equal(alone.cpuRatio, null)
})

test('bench options: bad values are usage errors; the baseline always runs', () => {
  for (const argv of [['--rounds', '0'], ['--forks', '0'], ['--duration', '1.5'], ['--only', 'nope'], ['--load', 'ab'], ['--bogus'], ['--compare', '/nonexistent']]) {
    assert.throws(() => parseOptions(argv), UsageError, argv.join(' '))
  }
  assert.deepEqual(parseOptions(['--only', 'nginx']).only, ['nginx', 'bare-proxy'])
  const quick = parseOptions(['--quick'])
  assert.equal(quick.rounds, 3)
  assert.equal(quick.forks, 1)
  assert.equal(parseOptions(['--warmup', '0']).warmupS, 0)
  // Several processes per contender by default; the egress bench keeps its 5 rounds of 4 s.
  const full = parseOptions([])
  assert.deepEqual([full.forks, full.rounds, full.durationS], [3, 15, 1])
  const egress = parseOptions(['--egress'])
  assert.deepEqual([egress.rounds, egress.durationS], [5, 4])
})
