// Parent side of the flapping upstreams: start, switch mode, kill and respawn on the same port.
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { kill, spawnNode, type Child } from './children.ts'
import type { UpstreamMode } from './upstream-server.ts'

const SERVER = fileURLToPath(new URL('./upstream-server.ts', import.meta.url))
const READY_MS = 10_000

export class FlappingUpstream {
  readonly name: string
  port = 0
  child: Child | null = null
  mode: UpstreamMode = 'ok'
  restarts = 0

  constructor (name: string) {
    this.name = name
  }

  get origin (): string {
    return `http://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    // A restarted upstream may find its port still held for a moment: retry briefly.
    for (let attempt = 1; ; attempt++) {
      const child = spawnNode(`upstream ${this.name}`, [SERVER, String(this.port), this.name], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
      let stderr = ''
      child.proc.stderr!.on('data', (c: Buffer) => { stderr += c })
      const ready = once(child.proc, 'message') as Promise<[{ ready: number }]>
      const outcome = await Promise.race([
        ready.then(([m]) => m.ready),
        child.exited.then(() => null),
        sleep(READY_MS).then(() => undefined),
      ])
      if (typeof outcome === 'number') {
        this.port = outcome
        this.child = child
        if (this.mode !== 'ok') child.proc.send({ mode: this.mode })
        return
      }
      await kill(child)
      if (attempt >= 20) throw new Error(`upstream ${this.name} did not start on port ${this.port}: ${stderr.trim() || 'timeout'}`)
      await sleep(250)
    }
  }

  setMode (mode: UpstreamMode): void {
    this.mode = mode
    if (this.child !== null && this.child.proc.connected) this.child.proc.send({ mode })
  }

  // kill -9 while requests are in flight, stay down for downMs, come back on the same port.
  async restart (downMs: number): Promise<void> {
    if (this.child !== null) await kill(this.child)
    this.child = null
    await sleep(downMs)
    this.restarts++
    await this.start()
  }

  async stop (): Promise<void> {
    if (this.child !== null) await kill(this.child)
    this.child = null
  }
}
