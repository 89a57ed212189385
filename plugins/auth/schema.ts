import { createPublicKey, type KeyObject } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import type { RouteCore } from '../../lib/config-types.ts'
import {
  Duration, List, NonEmpty, OneOf, Strict, durationMs, joinPath, withDefaults, type Defaulted, type Report
} from '../../lib/config/kit.ts'
import { httpUrlProblem, readPem } from '../../lib/config/files.ts'
import { algorithmsForKey } from './key-algorithms.ts'

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

export const JWT_ALGORITHMS = [
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512', 'EdDSA',
] as const

// `auth.jwt`. `algorithms` has no schema default: it follows from the key sources
// (HS256 with a secret, the public key's own type otherwise).
export const JwtSchema = Strict({
  secret: Type.Optional(Type.String()), // emptiness reported by the resolver, with a hint
  publicKey: Type.Optional(NonEmpty),
  jwksUrl: Type.Optional(NonEmpty),
  issuer: Type.Optional(NonEmpty),
  audience: Type.Optional(NonEmpty),
  algorithms: Type.Optional(Type.Array(NonEmpty, { minItems: 1, errorMessage: 'must be a non-empty list of JWT algorithms' })),
  clockTolerance: Type.Optional(Duration({ default: '5s' })),
  forwardAuthorization: Type.Optional(Type.Boolean({ default: true })),
})

export const AuthSchema = Strict({
  jwt: Type.Optional(JwtSchema),
})

export type RawJwt = Static<typeof JwtSchema>

function publicKey (value: string, path: string, report: Report, baseDir: string): { pem: string, algorithms: string[] } | null {
  const r = readPem(value, baseDir)
  if ('error' in r) {
    report(path, r.error)
    return null
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(r.pem)) {
    report(path, 'is a private key: give the public key (never deploy the signing key to the gateway)')
    return null
  }
  let key: KeyObject
  try {
    key = createPublicKey(r.pem)
  } catch {
    report(path, 'is not a PEM public key')
    return null
  }
  const algorithms = algorithmsForKey(key)
  if (algorithms.length === 0) report(path, `is a ${key.asymmetricKeyType ?? 'unknown'} key, which cannot verify JWTs (use RSA, EC P-256/384/521 or Ed25519)`)
  return { pem: r.pem, algorithms }
}

// `baseDir`: where a relative publicKey path is read from (the config file's folder).
export function resolveJwt (input: RawJwt, path: string, ctx: { report: Report, baseDir: string }): JwtConfig {
  const { report } = ctx
  const raw = withDefaults(JwtSchema, input) as Defaulted<RawJwt, 'clockTolerance' | 'forwardAuthorization'>
  const sources = (['secret', 'publicKey', 'jwksUrl'] as const).filter(k => raw[k] !== undefined)
  // A secret may sit beside one asymmetric source (publicKey or jwksUrl): the token's alg
  // picks the key, HS* only ever the secret, everything else only the public keys, so the
  // two can never be confused. Two asymmetric sources would make the choice ambiguous.
  if (sources.length === 0) report(path, 'needs a key source: secret, publicKey or jwksUrl')
  if (raw.publicKey !== undefined && raw.jwksUrl !== undefined) {
    report(path, 'takes publicKey or jwksUrl, not both (a secret may be added for HS* tokens)')
  }
  if (raw.secret === '') report(joinPath(path, 'secret'), 'is empty (is its environment variable set?)')
  if (raw.jwksUrl !== undefined) {
    const problem = httpUrlProblem(raw.jwksUrl)
    if (problem !== null) report(joinPath(path, 'jwksUrl'), problem)
  }
  const key = raw.publicKey === undefined ? null : publicKey(raw.publicKey, joinPath(path, 'publicKey'), report, ctx.baseDir)
  const hasSecret = raw.secret !== undefined
  const hasAsymmetric = raw.publicKey !== undefined || raw.jwksUrl !== undefined
  const algorithms = raw.algorithms ?? [
    ...(hasSecret ? ['HS256'] : []),
    ...(hasAsymmetric ? key?.algorithms.slice(0, 1) ?? ['RS256'] : []),
  ]
  // What is wrong with one allowed algorithm, given the configured key sources.
  const algorithmProblem = (alg: string): string | null => {
    if (alg.toLowerCase() === 'none') return '"none" is never accepted (unsigned tokens)'
    if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) return `must be one of: ${JWT_ALGORITHMS.join(', ')}`
    // Without a key source, auth.jwt itself is the problem (reported above).
    if (sources.length === 0) return null
    if (alg.startsWith('HS') && !hasSecret) return `${alg} needs secret: a public key is never used as an HMAC secret`
    if (!alg.startsWith('HS') && !hasAsymmetric) return `${alg} needs publicKey or jwksUrl (secret is for HS256, HS384, HS512)`
    if (key !== null && !alg.startsWith('HS') && !key.algorithms.includes(alg)) return `${alg} does not match the type of publicKey`
    return null
  }
  algorithms.forEach((alg, i) => {
    const problem = algorithmProblem(alg)
    if (problem !== null) report(joinPath(joinPath(path, 'algorithms'), i), problem)
  })
  const out: JwtConfig = {
    algorithms,
    clockToleranceMs: durationMs(raw.clockTolerance, joinPath(path, 'clockTolerance'), report, false),
    forwardAuthorization: raw.forwardAuthorization,
  }
  if (raw.secret !== undefined) out.secret = raw.secret
  if (key !== null) out.publicKey = key.pem
  if (raw.jwksUrl !== undefined) out.jwksUrl = raw.jwksUrl
  if (raw.issuer !== undefined) out.issuer = raw.issuer
  if (raw.audience !== undefined) out.audience = raw.audience
  return out
}
