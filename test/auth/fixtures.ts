// Shared by the auth tests: keys, token builders, a real JWKS server and a gateway built
// with internal auth options (shorter JWKS cool-down and timeouts).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { Algorithm } from 'fast-jwt'
import type { BuildOptions } from '../../apps/gateway/app.ts'
import { createGateway, type TestGateway } from '../helpers/gateway.ts'
import { metricValue } from '../helpers/metrics.ts'
import { bearer, sign } from '../helpers/tokens.ts'

export { bearer }

export const SECRET = 'auth-tests-secret-0123456789abcdef'
export const ISSUER = 'gatehouse-test'
export const AUDIENCE = 'gatehouse'

export interface KeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
  privatePem: string
  publicPem: string
}

export function rsaKeyPair (): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return pair(privateKey, publicKey)
}

export function ecKeyPair (): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return pair(privateKey, publicKey)
}

function pair (privateKey: KeyObject, publicKey: KeyObject): KeyPair {
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

export function jwkOf (keys: KeyPair, kid: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...keys.publicKey.export({ format: 'jwk' }), kid, use: 'sig', ...extra }
}

const nowS = () => Math.floor(Date.now() / 1000)

// Valid by default: sub alice, iss/aud of the test config, one hour left.
export function claims (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: 'alice', iss: ISSUER, aud: AUDIENCE, iat: nowS(), exp: nowS() + 3600, ...extra }
}

// Exactly the claims given (claims() carries its own exp; without one the token has none).
export function signHs (payload: Record<string, unknown> = claims(), key: string = SECRET, algorithm: Algorithm = 'HS256'): string {
  return sign(payload, { key, algorithm, expiresIn: 0 })
}

export function signWith (keys: KeyPair, payload: Record<string, unknown> = claims(), opts: { algorithm?: Algorithm, kid?: string } = {}): string {
  return sign(payload, { key: keys.privatePem, algorithm: opts.algorithm ?? 'RS256', kid: opts.kid, expiresIn: 0 })
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

// Hand-built tokens for what no honest signer produces.
export function unsignedToken (payload: Record<string, unknown> = claims(), alg = 'none'): string {
  return `${b64({ alg, typ: 'JWT' })}.${b64(payload)}.`
}

export function hmacToken (header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
}

export function hsAuth (extra: Record<string, unknown> = {}) {
  return { auth: { jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], clockTolerance: '1s', ...extra } } }
}

export interface JwksServer {
  url: string
  // Requests received for the JWK set (every fetch the gateway made).
  hits: number
  keys: Array<Record<string, unknown>>
  // ok: serve `keys`; hang: accept and never answer; error: 500.
  mode: 'ok' | 'hang' | 'error'
  // Resolves at the next request the server receives.
  nextHit: () => Promise<void>
}

// A real JWKS endpoint on 127.0.0.1:0.
export async function createJwksServer (t: TestContext, keys: Array<Record<string, unknown>>): Promise<JwksServer> {
  const waiters: Array<() => void> = []
  const state: JwksServer = {
    url: '',
    hits: 0,
    keys,
    mode: 'ok',
    nextHit: () => new Promise((resolve) => waiters.push(resolve)),
  }
  const server = http.createServer((req, res) => {
    state.hits++
    for (const w of waiters.splice(0)) w()
    if (state.mode === 'hang') return
    if (state.mode === 'error') {
      res.writeHead(500).end('down')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  return state
}

// helpers/gateway.ts createGateway with BuildOptions (auth tuning) for JWKS tests.
export function createAuthGateway (t: TestContext, raw: Record<string, unknown>,
  opts: { listen?: boolean, build?: Omit<BuildOptions, 'logger'> } = {}): Promise<TestGateway> {
  return createGateway(t, raw, opts)
}

// The value of gatehouse_auth_failures_total for one service and reason.
export async function authFailures (gw: TestGateway, service: string, reason: string): Promise<number> {
  return (await metricValue(gw, 'gatehouse_auth_failures_total', { service, reason })) ?? 0
}
