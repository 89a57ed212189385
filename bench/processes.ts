import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import net from 'node:net'
import os from 'node:os'

// Child processes of the bench: spawned in their own process group (so a Ctrl-C in the
// terminal reaches only the bench, which then stops them in order), optionally pinned to
// one core with taskset, stopped by pid, and killed synchronously if the bench dies.

export interface Pinning {
  enabled: boolean
  loadCore: number | null // the bench process (load generator) and the backend
  gatewayCore: number | null // every proxy/gateway under test
  note: string
}

export function detectPinning (disabled = false): Pinning {
  const cores = os.cpus().length
  if (disabled) return { enabled: false, loadCore: null, gatewayCore: null, note: 'pinning off (--no-pin)' }
  if (process.platform !== 'linux') return { enabled: false, loadCore: null, gatewayCore: null, note: 'no pinning (not Linux)' }
  if (cores < 2) return { enabled: false, loadCore: null, gatewayCore: null, note: `no pinning (${cores} core)` }
  const probe = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8', timeout: 2000 })
  if (probe.error !== undefined || probe.status !== 0) {
    return { enabled: false, loadCore: null, gatewayCore: null, note: 'no pinning (taskset not found)' }
  }
  return {
    enabled: true,
    loadCore: 0,
    gatewayCore: 1,
    note: `pinned with taskset: gateway/proxy under test on core 1; load generator and backend on core 0 (of ${cores})`,
  }
}

export function pinSelf (core: number): void {
  const result = spawnSync('taskset', ['-cp', String(core), String(process.pid)], { encoding: 'utf8', timeout: 2000 })
  if (result.status !== 0) throw new Error(`taskset -cp ${core} ${process.pid} failed: ${result.stderr}`)
}

export interface ChildSpec {
  name: string
  nodeArgs: string[] // arguments to `node`
  wrap?: string[] // a command node runs under, e.g. valgrind and its options (it must exec node in the same pid)
  core: number | null
  logFile: string
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface Child {
  name: string
  pid: number
  logFile: string
  proc: ChildProcess
  exited: Promise<number | null>
  hasExited: () => boolean
}

export interface ProcessSet {
  start: (spec: ChildSpec) => Child
  stop: (child: Child) => Promise<void>
  stopAll: () => Promise<void>
  killAllSync: () => void
}

const STOP_GRACE_MS = 5000

export function createProcessSet (): ProcessSet {
  const children = new Set<Child>()

  function start (spec: ChildSpec): Child {
    const fd = openSync(spec.logFile, 'a')
    // taskset execs node (or the wrap command), so the pid we get is node's (the one /proc
    // and --cpu-prof see; valgrind runs node in its own pid).
    const argv = [...spec.wrap ?? [], process.execPath, ...spec.nodeArgs]
    const [command, args] = spec.core === null ? [argv[0], argv.slice(1)] : ['taskset', ['-c', String(spec.core), ...argv]]
    let proc: ChildProcess
    try {
      proc = spawn(command, args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        detached: true,
        stdio: ['ignore', fd, fd],
      })
    } finally {
      closeSync(fd)
    }
    if (proc.pid === undefined) throw new Error(`${spec.name}: could not start ${command}`)
    let done = false
    const exited = new Promise<number | null>((resolve) => {
      proc.once('exit', (code) => { done = true; resolve(code) })
      proc.once('error', () => { done = true; resolve(null) })
    })
    const child: Child = { name: spec.name, pid: proc.pid, logFile: spec.logFile, proc, exited, hasExited: () => done }
    children.add(child)
    void exited.then(() => children.delete(child))
    return child
  }

  async function stop (child: Child): Promise<void> {
    if (child.hasExited()) return
    signalGroup(child.pid, 'SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), STOP_GRACE_MS) })
    const outcome = await Promise.race([child.exited, late])
    clearTimeout(timer)
    if (outcome === 'late') {
      signalGroup(child.pid, 'SIGKILL')
      await child.exited
    }
  }

  return {
    start,
    stop,
    stopAll: async () => { await Promise.all([...children].map(stop)) },
    killAllSync: () => { for (const c of children) signalGroup(c.pid, 'SIGKILL') },
  }
}

// The child leads its own group (detached), so -pid reaches it and anything it spawned.
function signalGroup (pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    try { process.kill(pid, signal) } catch { /* already gone */ }
  }
}

export function logTail (file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

// Polls until `url` answers with `status` (any status when null); fails early when the
// child exits, and after timeoutMs.
export async function waitForHttp (child: Child, url: string, status: number | null, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (child.hasExited()) throw new Error(`${child.name} exited during start-up:\n${logTail(child.logFile)}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (status === null || res.status === status) return
      last = `HTTP ${res.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 100)), child.exited])
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms (${last}):\n${logTail(child.logFile)}`)
}

// n distinct ports free right now on 127.0.0.1 (held together so the OS cannot hand the
// same one out twice; the children bind them a moment later).
export async function freePorts (n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer().listen(0, '127.0.0.1'))
  try {
    await Promise.all(servers.map((s) => once(s, 'listening')))
    return servers.map((s) => (s.address() as net.AddressInfo).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }
}
