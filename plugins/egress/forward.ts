import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline, Transform, type TransformCallback } from 'node:stream'
import { Agent, errors, type Dispatcher } from 'undici'
import { BadGateway, UpstreamTimeout, type GatewayError } from '../errors/errors.ts'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts'
import type { AbsoluteTarget } from './destination.ts'

// Absolute-form plain HTTP: the request goes to a checked address (an IP: no lookup
// here) with the URL's own Host, hop-by-hop, Proxy-* and identifying headers removed;
// the answer is relayed as it came (status, headers, body; redirects not followed).
// Through undici's dispatcher API: the answer's chunks are written straight to the
// client's response, with back-pressure (a full response pauses the destination's
// socket), and the request body streams up as it comes.

export interface ForwardOptions {
  req: IncomingMessage
  res: ServerResponse
  target: AbsoluteTarget
  address: string
  agent: Dispatcher
  removeHeaders: ReadonlySet<string>
  idleMs: number
  onUp: (bytes: number) => void
  onDown: (bytes: number) => void
}

export type ForwardResult = { status: number } | { error: GatewayError }

// Keep-alive pools to destinations, keyed by checked address and port (undici's origin).
export function createForwardAgent (connectMs: number): Agent {
  return new Agent({ connect: { timeout: connectMs }, connections: 256, keepAliveTimeout: 4000, pipelining: 1 })
}

function noop () {}

function hasBody (req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

function failure (err: Error): GatewayError {
  return err instanceof errors.ConnectTimeoutError || err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError
    ? new UpstreamTimeout('The destination did not answer in time')
    : new BadGateway('The destination refused or reset the connection')
}

// undici's handler for one forwarded request.
class Relay implements Dispatcher.DispatchHandler {
  readonly opts: ForwardOptions
  readonly settle: (r: ForwardResult) => void
  abort: ((err?: Error) => void) | null = null
  resume: (() => void) | null = null
  status = 0
  done = false

  constructor (opts: ForwardOptions, settle: (r: ForwardResult) => void) {
    this.opts = opts
    this.settle = settle
  }

  finish (r: ForwardResult) {
    if (this.done) return
    this.done = true
    this.settle(r)
  }

  onConnect (abort: (err?: Error) => void) {
    this.abort = abort
    // The client went away: so does the destination's request.
    if (this.opts.res.destroyed) abort(new errors.RequestAbortedError())
  }

  onHeaders (statusCode: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true
    const headers: string[] = []
    for (let i = 0; i < raw.length; i++) headers.push(raw[i]!.toString('latin1'))
    this.status = statusCode
    this.resume = resume
    this.opts.res.writeHead(statusCode, statusText, clientResponseHeaders(headers))
    return true
  }

  onData (chunk: Buffer): boolean {
    this.opts.onDown(chunk.length)
    return this.opts.res.write(chunk)
  }

  onComplete () {
    this.opts.res.end()
    this.finish({ status: this.status })
  }

  onError (err: Error) {
    const { res } = this.opts
    if (res.headersSent) {
      // Mid-body: the client must see a cut, never a short body taken as whole.
      res.destroy()
      this.finish({ status: this.status })
      return
    }
    this.finish({ error: failure(err) })
  }
}

class UpCounter extends Transform {
  readonly count: (bytes: number) => void

  constructor (count: (bytes: number) => void) {
    super()
    this.count = count
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
    this.count(chunk.length)
    done(null, chunk)
  }
}

function onDrain (this: ServerResponse & { relay?: Relay }) {
  this.relay?.resume?.()
}

export function forward (opts: ForwardOptions): Promise<ForwardResult> {
  const { req, res, target, address } = opts
  return new Promise((resolve) => {
    const relay = new Relay(opts, resolve)
    ;(res as ServerResponse & { relay?: Relay }).relay = relay
    res.on('drain', onDrain)
    res.once('close', () => {
      if (res.writableFinished) return
      relay.abort?.(new errors.RequestAbortedError())
      relay.finish({ status: relay.status })
    })
    // Counted on its way through: a 'data' listener of our own would start the body
    // flowing before undici reads it. pipeline: a client that breaks off its upload fails
    // the body undici is sending, which ends the destination's request too.
    const body = hasBody(req) ? pipeline(req, new UpCounter(opts.onUp), noop) : null
    opts.agent.dispatch({
      origin: `http://${address.includes(':') ? `[${address}]` : address}:${target.port}`,
      path: target.path,
      method: req.method as Dispatcher.HttpMethod,
      headers: upstreamRequestHeaders(req.rawHeaders, target.hostHeader, opts.removeHeaders),
      body,
      // `idle`: no byte either way for that long, before the answer or within its body.
      headersTimeout: opts.idleMs,
      bodyTimeout: opts.idleMs,
    }, relay)
  })
}
