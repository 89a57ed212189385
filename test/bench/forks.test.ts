import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { failedRequests, type LoadSettings } from '../../bench/load.ts'
import { createProcessSet, freePorts, waitForHttp } from '../../bench/processes.ts'
import { runRounds } from '../../bench/rounds.ts'
import type { Contender } from '../../bench/contenders.ts'
import type { Running } from '../../bench/session.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

// Two real backend processes as one contender's forks, the second stopped before round 1:
// round 1 must measure the first (answers), round 2 the second (refused, and the contender
// leaves, named with its fork). Measuring the same process every round would pass round 2.
test('each round measures a contender\'s next process; a dead one takes the contender out, named with its fork', async (t) => {
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-forks-'))
  const processes = createProcessSet()
  t.after(async () => {
    await processes.stopAll()
    rmSync(tmpDir, { recursive: true, force: true })
  })
  const contender: Contender = { name: 'x', kind: 'direct', root: ROOT }
  const forks: Running[] = []
  for (const [fork, port] of (await freePorts(2)).entries()) {
    const child = processes.start(`x.${fork}`, [process.execPath, path.join(ROOT, 'bench/servers/backend.ts'), '--port', String(port)],
      { core: null, logFile: path.join(tmpDir, `x.${fork}.log`) })
    const url = `http://127.0.0.1:${port}/hello`
    await waitForHttp(child, url, 200)
    forks.push({ contender, fork, url, child })
  }
  await processes.stop(forks[1]!.child)

  const load: LoadSettings = { tool: 'autocannon', connections: 2, headers: {}, signal: AbortSignal.timeout(30_000), processes, core: null, tmpDir }
  const problems: string[] = []
  const samples = await runRounds(load, [{ name: 'x', forks }], { rounds: 3, warmupS: 0, durationS: 1, clkTck: 100, signal: load.signal }, problems, () => {})

  const got = samples.get('x')!
  assert.deepEqual(got.map((s) => [s.round, s.fork]), [[1, 0], [2, 1]], 'round 3 is not measured: the contender left')
  assert.equal(failedRequests(got[0]!), 0)
  assert.ok(got[0]!.requests > 0)
  assert.ok(failedRequests(got[1]!) > 0, 'the stopped process refused the load')
  assert.equal(problems.length, 1)
  assert.match(problems[0]!, /^x\.1 exited during the run/)
})
