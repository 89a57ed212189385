// Child processes of the demo: prefixed output, readiness polling, stop by pid.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Child {
  name: string
  proc: ChildProcess
  exited: Promise<number | null> // exit code, null when killed by a signal
  stopping: boolean
}

const COLORS = [36, 33, 35, 32, 34]

function pipePrefixed (stream: Readable | null, prefix: string, out: NodeJS.WriteStream) {
  if (!stream) return
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${prefix} ${line}\n`))
}

export function spawnChild (name: string, args: string[], env: NodeJS.ProcessEnv, index: number, width: number): Child {
  const label = name.padEnd(width)
  const prefix = process.stdout.isTTY ? `\x1b[${COLORS[index % COLORS.length]}m${label} |\x1b[0m` : `${label} |`
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  pipePrefixed(proc.stdout, prefix, process.stdout)
  pipePrefixed(proc.stderr, prefix, process.stderr)
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code))
    proc.once('error', (err) => {
      process.stderr.write(`${label} | could not start: ${err.message}\n`)
      resolve(1)
    })
  })
  return { name, proc, exited, stopping: false }
}

// Polling is fine here: this is a human-facing launcher, not a test.
export async function waitReady (child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exitCode: number | null | undefined
  child.exited.then((code) => { exitCode = code })
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${child.name} exited (code ${exitCode}) before it was ready`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.body?.cancel()
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await sleep(150)
  }
  throw new Error(`${child.name} did not answer ${url} within ${timeoutMs / 1000}s`)
}

export async function stopAll (children: Child[], graceMs: number): Promise<void> {
  await Promise.all(children.map(async (child) => {
    const { proc } = child
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return
    child.stopping = true
    proc.kill('SIGTERM')
    const timer = setTimeout(() => {
      process.stderr.write(`${child.name} did not stop within ${graceMs / 1000}s: killing pid ${proc.pid}\n`)
      proc.kill('SIGKILL')
    }, graceMs)
    await child.exited
    clearTimeout(timer)
  }))
}

export function killAllNow (children: Child[]): void {
  for (const { proc } of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  }
}
