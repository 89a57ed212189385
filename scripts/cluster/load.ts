// The steady load of `npm run cluster`: a few workers sending GETs through haproxy at a
// paced rate, every request recorded (when it started, how long it took, how it ended),
// so each check judges the requests of its own time window.
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { spawnNode, type Child } from '../soak/children.ts'

export interface Sample {
  startedAt: number
  ms: number
  status: number | null // null: no answer (error or timeout)
  error: string | null
}

export class SteadyLoad {
  readonly samples: Sample[] = []
  readonly #agent = new Agent({ connections: 64, headersTimeout: 10_000, bodyTimeout: 10_000 })
  #running = false
  #workers: Promise<void>[] = []
  readonly url: string
  readonly rate: number
  readonly concurrency: number

  constructor (url: string, rate: number, concurrency: number) {
    this.url = url
    this.rate = rate
    this.concurrency = concurrency
  }

  start (): void {
    this.#running = true
    const gapMs = (1000 * this.concurrency) / this.rate
    this.#workers = Array.from({ length: this.concurrency }, (_, w) => this.#worker(w, gapMs))
  }

  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#workers)
    await this.#agent.close()
  }

  between (from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.startedAt >= from && s.startedAt <= to)
  }

  async #worker (w: number, gapMs: number): Promise<void> {
    // Staggered, so the workers do not send in step.
    await new Promise((resolve) => setTimeout(resolve, (gapMs * w) / this.concurrency))
    let i = 0
    while (this.#running) {
      const startedAt = Date.now()
      const t0 = performance.now()
      const sample: Sample = { startedAt, ms: 0, status: null, error: null }
      try {
        const res = await request(`${this.url}/api/steady/${w}/${i++}`, { dispatcher: this.#agent })
        await res.body.dump()
        sample.status = res.statusCode
      } catch (err) {
        sample.error = (err as Error).message
      }
      sample.ms = performance.now() - t0
      this.samples.push(sample)
      const wait = gapMs - (Date.now() - startedAt)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

export function failures (samples: Sample[]): Sample[] {
  return samples.filter((s) => s.status !== 200)
}

export function describeFailures (samples: Sample[]): string {
  const bad = failures(samples)
  if (bad.length === 0) return ''
  const kinds = new Map<string, number>()
  for (const s of bad) {
    const k = s.status === null ? `no answer (${s.error})` : String(s.status)
    kinds.set(k, (kinds.get(k) ?? 0) + 1)
  }
  return [...kinds].map(([k, n]) => `${n}x ${k}`).join(', ')
}

// SteadyLoad run in load-process.ts; the samples arrive when it stops.
export class LoadProcess {
  samples: Sample[] = []
  #child: Child | null = null
  readonly #args: string[]

  constructor (url: string, rate: number, concurrency: number) {
    this.#args = [fileURLToPath(new URL('./load-process.ts', import.meta.url)), url, String(rate), String(concurrency)]
  }

  async start (): Promise<void> {
    const child = this.#child = spawnNode('load', this.#args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const [msg] = await once(child.proc, 'message') as [unknown]
    if (msg !== 'started') throw new Error('the load process did not start')
  }

  // Every sample so far (the process keeps running): for the checks made mid-run.
  async stop (): Promise<Sample[]> {
    const child = this.#child!
    const reply = once(child.proc, 'message') as Promise<[{ samples: Sample[] }]>
    child.proc.send('stop')
    this.samples = (await reply)[0].samples
    await child.exited
    return this.samples
  }

  between (from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.startedAt >= from && s.startedAt <= to)
  }
}
