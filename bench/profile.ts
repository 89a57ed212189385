// Profiles one contender (gatehouse-full by default) with `node --cpu-prof` under the
// bench's load and prints where its CPU goes. Run through `npm run bench -- --profile`;
// `node bench/profile.ts FILE.cpuprofile` summarises an existing profile.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runLoad } from './load.ts'
import type { BenchOptions } from './options.ts'
import { formatProfileSummary, summariseProfile, type CpuProfile } from './profile-summary.ts'
import { RESULTS_DIR, ROOT, smokeCheck, type Session } from './session.ts'

function newestProfile (dir: string): string | null {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f))
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  return files[0] ?? null
}

export async function runProfile (session: Session, opts: BenchOptions): Promise<number> {
  const dir = path.join(session.tmpDir, 'cpu-prof')
  mkdirSync(dir, { recursive: true })
  const name = opts.profileContender
  if (name === 'direct') throw new Error('profile a proxy, not "direct"')
  const c = await session.start(name, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
  await smokeCheck(c, session.headers)
  process.stdout.write(`profiling ${name} (pid ${c.child.pid}): ${opts.warmupS} s warm-up + ${opts.profileS} s load, ${opts.connections} connections\n`)
  const load = { url: c.url, connections: opts.connections, pipelining: opts.pipelining, headers: session.headers, signal: session.signal }
  await runLoad({ ...load, durationS: opts.warmupS })
  // Only the measured load counts, not start-up (module loading, config, JIT warm-up).
  const startUs = Number(process.hrtime.bigint() / 1000n)
  const run = await runLoad({ ...load, durationS: opts.profileS })
  const window = { startUs, endUs: Number(process.hrtime.bigint() / 1000n) }
  process.stdout.write(`${Math.round(run.rps)} req/s under the profiler, ${run.non2xx + run.errors + run.timeouts} failed requests\n`)
  // The profile is written when the process exits (graceful SIGTERM shutdown).
  await session.processes.stop(c.child)
  const file = newestProfile(dir)
  if (file === null) throw new Error(`${name} wrote no .cpuprofile in ${dir}`)
  const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, { root: ROOT, top: 25, window })
  const text = `${name} under ${opts.connections} connections for ${opts.profileS} s (warm-up and start-up excluded), ${Math.round(run.rps)} req/s\n` +
    formatProfileSummary(summary)
  process.stdout.write('\n' + text + '\n')
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(path.join(RESULTS_DIR, `profile-${name}.txt`), text + '\n')
  writeFileSync(path.join(RESULTS_DIR, `profile-${name}.json`), JSON.stringify(summary, null, 2) + '\n')
  copyFileSync(file, path.join(RESULTS_DIR, `${name}.cpuprofile`))
  process.stdout.write(`\nwritten: bench/results/profile-${name}.{txt,json} and bench/results/${name}.cpuprofile (open in Chrome DevTools > Performance)\n`)
  return 0
}

if (import.meta.main) {
  const file = process.argv[2]
  if (file === undefined) {
    process.stderr.write('usage: node bench/profile.ts FILE.cpuprofile   (to profile under load: npm run bench -- --profile)\n')
    process.exitCode = 2
  } else {
    const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, { root: ROOT, top: 25 })
    process.stdout.write(formatProfileSummary(summary) + '\n')
  }
}
