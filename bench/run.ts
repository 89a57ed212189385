// `npm run bench`: what a request costs through each contender, against the bare
// @fastify/http-proxy measured in the same rounds. Prints the table and writes
// bench/results/latest.{md,json}; exit 1 when any request failed or a contender broke,
// 2 on bad options. docs/performance.md says how to read it.
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { BASELINE, DESCRIPTIONS, type Contender } from './contenders.ts'
import { failedRequests, runLoad, type LoadSettings } from './load.ts'
import { nginxVersion } from './nginx.ts'
import { parseOptions, UsageError, USAGE, type BenchOptions } from './options.ts'
import { machineLine, packageVersion, writeReport, type Report } from './report.ts'
import { openSession, smokeCheck, Skip, ROOT, type Running, type Session } from './session.ts'
import { runRounds, type Forks } from './rounds.ts'
import { summarise, tableRows, textTable } from './summary.ts'
import { egressBench } from './egress.ts'

const log = (line: string) => process.stdout.write(line + '\n')

function contenders (opts: BenchOptions): Contender[] {
  const list: Contender[] = opts.only.map((kind) => ({ name: kind, kind, root: ROOT }))
  if (opts.compare === null) return list
  const git = (...args: string[]) => execFileSync('git', ['-C', opts.compare!, ...args], { encoding: 'utf8' }).trim()
  let sha = 'unknown'
  try {
    sha = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') === '' ? '' : '-dirty')
  } catch {}
  const compared = opts.only.filter((k) => k === 'gatehouse-none' || k === 'gatehouse-full')
  return [...list, ...compared.map((kind) => ({ name: `${kind}@${sha}`, kind, root: opts.compare! }))]
}

const describe = (c: Contender) => DESCRIPTIONS[c.kind] + (c.root === ROOT ? '' : ` (from ${c.root})`)

async function bench (s: Session, opts: BenchOptions): Promise<number> {
  const tool = opts.load ?? (spawnSync('wrk', ['-v'], { timeout: 2000 }).error === undefined ? 'wrk' : 'autocannon')
  const load: LoadSettings = { tool, connections: opts.connections, headers: s.headers, signal: s.signal, processes: s.processes, core: s.pinning.loadCore, tmpDir: s.tmpDir }
  const toolName = tool === 'wrk' ? spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.split('[')[0].trim() : `autocannon ${packageVersion(ROOT, 'autocannon')}`
  const method = `${toolName}, ${opts.connections} keep-alive connections; ${opts.forks} process${opts.forks === 1 ? '' : 'es'} per contender; ` +
    `${opts.rounds} interleaved rounds of ${opts.warmupS} s warm-up + ${opts.durationS} s measured per contender (each round its next process), ` +
    `order rotated each round; ratios per round to ${BASELINE}, medians (lowest-highest round)`
  log(s.pinning.note)
  log(`load: ${method}`)

  const running: Forks[] = []
  const skipped: Report['skipped'] = []
  const problems: string[] = []
  for (const c of contenders(opts)) {
    s.signal.throwIfAborted()
    try {
      // `direct` is the backend itself: one process whatever --forks says.
      const forks: Running[] = []
      for (let fork = 0; fork < (c.kind === 'direct' ? 1 : opts.forks); fork++) {
        const r = await s.start(c, fork)
        await smokeCheck(r, s.headers)
        // Once before round 1, so the JIT's first seconds are not one contender's first round.
        const primed = await runLoad(load, r.url, opts.primeS)
        if (failedRequests(primed) > 0) problems.push(`${c.name}.${fork}: ${failedRequests(primed)} failed requests while priming ${JSON.stringify(primed.errors)}`)
        forks.push(r)
      }
      running.push({ name: c.name, forks })
      log(`started ${c.name} (pid ${forks.map((r) => r.child.pid).join(', ')})`)
    } catch (err) {
      if (s.signal.aborted) throw err
      const reason = (err as Error).message
      if (err instanceof Skip) skipped.push({ name: c.name, reason })
      else problems.push(`${c.name} did not start: ${reason}`)
      log(`${err instanceof Skip ? 'skipped' : 'FAILED'} ${c.name}: ${reason}`)
    }
  }

  const samples = await runRounds(load, running, { ...opts, clkTck: s.clkTck, signal: s.signal }, problems, log)

  const baseline = samples.get(BASELINE) ?? []
  const measured = running.map(({ name, forks }) => ({
    name, description: describe(forks[0]!.contender), summary: summarise(name, samples.get(name)!, baseline), samples: samples.get(name)!,
  }))
  for (const m of measured) if (m.summary.failed > 0) problems.push(`${m.name}: ${m.summary.failed} failed requests; its numbers are not valid`)
  const versions = ['fastify', '@fastify/http-proxy', 'undici', 'fast-gateway'].map((p) => `${p} ${packageVersion(ROOT, p)}`)
  const report: Report = {
    date: new Date().toISOString(),
    machine: machineLine(),
    pinning: s.pinning.note,
    method,
    versions: [...versions, `nginx ${nginxVersion() ?? 'not installed'}`].join(', '),
    contenders: measured,
    skipped,
    problems,
  }
  log('')
  log(textTable(tableRows(measured.map((m) => m.summary))))
  for (const m of measured) log(`  ${m.name}: ${m.description}`)
  log('')
  for (const x of skipped) log(`not measured: ${x.name}: ${x.reason.split('\n')[0]}`)
  for (const p of problems) log(`FAILED: ${p}`)
  const dir = path.join(ROOT, 'bench', 'results')
  writeReport(dir, report)
  log(`written: ${path.relative(process.cwd(), dir)}/latest.{md,json}`)
  return problems.length === 0 ? 0 : 1
}

export async function main (argv: string[]): Promise<number> {
  let opts: BenchOptions
  try {
    opts = parseOptions(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    if (err.message === '') log(USAGE)
    else process.stderr.write(`bench: ${err.message}\n${USAGE}\n`)
    return err.message === '' ? 0 : 2
  }
  const session = await openSession()
  let code = 1
  try {
    code = opts.egress ? await egressBench(session, opts, log) : await bench(session, opts)
  } catch (err) {
    if (!session.signal.aborted) throw err
    process.stderr.write(`bench: ${(session.signal.reason as Error).message}; nothing written\n`)
    code = 130
  } finally {
    await session.close(code === 1)
  }
  return code
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  })
}
