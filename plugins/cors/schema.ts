import { Type, type Static } from '@sinclair/typebox'
import {
  Duration, NonEmpty, Strict, durationMs, headerNames, httpMethods, joinPath, withDefaults,
  type Defaulted, type Report
} from '../../lib/config/kit.ts'

// A service's `cors` section (SPEC "Edge options"): schema with its defaults, the
// resolved form the plugin reads, and the resolver between the two.
export const CorsSchema = Strict({
  origins: Type.Array(NonEmpty, { minItems: 1, errorMessage: 'must be a non-empty list of origins (or ["*"])' }),
  methods: Type.Optional(Type.Array(NonEmpty, { default: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'] })),
  headers: Type.Optional(Type.Array(NonEmpty, { default: ['authorization', 'content-type'] })),
  credentials: Type.Optional(Type.Boolean({ default: false })),
  // 0 = no Access-Control-Max-Age header (browsers then cache 5 s).
  maxAge: Type.Optional(Duration({ default: 0 })),
})

export type RawCors = Static<typeof CorsSchema>

export interface CorsConfig {
  origins: string[]
  methods: string[]
  headers: string[]
  credentials: boolean
  maxAgeMs: number
}

export function corsOrigin (o: string): string | null {
  if (o === '*') return o
  try {
    const url = new URL(o)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    return url.pathname === '/' && !o.includes('?') && !o.includes('#') && url.username === '' ? url.origin : null
  } catch {
    return null
  }
}

export function resolveCors (input: RawCors, path: string, report: Report): CorsConfig {
  const raw = withDefaults(CorsSchema, input) as Defaulted<RawCors, 'methods' | 'headers' | 'credentials' | 'maxAge'>
  const origins = raw.origins.map((o, i) => {
    const origin = corsOrigin(o)
    if (origin === null) report(joinPath(joinPath(path, 'origins'), i), 'must be * or an origin such as https://app.example.com (no path)')
    return origin ?? o
  })
  // Browsers refuse credentialed responses with a wildcard origin; say so here.
  if (raw.credentials && origins.includes('*')) report(joinPath(path, 'origins'), 'cannot contain * when credentials is true')
  return {
    origins,
    methods: httpMethods(raw.methods, joinPath(path, 'methods'), report),
    headers: headerNames(raw.headers, joinPath(path, 'headers'), report),
    credentials: raw.credentials,
    maxAgeMs: durationMs(raw.maxAge, joinPath(path, 'maxAge'), report, false),
  }
}
