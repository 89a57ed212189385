import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { stringify } from 'yaml'
import { clockTicksPerSecond, readCpuTicks } from './cpu.ts'
import { createProcessSet, detectPinning, freePorts, pinSelf, waitForHttp, type Child, type Pinning, type ProcessSet } from './processes.ts'
import {
  DESCRIPTIONS, LOAD_PATH, PREFIX, benchToken, gatehouseConfig,
  type ContenderName, type GatehouseVariant,
} from './contenders.ts'
import { deleteKeys, redisPid, redisProblem } from './redis.ts'

// Everything a bench run starts and must stop: the temp dir, the backend, the contender
// processes, the Redis keys; with the signal handling that stops them on Ctrl-C.

export const ROOT = path.resolve(import.meta.dirname, '..')
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results')
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface Running {
  name: ContenderName
  description: string
  cpuOf: 'gateway' | 'backend'
  url: string
  child: Child // for "direct", the backend
  extraPids?: number[] // other local processes doing its work (redis-server)
}

// Every Node process the bench starts runs with these. Each contender sits idle while the
// others are measured (25 s and more), and V8's memory reducer shrinks an idle heap: the
// next seconds then run on a young generation a few MB small, with a scavenge every few
// milliseconds and objects promoted that would have died young. Measured on Gatehouse
// after 90 s idle: 1,012, 567, 432, 346 µs/request in the first seconds against ~200
// steady, back after ~6 s; with the flag, 287, 201, 202. A 1 s warm-up would measure that
// recovery, not the proxy; a proxy under sustained load never idles long enough for it.
// The same flag for every contender, so none is tuned apart.
export const BENCH_NODE_FLAGS = ['--no-memory-reducer']

export class SkipContender extends Error {}

export interface StartOptions {
  wrap?: string[] // a command prefix for node (valgrind for --instructions)
  readyTimeoutMs?: number // how long start-up may take (default: waitForHttp's)
  instance?: string // a second process of the same contender: names its log apart
}

export interface Session {
  tmpDir: string
  pinning: Pinning
  clkTck: number
  processes: ProcessSet
  backend: Child
  backendUrl: string
  headers: Record<string, string>
  signal: AbortSignal
  keepLogs: boolean // set when something went wrong: close() then leaves the temp dir
  start: (name: ContenderName, nodeFlags?: string[], how?: StartOptions) => Promise<Running>
  // keepLogs: leave the temp dir (child logs, generated configs) for a look afterwards.
  close: (opts?: { keepLogs?: boolean }) => Promise<void>
}

export async function openSession (opts: { pin: boolean }): Promise<Session> {
  const abort = new AbortController()
  const processes = createProcessSet()
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'))
  const redisKeyPrefix = `gatehouse:bench:${process.pid}-${Date.now()}:`
  let redisUsed = false

  // First Ctrl-C: stop the load, then everything in order. Second: kill and leave.
  let interrupted = 0
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted++
    if (interrupted === 1) {
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

  async function close ({ keepLogs = false }: { keepLogs?: boolean } = {}) {
    await processes.stopAll()
    if (redisUsed) {
      try {
        await deleteKeys(REDIS_URL, redisKeyPrefix)
      } catch (err) {
        process.stderr.write(`could not delete the bench's Redis keys (${redisKeyPrefix}*): ${(err as Error).message}\n`)
      }
    }
    if (keepLogs) process.stderr.write(`logs and generated configs kept in ${tmpDir}\n`)
    else rmSync(tmpDir, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', onExit)
  }

  try {
    const pinning = detectPinning(!opts.pin)
    if (pinning.enabled) pinSelf(pinning.loadCore!)
    const [backendPort] = await freePorts(1)
    const backendUrl = `http://127.0.0.1:${backendPort}`
    const backend = processes.start({
      name: 'backend',
      nodeArgs: [...BENCH_NODE_FLAGS, path.join(ROOT, 'bench/servers/backend.ts'), '--port', String(backendPort)],
      core: pinning.loadCore,
      logFile: path.join(tmpDir, 'backend.log'),
      cwd: ROOT,
    })
    await waitForHttp(backend, backendUrl + LOAD_PATH, 200)
    const headers = { authorization: `Bearer ${benchToken()}`, accept: 'application/json' }

    async function start (name: ContenderName, nodeFlags: string[] = [], how: StartOptions = {}): Promise<Running> {
      const description = DESCRIPTIONS[name]
      if (name === 'direct') {
        return { name, description, cpuOf: 'backend', url: backendUrl + LOAD_PATH, child: backend }
      }
      const stem = how.instance === undefined ? name : `${name}-${how.instance}`
      const logFile = path.join(tmpDir, `${stem}.log`)
      const spawnNode = (nodeArgs: string[]) => processes.start({ name, nodeArgs: [...BENCH_NODE_FLAGS, ...nodeFlags, ...nodeArgs], wrap: how.wrap, core: pinning.gatewayCore, logFile, cwd: ROOT })
      if (name === 'bare-proxy' || name === 'fast-gateway') {
        if (name === 'fast-gateway') {
          try {
            import.meta.resolve('fast-gateway')
          } catch {
            throw new SkipContender('the fast-gateway package is not installed')
          }
        }
        const [port] = await freePorts(1)
        const url = `http://127.0.0.1:${port}`
        const child = spawnNode([path.join(ROOT, `bench/servers/${name}.ts`), '--port', String(port), '--upstream', backendUrl, '--prefix', PREFIX])
        await waitForHttp(child, url + LOAD_PATH, 200, how.readyTimeoutMs)
        return { name, description, cpuOf: 'gateway', url: url + LOAD_PATH, child }
      }
      const variant = name.slice('gatehouse-'.length) as GatehouseVariant
      const extraPids: number[] = []
      if (variant === 'redis') {
        const problem = await redisProblem(REDIS_URL)
        if (problem !== null) throw new SkipContender(problem)
        redisUsed = true
        const pid = await redisPid(REDIS_URL)
        if (pid !== null && readCpuTicks(pid) !== null) extraPids.push(pid)
      }
      const [port, adminPort] = await freePorts(2)
      const configFile = path.join(tmpDir, `${stem}.yaml`)
      writeFileSync(configFile, stringify(gatehouseConfig(variant, { port, adminPort, backendUrl, redisUrl: REDIS_URL, redisKeyPrefix })))
      const child = spawnNode([path.join(ROOT, 'apps/gateway/cli.ts'), '--config', configFile])
      await waitForHttp(child, `http://127.0.0.1:${adminPort}/readyz`, 200, how.readyTimeoutMs)
      return { name, description, cpuOf: 'gateway', url: `http://127.0.0.1:${port}${LOAD_PATH}`, child, extraPids }
    }

    return {
      tmpDir, pinning, clkTck: clockTicksPerSecond(), processes, backend, backendUrl, headers,
      signal: abort.signal, keepLogs: false, start, close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

// One request before any load: a contender that does not answer 2xx (a plugin mid-way,
// a wrong token) is reported and left out instead of measured.
export async function smokeCheck (running: Running, headers: Record<string, string>): Promise<void> {
  const res = await fetch(running.url, { headers, signal: AbortSignal.timeout(5000) })
  const body = await res.text()
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${running.name}: GET ${LOAD_PATH} answered ${res.status}: ${body.slice(0, 300)}`)
  }
}
