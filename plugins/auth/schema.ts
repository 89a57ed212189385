import type { RouteCore } from '../../lib/config-types.ts'

// The auth plugin's configuration in resolved form: `auth.jwt` (keys, issuer, audience,
// algorithms) and each service's and route's `auth`/`scopes`.

export type AuthMode = 'required' | 'optional' | 'none'

export interface JwtConfig {
  secret?: string
  publicKey?: string // PEM contents
  jwksUrl?: string
  issuer?: string
  audience?: string
  algorithms: string[]
  clockToleranceMs: number
  forwardAuthorization: boolean
}

export interface AuthRouteFields {
  auth?: AuthMode
  scopes?: string[]
}

export interface AuthServiceFields {
  auth: AuthMode
  scopes: string[]
  routes: Array<RouteCore & AuthRouteFields>
}
