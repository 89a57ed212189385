import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { Agent, request } from 'undici'
import type { JwtConfig } from './schema.ts'
import { algorithmsForKey, allowedFor } from './key-algorithms.ts'
import type { AsymmetricKeys } from './keys.ts'

// Keys from a JWKS URL (SPEC: fetched at start, failure logged and not fatal; refreshed
// every 10 min; an unknown kid re-fetches at most once per 30 s counted from the last
// fetch of any kind). The set is gateway-lifetime state: a config reload does not refetch.
export interface JwksOptions {
  // One fetch, connect to last body byte.
  fetchTimeoutMs: number
  refreshIntervalMs: number
  unknownKidCooldownMs: number
  // How long a request with an unknown kid waits for a fetch in flight before its 401.
  // Shorter than the fetch timeout: a slow JWKS must not make callers hang.
  unknownKidWaitMs: number
  maxBytes: number
  maxKeys: number
}

export const DEFAULT_JWKS_OPTIONS: JwksOptions = {
  fetchTimeoutMs: 1500,
  refreshIntervalMs: 10 * 60_000,
  unknownKidCooldownMs: 30_000,
  unknownKidWaitMs: 500,
  maxBytes: 256 * 1024,
  maxKeys: 100,
}

interface JwksKey {
  kid: string | undefined
  algorithms: string[]
  // SPKI PEM: the string @fastify/jwt keys its verifier (and that verifier's cache) by.
  pem: string
}

// Private members are dropped: only the public half is ever used, whatever was published.
const PRIVATE_JWK_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'])

function publicKeyFromJwk (jwk: Record<string, unknown>): KeyObject | null {
  // A JWKS key is never an HMAC secret (SPEC): `oct` keys are ignored, as is any key not
  // meant for signatures.
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return null
  if (jwk.use !== undefined && jwk.use !== 'sig') return null
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return null
  const pub: Record<string, unknown> = {}
  for (const name in jwk) if (!PRIVATE_JWK_MEMBERS.has(name)) pub[name] = jwk[name]
  try {
    return createPublicKey({ key: pub as JsonWebKey, format: 'jwk' })
  } catch {
    return null
  }
}

async function readCapped (body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  // Leaving the loop by throwing closes the stream (the iterator's return()).
  for await (const chunk of body) {
    size += chunk.length
    if (size > max) throw new Error(`response larger than ${max} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export function createJwksKeySource (url: string, jwt: JwtConfig, logger: FastifyBaseLogger,
  opts: JwksOptions): AsymmetricKeys {
  // Logged without query or credentials.
  const where = (() => {
    const u = new URL(url)
    return u.origin + u.pathname
  })()
  const agent = new Agent({ connect: { timeout: opts.fetchTimeoutMs }, keepAliveTimeout: 4000, connections: 2 })
  const closing = new AbortController()

  let byKid = new Map<string, JwksKey[]>()
  let all: JwksKey[] = []
  let revision = 0
  let lastFetchAt = -Infinity
  let inflight: Promise<void> | null = null
  // The fetch in flight, or the wait budget, whichever ends first: shared by every
  // request waiting on this fetch, so a flood of forged kids costs one timer.
  let inflightWait: Promise<unknown> | null = null
  let closed = false

  function keyFromJwk (raw: unknown): JwksKey | null {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null
    const jwk = raw as Record<string, unknown>
    const key = publicKeyFromJwk(jwk)
    if (key === null) return null
    let algorithms = allowedFor(jwt.algorithms, algorithmsForKey(key))
    // A key that names its algorithm verifies only that one.
    if (typeof jwk.alg === 'string') algorithms = algorithms.filter((alg) => alg === jwk.alg)
    if (algorithms.length === 0) return null
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined
    return { kid, algorithms, pem: key.export({ type: 'spki', format: 'pem' }).toString() }
  }

  function install (text: string): number {
    const doc = JSON.parse(text) as unknown
    const keys = doc !== null && typeof doc === 'object' ? (doc as { keys?: unknown }).keys : undefined
    // Not a JWK set (an HTML error page, a proxy's answer): keep what we have.
    if (!Array.isArray(keys)) throw new Error('response is not a JWK set (no "keys" array)')
    const nextAll: JwksKey[] = []
    const nextByKid = new Map<string, JwksKey[]>()
    for (const raw of keys.slice(0, opts.maxKeys)) {
      const key = keyFromJwk(raw)
      if (key === null) continue
      nextAll.push(key)
      if (key.kid !== undefined) {
        const list = nextByKid.get(key.kid)
        if (list === undefined) nextByKid.set(key.kid, [key])
        else list.push(key)
      }
    }
    // A valid set replaces the old one entirely: a key removed from the JWKS (revoked,
    // rotated out) stops verifying at the next fetch.
    all = nextAll
    byKid = nextByKid
    revision++
    return keys.length - nextAll.length
  }

  async function fetchKeys (reason: string): Promise<void> {
    try {
      const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(opts.fetchTimeoutMs)])
      const res = await request(url, {
        dispatcher: agent,
        signal,
        headers: { accept: 'application/jwk-set+json, application/json' },
        headersTimeout: opts.fetchTimeoutMs,
        bodyTimeout: opts.fetchTimeoutMs,
      })
      // dump() discards a bounded amount then closes; destroy() would emit an error nobody listens to.
      if (res.statusCode !== 200) {
        await res.body.dump()
        throw new Error(`HTTP ${res.statusCode}`)
      }
      const declared = Number(res.headers['content-length'])
      if (declared > opts.maxBytes) {
        await res.body.dump()
        throw new Error(`response larger than ${opts.maxBytes} bytes`)
      }
      const skipped = install(await readCapped(res.body, opts.maxBytes))
      logger.info({ jwks: where, reason, keys: all.length, skipped }, 'JWKS keys loaded')
      if (all.length === 0) logger.warn({ jwks: where, algorithms: jwt.algorithms }, 'JWKS holds no key usable with auth.jwt.algorithms: every token will be refused')
    } catch (err) {
      if (closed) return
      logger.warn({ jwks: where, reason, error: (err as Error).message, keys: all.length }, 'JWKS fetch failed; cached keys stay in use')
    }
  }

  function startFetch (reason: string): void {
    lastFetchAt = performance.now()
    const done = fetchKeys(reason).finally(() => {
      inflight = null
      inflightWait = null
    })
    inflight = done
    inflightWait = Promise.race([done, sleep(opts.unknownKidWaitMs, undefined, { ref: false })])
  }

  // Undefined: the key is not (or not unambiguously) in the set, a refresh may bring it.
  // Null: the kid is known, and none of its keys may verify this alg.
  function find (alg: string, kid: string | undefined): string | null | undefined {
    if (kid !== undefined) {
      const list = byKid.get(kid)
      if (list === undefined) return undefined
      // Same kid on keys of different types: the one for the token's alg.
      for (let i = 0; i < list.length; i++) if (list[i]!.algorithms.includes(alg)) return list[i]!.pem
      return null
    }
    // No kid: only an unambiguous match (exactly one key for this alg) is used.
    let found: JwksKey | null = null
    for (const k of all) {
      if (!k.algorithms.includes(alg)) continue
      if (found !== null) return undefined
      found = k
    }
    return found?.pem
  }

  // An unknown key: join the fetch in flight, or start one when the cool-down since the
  // last fetch is over. Null = refuse now.
  function awaitRefresh (): Promise<unknown> | null {
    if (closed) return null
    if (inflight === null) {
      if (performance.now() - lastFetchAt < opts.unknownKidCooldownMs) return null
      startFetch('unknown kid')
    }
    return inflightWait
  }

  startFetch('start')
  const ready = inflight!
  const timer = setInterval(() => {
    if (inflight === null) startFetch('refresh')
  }, opts.refreshIntervalMs)
  timer.unref()

  return {
    ready,
    revision: () => revision,
    keyFor (alg, kid) {
      const pem = find(alg, kid)
      if (pem !== undefined) return pem
      const wait = awaitRefresh()
      return wait === null ? null : wait.then(() => find(alg, kid) ?? null)
    },
    async close () {
      closed = true
      clearInterval(timer)
      closing.abort()
      if (inflight !== null) await inflight
      await agent.close()
    },
  }
}
