import type { FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { ServiceRuntime, UpstreamState } from '../../apps/gateway/runtime/service-runtime.ts'
import { pickUpstream } from '../../apps/gateway/runtime/service-runtime.ts'
import * as E from '../errors/errors.ts'
import { classify, neverSent, type UpstreamErrorKind } from './upstream-errors.ts'

// reply-from hands its request options to `undici.request(opts, cb)` of whatever object it
// is given as `undici`. That call is where the upstream is really contacted, so this is
// where the upstream is chosen, the call is timed, retried elsewhere, and aborted when the
// client goes away. The per-request context rides on a symbol key of the headers object
// (reply-from copies it with Object.assign, which keeps symbol keys) and is removed here.
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

// Policies that watch or gate upstream calls (breakers, metrics) plug in here.
export interface UpstreamHooks {
  // Return an error to refuse the call without contacting the upstream.
  select?: (svc: ServiceRuntime, tried: UpstreamState[]) => UpstreamState | E.GatewayError
  onOutcome?: (svc: ServiceRuntime, upstream: UpstreamState, outcome: UpstreamOutcome) => void
}

type UndiciOpts = Dispatcher.RequestOptions & { headers: Record<string | symbol, unknown> }
type Callback = (err: Error | null, data?: Dispatcher.ResponseData) => void

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

function defaultSelect (svc: ServiceRuntime, tried: UpstreamState[]): UpstreamState | E.GatewayError {
  // A retry prefers an upstream not tried yet, but with one upstream it goes back to it.
  return pickUpstream(svc, tried) ?? (tried.length > 0 ? pickUpstream(svc) : null) ??
    new E.NoHealthyUpstream('No healthy upstream is available')
}

export function createUpstreamDispatcher (agent: Dispatcher, hooks: UpstreamHooks[] = []) {
  const select = hooks.find((h) => h.select)?.select ?? defaultSelect
  const observers = hooks.filter((h) => h.onOutcome).map((h) => h.onOutcome!)

  function report (svc: ServiceRuntime, up: UpstreamState, outcome: UpstreamOutcome) {
    for (let i = 0; i < observers.length; i++) observers[i]!(svc, up, outcome)
  }

  function attempt (call: ProxyCall, opts: UndiciOpts, cb: Callback, tried: UpstreamState[], signal: AbortSignal) {
    const { svc, request } = call
    const up = select(svc, tried)
    if (up instanceof Error) {
      cb(up)
      return
    }
    tried.push(up)
    const gw = request.gw
    gw.upstream = up.origin
    opts.origin = up.origin
    opts.headers.host = up.host
    const start = performance.now()
    gw.upstreamStartMs = start
    up.inflight++
    agent.request({ ...opts, signal } as Dispatcher.RequestOptions, (err, data) => {
      const durationMs = performance.now() - start
      gw.upstreamMs = durationMs
      if (err) {
        up.inflight--
        const kind = classify(err)
        if (kind !== 'aborted') report(svc, up, { statusCode: null, kind, durationMs })
        if (canRetry(call, opts, err, tried.length)) {
          request.log.warn({ err, upstream: up.origin }, 'upstream failed before the request was sent; retrying')
          attempt(call, opts, cb, tried, signal)
          return
        }
        cb(err)
        return
      }
      report(svc, up, { statusCode: data.statusCode, kind: null, durationMs })
      // Least-connections counts a call until its body is done, not at headers.
      data.body.once('close', () => { up.inflight-- })
      cb(null, data)
    })
  }

  function canRetry (call: ProxyCall, opts: UndiciOpts, err: Error, attempts: number): boolean {
    if (attempts > call.svc.config.retries) return false
    if (!IDEMPOTENT.has(opts.method)) return false
    // A body stream already handed to the first attempt cannot be replayed.
    if (opts.body !== undefined && opts.body !== null && opts.body !== '') return false
    return neverSent(err)
  }

  return {
    request (opts: UndiciOpts, cb: Callback) {
      const call = opts.headers[kProxyCall] as ProxyCall
      delete opts.headers[kProxyCall]
      // The client leaving must not leave an upstream call (and its socket) behind.
      const controller = new AbortController()
      const res = call.request.gw.res
      res.once('close', () => {
        if (!res.writableFinished) controller.abort()
      })
      attempt(call, opts, cb, [], controller.signal)
    },
  }
}
