import type { ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import type * as E from '../errors/errors.ts'
import { classify, type UpstreamErrorKind } from '../proxy/upstream-errors.ts'
import { refusalFor, selectUpstream } from './balancer.ts'
// The global `performance` is a lazy getter, called on every use; the import is a binding.
import { performance } from 'node:perf_hooks'

// The one upstream-call path of the gateway, for HTTP (plugins/proxy/upstream-dispatcher.ts)
// and the WebSocket handshake (plugins/websocket): which upstream takes the call, its
// breaker's verdict (the attempt is the action of the upstream's opossum breaker, run by
// fire()), the timing, and the outcome the observers (metrics) see. What only one
// transport needs (body limit, retries, the HTTP timeout, the tunnel) stays with it.

export interface UpstreamOutcome {
  statusCode: number | null
  kind: UpstreamErrorKind | null // null = the upstream answered
  durationMs: number
}

// Policies that watch or gate upstream calls plug in here. Breakers, health and load
// balancing are built in (UpstreamState.breaker/up, selectUpstream).
export interface UpstreamHooks {
  // Replaces the built-in selection. Return an error to refuse the call without
  // contacting any upstream. `tried` holds the upstreams earlier attempts used.
  select?: (svc: ServiceRuntime, tried: readonly UpstreamState[]) => UpstreamState | E.GatewayError
  // Every attempt that reached the network, once, when its outcome is known: at response
  // headers, or at the transport error. A call the client aborted is not reported.
  onOutcome?: (svc: ServiceRuntime, upstream: UpstreamState, outcome: UpstreamOutcome) => void
  // Spans of upstream attempts (plugins/tracing); without one, an attempt pays nothing.
  tracer?: AttemptTracer
}

export interface AttemptTracer {
  // Before the attempt is sent: its span starts, and attempt.traceparent is what goes
  // upstream for it (the span is its parent there).
  start: (attempt: UpstreamAttempt) => void
  // Once, when the attempt is over: answered, failed or left by the client.
  end: (attempt: UpstreamAttempt) => void
}

type OutcomeObserver = NonNullable<UpstreamHooks['onOutcome']>

// What every attempt of one call site shares, built once per dispatcher or websocket service.
export interface CallPath {
  select: (svc: ServiceRuntime, tried: readonly UpstreamState[]) => UpstreamState | E.GatewayError
  observers: readonly OutcomeObserver[]
  tracer: AttemptTracer | null
}

export function createCallPath (hooks: readonly UpstreamHooks[]): CallPath {
  return {
    select: hooks.find((h) => h.select)?.select ?? selectUpstream,
    observers: hooks.filter((h) => h.onOutcome).map((h) => h.onOutcome!),
    tracer: hooks.find((h) => h.tracer)?.tracer ?? null,
  }
}

// Where a request keeps its upstream and timing (plugins/request-context's RequestContext).
export interface UpstreamTiming {
  upstream: string | null
  upstreamStartMs: number
  upstreamMs: number | null
  // The request's own span when tracing is on (plugins/tracing), the parent of its attempts'.
  span: unknown
}

// How an attempt rejects its breaker's action: a transport error (`attempt.error`), or a
// 5xx answer, which is a failure to the breaker and is still relayed as it came.
export class UpstreamFailure extends Error {
  readonly attempt: UpstreamAttempt

  constructor (attempt: UpstreamAttempt) {
    super(attempt.error?.message ?? `the upstream answered ${attempt.statusCode}`)
    this.name = 'UpstreamFailure'
    this.attempt = attempt
  }
}

// One call to one upstream. A transport subclasses it: send() starts the call, which ends
// by calling answered() or failed() once; end() then delivers it, after the breaker has
// counted it and the observers have seen it. The attempt is its own outcome record
// (statusCode, kind, durationMs), so reporting it allocates nothing.
export abstract class UpstreamAttempt<P extends CallPath = CallPath> implements UpstreamOutcome {
  readonly path: P
  readonly svc: ServiceRuntime
  readonly gw: UpstreamTiming
  readonly up: UpstreamState
  started: number
  durationMs: number
  // The answer's status; null until (or unless) the upstream answered.
  statusCode: number | null
  error: Error | null
  // How the transport failed ('aborted': the client left); null = answered.
  kind: UpstreamErrorKind | null
  // The breaker's action promise, while it runs through a breaker.
  private action: PromiseWithResolvers<UpstreamAttempt> | null
  // The request method (a transport sets it), for the attempt's span.
  method: string
  // Set by the tracer: the traceparent this attempt sends upstream, and its span.
  traceparent: string | null
  span: unknown

  constructor (path: P, svc: ServiceRuntime, gw: UpstreamTiming, up: UpstreamState) {
    this.path = path
    this.svc = svc
    this.gw = gw
    this.up = up
    this.started = 0
    this.durationMs = 0
    this.statusCode = null
    this.error = null
    this.kind = null
    this.action = null
    this.method = 'GET'
    this.traceparent = null
    this.span = null
  }

  // Starts the transport's call.
  protected abstract send (): void
  // Called once the outcome is counted and reported: answered (statusCode set, 5xx
  // included), or failed (error and kind set).
  protected abstract end (): void

  // Sends the attempt through its upstream's breaker, or straight when it has none.
  // Returns the refusal (503 GW_CIRCUIT_OPEN) when the breaker lets nothing through
  // now: nothing is sent then, and end() is never called.
  start (): E.GatewayError | null {
    this.gw.upstream = this.up.origin
    const breaker = this.up.breaker
    if (breaker === null) {
      this.begin()
      return null
    }
    const fired = breaker.fire(this)
    if (fired === null) return refusalFor(this.up)
    fired.then(finish, finishFailed)
    return null
  }

  // The breaker's action (opossum calls it from fire()): settles when the outcome is known.
  run (): Promise<UpstreamAttempt> {
    const action = Promise.withResolvers<UpstreamAttempt>()
    this.action = action
    this.begin()
    return action.promise
  }

  answered (statusCode: number) {
    this.stopClock()
    this.statusCode = statusCode
    const action = this.action
    if (action === null) finish(this)
    else if (statusCode >= 500) action.reject(new UpstreamFailure(this))
    else action.resolve(this)
  }

  failed (err: Error) {
    this.stopClock()
    this.error = err
    this.kind = classify(err)
    const action = this.action
    if (action === null) finish(this)
    else action.reject(new UpstreamFailure(this))
  }

  // The client left: nothing about the upstream. opossum has no neutral outcome (its
  // errorFilter turns a failure into a success), and a failure would let any client
  // open a breaker for everyone by hanging up; so it counts as a success, and a
  // half-open probe the client aborts closes the breaker.
  get clientLeft (): boolean {
    return this.kind === 'aborted'
  }

  private begin () {
    this.started = this.gw.upstreamStartMs = performance.now()
    if (this.path.tracer !== null) this.path.tracer.start(this)
    try {
      this.send()
    } catch (err) {
      this.failed(err as Error)
    }
  }

  private stopClock () {
    this.durationMs = this.gw.upstreamMs = performance.now() - this.started
  }

  // For finish(), which is shared by every attempt (no closure per call).
  deliver () {
    if (this.path.tracer !== null) this.path.tracer.end(this)
    if (this.kind !== 'aborted') {
      const observers = this.path.observers
      for (let i = 0; i < observers.length; i++) observers[i]!(this.svc, this.up, this)
    }
    this.end()
  }
}

function finish (a: UpstreamAttempt) {
  a.deliver()
}

// Every rejection of an attempt's action is an UpstreamFailure (the breaker's own
// refusals are decided before fire(), by UpstreamBreakerHandle.fire returning null).
function finishFailed (err: unknown) {
  (err as UpstreamFailure).attempt.deliver()
}
