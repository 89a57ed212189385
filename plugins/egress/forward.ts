import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadGateway, UpstreamTimeout, type GatewayError } from '../errors/errors.ts'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts'
import type { AbsoluteTarget } from './destination.ts'

// Absolute-form plain HTTP: the request goes to a checked address (an IP: no lookup
// here) with the URL's own Host, hop-by-hop, Proxy-* and identifying headers removed;
// the answer is relayed as it came (status, headers, body; redirects not followed).
// Bodies stream both ways (pipe: back-pressure, no buffering).

export interface ForwardOptions {
  req: IncomingMessage
  res: ServerResponse
  target: AbsoluteTarget
  address: string
  agent: http.Agent
  removeHeaders: ReadonlySet<string>
  connectMs: number
  idleMs: number
  onUp: (bytes: number) => void
  onDown: (bytes: number) => void
}

export type ForwardResult = { status: number } | { error: GatewayError }

export function forward (opts: ForwardOptions): Promise<ForwardResult> {
  const { req, res, target } = opts
  return new Promise((resolve) => {
    let settled = false
    const settle = (r: ForwardResult) => {
      if (settled) return
      settled = true
      resolve(r)
    }
    const up = http.request({
      host: opts.address,
      port: target.port,
      method: req.method,
      path: target.path,
      headers: upstreamRequestHeaders(req.rawHeaders, target.hostHeader, opts.removeHeaders),
      setHost: false,
      agent: opts.agent,
    })
    let connectTimer: NodeJS.Timeout | undefined
    up.once('socket', (socket) => {
      if (!socket.connecting) return
      connectTimer = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'EGRESS_CONNECT_TIMEOUT' })), opts.connectMs)
      socket.once('connect', () => clearTimeout(connectTimer))
    })
    // No byte either way for `idle`: the destination is given up on.
    up.setTimeout(opts.idleMs, () => up.destroy(Object.assign(new Error('idle'), { code: 'EGRESS_IDLE' })))
    up.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer)
      if (res.headersSent) {
        // Mid-body: the client must see a cut, never a short body taken as whole.
        res.destroy()
        return settle({ status: res.statusCode })
      }
      settle({
        error: err.code === 'EGRESS_CONNECT_TIMEOUT' || err.code === 'EGRESS_IDLE'
          ? new UpstreamTimeout('The destination did not answer in time')
          : new BadGateway('The destination refused or reset the connection'),
      })
    })
    up.on('response', (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, clientResponseHeaders(upRes.rawHeaders))
      upRes.on('data', (c: Buffer) => opts.onDown(c.length))
      upRes.pipe(res)
      upRes.once('end', () => settle({ status: upRes.statusCode ?? 502 }))
      upRes.once('aborted', () => res.destroy())
    })
    // The client went away: so does the destination's request.
    res.once('close', () => {
      if (!res.writableFinished) up.destroy()
      settle({ status: res.statusCode })
    })
    req.on('data', (c: Buffer) => opts.onUp(c.length))
    req.pipe(up)
  })
}
