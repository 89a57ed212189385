import type { FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { ServiceRuntime, UpstreamState } from '../../apps/gateway/runtime/service-runtime.ts'
import { NOTHING_TRIED, selectUpstream } from '../breaker/balancer.ts'
import type * as E from '../errors/errors.ts'
import { isRetryable } from '../breaker/retry-policy.ts'
import { classify, type UpstreamErrorKind } from './upstream-errors.ts'

// reply-from hands its request options to `undici.request(opts, cb)` of whatever object it
// is given as `undici`. That call is where the upstream is really contacted, so this is
// where the upstream is chosen (load balancing, health, breaker), the call is timed,
// counted by its breaker, retried elsewhere, and aborted when the client goes away. The
// per-request context rides on a symbol key of the headers object (reply-from copies it
// with Object.assign, which keeps symbol keys) and is removed here.
export const kProxyCall = Symbol('gatehouse.proxyCall')

export interface ProxyCall {
  request: FastifyRequest
  svc: ServiceRuntime
}

export interface UpstreamOutcome {
  statusCode: number | null
  kind: UpstreamErrorKind | null // null = the upstream answered
  durationMs: number
}

// Policies that watch or gate upstream calls plug in here. Breakers, health and load
// balancing are built in (plugins/breaker: UpstreamState.breaker/up, selectUpstream).
export interface UpstreamHooks {
  // Replaces the built-in selection. Return an error to refuse the call without
  // contacting any upstream. `tried` holds the upstreams earlier attempts used.
  select?: (svc: ServiceRuntime, tried: readonly UpstreamState[]) => UpstreamState | E.GatewayError
  // Every attempt that reached the network, once, when its outcome is known: at response
  // headers, or at the transport error. A call the client aborted is not reported.
  onOutcome?: (svc: ServiceRuntime, upstream: UpstreamState, outcome: UpstreamOutcome) => void
}

type UndiciOpts = Dispatcher.RequestOptions & { headers: Record<string | symbol, unknown> }
type Callback = (err: Error | null, data?: Dispatcher.ResponseData) => void

// Shared listeners (`this` is the emitter) with their state on the emitter, instead of a
// closure and a once() wrapper per request.
const kUpstream = Symbol('gatehouse.upstream')
type BodyWithUpstream = Dispatcher.ResponseData['body'] & { [kUpstream]?: UpstreamState }

// Least-connections counts a call until its body is done, not at headers.
function releaseUpstream (this: BodyWithUpstream) {
  this[kUpstream]!.inflight--
}

// The client leaving must not leave an upstream call (and its socket) behind. undici's
// `signal` may be any object with on/once/removeListener for 'abort' and `aborted`/`reason`;
// this one holds undici's single listener in a field, which costs less per request than
// an AbortController (EventTarget) or an 'abort' listener on the response (EventEmitter).
class ClientSignal {
  aborted: boolean
  reason: Error | undefined
  listener: (() => void) | null

  constructor () {
    this.aborted = false
    this.reason = undefined
    this.listener = null
  }

  on (_event: 'abort', listener: () => void) { this.listener = listener }
  once (_event: 'abort', listener: () => void) { this.listener = listener }
  removeListener (_event: 'abort', listener: () => void) {
    if (this.listener === listener) this.listener = null
  }

  abort () {
    if (this.aborted) return
    this.aborted = true
    const listener = this.listener
    this.listener = null
    if (listener !== null) listener()
  }
}

const kSignal = Symbol('gatehouse.clientSignal')
type ResponseWithSignal = ServerResponse & { [kSignal]?: ClientSignal }

// One shared 'close' listener; 'close' comes once, also after a complete answer.
function abortUpstreamCall (this: ResponseWithSignal) {
  if (!this.writableFinished) this[kSignal]!.abort()
}

export function createUpstreamDispatcher (agent: Dispatcher, hooks: UpstreamHooks[] = []) {
  const select = hooks.find((h) => h.select)?.select ?? selectUpstream
  const observers = hooks.filter((h) => h.onOutcome).map((h) => h.onOutcome!)

  function report (svc: ServiceRuntime, up: UpstreamState, outcome: UpstreamOutcome) {
    for (let i = 0; i < observers.length; i++) observers[i]!(svc, up, outcome)
  }

  // `tried` is the upstreams of earlier attempts; `lastErr` their last failure, which is
  // what the client gets when a retry finds no upstream to go to.
  function attempt (call: ProxyCall, opts: UndiciOpts, cb: Callback, tried: readonly UpstreamState[], lastErr: Error | null) {
    const { svc, request } = call
    const up = select(svc, tried)
    if (up instanceof Error) {
      cb(lastErr ?? up)
      return
    }
    const breaker = up.breaker
    // A half-open breaker lets this call through as its probe: its outcome decides.
    const probe = breaker !== null && up.circuit === 'half-open' && breaker.enter()
    const gw = request.gw
    gw.upstream = up.origin
    opts.origin = up.origin
    opts.headers.host = up.host
    const start = performance.now()
    gw.upstreamStartMs = start
    up.inflight++
    // A service with `upstreamTls` has its own Agent on each of its upstreams.
    ;(up.agent ?? agent).request(opts as Dispatcher.RequestOptions, (err, data) => {
      const durationMs = performance.now() - start
      gw.upstreamMs = durationMs
      if (err) {
        up.inflight--
        const kind = classify(err)
        if (kind === 'aborted') {
          // The client left: the upstream did nothing wrong, nothing to retry.
          if (breaker !== null) breaker.abandon(probe)
          cb(err)
          return
        }
        if (breaker !== null) breaker.failure(probe, kind === 'timeout')
        report(svc, up, { statusCode: null, kind, durationMs })
        if (isRetryable(opts, err, tried.length + 1, svc.config.retries)) {
          request.log.warn({ err, upstream: up.origin }, 'upstream failed before answering; retrying the idempotent request')
          attempt(call, opts, cb, tried.length === 0 ? [up] : [...tried, up], err)
          return
        }
        cb(err)
        return
      }
      if (breaker !== null) {
        if (data.statusCode >= 500) breaker.failure(probe, false)
        else breaker.success(probe)
      }
      report(svc, up, { statusCode: data.statusCode, kind: null, durationMs })
      const body = data.body as BodyWithUpstream
      body[kUpstream] = up
      body.on('close', releaseUpstream)
      cb(null, data)
    })
  }

  return {
    request (opts: UndiciOpts, cb: Callback) {
      const call = opts.headers[kProxyCall] as ProxyCall
      delete opts.headers[kProxyCall]
      const res = call.request.gw.res as ResponseWithSignal
      const signal = new ClientSignal()
      res[kSignal] = signal
      res.on('close', abortUpstreamCall)
      opts.signal = signal as unknown as AbortSignal
      attempt(call, opts, cb, NOTHING_TRIED, null)
    },
  }
}
