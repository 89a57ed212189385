import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseProcStat, parseSystemStat, cpuMicrosPerRequest } from '../../bench/cpu.ts'
import { createLatencyHistogram } from '../../bench/latency-histogram.ts'
import {
  median, ratio, summarise, withRatios, evaluateTargets, markdownTable, toMarkdown, formatTable,
} from '../../bench/report.ts'
import { renderChart, escapeXml } from '../../bench/svg.ts'
import { summariseProfile, moduleOf, type CpuProfile } from '../../bench/profile-summary.ts'
import { gatehouseConfig, benchToken, JWT_SECRET } from '../../bench/contenders.ts'
import { parseOptions, UsageError } from '../../bench/options.ts'
import { resolveConfig, formatProblem } from '../../apps/gateway/config/index.ts'
import { createVerifier } from 'fast-jwt'
import { benchReport, roundSample as sample } from '../helpers/bench.ts'

test('median of odd and even counts, ignoring non-finite values; null when empty', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
  assert.equal(median([5, Number.NaN, 1, 3]), 3)
  assert.equal(median([]), null)
})

test('ratio is null without a usable base', () => {
  assert.equal(ratio(50, 100), 0.5)
  assert.equal(ratio(50, 0), null)
  assert.equal(ratio(null, 100), null)
  assert.equal(ratio(50, null), null)
})

test('utime and stime are read after the last ")" even when the command name holds spaces and parens', () => {
  const line = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 1200 0 0 0 731 269 0 0 20 0 11 0 5000 1000000 9000'
  assert.deepEqual(parseProcStat(line), { utime: 731, stime: 269 })
  assert.throws(() => parseProcStat('garbage'))
})

test('CPU per request converts clock ticks to microseconds', () => {
  // 250 ticks at 100 Hz = 2.5 s of CPU over 50,000 requests = 50 µs each.
  assert.equal(cpuMicrosPerRequest(250, 100, 50_000), 50)
  assert.equal(cpuMicrosPerRequest(250, 100, 0), null)
})

test('system ticks count user, nice and system as busy (not irq/softirq), and steal apart', () => {
  const t = parseSystemStat('cpu  100 5 20 9000 40 3 2 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n')
  assert.deepEqual(t, { busy: 125, steal: 7 })
})

test('latency percentiles come from 10 µs buckets and are never under-reported', () => {
  const h = createLatencyHistogram()
  for (let i = 1; i <= 100; i++) h.record(i / 10) // 0.1 .. 10.0 ms
  assert.equal(h.count, 100)
  assert.ok(Math.abs(h.percentile(50)! - 5.0) <= 0.011)
  assert.ok(h.percentile(99)! >= 9.9 && h.percentile(99)! <= 9.911)
  h.record(60_000) // beyond the range: kept as the real maximum
  assert.equal(h.percentile(100), 60_000)
  assert.equal(createLatencyHistogram().percentile(50), null)
})

function summaries () {
  return withRatios([
    summarise('direct', 'backend', 'backend', [sample({ rps: 5000, cpuUsPerReq: 30 })]),
    summarise('bare-proxy', 'bare', 'gateway', [sample({ rps: 1000, cpuUsPerReq: 100 }), sample({ round: 2, rps: 1200, cpuUsPerReq: 90 }), sample({ round: 3, rps: 800, cpuUsPerReq: 110 })]),
    summarise('gatehouse-none', 'none', 'gateway', [sample({ rps: 950, cpuUsPerReq: 105 })]),
    summarise('gatehouse-full', 'full', 'gateway', [sample({ rps: 849, cpuUsPerReq: 120 })]),
    summarise('gatehouse-redis', 'redis', 'gateway', [sample({ rps: 900, cpuUsPerReq: 150, non2xx: 3, statuses: { 503: 3 } })]),
  ], 'bare-proxy')
}

test('summaries use medians and ratios to the bare proxy; the backend gets no CPU ratio', () => {
  const s = summaries()
  const bare = s.find((c) => c.name === 'bare-proxy')!
  assert.equal(bare.rps, 1000)
  assert.equal(bare.cpuUsPerReq, 100)
  assert.equal(bare.rpsRatio, 1)
  const direct = s.find((c) => c.name === 'direct')!
  assert.equal(direct.rpsRatio, 5)
  assert.equal(direct.cpuRatio, null)
  assert.equal(s.find((c) => c.name === 'gatehouse-full')!.cpuRatio, 1.2)
})

test('ratios pair each round with the bare proxy\'s same round: a machine that doubles its speed between rounds cancels out', () => {
  const s = withRatios([
    summarise('bare-proxy', 'bare', 'gateway', [sample({ rps: 1000, cpuUsPerReq: 100 }), sample({ round: 2, rps: 2000, cpuUsPerReq: 50 })]),
    summarise('gatehouse-none', 'none', 'gateway', [sample({ rps: 900, cpuUsPerReq: 110 }), sample({ round: 2, rps: 1900, cpuUsPerReq: 52.5 })]),
    // Died after round 1: only round 1 is paired.
    summarise('gatehouse-full', 'full', 'gateway', [sample({ rps: 800, cpuUsPerReq: 125 })]),
  ], 'bare-proxy')
  const none = s.find((c) => c.name === 'gatehouse-none')!
  // Per round 0.9 and 0.95: median 0.925 (the ratio of the medians would be 1400/1500 = 0.933).
  assert.ok(Math.abs(none.rpsRatio! - 0.925) < 1e-9)
  assert.deepEqual(none.rpsRatioRange, [0.9, 0.95])
  assert.ok(Math.abs(none.cpuRatio! - 1.075) < 1e-9)
  assert.deepEqual(none.cpuRatioRange, [1.05, 1.1])
  const full = s.find((c) => c.name === 'gatehouse-full')!
  assert.equal(full.rpsRatio, 0.8)
  assert.deepEqual(full.rpsRatioRange, [0.8, 0.8])
  const table = formatTable(s)
  assert.match(table, /gatehouse-none .* 0\.93x \(0\.90-0\.95\)/)
  assert.match(table, /gatehouse-full .* 0\.80x  /)
})

test('targets pass on the boundary, fail just under it, fail with failed requests, and are n/a when not measured', () => {
  const results = evaluateTargets(summaries())
  const by = (contender: string, metric: string) => results.find((r) => r.contender === contender && r.metric === metric)!
  assert.equal(by('gatehouse-full', 'rps').pass, false) // 0.849 < 0.85
  assert.equal(by('gatehouse-full', 'cpu').pass, true) // 1.2 <= 1.2
  assert.equal(by('gatehouse-none', 'rps').pass, true) // 0.95 >= 0.95
  assert.equal(by('gatehouse-redis', 'rps').pass, false) // 0.9 >= 0.75 but 3 requests failed
  const without = evaluateTargets(summaries().filter((c) => c.name !== 'gatehouse-redis'))
  assert.equal(without.find((r) => r.contender === 'gatehouse-redis')!.pass, null)
})

test('the Markdown table has one row per contender and flags failed requests with their status codes', () => {
  const md = markdownTable(summaries())
  const lines = md.split('\n')
  assert.equal(lines.length, 2 + 5)
  assert.match(lines[0], /^\| contender \| req\/s \|/)
  assert.match(md, /\| gatehouse-redis \|.*\| 3 \(!\) \[503×3\] \|$/m)
  assert.match(md, /\| direct \| 5,000 \|.*30\.0 \(backend\)/)
  assert.equal(formatTable(summaries()).split('\n').length, 2 + 5)
})

test('the Markdown report names the machine, the pinning, the targets and how to reproduce', () => {
  const contenders = summaries()
  const report = benchReport(contenders, { skipped: [{ name: 'fast-gateway', reason: 'not installed' }] })
  const md = toMarkdown(report)
  assert.match(md, /Test CPU, 2 cores/)
  assert.match(md, /Node v24\.0\.0/)
  assert.match(md, /pinned with taskset/)
  assert.match(md, /`fast-gateway`: not installed/)
  assert.match(md, /\| full pipeline \(memory\) req\/s >= 0\.85x bare proxy \| 0\.85x \| rounds \| FAIL \|/)
  assert.match(md, /\*\*Failed requests\*\*.*gatehouse-redis 3/)
  assert.match(md, /npm run bench -- --quick/)
})

test('the SVG chart has a bar per proxy in each panel, scaled to the largest value, names escaped, the backend as a footnote', () => {
  const s = summaries()
  s[1] = { ...s[1], name: 'a<b>&"c' } // the baseline's row
  const svg = renderChart(s, { title: 'T & <t>', baseline: 'a<b>&"c' })
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  assert.ok(svg.trimEnd().endsWith('</svg>'))
  const bars = [...svg.matchAll(/<rect x="150" y="\d+" width="(\d+)"/g)].map((m) => Number(m[1]))
  const proxies = s.length - 1 // "direct" is no bar
  assert.equal(bars.length, 2 * proxies)
  const [bare, none, full, redis] = bars.slice(0, proxies) // req/s 1000, 950, 849, 900
  assert.equal(Math.max(bare, none, full, redis), bare)
  assert.equal(full, Math.round(bare * 0.849))
  const cpu = bars.slice(proxies) // CPU 100, 105, 120, 150: redis is the widest
  assert.equal(Math.max(...cpu), cpu[3])
  assert.match(svg, /Backend alone \(direct\): 5,000 req\/s/)
  assert.ok(svg.includes('a&lt;b&gt;&amp;&quot;c'))
  assert.ok(svg.includes('T &amp; &lt;t&gt;'))
  assert.ok(!svg.includes('a<b>'))
  assert.ok(svg.includes('fill="#555555"/>'), 'the baseline has its own colour')
  assert.equal(escapeXml(`'`), '&apos;')
})

test('a cpuprofile is summarised by self time (sample i lasts timeDeltas[i+1]), idle excluded, inclusive once per sample', () => {
  const root = '/repo'
  const frame = (id: number, functionName: string, url: string, children: number[] = []) =>
    ({ id, callFrame: { functionName, url, lineNumber: id, columnNumber: 0 }, children })
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      frame(1, '(root)', '', [2, 5, 6]),
      frame(2, 'onRequest', 'file:///repo/plugins/auth/index.ts', [3]),
      frame(3, 'verify', 'file:///repo/node_modules/fast-jwt/src/verifier.js', [4]),
      frame(4, 'verify', 'file:///repo/node_modules/fast-jwt/src/verifier.js'), // recursion: counted once inclusive
      frame(5, '(idle)', ''),
      frame(6, '(garbage collector)', ''),
    ],
    // 6 samples; the time of sample i is timeDeltas[i + 1] µs.
    samples: [4, 3, 2, 5, 6, 2],
    timeDeltas: [0, 3000, 1000, 2000, 5000, 1000],
  }
  const s = summariseProfile(profile, { root })
  assert.equal(s.idleMs, 5)
  assert.equal(s.busyMs, 7) // 3 + 1 + 2 + 1 (last sample has no successor)
  const top = s.selfByFunction[0]
  assert.equal(top.name, 'verify')
  assert.equal(top.location, 'node_modules/fast-jwt/src/verifier.js:5')
  assert.equal(top.ms, 3)
  const jwtIncl = s.inclusiveByModule.find((e) => e.name === 'fast-jwt')!
  assert.equal(jwtIncl.ms, 4) // samples at nodes 4 and 3, not twice for the recursion
  const hook = s.inclusiveProjectFunctions.find((e) => e.name === 'onRequest')!
  assert.equal(hook.ms, 6)
  assert.equal(hook.location, 'plugins/auth/index.ts:3')
  assert.ok(Math.abs(hook.pct - (6 / 7) * 100) < 0.01)
  assert.equal(s.selfByModule.find((e) => e.name === '(garbage collector)')!.ms, 1)
  // Library time is owned by the nearest project frame that called it.
  assert.deepEqual(s.ownedByProjectFunction.map((e) => [e.name, e.ms]), [['onRequest', 6], ['(garbage collector)', 1]])
  assert.deepEqual(s.ownedByProjectFile.map((e) => e.name), ['plugins/auth/index.ts', '(garbage collector)'])
  // A window on the sample timestamps (startTime + cumulative deltas) drops the rest:
  // sample 0 at t=0 and sample 1 at t=3000 are outside [3001, 1e9).
  const windowed = summariseProfile(profile, { root, window: { startUs: 3001, endUs: 1e9 } })
  assert.equal(windowed.busyMs, 3) // sample 2 (onRequest, 2 ms) + sample 4 (GC, 1 ms); sample 3 is idle
  assert.equal(windowed.idleMs, 5)
  assert.equal(moduleOf('file:///repo/node_modules/@fastify/reply-from/index.js', root), '@fastify/reply-from')
  assert.equal(moduleOf('node:internal/http', root), 'node:internal/http')
})

test('work Fastify dispatches after a hook (the next hook, the handler) is not charged to that hook', () => {
  const frame = (id: number, functionName: string, url: string, children: number[] = []) =>
    ({ id, callFrame: { functionName, url, lineNumber: 0, columnNumber: 0 }, children })
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 3000,
    nodes: [
      frame(1, '(root)', '', [2]),
      frame(2, 'checkDeclaredLength', 'file:///repo/plugins/proxy/index.ts', [3, 5]),
      frame(3, 'next', 'file:///repo/node_modules/fastify/lib/hooks.js', [4]),
      frame(4, 'send', 'file:///repo/node_modules/@fastify/reply-from/index.js'),
      frame(5, 'isNaN', 'file:///repo/node_modules/lodash/isNaN.js'), // called by the hook itself
    ],
    samples: [4, 5, 4],
    timeDeltas: [0, 2000, 1000],
  }
  const s = summariseProfile(profile, { root: '/repo' })
  assert.deepEqual(s.ownedByProjectFunction.map((e) => [e.name, e.ms]), [['[@fastify/reply-from]', 2], ['checkDeclaredLength', 1]])
})

test('the generated Gatehouse configs are valid gateway configs with the intended policies', () => {
  const o = { port: 18080, adminPort: 18081, backendUrl: 'http://127.0.0.1:19000', redisKeyPrefix: 'gatehouse:bench:test:' }
  const resolve = (raw: unknown) => {
    const { config, problems } = resolveConfig(raw, { file: null, env: {} })
    assert.deepEqual(problems.map(formatProblem), [])
    return config!
  }
  const none = resolve(gatehouseConfig('none', o))
  assert.equal(none.services[0].auth, 'none')
  assert.equal(none.services[0].circuitBreaker, false)
  assert.equal(none.rateLimit, null)
  assert.equal(none.logging.access, false)
  assert.equal(none.auth.jwt, null)

  const full = resolve(gatehouseConfig('full', o))
  assert.equal(full.services[0].auth, 'required')
  assert.equal(full.auth.jwt?.secret, JWT_SECRET)
  assert.equal(full.rateLimit?.store, 'memory')
  assert.ok(full.rateLimit!.default!.max >= 1e8)
  assert.notEqual(full.services[0].circuitBreaker, false)
  assert.equal(full.logging.access, false)
  assert.equal(full.logging.level, 'warn')

  const redis = resolve(gatehouseConfig('redis', o))
  assert.equal(redis.rateLimit?.store, 'redis')
  assert.equal(redis.rateLimit?.redis.keyPrefix, 'gatehouse:bench:test:')
  assert.equal(redis.rateLimit?.onStoreError, 'deny')
})

test('the bench token verifies with the configured secret, issuer and audience and carries the scope', () => {
  const verify = createVerifier({ key: JWT_SECRET, algorithms: ['HS256'], allowedIss: 'gatehouse-bench', allowedAud: 'gatehouse-bench' })
  const claims = verify(benchToken())
  assert.equal(claims.sub, 'bench-client')
  assert.equal(claims.scope, 'bench:read')
})

test('options: --quick shortens the run, bad numbers and unknown contenders are usage errors', () => {
  const quick = parseOptions(['--quick'])
  assert.equal(quick.rounds, 3)
  assert.equal(quick.durationS, 2)
  const full = parseOptions([])
  assert.equal(full.rounds, 8)
  assert.equal(full.durationS, 4)
  assert.equal(full.connections, 50)
  assert.equal(full.pipelining, 1)
  // Head to head: 8 windows by default, none in the one-minute --quick unless asked for.
  assert.equal(full.pairedWindows, 8)
  assert.equal(quick.pairedWindows, 0)
  assert.equal(parseOptions(['--quick', '--paired', '3']).pairedWindows, 3)
  assert.equal(parseOptions(['--paired', '0']).pairedWindows, 0)
  assert.throws(() => parseOptions(['--paired', '-1']), UsageError)
  assert.deepEqual(parseOptions(['--only', 'bare-proxy,gatehouse-full']).only, ['bare-proxy', 'gatehouse-full'])
  assert.throws(() => parseOptions(['--rounds', '0']), UsageError)
  assert.throws(() => parseOptions(['--only', 'nginx']), UsageError)
  assert.throws(() => parseOptions(['--bogus']), UsageError)
})
