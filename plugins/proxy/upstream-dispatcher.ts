import type { FastifyRequest } from 'fastify'
import { pipeline, Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import { NOTHING_TRIED, selectUpstream } from '../breaker/balancer.ts'
import * as E from '../errors/errors.ts'
import { limitStreamingBody } from './body-limit.ts'
import { isRetryable } from '../breaker/retry-policy.ts'
import { classify, type UpstreamErrorKind } from './upstream-errors.ts'
// The global `performance` is a lazy getter, called on every use; the import is a binding.
import { performance } from 'node:perf_hooks'

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

// Least-connections counts a call until its body is done, not at headers. Only services
// that balance by it count (nothing else reads the count): the others skip a listener.
function releaseUpstream (this: BodyWithUpstream) {
  this[kUpstream]!.inflight--
}

// The client leaving must not leave an upstream call (and its socket) behind. undici's
// `signal` may be any object with on/once/removeListener for 'abort' and `aborted`/`reason`;
// this one holds undici's single listener in a field, which costs less per request than
// an AbortController (EventTarget).
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

export interface DispatcherOptions {
  hooks: UpstreamHooks[]
  // server.bodyLimit: the largest request body sent upstream.
  bodyLimit: number
}

export function createUpstreamDispatcher (agent: Dispatcher, { hooks, bodyLimit }: DispatcherOptions) {
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
    const counted = svc.leastConnections
    if (counted) up.inflight++
    // A service with `upstreamTls` has its own Agent on each of its upstreams.
    ;(up.agent ?? agent).request(opts as Dispatcher.RequestOptions, (err, data) => {
      const durationMs = performance.now() - start
      gw.upstreamMs = durationMs
      if (err) {
        if (counted) up.inflight--
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
      if (counted) {
        const body = data.body as BodyWithUpstream
        body[kUpstream] = up
        body.on('close', releaseUpstream)
      }
      cb(null, data)
    })
  }

  return {
    request (opts: UndiciOpts, cb: Callback) {
      // Left on the headers: undici reads string keys only, and deleting a key would turn
      // the object into a slow dictionary right before undici walks it.
      const call = opts.headers[kProxyCall] as ProxyCall
      // The body limit is enforced here, where the body is sent: after every policy (a
      // refused request never gets here), before a byte goes upstream, and at no cost to
      // the requests without a body (no extra hook phase).
      const declared = opts.headers['content-length']
      if (declared !== undefined) {
        if (Number(declared) > bodyLimit) {
          cb(new E.PayloadTooLarge(`Request body is larger than ${bodyLimit} bytes`))
          return
        }
      } else if (opts.body instanceof Readable) {
        // Chunked: counted while it streams; passing the limit fails the stream, which
        // aborts the upstream request mid-body.
        const limited = limitStreamingBody(bodyLimit)
        pipeline(opts.body, limited, () => {})
        opts.body = limited
      }
      const gw = call.request.gw
      const signal = new ClientSignal()
      // Request context's 'close' listener aborts it when the client leaves (request-end.ts).
      gw.upstreamCall = signal
      opts.signal = signal as unknown as AbortSignal
      // The client already left (e.g. while an async policy ran): contact nobody.
      if (gw.res.destroyed) signal.abort()
      attempt(call, opts, cb, NOTHING_TRIED, null)
    },
  }
}
