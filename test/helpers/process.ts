import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { TestContext } from 'node:test'

export const CLI = new URL('../../apps/gateway/cli.ts', import.meta.url).pathname

export interface Spawned {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
  // Resolves when stdout+stderr have matched the pattern (or rejects when the process exits first).
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>
}

export function spawnNode (t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const listeners = new Set<() => void>()
  child.stdout!.on('data', (c: Buffer) => { out += c; for (const l of listeners) l() })
  child.stderr!.on('data', (c: Buffer) => { err += c; for (const l of listeners) l() })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor (pattern, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out + err)) { done(); resolve() }
        }
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${pattern}\n${out}\n${err}`)) }, timeoutMs)
        const onExit = () => { done(); reject(new Error(`process exited before ${pattern}\n${out}\n${err}`)) }
        function done () { clearTimeout(timer); listeners.delete(check); child.off('exit', onExit) }
        listeners.add(check)
        child.once('exit', onExit)
        check()
      })
    },
  }
}
