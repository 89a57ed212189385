import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import net from 'node:net'
import os from 'node:os'

// The bench's child processes: each leads its own process group (a Ctrl-C in the terminal
// reaches only the bench, which then stops them in order), optionally pinned to one core
// with taskset, stopped by pid, killed synchronously if the bench itself dies.

export interface Pinning { loadCore: number | null, proxyCore: number | null, note: string }

export function detectPinning (): Pinning {
  const cores = os.cpus().length
  const none = (why: string) => ({ loadCore: null, proxyCore: null, note: `no pinning (${why})` })
  if (process.platform !== 'linux' || cores < 2) return none(`${cores} cores, ${process.platform}`)
  if (spawnSync('taskset', ['-p', String(process.pid)], { timeout: 2000 }).status !== 0) return none('taskset not found')
  spawnSync('taskset', ['-cp', '0', String(process.pid)], { timeout: 2000 })
  return { loadCore: 0, proxyCore: 1, note: `taskset: the proxy under test on core 1; backend and load generator on core 0 (of ${cores})` }
}

export interface Child { name: string, pid: number, logFile: string, exited: Promise<number | null>, hasExited: () => boolean }

export function createProcessSet () {
  const children = new Set<Child>()
  const signal = (c: Child, sig: NodeJS.Signals) => {
    try { process.kill(-c.pid, sig) } catch { try { process.kill(c.pid, sig) } catch {} }
  }

  function start (name: string, argv: string[], o: { core: number | null, logFile: string, cwd?: string }): Child {
    const fd = openSync(o.logFile, 'a')
    // taskset execs the command, so the pid is the command's own (the one /proc reports).
    const [cmd, ...args] = o.core === null ? argv : ['taskset', '-c', String(o.core), ...argv]
    let proc: ChildProcess
    try {
      proc = spawn(cmd, args, { cwd: o.cwd, detached: true, stdio: ['ignore', fd, fd] })
    } finally {
      closeSync(fd)
    }
    if (proc.pid === undefined) throw new Error(`${name}: could not start ${cmd}`)
    let done = false
    const exited = new Promise<number | null>((resolve) => {
      proc.once('exit', (code) => { done = true; resolve(code) })
      proc.once('error', () => { done = true; resolve(null) })
    })
    const child = { name, pid: proc.pid, logFile: o.logFile, exited, hasExited: () => done }
    children.add(child)
    void exited.then(() => children.delete(child))
    return child
  }

  async function stop (c: Child, graceMs = 5000): Promise<void> {
    if (c.hasExited()) return
    signal(c, 'SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise((resolve) => { timer = setTimeout(resolve, graceMs, 'late') })
    if (await Promise.race([c.exited, late]) === 'late') signal(c, 'SIGKILL')
    clearTimeout(timer)
    await c.exited
  }

  return {
    start,
    stop,
    stopAll: async () => { await Promise.all([...children].map((c) => stop(c))) },
    killAllSync: () => { for (const c of children) signal(c, 'SIGKILL') },
  }
}

export type ProcessSet = ReturnType<typeof createProcessSet>

export function logTail (file: string, lines = 15): string {
  try { return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') } catch { return '(no log)' }
}

// Polls until url answers `status`; fails as soon as the child exits, or after timeoutMs.
export async function waitForHttp (child: Child, url: string, status: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (child.hasExited()) throw new Error(`${child.name} exited during start-up:\n${logTail(child.logFile)}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.status === status) return
      last = `HTTP ${res.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), child.exited])
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms (${last}):\n${logTail(child.logFile)}`)
}

// n distinct ports free right now (held together so the OS cannot hand one out twice).
export async function freePorts (n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer().listen(0, '127.0.0.1'))
  await Promise.all(servers.map((s) => once(s, 'listening')))
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}
