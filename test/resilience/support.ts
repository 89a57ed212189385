import type http from 'node:http'
import type { TestContext } from 'node:test'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'
import type { TestGateway } from '../helpers/gateway.ts'
import type { UpstreamState } from '../../lib/service-runtime.ts'
import type { UpstreamBreaker } from '../../plugins/breaker/upstream-breaker.ts'
import type { HealthChecker } from '../../plugins/breaker/health-check.ts'

export type Behaviour = 'ok' | 'fail' | 'not-found' | 'hang' | 'reset'

export interface SwitchableUpstream extends Upstream {
  // What the next requests get (health checks at /health have their own switch).
  behaviour: Behaviour
  healthStatus: number
  // Requests that reached the handler, health checks excluded.
  calls: number
  // Every socket of a request left hanging, so a test can see it closed.
  hung: http.IncomingMessage[]
}

// A real upstream that fails on command: 500s, 404s, hangs (never answers) or resets.
export async function switchableUpstream (t: TestContext, behaviour: Behaviour = 'ok'): Promise<SwitchableUpstream> {
  // The handler runs only after `sw` is assigned (no request can arrive before listen returns).
  const sw: SwitchableUpstream = Object.assign(await createUpstream(t, (req, res) => {
    if (req.url === '/health') {
      res.writeHead(sw.healthStatus, { 'content-type': 'text/plain' })
      res.end('health')
      return
    }
    sw.calls++
    switch (sw.behaviour) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end('ok')
        return
      case 'fail':
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end('upstream broke')
        return
      case 'not-found':
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('no such thing')
        return
      case 'hang':
        sw.hung.push(req)
        return
      case 'reset':
        req.socket.destroy()
    }
  }), { behaviour, healthStatus: 200, calls: 0, hung: [] as http.IncomingMessage[] })
  return sw
}

export function upstreamState (gw: TestGateway, service: string, origin: string): UpstreamState {
  const svc = gw.gateway.current().services.find((s) => s.name === service)
  const up = svc?.upstreams.find((u) => u.origin === origin)
  if (up === undefined) throw new Error(`no upstream ${origin} in ${service}`)
  return up
}

export const quickBreaker = (over: Record<string, unknown> = {}) =>
  ({ timeout: '5s', errorThresholdPercentage: 50, volumeThreshold: 4, resetTimeout: '200ms', ...over })

// The breaker and health check the breaker plugin put on an upstream's state (lib only
// knows them by the handle the request path uses), for tests that watch their internals.
export function breakerOf (state: UpstreamState): UpstreamBreaker {
  if (state.breaker === null) throw new Error(`${state.origin} has no breaker`)
  return state.breaker as UpstreamBreaker
}

export function healthOf (state: UpstreamState): HealthChecker {
  if (state.health === null) throw new Error(`${state.origin} has no health check`)
  return state.health as HealthChecker
}
