// The reference forward proxies (Debian's tinyproxy and squid), each started on
// 127.0.0.1 with its own temporary config, foreground, stopped by pid. Used by the
// egress differential tests and by the bench's egress mode.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type ReferenceKind = 'tinyproxy' | 'squid'

const BINARIES: Record<ReferenceKind, string> = { tinyproxy: 'tinyproxy', squid: 'squid' }
const NCSA_AUTH = '/usr/lib/squid/basic_ncsa_auth'

export interface ReferenceProxy {
  kind: ReferenceKind
  url: string
  port: number
  pid: number
  stop: () => Promise<void>
}

// Why this reference cannot run here, or null.
export function referenceMissing (kind: ReferenceKind, opts: { auth?: boolean } = {}): string | null {
  const probe = spawnSync(BINARIES[kind], [kind === 'squid' ? '-v' : '-v'], { timeout: 5000 })
  if (probe.error !== undefined) return `${kind} is not installed (apt-get install ${kind})`
  if (kind === 'squid' && opts.auth && spawnSync('openssl', ['version']).error !== undefined) return 'squid auth needs openssl for its password file'
  return null
}

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

function tinyproxyConfig (port: number, auth: { user: string, password: string } | null): string {
  return [
    `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', 'MaxClients 1024', 'LogLevel Critical',
    'Allow 127.0.0.1', 'DisableViaHeader Yes',
    ...(auth === null ? [] : [`BasicAuth ${auth.user} ${auth.password}`]),
  ].join('\n') + '\n'
}

function squidConfig (port: number, dir: string, auth: boolean): string {
  return [
    `http_port 127.0.0.1:${port}`,
    ...(auth
      ? [`auth_param basic program ${NCSA_AUTH} ${join(dir, 'passwd')}`, 'auth_param basic realm squid', 'acl authed proxy_auth REQUIRED', 'http_access allow authed']
      : ['acl local src 127.0.0.1/32', 'http_access allow local']),
    'http_access deny all',
    'cache deny all', 'access_log none', `cache_log ${join(dir, 'cache.log')}`, `pid_filename ${join(dir, 'squid.pid')}`,
    `coredump_dir ${dir}`, 'via off', 'forwarded_for delete', 'shutdown_lifetime 0 seconds', 'max_filedescriptors 8192',
    'client_persistent_connections on', 'server_persistent_connections on',
  ].join('\n') + '\n'
}

function waitListening (port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before listening`))
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve() })
      s.once('error', () => {
        s.destroy()
        if (Date.now() > deadline) reject(new Error(`not listening on ${port} within ${timeoutMs} ms`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

// Starts one reference proxy; `auth` makes it ask for Basic credentials (407 first).
export async function startReference (kind: ReferenceKind, opts: { auth?: { user: string, password: string }, cpu?: number } = {}): Promise<ReferenceProxy> {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${kind}-`))
  // squid started as root runs as its cache_effective_user, which must reach the files.
  chmodSync(dir, 0o777)
  const port = await freePort()
  const conf = join(dir, `${kind}.conf`)
  if (kind === 'tinyproxy') {
    writeFileSync(conf, tinyproxyConfig(port, opts.auth ?? null))
  } else {
    if (opts.auth !== undefined) {
      const hash = spawnSync('openssl', ['passwd', '-apr1', opts.auth.password], { encoding: 'utf8' }).stdout.trim()
      writeFileSync(join(dir, 'passwd'), `${opts.auth.user}:${hash}\n`, { mode: 0o644 })
    }
    writeFileSync(conf, squidConfig(port, dir, opts.auth !== undefined), { mode: 0o644 })
  }
  const argv = kind === 'tinyproxy' ? ['-d', '-c', conf] : ['-N', '-f', conf]
  const [cmd, ...args] = opts.cpu === undefined ? [BINARIES[kind], ...argv] : ['taskset', '-c', String(opts.cpu), BINARIES[kind], ...argv]
  const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (c: Buffer) => { stderr += c })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitListening(port, child, 15_000)
  } catch (err) {
    await stop()
    throw new Error(`${kind}: ${(err as Error).message}\n${stderr}`)
  }
  return { kind, url: `http://127.0.0.1:${port}`, port, pid: child.pid!, stop }
}
