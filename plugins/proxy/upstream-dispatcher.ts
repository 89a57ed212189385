// Longer than our ~250-line rule, on purpose: the undici handler of one upstream attempt
// (sent flag, timeout timer, retry, abort, body limit) is one state machine on the hot path;
// split, its per-request state would cross module boundaries as closures.
import type { FastifyRequest } from 'fastify'
import { pipeline, Readable } from 'node:stream'
import { Dispatcher, errors, util } from 'undici'
import type { ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import { NOTHING_TRIED } from '../breaker/balancer.ts'
import { createCallPath, UpstreamAttempt, type CallPath, type UpstreamHooks } from '../breaker/upstream-call.ts'
import * as E from '../errors/errors.ts'
import { limitStreamingBody } from './body-limit.ts'
import { isRetryable } from '../breaker/retry-policy.ts'

export type { UpstreamHooks, UpstreamOutcome } from '../breaker/upstream-call.ts'

// reply-from hands its request options to `undici.request(opts, cb)` of whatever object it
// is given as `undici`. That call is where the upstream is really contacted, so this is
// where each attempt goes down the gateway's upstream-call path (plugins/breaker/upstream-call.ts:
// selection, breaker, timing, outcome), and where what only HTTP needs happens: the body
// limit, the upstream timeout, retries elsewhere, and the abort when the client goes away.
// The per-request context rides on a symbol key of the headers object (reply-from copies
// it with Object.assign, which keeps symbol keys).
export const kProxyCall = Symbol('gatehouse.proxyCall')

export interface ProxyCall {
  request: FastifyRequest
  svc: ServiceRuntime
  // The upstream request target (plugins/proxy/upstream-path.ts); it replaces the one
  // reply-from derives, whose checks refuse what SPEC forwards (`..%2f` in a segment).
  path: string
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
interface Seam extends CallPath {
  agent: Dispatcher
}

// setTimeout's ceiling (a longer delay would fire after 1 ms); a budget that long is none.
const MAX_TIMER_MS = 2 ** 31 - 1

// A small answer of declared length is collected whole and handed on as a Buffer, which
// Fastify writes with its headers in one go: no response stream, no pipe, no end-of-stream
// bookkeeping per request (docs/performance.md has the measurement). Larger or unsized
// bodies stream as they come, with back-pressure. A small answer cut mid-body is a 502
// then, where a streamed one can only be cut short on the client too.
const SMALL_ANSWER_BYTES = 16 * 1024

// Whether the answer may be collected whole: one Content-Length of at most
// SMALL_ANSWER_BYTES and a Content-Type. Not for HEAD and 204/304 (no body follows their
// Content-Length), nor without a Content-Type (Fastify would add one to a Buffer). Read
// off the raw header list, so an answer that streams is parsed only once, by undici.
function isSmallAnswer (method: string, statusCode: number, raw: Buffer[]): boolean {
  if (method === 'HEAD' || statusCode === 204 || statusCode === 304) return false
  let length: string | null = null
  let typed = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = util.headerNameToString(raw[i]!)
    if (name === 'content-type') {
      typed = true
    } else if (name === 'content-length') {
      if (length !== null) return false
      length = raw[i + 1]!.toString('latin1')
    }
  }
  if (length === null || !typed) return false
  const n = Number(length)
  return Number.isInteger(n) && n >= 0 && n <= SMALL_ANSWER_BYTES
}

// One HTTP attempt. It is also undici's handler for the call, between the Agent and the
// handler undici's request() builds (which makes the response stream and calls back), to
// see what request() does not tell: whether the request went out on a socket, and when
// the response headers came. It speaks the handler API that one speaks.
class ProxyAttempt extends UpstreamAttempt<Seam> implements LegacyHandler {
  call: ProxyCall
  opts: UndiciOpts
  cb: Callback
  tried: readonly UpstreamState[]
  agent: Dispatcher
  inner: LegacyHandler | null
  data: Dispatcher.ResponseData<unknown> | null
  // undici's abort for this request, given when it is dispatched on a socket. A request
  // without a body (the only kind retried) is written in that same turn, so from then on
  // it counts as sent: the upstream may act on it.
  abort: ((err?: Error) => void) | null
  // The upstream timeout, until response headers.
  timer: NodeJS.Timeout | null
  // Answered by the timeout before undici had a socket for it; undici's late word is dropped.
  settled: boolean
  // A small answer being collected (isSmallAnswer): its chunks, until onComplete.
  chunks: Buffer[] | null
  answer: Dispatcher.ResponseData<unknown> | null

  constructor (seam: Seam, call: ProxyCall, opts: UndiciOpts, cb: Callback, tried: readonly UpstreamState[], up: UpstreamState) {
    super(seam, call.svc, call.request.gw, up)
    this.call = call
    this.opts = opts
    this.cb = cb
    this.tried = tried
    // A service with `upstreamTls` has its own Agent on each of its upstreams.
    this.agent = up.agent ?? seam.agent
    this.inner = null
    this.data = null
    this.abort = null
    this.timer = null
    this.settled = false
    this.chunks = null
    this.answer = null
    this.method = opts.method
  }

  protected send () {
    const { opts, up, svc } = this
    opts.origin = up.origin
    opts.headers.host = up.host
    opts.opaque = this
    if (this.traceparent !== null) opts.headers.traceparent = this.traceparent
    if (svc.leastConnections) up.inflight++
    // SPEC: the upstream timeout covers the call until its response headers, connect
    // included. A timer of our own: undici's headersTimeout ticks in 500 ms steps.
    if (svc.timeoutMs < MAX_TIMER_MS) this.timer = setTimeout(onAttemptTimeout, svc.timeoutMs, this)
    attempts.request(opts, onAttemptResult)
  }

  protected end () {
    const { up, svc, cb } = this
    const err = this.error
    if (err !== null) {
      if (svc.leastConnections) up.inflight--
      // The client left: the upstream did nothing wrong, nothing to retry.
      if (this.kind === 'aborted') {
        cb(err)
        return
      }
      const tried = this.tried
      if (isRetryable(this.opts, err, this.abort !== null, tried.length + 1, svc.config.retries)) {
        this.call.request.log.warn({ err, upstream: up.origin }, 'upstream connection failed before the request was sent; retrying the idempotent request')
        attempt(this.path, this.call, this.opts, cb, tried.length === 0 ? [up] : [...tried, up], err)
        return
      }
      cb(err)
      return
    }
    const res = this.data!
    if (Buffer.isBuffer(res.body)) {
      if (svc.leastConnections) up.inflight--
      // reply-from destroys the answer's stream when the client is gone by now; a
      // collected answer has none, so it is dropped here instead.
      cb(this.call.request.raw.aborted ? new errors.RequestAbortedError() : null, res)
      return
    }
    if (svc.leastConnections) {
      const body = res.body as BodyWithUpstream
      body[kUpstream] = up
      body.on('close', releaseUpstream)
    }
    cb(null, res)
  }

  onConnect (abort: (err?: Error) => void) {
    if (this.settled) {
      abort(new errors.HeadersTimeoutError(timeoutMessage(this.svc.timeoutMs)))
      return
    }
    this.abort = abort
    this.inner!.onConnect(abort)
  }

  onHeaders (statusCode: number, headers: Buffer[], resume: () => void, statusText: string) {
    // 1xx are not the response.
    if (statusCode < 200) return this.inner!.onHeaders(statusCode, headers, resume, statusText)
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    if (!isSmallAnswer(this.opts.method, statusCode, headers)) return this.inner!.onHeaders(statusCode, headers, resume, statusText)
    // undici's request() handler never sees this answer: its callback is ours to call.
    this.chunks = []
    this.answer = { statusCode, statusText, headers: util.parseHeaders(headers), body: null as never, trailers: {}, opaque: this, context: {} } as Dispatcher.ResponseData<unknown>
    return true
  }

  onData (chunk: Buffer) {
    if (this.chunks === null) return this.inner!.onData(chunk)
    this.chunks.push(chunk)
    return true
  }

  onComplete (trailers: string[] | null) {
    const chunks = this.chunks
    if (chunks === null) {
      this.inner!.onComplete(trailers)
      return
    }
    this.chunks = null
    const answer = this.answer!
    this.answer = null
    ;(answer as { body: unknown }).body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    onAttemptResult(null, answer)
  }

  onError (err: Error) {
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    // Cut while collecting: nothing reached the client yet, so it fails like a connect error
    // would (502/504), except that it is never retried (it was sent).
    this.chunks = null
    this.answer = null
    this.inner!.onError(err)
  }
}

// undici's request() over the attempt's handler: the attempt rides on `opaque`, which
// request() also hands back to the callback, so one shared callback serves every call.
class AttemptDispatcher extends Dispatcher {
  dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const attempt = (opts as unknown as UndiciOpts).opaque as ProxyAttempt
    attempt.inner = handler as LegacyHandler
    return attempt.agent.dispatch(opts, attempt)
  }
}

const attempts = new AttemptDispatcher()

function timeoutMessage (ms: number) {
  return `no response headers from the upstream within ${ms} ms`
}

function onAttemptTimeout (a: ProxyAttempt) {
  a.timer = null
  const err = new errors.HeadersTimeoutError(timeoutMessage(a.svc.timeoutMs))
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
  a.failed(err)
}

function onAttemptResult (err: Error | null, data: Dispatcher.ResponseData<unknown>) {
  const a = data.opaque as ProxyAttempt
  // Errors raised before undici took the request (invalid options) skip the handler.
  if (a.timer !== null) {
    clearTimeout(a.timer)
    a.timer = null
  }
  if (a.settled) return
  if (err !== null) {
    a.failed(err)
    return
  }
  a.data = data
  a.answered(data.statusCode)
}

// `tried` is the upstreams of earlier attempts; `lastErr` their last failure, which is
// what the client gets when a retry finds no upstream to go to.
function attempt (seam: Seam, call: ProxyCall, opts: UndiciOpts, cb: Callback, tried: readonly UpstreamState[], lastErr: Error | null) {
  const up = seam.select(call.svc, tried)
  if (up instanceof Error) {
    cb(lastErr ?? up)
    return
  }
  const refused = new ProxyAttempt(seam, call, opts, cb, tried, up).start()
  if (refused !== null) cb(lastErr ?? refused)
}

export function createUpstreamDispatcher (agent: Dispatcher, { hooks, bodyLimit }: DispatcherOptions) {
  const seam: Seam = { ...createCallPath(hooks), agent }

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
      // The client already left (e.g. while an async policy ran): contact nobody, and
      // give no breaker an outcome for a call never made.
      if (gw.res.destroyed) {
        cb(new errors.RequestAbortedError())
        return
      }
      // Request context's 'close' listener aborts it when the client leaves (request-end.ts).
      gw.upstreamCall = signal
      opts.signal = signal as unknown as AbortSignal
      attempt(seam, call, opts, cb, NOTHING_TRIED, null)
    },
  }
}
