// "Settled": the load has stopped, the client connections are closed, and the gateway's
// own idle sockets have had time to time out (client keep-alive 5 s, upstream keep-alive
// 4 s). Measured, not assumed: the gateway's active handle count is sampled every
// SAMPLE_MS and must stay unchanged for STABLE_SAMPLES samples in a row (3 s), no
// earlier than MIN_QUIET_MS after the load stopped, at most MAX_SETTLE_MS. Then two full
// GCs, so RSS compares live memory rather than garbage V8 has not collected yet.
import { setTimeout as sleep } from 'node:timers/promises'
import type { GatewayProcess, ResourceSample } from './gateway.ts'

export const SAMPLE_MS = 500
export const STABLE_SAMPLES = 6
export const MIN_QUIET_MS = 6_000
export const MAX_SETTLE_MS = 45_000
export const GC_PAUSE_MS = 1_000

export interface Settled {
  sample: ResourceSample
  settleMs: number
  stable: boolean
}

export async function settle (gateway: GatewayProcess, loadStoppedAt: number): Promise<Settled> {
  let last: ResourceSample | null = null
  let same = 0
  for (;;) {
    const s = await gateway.sample()
    // fds are not part of the test: the 1 s health check opens and closes a connection.
    const unchanged = last !== null && s.activeHandles === last.activeHandles
    same = unchanged ? same + 1 : 0
    if (process.env.SOAK_DEBUG) process.stderr.write(`settle: +${s.at - loadStoppedAt} ms handles ${s.activeHandles} ${JSON.stringify(s.handlesByType)} fds ${s.openFds} rss ${(s.rssBytes / 2 ** 20).toFixed(1)} heap ${((s.heapUsedBytes ?? 0) / 2 ** 20).toFixed(1)}\n`)
    last = s
    const quiet = s.at - loadStoppedAt
    const stable = quiet >= MIN_QUIET_MS && same >= STABLE_SAMPLES - 1
    if (stable || quiet >= MAX_SETTLE_MS) return { sample: await afterGc(gateway, s), settleMs: quiet, stable }
    await sleep(SAMPLE_MS)
  }
}

// Two full GCs (the second collects what the first's finalizers released), then the
// reading the leak check uses.
async function afterGc (gateway: GatewayProcess, settled: ResourceSample): Promise<ResourceSample> {
  await gateway.collectGarbage()
  await gateway.collectGarbage()
  await sleep(GC_PAUSE_MS)
  const s = await gateway.sample()
  if (process.env.SOAK_DEBUG) process.stderr.write(`settle: after gc: handles ${s.activeHandles} fds ${s.openFds} rss ${(s.rssBytes / 2 ** 20).toFixed(1)} heap ${((s.heapUsedBytes ?? 0) / 2 ** 20).toFixed(1)}\n`)
  // Memory from after the GC; handles from the stable window (the inspector connection
  // that ran the GC may still be closing); fds: one more or less is a health-check
  // connection in flight, so the smaller of the two readings.
  return { ...s, activeHandles: settled.activeHandles, handlesByType: settled.handlesByType, openFds: Math.min(s.openFds, settled.openFds) }
}
