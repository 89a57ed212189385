import type { ServiceRuntime } from '../../../lib/service-runtime.ts'
import type { ServiceConfig } from '../config/types.ts'

// The admin view of a service: what it routes, where to, and the policy it enforces.
export function describeService (svc: ServiceRuntime<ServiceConfig>) {
  const c = svc.config
  return {
    name: c.name,
    prefix: c.prefix,
    source: c.source,
    upstreams: svc.upstreams.map((u) => ({ origin: u.origin, up: u.up, circuit: u.circuit })),
    policy: {
      rewritePrefix: c.rewritePrefix,
      auth: c.auth,
      scopes: c.scopes,
      rateLimit: c.rateLimit,
      circuitBreaker: c.circuitBreaker,
      loadBalancing: c.loadBalancing,
      healthCheck: c.healthCheck,
      retries: c.retries,
      websocket: c.websocket,
      routes: c.routes,
    },
  }
}
