// The contracts every layer shares about a service's configuration: what the proxy, the
// balancer and the request context read of any service. Each concern's own keys (auth,
// limits, CORS, cache, breaker...) are declared by the plugin that owns them
// (plugins/<concern>/schema.ts); apps/gateway/config composes the whole shape.

// registry: written through the admin API of any instance, kept in the cluster registry.
export type ServiceSource = 'config' | 'servicesDir' | 'admin' | 'registry'

export interface UpstreamTlsConfig {
  ca?: string // PEM contents, already read from the file
  rejectUnauthorized: boolean
}

export interface ServiceCore {
  name: string
  prefix: string
  upstreams: string[] // origins, e.g. http://127.0.0.1:3001 (no path)
  rewritePrefix: string // "" = strip the prefix
  retries: number
  websocket: boolean
  upstreamTls: UpstreamTlsConfig | null
  source: ServiceSource
  file?: string // where it was read from (servicesDir entries)
}

// The part of a `routes[]` entry that says which requests it matches.
export interface RouteCore {
  methods: string[] | null // null = all methods
  path: string // public path, starts with the service prefix; a final "/*" matches one or more segments
}

// A problem found while loading: printed as `<file>: <path>: <message>`.
export interface ConfigProblem {
  file: string
  path: string
  message: string
}
