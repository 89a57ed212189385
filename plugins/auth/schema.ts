import { Type, type Static } from '@sinclair/typebox'
import type { RouteCore } from '../../lib/config-types.ts'
import { List, OneOf, joinPath, type Report } from '../../lib/config/kit.ts'

// The auth plugin's configuration: `auth.jwt` (keys, issuer, audience, algorithms) and
// each service's and route's `auth`/`scopes`.

// A service's `auth` (default required); a route's `auth` has no default (it keeps the
// service's).
export const AuthModeSchema = OneOf(['required', 'optional', 'none'])
export const ScopesSchema = List

export type AuthMode = Static<typeof AuthModeSchema>
export const DEFAULT_AUTH_MODE: AuthMode = 'required'

// The scope claim is space-separated, so a scope containing a space can never match.
export function resolveScopes (raw: readonly string[] | undefined, path: string, report: Report): string[] {
  return (raw ?? []).map((s, i) => {
    if (/\s/.test(s)) report(joinPath(path, i), 'must not contain spaces (the scope claim is space-separated)')
    return s
  })
}

export const ServiceAuthSchema = { auth: Type.Optional(AuthModeSchema), scopes: Type.Optional(ScopesSchema) }

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
