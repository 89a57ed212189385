import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { summarisePaired, pairedRows, formatPairedTable, markdownPairedTable, type PairedWindow } from '../../bench/paired-summary.ts'
import { runPaired } from '../../bench/paired.ts'
import { evaluateTargets, summarise, withRatios, toMarkdown, formatTargets } from '../../bench/report.ts'
import type { Running, Session } from '../../bench/session.ts'
import { renderChart } from '../../bench/svg.ts'
import { benchReport, roundSample as sample } from '../helpers/bench.ts'

function win (over: Partial<PairedWindow> = {}): PairedWindow {
  return {
    window: 1, durationS: 4, rps: 1000, baseRps: 1000, cpuUsPerReq: 100, baseCpuUsPerReq: 100,
    coreBusy: 1, share: 0.5, failures: 0, timedOut: false, ...over,
  }
}

test('head-to-head ratios are per window, whatever speed the machine had in each', () => {
  // The machine halves its speed between windows: both sides move together.
  const p = summarisePaired([
    win({ window: 1, rps: 960, baseRps: 1000, cpuUsPerReq: 104, baseCpuUsPerReq: 100 }),
    win({ window: 2, rps: 470, baseRps: 500, cpuUsPerReq: 212, baseCpuUsPerReq: 200 }),
    win({ window: 3, rps: 1940, baseRps: 2000, cpuUsPerReq: 51, baseCpuUsPerReq: 50 }),
  ])
  assert.ok(Math.abs(p.rpsRatio! - 0.96) < 1e-9)
  assert.deepEqual(p.rpsRatioRange, [0.94, 0.97])
  assert.ok(Math.abs(p.cpuRatio! - 1.04) < 1e-9)
  assert.equal(p.saturatedWindows, 3)
  assert.equal(p.share, 0.5)
})

test('a window that left the shared core idle (the load generator held both back) does not count in req/s', () => {
  const p = summarisePaired([
    win({ window: 1, rps: 900, baseRps: 1000, coreBusy: 0.97 }),
    // Not saturated: both get what the load generator sends, a ratio near 1 that says nothing.
    win({ window: 2, rps: 1000, baseRps: 1000, coreBusy: 0.6 }),
    win({ window: 3, rps: 1000, baseRps: 1000, coreBusy: 0.5 }),
  ])
  assert.equal(p.saturatedWindows, 1)
  assert.equal(p.rpsRatio, 0.9)
  assert.equal(formatPairedTable([{ name: 'x', paired: p }]).includes('1 of 3'), true)
})

test('targets are judged head to head when it ran, on the rounds otherwise, and failed requests in either fail them', () => {
  const contenders = withRatios([
    summarise('bare-proxy', 'bare', 'gateway', [sample()]),
    // The rounds say 0.90 (a slow moment of the VM); head to head says 0.97.
    summarise('gatehouse-none', 'none', 'gateway', [sample({ rps: 900 })]),
    summarise('gatehouse-full', 'full', 'gateway', [sample({ rps: 900, cpuUsPerReq: 110 })]),
    summarise('gatehouse-redis', 'redis', 'gateway', [sample({ rps: 900 })]),
  ], 'bare-proxy')
  contenders[1] = { ...contenders[1], paired: summarisePaired([win({ rps: 970 })]) }
  contenders[2] = { ...contenders[2], paired: summarisePaired([win({ rps: 840, cpuUsPerReq: 119 })]) }
  contenders[3] = { ...contenders[3], paired: summarisePaired([win({ rps: 800, failures: 2 })]) }
  const t = evaluateTargets(contenders)
  const by = (c: string, m: string) => t.find((r) => r.contender === c && r.metric === m)!
  assert.equal(by('gatehouse-none', 'rps').actual, 0.97)
  assert.equal(by('gatehouse-none', 'rps').source, 'paired')
  assert.equal(by('gatehouse-none', 'rps').pass, true)
  assert.equal(by('gatehouse-full', 'rps').pass, false) // 0.84 head to head, though the rounds say 0.90
  assert.equal(by('gatehouse-full', 'cpu').actual, 1.19)
  assert.equal(by('gatehouse-redis', 'rps').pass, false) // 0.80 >= 0.75, but 2 requests failed head to head
  assert.match(formatTargets(t), /PASS  no policies req\/s >= 0\.95x bare proxy: 0\.97x \(head to head\)/)

  const withoutPaired = evaluateTargets(contenders.map((c) => ({ ...c, paired: null })))
  const none = withoutPaired.find((r) => r.contender === 'gatehouse-none')!
  assert.equal(none.source, 'rounds')
  assert.equal(none.actual, 0.9)
  assert.equal(none.pass, false)
})

test('the report shows the control first, then each proxy head to head, and says which measurement judged each target', () => {
  const contenders = withRatios([
    summarise('bare-proxy', 'bare', 'gateway', [sample()]),
    summarise('gatehouse-none', 'none', 'gateway', [sample({ rps: 900 })]),
  ], 'bare-proxy')
  contenders[1] = { ...contenders[1], paired: summarisePaired([win({ rps: 970, share: 0.51 }), win({ window: 2, rps: 990 })]) }
  const control = summarisePaired([win({ rps: 1010 }), win({ window: 2, rps: 990 })])
  const rows = pairedRows(contenders, control, 'bare-proxy')
  assert.deepEqual(rows.map((r) => r.name), ['bare-proxy (control: a second copy)', 'gatehouse-none'])
  const report = benchReport(contenders, { control, settings: { pairedWindows: 2, nodeFlags: ['--no-memory-reducer'] } })
  const md = toMarkdown(report)
  assert.match(md, /Head to head: .*2 window\(s\) of 4 s/)
  assert.match(md, /every Node process runs with --no-memory-reducer/)
  assert.match(md, /\| bare-proxy \(control: a second copy\) \| 1\.00x \(0\.99-1\.01\) \| 1\.00x \| 50 % \| 2 \| 0 \|/)
  assert.match(md, /\| gatehouse-none \| 0\.98x \(0\.97-0\.99\) \|/)
  assert.match(md, /\| no policies req\/s >= 0\.95x bare proxy \| 0\.98x \| head to head \| PASS \|/)
  assert.equal(markdownPairedTable(rows).split('\n').length, 2 + 2)
})

test('failed requests head to head, and in the control, are named in the report, not only in the head-to-head table', () => {
  const contenders = withRatios([
    summarise('bare-proxy', 'bare', 'gateway', [sample()]),
    summarise('gatehouse-redis', 'redis', 'gateway', [sample({ rps: 900 })]),
  ], 'bare-proxy')
  // Clean rounds; 23 requests failed in the last head-to-head window.
  contenders[1] = { ...contenders[1], paired: summarisePaired([win({ rps: 930 }), win({ window: 2, rps: 900, failures: 23 })]) }
  const control = summarisePaired([win({ failures: 2 })])
  const report = benchReport(contenders, { control, settings: { pairedWindows: 2 } })
  assert.match(toMarkdown(report), /\*\*Failed requests\*\* .*: gatehouse-redis 23, the control 2\. Those numbers are not valid\./)
})

test('a head-to-head result nearer the line than the control read off 1.00x is flagged not conclusive', () => {
  const contenders = withRatios([
    summarise('bare-proxy', 'bare', 'gateway', [sample()]),
    summarise('gatehouse-none', 'none', 'gateway', [sample()]),
    summarise('gatehouse-full', 'full', 'gateway', [sample({ cpuUsPerReq: 110 })]),
  ], 'bare-proxy')
  contenders[1] = { ...contenders[1], paired: summarisePaired([win({ rps: 960 })]) }
  contenders[2] = { ...contenders[2], paired: summarisePaired([win({ rps: 800, cpuUsPerReq: 112 })]) }
  // Two copies of the same proxy read 0.97x req/s and 1.01x CPU.
  const control = summarisePaired([win({ rps: 970, cpuUsPerReq: 101 })])
  const t = evaluateTargets(contenders, control)
  const by = (c: string, m: string) => t.find((r) => r.contender === c && r.metric === m)!
  const none = by('gatehouse-none', 'rps')
  assert.ok(Math.abs(none.noise! - 0.03) < 1e-9)
  assert.equal(none.pass, true)
  assert.equal(none.conclusive, false) // 0.96 is 0.01 above 0.95, inside 3 % of it
  assert.equal(by('gatehouse-full', 'rps').conclusive, true) // 0.80 is well under 0.85
  assert.equal(by('gatehouse-full', 'rps').pass, false)
  assert.equal(by('gatehouse-full', 'cpu').conclusive, true) // 1.12 is 0.08 under 1.2; the control is 1 % off
  assert.match(formatTargets(t), /PASS  no policies .*: 0\.96x \(head to head; the control read 3\.0 % off 1\.00x: within that of the line, not conclusive\)/)
  // Without a control nothing is said either way.
  assert.equal(evaluateTargets(contenders).find((r) => r.contender === 'gatehouse-none')!.conclusive, null)
})

test('the chart labels each bar with the head-to-head ratio when it ran, and says so', () => {
  const contenders = withRatios([
    summarise('bare-proxy', 'bare', 'gateway', [sample()]),
    summarise('gatehouse-none', 'none', 'gateway', [sample({ rps: 800, cpuUsPerReq: 125 })]),
  ], 'bare-proxy')
  const rounds = renderChart(contenders, { title: 't', baseline: 'bare-proxy' })
  assert.match(rounds, /800 \(0\.80x\)/)
  assert.doesNotMatch(rounds, /head to head/)
  contenders[1] = { ...contenders[1], paired: summarisePaired([win({ rps: 970, cpuUsPerReq: 103 })]) }
  const paired = renderChart(contenders, { title: 't', baseline: 'bare-proxy' })
  assert.match(paired, /800 \(0\.97x\)/)
  assert.match(paired, /125\.0 µs \(1\.03x\)/)
  assert.match(paired, /head to head on one core/)
})

// ---- the runner, against two real servers ----

async function server (t: { after: (fn: () => Promise<void>) => void }, status: number): Promise<string> {
  const s = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' })
    res.end('ok')
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    s.closeAllConnections()
    s.close(() => resolve())
  }))
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/`
}

function running (name: Running['name'], url: string): Running {
  // Both "processes" are this one: the CPU figures are shared, the counts are not.
  return { name, description: name, cpuOf: 'gateway', url, child: { pid: process.pid } as Running['child'] }
}

test('the runner loads both at once for every window, counts each side\'s requests, and counts failures on either side', async (t) => {
  const ok = await server(t, 200)
  const failing = await server(t, 503)
  const controller = new AbortController()
  const session = { headers: {}, signal: controller.signal, clkTck: 100 } as unknown as Session
  const seen: number[] = []
  const windows = await runPaired(session, running('bare-proxy', ok), running('gatehouse-none', failing),
    { windows: 2, warmupS: 1, durationS: 1, connections: 2, pipelining: 1 }, (w) => seen.push(w.window))
  assert.deepEqual(seen, [1, 2])
  for (const w of windows) {
    assert.ok(w.rps > 0 && w.baseRps > 0, 'both sides were loaded in the window')
    // Every request to the contender failed (503), none to the baseline.
    assert.ok(w.failures >= Math.floor(w.rps * w.durationS * 0.9), `failures ${w.failures} for ${w.rps} req/s`)
    assert.ok(w.coreBusy !== null && w.share !== null)
  }
  assert.ok(summarisePaired(windows).failures > 0)
})
