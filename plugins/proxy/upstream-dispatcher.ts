import type { FastifyRequest } from 'fastify'
import { pipeline, Readable } from 'node:stream'
import { Dispatcher, errors } from 'undici'
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
  // The upstream request target (plugins/proxy/upstream-path.ts); it replaces the one
  // reply-from derives, whose checks refuse what SPEC forwards (`..%2f` in a segment).
  path: string
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

type UndiciOpts = Dispatcher.RequestOptions<unknown> & { headers: Record<string | symbol, unknown> }
type Callback = (err: Error | null, data?: Dispatcher.ResponseData<unknown>) => void
type LegacyHandler = Required<Pick<Dispatcher.DispatchHandler, 'onConnect' | 'onHeaders' | 'onData' | 'onComplete' | 'onError'>>

// Shared listeners (`this` is the emitter) with their state on the emitter, instead of a
// closure and a once() wrapper per request.
const kUpstream = Symbol('gatehouse.upstream')
type BodyWithUpstream = Dispatcher.ResponseData<unknown>['body'] & { [kUpstream]?: UpstreamState }

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

// What every attempt of one dispatcher shares.
interface Seam {
  select: (svc: ServiceRuntime, tried: readonly UpstreamState[]) => UpstreamState | E.GatewayError
  observers: Array<NonNullable<UpstreamHooks['onOutcome']>>
  agent: Dispatcher
}

// setTimeout's ceiling (a longer delay would fire after 1 ms); a budget that long is none.
const MAX_TIMER_MS = 2 ** 31 - 1

// One call to one upstream. It is also undici's handler for the call, between the Agent
// and the handler undici's request() builds (which makes the response stream and calls
// back), to see what request() does not tell: whether the request went out on a socket,
// and when the response headers came. It speaks the handler API that one speaks.
class UpstreamAttempt implements LegacyHandler {
  seam: Seam
  call: ProxyCall
  opts: UndiciOpts
  cb: Callback
  tried: readonly UpstreamState[]
  up: UpstreamState
  agent: Dispatcher
  probe: boolean
  start: number
  inner: LegacyHandler | null
  // undici's abort for this request, given when it is dispatched on a socket. A request
  // without a body (the only kind retried) is written in that same turn, so from then on
  // it counts as sent: the upstream may act on it.
  abort: ((err?: Error) => void) | null
  // The upstream timeout, until response headers.
  timer: NodeJS.Timeout | null
  // Answered by the timeout before undici had a socket for it; undici's late word is dropped.
  settled: boolean

  constructor (seam: Seam, call: ProxyCall, opts: UndiciOpts, cb: Callback, tried: readonly UpstreamState[],
    up: UpstreamState, probe: boolean, start: number) {
    this.seam = seam
    this.call = call
    this.opts = opts
    this.cb = cb
    this.tried = tried
    this.up = up
    // A service with `upstreamTls` has its own Agent on each of its upstreams.
    this.agent = up.agent ?? seam.agent
    this.probe = probe
    this.start = start
    this.inner = null
    this.abort = null
    this.timer = null
    this.settled = false
  }

  onConnect (abort: (err?: Error) => void) {
    if (this.settled) {
      abort(new errors.HeadersTimeoutError(timeoutMessage(this.call.svc.timeoutMs)))
      return
    }
    this.abort = abort
    this.inner!.onConnect(abort)
  }

  onHeaders (statusCode: number, headers: Buffer[], resume: () => void, statusText: string) {
    // 1xx are not the response.
    if (statusCode >= 200 && this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    return this.inner!.onHeaders(statusCode, headers, resume, statusText)
  }

  onData (chunk: Buffer) {
    return this.inner!.onData(chunk)
  }

  onComplete (trailers: string[] | null) {
    this.inner!.onComplete(trailers)
  }

  onError (err: Error) {
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    this.inner!.onError(err)
  }
}

// undici's request() over the attempt's handler: the attempt rides on `opaque`, which
// request() also hands back to the callback, so one shared callback serves every call.
class AttemptDispatcher extends Dispatcher {
  dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const attempt = (opts as unknown as UndiciOpts).opaque as UpstreamAttempt
    attempt.inner = handler as LegacyHandler
    return attempt.agent.dispatch(opts, attempt)
  }
}

const attempts = new AttemptDispatcher()

function timeoutMessage (ms: number) {
  return `no response headers from the upstream within ${ms} ms`
}

function onAttemptTimeout (a: UpstreamAttempt) {
  a.timer = null
  const err = new errors.HeadersTimeoutError(timeoutMessage(a.call.svc.timeoutMs))
  // On a socket: undici aborts the request and closes the connection, and the error comes
  // back through the callback like any other.
  if (a.abort !== null) {
    a.abort(err)
    return
  }
  // Still connecting: nothing was sent. Answer now; undici aborts it once it has a socket
  // (onConnect), or the connect fails within timeouts.connect. A client that already left
  // gets its abort from undici instead.
  if ((a.opts.signal as unknown as ClientSignal).aborted) return
  a.settled = true
  settle(a, err, undefined)
}

function onAttemptResult (err: Error | null, data: Dispatcher.ResponseData<unknown>) {
  const a = data.opaque as UpstreamAttempt
  // Errors raised before undici took the request (invalid options) skip the handler.
  if (a.timer !== null) {
    clearTimeout(a.timer)
    a.timer = null
  }
  if (a.settled) return
  settle(a, err, err === null ? data : undefined)
}

function report (seam: Seam, svc: ServiceRuntime, up: UpstreamState, outcome: UpstreamOutcome) {
  const observers = seam.observers
  for (let i = 0; i < observers.length; i++) observers[i]!(svc, up, outcome)
}

function settle (a: UpstreamAttempt, err: Error | null, data: Dispatcher.ResponseData<unknown> | undefined) {
  const { call, up, probe, opts, cb, seam } = a
  const { svc, request } = call
  const breaker = up.breaker
  const durationMs = performance.now() - a.start
  request.gw.upstreamMs = durationMs
  const counted = svc.leastConnections
  if (err !== null) {
    if (counted) up.inflight--
    const kind = classify(err)
    if (kind === 'aborted') {
      // The client left: the upstream did nothing wrong, nothing to retry.
      if (breaker !== null) breaker.abandon(probe)
      cb(err)
      return
    }
    if (breaker !== null) breaker.failure(probe, kind === 'timeout')
    report(seam, svc, up, { statusCode: null, kind, durationMs })
    const tried = a.tried
    if (isRetryable(opts, err, a.abort !== null, tried.length + 1, svc.config.retries)) {
      request.log.warn({ err, upstream: up.origin }, 'upstream connection failed before the request was sent; retrying the idempotent request')
      attempt(seam, call, opts, cb, tried.length === 0 ? [up] : [...tried, up], err)
      return
    }
    cb(err)
    return
  }
  const res = data!
  if (breaker !== null) {
    if (res.statusCode >= 500) breaker.failure(probe, false)
    else breaker.success(probe)
  }
  report(seam, svc, up, { statusCode: res.statusCode, kind: null, durationMs })
  if (counted) {
    const body = res.body as BodyWithUpstream
    body[kUpstream] = up
    body.on('close', releaseUpstream)
  }
  cb(null, res)
}

// `tried` is the upstreams of earlier attempts; `lastErr` their last failure, which is
// what the client gets when a retry finds no upstream to go to.
function attempt (seam: Seam, call: ProxyCall, opts: UndiciOpts, cb: Callback, tried: readonly UpstreamState[], lastErr: Error | null) {
  const { svc, request } = call
  const up = seam.select(svc, tried)
  if (up instanceof Error) {
    cb(lastErr ?? up)
    return
  }
  // A half-open breaker lets this call through as its probe: its outcome decides.
  const probe = up.breaker !== null && up.circuit === 'half-open' && up.breaker.enter()
  const gw = request.gw
  gw.upstream = up.origin
  opts.origin = up.origin
  opts.headers.host = up.host
  const start = performance.now()
  gw.upstreamStartMs = start
  if (svc.leastConnections) up.inflight++
  const a = new UpstreamAttempt(seam, call, opts, cb, tried, up, probe, start)
  opts.opaque = a
  // SPEC: the upstream timeout covers the call until its response headers, connect
  // included. A timer of our own: undici's headersTimeout ticks in 500 ms steps.
  if (svc.timeoutMs < MAX_TIMER_MS) a.timer = setTimeout(onAttemptTimeout, svc.timeoutMs, a)
  attempts.request(opts, onAttemptResult)
}

export function createUpstreamDispatcher (agent: Dispatcher, { hooks, bodyLimit }: DispatcherOptions) {
  const seam: Seam = {
    select: hooks.find((h) => h.select)?.select ?? selectUpstream,
    observers: hooks.filter((h) => h.onOutcome).map((h) => h.onOutcome!),
    agent,
  }

  return {
    request (opts: UndiciOpts, cb: Callback) {
      // Left on the headers: undici reads string keys only, and deleting a key would turn
      // the object into a slow dictionary right before undici walks it.
      const call = opts.headers[kProxyCall] as ProxyCall
      opts.path = call.path
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
      // The attempt's timer is the upstream timeout; undici's would only add a coarser one.
      opts.headersTimeout = 0
      const gw = call.request.gw
      const signal = new ClientSignal()
      // Request context's 'close' listener aborts it when the client leaves (request-end.ts).
      gw.upstreamCall = signal
      opts.signal = signal as unknown as AbortSignal
      // The client already left (e.g. while an async policy ran): contact nobody.
      if (gw.res.destroyed) signal.abort()
      attempt(seam, call, opts, cb, NOTHING_TRIED, null)
    },
  }
}
