// The load balancer of `npm run cluster`: Debian's haproxy with deploy/haproxy/haproxy.cfg
// (the compose stack's file), its marked parts replaced by the script's 127.0.0.1 ports
// and a stats socket, from which the script reads which servers haproxy sends to.
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnProcess, type Child } from '../soak/children.ts'

export const HAPROXY_INSTALL_HINT = 'npm run cluster needs haproxy as its load balancer: `sudo apt-get install haproxy` (Debian/Ubuntu) or `brew install haproxy` (macOS)'
const TEMPLATE = fileURLToPath(new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url))

export function haproxyInstalled (bin = 'haproxy'): boolean {
  return spawnSync(bin, ['-v'], { stdio: 'ignore' }).status === 0
}

export interface Backend { name: string, port: number, adminPort: number }

// Lines `# cluster: X` mark what is replaced: `global` (a line added after it), `bind`
// (the next line), `servers` and `resolvers` (up to `# cluster: end`).
export function clusterConfig (template: string, opts: { port: number, socket: string, backends: Backend[] }): string {
  const out: string[] = []
  const lines = template.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const marker = /^\s*# cluster: (\w+)/.exec(lines[i]!)?.[1]
    if (marker === undefined) { out.push(lines[i]!); continue }
    const indent = /^\s*/.exec(lines[i]!)![0]
    switch (marker) {
      case 'global':
        out.push(`${indent}stats socket ${opts.socket} mode 600 level admin`)
        break
      case 'bind':
        out.push(`${indent}bind 127.0.0.1:${opts.port}`)
        i++
        break
      case 'servers':
      case 'resolvers':
        if (marker === 'servers') for (const b of opts.backends) out.push(`${indent}server ${b.name} 127.0.0.1:${b.port} check port ${b.adminPort}`)
        while (i < lines.length && !/# cluster: end/.test(lines[i]!)) i++
        break
      default:
        throw new Error(`deploy/haproxy/haproxy.cfg: unknown marker "# cluster: ${marker}"`)
    }
  }
  return out.join('\n')
}

export class Haproxy {
  child: Child | null = null
  readonly file: string
  readonly socket: string
  readonly port: number

  constructor (dir: string, port: number, backends: Backend[]) {
    this.file = path.join(dir, 'haproxy.cfg')
    this.socket = path.join(dir, 'haproxy.sock')
    this.port = port
    writeFileSync(this.file, clusterConfig(readFileSync(TEMPLATE, 'utf8'), { port, socket: this.socket, backends }))
  }

  async start (): Promise<void> {
    const check = spawnSync('haproxy', ['-c', '-q', '-f', this.file], { encoding: 'utf8' })
    if (check.status !== 0) throw new Error(`haproxy refuses ${this.file}:\n${check.stdout}${check.stderr}`)
    // -db: stay in the foreground, so the pid is haproxy's own and SIGTERM stops it.
    const child = this.child = spawnProcess('haproxy', 'haproxy', ['-db', '-f', this.file])
    let output = ''
    const keep = (c: Buffer) => { output = (output + c.toString()).slice(-4000) }
    child.proc.stdout!.on('data', keep)
    child.proc.stderr!.on('data', keep)
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      if (child.proc.exitCode !== null) break
      if (await this.status().then(() => true, () => false)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`haproxy did not open its stats socket within 10 s:\n${output}`)
  }

  // Server name -> haproxy's view (UP, DOWN, MAINT...), from `show stat`.
  async status (): Promise<Map<string, string>> {
    const conn = net.connect(this.socket)
    let text = ''
    conn.on('data', (c: Buffer) => { text += c })
    await once(conn, 'connect')
    conn.end('show stat\n')
    await once(conn, 'close')
    const rows = text.split('\n').filter((l) => l.startsWith('gatehouse,'))
    return new Map(rows.map((r) => r.split(',')).filter((f) => f[1] !== 'BACKEND').map((f) => [f[1]!, f[17]!]))
  }

  async waitUp (name: string, up: boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const state = (await this.status()).get(name) ?? ''
      if (up ? state.startsWith('UP') && !state.includes('going') : !state.startsWith('UP')) return
      if (Date.now() > deadline) throw new Error(`haproxy: ${name} not ${up ? 'UP' : 'DOWN'} within ${timeoutMs} ms (is ${state})`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
