// A throwaway redis-server for one test run (scripts/test.ts) or one by-hand measurement:
// its own free port on 127.0.0.1, its own temp dir, nothing written to disk, stopped by
// its pid. Never a Redis someone else may be using.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const REDIS_INSTALL_HINT = 'install it: `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)'

export interface RedisServer {
  url: string
  pid: number
  // Idempotent; resolves once the process has exited and its dir is gone.
  stop: () => Promise<void>
  // Last resort where nothing can be awaited (process 'exit'): SIGTERM and the dir removed.
  stopNow: () => void
}

export class RedisServerMissing extends Error {}

// GATEHOUSE_TEST_REDIS_SERVER names another binary (or a missing one, to see the skip).
export function redisServerBinary (env: NodeJS.ProcessEnv = process.env): string {
  return env.GATEHOUSE_TEST_REDIS_SERVER || 'redis-server'
}

const READY = /Ready to accept connections/
const PORT_TAKEN = /Address already in use/i
const READY_TIMEOUT_MS = 15_000
const STOP_GRACE_MS = 5_000
const PORT_ATTEMPTS = 5

// A port the kernel just handed out and nobody holds: the gap until redis binds it is
// tiny, and a lost race is retried on another port.
async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.listen(0, '127.0.0.1', resolve)
  })
  const { port } = s.address() as AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

// Resolves when redis logs that it is ready; rejects with its output when it exits first
// (RedisServerMissing when the binary is not there).
function whenReady (child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { done(); reject(new Error(`redis-server not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`)) }, READY_TIMEOUT_MS)
    const onData = () => { if (READY.test(output())) { done(); resolve() } }
    const onError = (err: NodeJS.ErrnoException) => {
      done()
      reject(err.code === 'ENOENT' ? new RedisServerMissing(err.message) : err)
    }
    const onExit = (code: number | null, signal: string | null) => {
      done()
      reject(new Error(`redis-server exited (${signal ?? `code ${code}`}) before it was ready:\n${output()}`))
    }
    function done () {
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.off('error', onError)
      child.off('exit', onExit)
    }
    child.stdout!.on('data', onData)
    child.once('error', onError)
    child.once('exit', onExit)
  })
}

async function stopChild (child: ChildProcess): Promise<void> {
  // No pid: it never started (ENOENT), so there is nothing to stop or wait for.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}

export interface RedisServerOptions {
  // A port of the caller's (a restart on the port the clients know); default: a free one.
  port?: number
  // The caller's dir, kept at stop (a restart reads its append-only file); default: a temp dir of its own.
  dir?: string
  // Every write fsync'ed to an append-only file in `dir` before it is answered: a
  // redis-server killed with SIGKILL and started again on the same dir has lost nothing.
  appendOnly?: boolean
}

async function startOn (bin: string, port: number, dir: string, appendOnly = false): Promise<RedisServer> {
  const child = spawn(bin, [
    '--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--dir', dir,
    ...(appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    // The log goes to stdout, where readiness is read from.
    '--logfile', '', '--daemonize', 'no',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  // Kept short: only for the error message. Read to the end so that a full pipe never
  // blocks redis on its own log.
  let log = ''
  const keep = (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000) }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  try {
    await whenReady(child, () => log)
  } catch (err) {
    await stopChild(child)
    throw err
  }
  let stopping: Promise<void> | null = null
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () => (stopping ??= stopChild(child)),
    stopNow: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM') },
  }
}

export async function startRedisServer (bin = redisServerBinary(), opts: RedisServerOptions = {}): Promise<RedisServer> {
  const owned = opts.dir === undefined
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'gatehouse-redis-'))
  const removeDir = () => (owned ? rm(dir, { recursive: true, force: true }) : Promise.resolve())
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const server = await startOn(bin, opts.port ?? await freePort(), dir, opts.appendOnly)
        return {
          ...server,
          stop: async () => { await server.stop(); await removeDir() },
          stopNow: () => { server.stopNow(); if (owned) rmSync(dir, { recursive: true, force: true }) },
        }
      } catch (err) {
        if (attempt < PORT_ATTEMPTS && opts.port === undefined && PORT_TAKEN.test((err as Error).message)) continue
        throw err
      }
    }
  } catch (err) {
    await removeDir()
    throw err
  }
}
