import type { ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import { UpstreamAttempt, type CallPath, type UpstreamTiming } from '../breaker/upstream-call.ts'
import { upstreamHandshake, type HandshakeOptions, type UpstreamHandshake } from './handshake.ts'

// The upstream handshake of one upgrade as an attempt on the gateway's upstream-call path
// (plugins/breaker/upstream-call.ts): selected, let through and counted by the breaker,
// timed and reported like any HTTP call. Its answer (a 101 or a refusal) is `result`.
export class HandshakeAttempt extends UpstreamAttempt {
  readonly options: HandshakeOptions
  readonly controller: AbortController
  result: UpstreamHandshake | null
  // Settles once end() has run: the outcome is counted and reported.
  readonly ended: Promise<void>
  private readonly done: () => void

  constructor (path: CallPath, svc: ServiceRuntime, gw: UpstreamTiming, up: UpstreamState,
    options: Omit<HandshakeOptions, 'origin' | 'signal'>) {
    super(path, svc, gw, up)
    this.controller = new AbortController()
    this.options = { ...options, origin: up.origin, signal: this.controller.signal }
    this.result = null
    const { promise, resolve } = Promise.withResolvers<void>()
    this.ended = promise
    this.done = resolve
  }

  // The client left before the upstream answered.
  abort () {
    this.controller.abort()
  }

  protected send () {
    if (this.traceparent !== null) this.options.headers.traceparent = this.traceparent
    upstreamHandshake(this.options).then((result) => {
      this.result = result
      this.answered(result.res.statusCode ?? 0)
    }, (err: Error) => this.failed(err))
  }

  protected end () {
    this.done()
  }
}
