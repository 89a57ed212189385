import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { dumpFiles, parseCallgrindTotal } from '../../bench/callgrind.ts'
import { diffFunctions, displayName, functionCosts, lookup, readPerfMap, selfCostByFunction } from '../../bench/callgrind-functions.ts'
import { formatIrTable, lowestWindow, withIrRatios, type InstructionsSample } from '../../bench/instructions.ts'
import { parseOptions, UsageError } from '../../bench/options.ts'

// The head and tail of a real `vgdb dump` file from callgrind 3.19 (body shortened).
const DUMP = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 9270
cmd:  /usr/bin/node /work/main/bench/servers/bare-proxy.ts --port 19002
part: 1


desc: I1 cache: 
desc: D1 cache: 
desc: LL cache: 

desc: Timerange: Basic block 0 - 1839437942
desc: Trigger: dump

positions: line
events: Ir
summary: 1660644387


ob=(8) /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30
fl=(160) ???
fn=(1690) std::__detail::_Prime_rehash_policy::_M_next_bkt(unsigned long) const
0 17928

fn=(1708) operator delete(void*, unsigned long)
0 62298
cfn=(1714)
calls=31149 0 
0 2980262

totals: 1661507786
`

test('the total Ir of a callgrind dump is its "totals:" line, not a cost line or the summary', () => {
  assert.equal(parseCallgrindTotal(DUMP), 1_661_507_786)
})

test('without a "totals:" line the summary counts; with several events, the Ir column', () => {
  assert.equal(parseCallgrindTotal(DUMP.replace(/^totals:.*$/m, '')), 1_660_644_387)
  const multi = DUMP.replace('events: Ir', 'events: Dr Ir Dw')
    .replace('summary: 1660644387', 'summary: 5 1660644387 7')
    .replace('totals: 1661507786', 'totals: 11 1661507786 13')
  assert.equal(parseCallgrindTotal(multi), 1_661_507_786)
})

test('a dump that is cut short, or has no Ir event, is an error rather than a number', () => {
  const cut = DUMP.slice(0, DUMP.indexOf('summary:'))
  assert.throws(() => parseCallgrindTotal(cut), /no "totals:" or "summary:"/)
  assert.throws(() => parseCallgrindTotal(DUMP.replace('events: Ir', 'events: Dr')), /no Ir event/)
  assert.throws(() => parseCallgrindTotal(DUMP.replace('totals: 1661507786', 'totals: n/a')), /no Ir/)
})

test('the dumps of one process are found in numeric order, without the exit dump or other processes\'', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cg-test-'))
  try {
    for (const f of ['cg.42.10', 'cg.42.9', 'cg.42.1', 'cg.42', 'cg.421.2', 'cg.4.2', 'cg.42.3.tmp']) writeFileSync(path.join(dir, f), '')
    assert.deepEqual(dumpFiles(dir, 42).map((f) => path.basename(f)), ['cg.42.1', 'cg.42.9', 'cg.42.10'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the lowest window counts; it is settled only when the next lowest is within 1 %', () => {
  assert.deepEqual(lowestWindow([300_000, 263_100, 269_000, 263_200]), { irPerRequest: 263_100, settled: true })
  assert.deepEqual(lowestWindow([300_000, 264_944, 294_863, 275_521]), { irPerRequest: 264_944, settled: false })
  assert.equal(lowestWindow([100]).settled, false)
  assert.throws(() => lowestWindow([]))
})

function sample (name: string, windows: number[]): InstructionsSample {
  return { name, description: name, requestsPerWindow: 2000, windows, ...lowestWindow(windows), ratio: null, measureS: 40 }
}

test('ratios are to the bare proxy\'s lowest window; the table shows every window and flags an unsettled one', () => {
  const s = withIrRatios([sample('bare-proxy', [270_000, 250_000, 251_000]), sample('gatehouse-none', [300_000, 330_000, 400_000])], 'bare-proxy')
  assert.equal(s[0].ratio, 1)
  assert.equal(s[1].ratio, 1.2)
  const table = formatIrTable(s)
  assert.match(table, /^bare-proxy +250,000 +1\.000x +270\.0 250\.0 251\.0$/m)
  assert.match(table, /^gatehouse-none +300,000 \(!\) +1\.200x +300\.0 330\.0 400\.0$/m)
  assert.equal(withIrRatios([sample('gatehouse-none', [1])], 'bare-proxy')[0].ratio, null)
})

test('options: --instructions with --requests per window; a bad count is a usage error', () => {
  const o = parseOptions(['--instructions', '--only', 'bare-proxy,gatehouse-none', '--requests', '500'])
  assert.equal(o.instructions, true)
  assert.equal(o.requests, 500)
  assert.deepEqual(o.only, ['bare-proxy', 'gatehouse-none'])
  assert.equal(parseOptions([]).instructions, false)
  assert.equal(parseOptions([]).requests, 2000)
  assert.throws(() => parseOptions(['--instructions', '--requests', '0']), UsageError)
})

// A callgrind body in its compressed form: names defined once as "(n) name", then "(n)".
const BODY = `events: Ir
ob=(1) /usr/bin/node
fl=(1) ???
fn=(1) Builtins_StringPrototypeToLowerCase
0 300
fn=(2) 0x00000000040000a0
0 1000
cfn=(1)
calls=2 0
0 600
0 50
fn=(3) 0x0000000004000200
0 400
fn=(1)
0 100
fn=(4) 0x0000000009990000
0 7
totals: 2457
`

test('--functions: self cost per function leaves out what calls cost, and names JIT addresses from the perf map', () => {
  const self = selfCostByFunction(BODY)
  assert.deepEqual(Object.fromEntries(self), {
    Builtins_StringPrototypeToLowerCase: 400,
    '0x00000000040000a0': 1050,
    '0x0000000004000200': 400,
    '0x0000000009990000': 7,
  })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'perfmap-'))
  try {
    const file = path.join(dir, 'perf-1.map')
    // Two tiers of one function, and a function recompiled at a reused address.
    writeFileSync(file, [
      '4000000 100 JS:~buildUpstreamHeaders file:///work/main/plugins/proxy/forward-headers.ts:18:39',
      '4000200 80 JS:^old file:///work/main/x.ts:1:1',
      '4000200 80 JS:*buildUpstreamHeaders file:///work/main/plugins/proxy/forward-headers.ts:18:39',
      '5000000 10 JS:*from file:///work/main/node_modules/@fastify/reply-from/index.js:60:3',
    ].join('\n') + '\n')
    const map = readPerfMap(file)!
    assert.equal(lookup(map, 0x4000000), map.names[0])
    assert.equal(lookup(map, 0x40000ff), map.names[0])
    assert.equal(lookup(map, 0x4000100), null, 'past the end of the entry')
    assert.equal(lookup(map, 0x3ffffff), null)
    assert.equal(map.names.length, 3, 'one entry per start')
    assert.equal(displayName(map.names[1]!, '/work/main'), 'buildUpstreamHeaders plugins/proxy/forward-headers.ts:18:39')
    assert.equal(displayName(map.names[2]!, '/work/main'), 'from @fastify/reply-from/index.js:60:3')
    const costs = functionCosts(BODY, map, 10, '/work/main')
    assert.deepEqual(costs, [
      { name: 'buildUpstreamHeaders plugins/proxy/forward-headers.ts:18:39', ir: 145 },
      { name: 'Builtins_StringPrototypeToLowerCase', ir: 40 },
      { name: '(unnamed JIT code)', ir: 0.7 },
    ])
    const diff = diffFunctions([{ name: 'a', ir: 10 }, { name: 'b', ir: 5 }], [{ name: 'a', ir: 12 }, { name: 'c', ir: 1 }])
    assert.deepEqual(diff.map((r) => [r.name, r.diff]), [['a', 2], ['c', 1], ['b', -5]])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('--functions needs --instructions', () => {
  assert.throws(() => parseOptions(['--functions']), UsageError)
  assert.equal(parseOptions(['--instructions', '--functions']).functions, true)
})
