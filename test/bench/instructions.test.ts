import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { dumpFiles, parseCallgrindTotal } from '../../bench/callgrind.ts'
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
