import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'undici'
import { createServiceRuntime, createUpstreamState, type CircuitState, type ServiceRuntime, type UpstreamState } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import { BucketClock } from '../../plugins/breaker/bucket-clock.ts'
import { UpstreamBreaker } from '../../plugins/breaker/upstream-breaker.ts'
import { createCallPath, UpstreamAttempt, type CallPath, type UpstreamOutcome, type UpstreamTiming } from '../../plugins/breaker/upstream-call.ts'
import { switchableUpstream } from './support.ts'

// The upstream-call path on its own (plugins/breaker/upstream-call.ts): no gateway, a
// real upstream on 127.0.0.1:0, a real opossum breaker, and the smallest transport: one
// undici request per attempt.

class GetAttempt extends UpstreamAttempt {
  readonly controller = new AbortController()
  readonly finished = Promise.withResolvers<void>()

  protected send () {
    request(`${this.up.origin}/x`, { signal: this.controller.signal }).then(async (res) => {
      await res.body.dump()
      this.answered(res.statusCode)
    }, (err: Error) => this.failed(err))
  }

  protected end () {
    this.finished.resolve()
  }
}

interface Bench {
  svc: ServiceRuntime
  state: UpstreamState
  breaker: UpstreamBreaker
  path: CallPath
  outcomes: UpstreamOutcome[]
  transitions: CircuitState[]
  attempt: () => GetAttempt
}

function timing (): UpstreamTiming {
  return { upstream: null, upstreamStartMs: 0, upstreamMs: null, span: null }
}

function bench (t: TestContext, origin: string, breakerOn = true): Bench {
  const service = { name: 'users', prefix: '/api/users', upstreams: [origin], rewritePrefix: '', retries: 0, websocket: false, upstreamTls: null, source: 'config' } satisfies ServiceCore
  const state = createUpstreamState(origin)
  const svc = createServiceRuntime(service, { timeoutMs: 5000, leastConnections: false }, () => state)
  const transitions: CircuitState[] = []
  const clock = new BucketClock()
  const breaker = new UpstreamBreaker({
    config: { timeoutMs: 5000, errorThresholdPercentage: 50, volumeThreshold: 2, resetTimeoutMs: 200 },
    clock,
    name: 'users test',
    onTransition (to) {
      state.circuit = to
      transitions.push(to)
    },
  })
  t.after(() => {
    breaker.shutdown()
    clock.stop()
  })
  if (breakerOn) state.breaker = breaker
  const outcomes: UpstreamOutcome[] = []
  const path = createCallPath([{ onOutcome: (_svc, _up, o) => outcomes.push({ statusCode: o.statusCode, kind: o.kind, durationMs: o.durationMs }) }])
  return { svc, state, breaker, path, outcomes, transitions, attempt: () => new GetAttempt(path, svc, timing(), state) }
}

async function run (a: GetAttempt): Promise<GetAttempt> {
  assert.equal(a.start(), null, 'let through')
  await a.finished.promise
  return a
}

test('every attempt is a fire() of its upstream\'s opossum breaker: a 5xx is a failure that still ends as the answer, a 404 a success; the observers see each, timed', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const b = bench(t, up.origin)
  const opossum = b.breaker.opossum
  let fired = 0
  opossum.on('fire', () => fired++)

  const failed = await run(b.attempt())
  assert.equal(failed.statusCode, 500, 'the 5xx answer is what the attempt ends with')
  assert.equal(failed.error, null)
  assert.equal(failed.gw.upstream, up.origin)
  assert.ok(failed.durationMs > 0)
  assert.equal(failed.gw.upstreamMs, failed.durationMs)
  assert.equal(opossum.stats.failures, 1)

  up.behaviour = 'not-found'
  assert.equal((await run(b.attempt())).statusCode, 404)
  assert.equal(opossum.stats.successes, 1, '4xx is a success')
  assert.equal(fired, 2)
  assert.deepEqual(b.outcomes.map((o) => [o.statusCode, o.kind]), [[500, null], [404, null]])
  assert.equal(b.state.circuit, 'closed', '1 failure of 2 is 50 %, not above it')
})

test('an open breaker refuses before anything is sent (503 GW_CIRCUIT_OPEN, Retry-After); half-open lets one probe through, whose success closes it with an empty window', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const b = bench(t, up.origin)
  const opened = once(b.breaker.opossum, 'open')
  const halfOpen = once(b.breaker.opossum, 'halfOpen')
  await run(b.attempt())
  await run(b.attempt())
  await opened
  assert.equal(b.state.circuit, 'open')

  const refused = b.attempt().start()
  assert.equal(refused?.code, 'GW_CIRCUIT_OPEN')
  assert.equal(refused?.headers?.['retry-after'], '1')
  const selected = b.path.select(b.svc, [])
  assert.ok(selected instanceof Error && selected.code === 'GW_CIRCUIT_OPEN', 'selection skips an open breaker too')
  assert.equal(up.calls, 2, 'nothing was sent')

  await halfOpen
  assert.equal(b.state.circuit, 'half-open')
  up.behaviour = 'ok'
  const probe = b.attempt()
  assert.equal(probe.start(), null, 'the probe goes')
  assert.equal(b.attempt().start()?.code, 'GW_CIRCUIT_OPEN', 'a second call while the probe is out does not')
  await probe.finished.promise
  assert.equal(probe.statusCode, 200)
  assert.deepEqual(b.transitions, ['open', 'half-open', 'closed'])
  assert.equal(b.breaker.opossum.closed, true)
  assert.equal(b.breaker.opossum.stats.fires, 0, 'a recovered upstream starts from an empty window')
  assert.equal(up.calls, 3)
})

test('a client abort goes through opossum\'s errorFilter: a success, never a failure, and no outcome for the observers', async (t) => {
  const up = await switchableUpstream(t, 'hang')
  const b = bench(t, up.origin)
  const a = b.attempt()
  assert.equal(a.start(), null)
  await up.nextRequest()
  a.controller.abort()
  await a.finished.promise
  assert.equal(a.kind, 'aborted')
  assert.equal(b.breaker.opossum.stats.failures, 0)
  assert.equal(b.breaker.opossum.stats.successes, 1)
  assert.deepEqual(b.outcomes, [])
})

test('without a breaker an attempt runs straight: timed, reported, and 5xx never refuses the next one', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const b = bench(t, up.origin, false)
  for (let i = 0; i < 5; i++) assert.equal((await run(b.attempt())).statusCode, 500)
  assert.equal(b.outcomes.length, 5)
  assert.equal(b.breaker.opossum.stats.fires, 0, 'the unattached breaker saw nothing')
})
