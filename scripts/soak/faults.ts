// The fault schedule: when each upstream errors, hangs, resets or restarts, and when the
// Redis port closes, as fractions of the load phase (so a 2 m and a 5 m run see the same
// story). The last stretch is fault-free, so breakers close and health checks pass again
// before the end measurement.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FlappingUpstream } from './upstreams.ts'
import type { RedisProxy } from './redis-proxy.ts'
import type { UpstreamMode } from './upstream-server.ts'

export interface FaultPlan {
  upstreams: Record<'a' | 'b' | 'c', FlappingUpstream>
  redis: RedisProxy
  durationMs: number
  redisDownMs: number
  // How long a killed upstream stays down before it is respawned.
  restartDownMs: number
  // Reads the gateway's degraded gauge (for the timeline); null when unreadable.
  storeDegraded: () => Promise<number | null>
}

export interface TimelineEntry { atMs: number, what: string }

interface Fault { at: number, run: () => Promise<string | void>, label: string }

// [upstream, mode, from, to] windows and [upstream, at] restarts, fractions of the run.
const WINDOWS: Array<['a' | 'b' | 'c', UpstreamMode, number, number]> = [
  ['a', 'error', 0.08, 0.16],
  ['c', 'hang', 0.14, 0.21],
  ['b', 'reset', 0.22, 0.30],
  ['a', 'hang', 0.46, 0.53],
  ['c', 'reset', 0.60, 0.66],
  ['b', 'error', 0.78, 0.84],
  ['c', 'error', 0.84, 0.88],
]
const RESTARTS: Array<['a' | 'b' | 'c', number]> = [['c', 0.34], ['b', 0.55], ['a', 0.70]]
const REDIS_OUTAGE_AT = 0.38

export function planFaults (p: FaultPlan): Fault[] {
  const d = p.durationMs
  const faults: Fault[] = []
  for (const [u, mode, from, to] of WINDOWS) {
    const up = p.upstreams[u]
    faults.push({ at: from * d, label: `${up.name}: ${mode} begins`, run: async () => up.setMode(mode) })
    faults.push({ at: to * d, label: `${up.name}: ${mode} ends`, run: async () => up.setMode('ok') })
  }
  for (const [u, at] of RESTARTS) {
    const up = p.upstreams[u]
    faults.push({
      at: at * d,
      label: `${up.name}: kill -9 (port ${up.port}), respawn after ${p.restartDownMs} ms`,
      run: async () => {
        await up.restart(p.restartDownMs)
        return `${up.name}: back on port ${up.port} (pid ${up.child?.pid})`
      },
    })
  }
  faults.push({
    at: REDIS_OUTAGE_AT * d,
    label: `redis: port ${p.redis.port} closed for ${p.redisDownMs} ms`,
    run: async () => {
      await p.redis.close()
      await sleep(p.redisDownMs / 2)
      const during = await p.storeDegraded()
      await sleep(p.redisDownMs / 2)
      await p.redis.listen()
      // Recovery is the gateway's job (its client reconnects with backoff): watch the gauge.
      const reopened = Date.now()
      let after = await p.storeDegraded()
      while (after !== 0 && Date.now() - reopened < 15_000) {
        await sleep(250)
        after = await p.storeDegraded()
      }
      return `redis: port reopened; store_degraded was ${during} during the outage, ${after} ${Date.now() - reopened} ms after reopening`
    },
  })
  return faults.sort((x, y) => x.at - y.at)
}

// Runs the plan against the clock (faults overlap: a restart does not delay the next
// window), logging each step in the timeline. Resolves when every fault has finished.
export async function runFaults (faults: Fault[], startedAt: number, timeline: TimelineEntry[],
  isStopped: () => boolean): Promise<void> {
  const note = (what: string) => timeline.push({ atMs: Date.now() - startedAt, what })
  const running: Array<Promise<void>> = []
  for (const f of faults) {
    const wait = startedAt + f.at - Date.now()
    if (wait > 0) await sleep(wait)
    if (isStopped()) break
    note(f.label)
    running.push(f.run().then((done) => { if (done) note(done) }, (err: Error) => { note(`FAILED: ${f.label}: ${err.message}`) }))
  }
  await Promise.all(running)
}
