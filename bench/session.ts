import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { stringify } from 'yaml'
import { clockTicksPerSecond } from './cpu.ts'
import { LOAD_PATH, PREFIX, benchHeaders, gatehouseConfig, type Contender } from './contenders.ts'
import { nginxCommand, nginxVersion } from './nginx.ts'
import { createProcessSet, detectPinning, freePorts, waitForHttp, type Child } from './processes.ts'
import { deleteKeys, redisProblem } from './redis.ts'

// Everything a run starts and must stop: the temp dir, the backend, the contenders, the
// Redis keys; and the signal handling that stops them on Ctrl-C.

export const ROOT = path.resolve(import.meta.dirname, '..')
export const REDIS_URL = process.env.GATEHOUSE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

// Every Node process the bench starts runs with these. Each process sits idle while the
// others are measured (about 50 s with 9 contenders of 3 processes), and V8's memory
// reducer shrinks an idle heap: the next seconds then run on a young generation a few MB
// small, with a scavenge every few milliseconds and objects promoted that would have died
// young. Measured on Gatehouse after 90 s idle: 1,012, 567, 432, 346 µs/request in the
// first seconds against ~200 steady, back after ~6 s; with the flag, 287, 201, 202. A 1 s
// warm-up would measure that recovery, not the proxy; a proxy under sustained load never
// idles long enough for it.
// The same flag for every contender, so none is tuned apart.
export const NODE_FLAGS = ['--no-memory-reducer']

// A contender this machine cannot run (no nginx, no Redis): listed with why, not a failure.
export class Skip extends Error {}

// One process of a contender; `fork` numbers a contender's processes from 0.
export interface Running { contender: Contender, fork: number, url: string, child: Child }

export async function openSession () {
  const abort = new AbortController()
  const processes = createProcessSet()
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'))
  const redisKeyPrefix = `gatehouse:bench:${process.pid}-${Date.now()}:`
  let redisUsed = false

  // First Ctrl-C: stop the load, then every process in order. Second: kill and leave.
  let interrupted = 0
  const onSignal = (signal: NodeJS.Signals) => {
    if (++interrupted === 1) {
      process.stderr.write(`\n${signal}: stopping the load and every process started...\n`)
      abort.abort(new Error(`interrupted by ${signal}`))
    } else {
      processes.killAllSync()
      process.exit(130)
    }
  }
  const onExit = () => processes.killAllSync()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', onExit)

  // keepLogs: leave the temp dir (child logs, generated configs) to look at.
  async function close (keepLogs: boolean) {
    await processes.stopAll()
    if (redisUsed) {
      await deleteKeys(REDIS_URL, redisKeyPrefix).catch((err: Error) => {
        process.stderr.write(`could not delete the bench's Redis keys (${redisKeyPrefix}*): ${err.message}\n`)
      })
    }
    if (keepLogs) process.stderr.write(`logs and generated configs kept in ${tmpDir}\n`)
    else rmSync(tmpDir, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', onExit)
  }

  const pinning = detectPinning()
  const logFile = (name: string) => path.join(tmpDir, `${name}.log`)
  const node = (name: string, args: string[], core: number | null, cwd = ROOT) =>
    processes.start(name, [process.execPath, ...NODE_FLAGS, ...args], { core, logFile: logFile(name), cwd })
  const [backendPort] = await freePorts(1)
  const backendUrl = `http://127.0.0.1:${backendPort}`
  const backend = node('backend', [path.join(ROOT, 'bench/servers/backend.ts'), '--port', String(backendPort)], pinning.loadCore)
  try {
    await waitForHttp(backend, backendUrl + LOAD_PATH, 200)
  } catch (err) {
    await close(true)
    throw err
  }

  // fork: which of the contender's processes this is (files and process names carry it).
  async function start (c: Contender, fork = 0): Promise<Running> {
    if (c.kind === 'direct') return { contender: c, fork: 0, url: backendUrl + LOAD_PATH, child: backend }
    const name = fork === 0 ? c.name : `${c.name}.${fork}`
    const core = pinning.proxyCore
    if (c.kind.startsWith('gatehouse-')) {
      if (c.kind === 'gatehouse-redis') {
        const problem = await redisProblem(REDIS_URL)
        if (problem !== null) throw new Skip(problem)
        redisUsed = true
      }
      const [port, adminPort] = await freePorts(2)
      const config = path.join(tmpDir, `${name}.yaml`)
      writeFileSync(config, stringify(gatehouseConfig(c.kind, { port, adminPort, backendUrl, redisUrl: REDIS_URL, redisKeyPrefix })))
      const child = node(name, [path.join(c.root, 'apps/gateway/cli.ts'), '--config', config], core, c.root)
      await waitForHttp(child, `http://127.0.0.1:${adminPort}/readyz`, 200)
      return { contender: c, fork, url: `http://127.0.0.1:${port}${LOAD_PATH}`, child }
    }
    const [port] = await freePorts(1)
    const url = `http://127.0.0.1:${port}${LOAD_PATH}`
    let child: Child
    if (c.kind === 'nginx') {
      if (nginxVersion() === null) throw new Skip('no nginx binary on PATH (apt-get install nginx-light)')
      child = processes.start(name, nginxCommand(path.join(tmpDir, name), port, backendUrl), { core, logFile: logFile(name) })
    } else {
      if (c.kind === 'fast-gateway' && !installed('fast-gateway')) throw new Skip('the fast-gateway package is not installed')
      child = node(name, [path.join(ROOT, `bench/servers/${c.kind}.ts`), '--port', String(port), '--upstream', backendUrl, '--prefix', PREFIX], core)
    }
    await waitForHttp(child, url, 200)
    return { contender: c, fork, url, child }
  }

  return { tmpDir, pinning, clkTck: clockTicksPerSecond(), processes, headers: benchHeaders(), signal: abort.signal, start, close }
}

function installed (pkg: string): boolean {
  try {
    import.meta.resolve(pkg)
    return true
  } catch {
    return false
  }
}

export type Session = Awaited<ReturnType<typeof openSession>>

// One request before any load: a contender that does not answer 2xx (a wrong token, a
// plugin mid-way) is reported as broken instead of measured.
export async function smokeCheck (r: Running, headers: Record<string, string>): Promise<void> {
  const res = await fetch(r.url, { headers, signal: AbortSignal.timeout(5000) })
  const body = await res.text()
  if (res.status < 200 || res.status > 299) throw new Error(`GET ${LOAD_PATH} answered ${res.status}: ${body.slice(0, 300)}`)
}
