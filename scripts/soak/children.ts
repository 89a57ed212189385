// Every process the soak starts is registered here and killed by its pid at the end, on
// Ctrl-C, on an error, or when the soak process exits for any other reason.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { once } from 'node:events'

export interface Child {
  name: string
  proc: ChildProcess
  pid: number
  exited: Promise<void>
}

const running = new Set<Child>()

export function spawnNode (name: string, args: string[], opts: SpawnOptions = {}): Child {
  return spawnProcess(name, process.execPath, args, opts)
}

// Any program (npm run cluster starts haproxy this way), registered like the node children.
export function spawnProcess (name: string, command: string, args: string[], opts: SpawnOptions = {}): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  if (proc.pid === undefined) throw new Error(`${name}: could not start`)
  const child: Child = { name, proc, pid: proc.pid, exited: once(proc, 'exit').then(() => {}) }
  running.add(child)
  void child.exited.then(() => running.delete(child))
  return child
}

export function isAlive (child: Child): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null
}

// SIGKILL by pid, then wait for the exit (a killed upstream must have released its port
// before it is respawned on it).
export async function kill (child: Child): Promise<void> {
  if (isAlive(child)) {
    try { process.kill(child.pid, 'SIGKILL') } catch { /* already gone */ }
  }
  await child.exited
}

// Graceful first (the gateway drains), SIGKILL after graceMs.
export async function stop (child: Child, graceMs: number): Promise<void> {
  if (!isAlive(child)) return
  try { process.kill(child.pid, 'SIGTERM') } catch { /* already gone */ }
  const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL') } catch {} }, graceMs)
  await child.exited
  clearTimeout(timer)
}

export async function killAll (): Promise<void> {
  await Promise.all([...running].map(kill))
}

// Last resort, synchronous: used from the process 'exit' handler, where nothing async runs.
export function killAllNow (): void {
  for (const child of running) {
    try { process.kill(child.pid, 'SIGKILL') } catch { /* already gone */ }
  }
}

export function runningChildren (): Child[] {
  return [...running]
}
