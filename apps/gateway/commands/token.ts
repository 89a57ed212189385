import { createSigner, type Algorithm } from 'fast-jwt'
import { formatProblem, loadConfig, parseDuration } from '../config/index.ts'
import type { JwtConfig } from '../config/types.ts'

// `gatehouse token --sub S [--scope "a b"] [--ttl 1h] [--config FILE]`: a dev token signed
// with the configured HS secret, printed alone on stdout so `$(gatehouse token ...)` works.
// Exit 0 = printed, 1 = no usable config/secret, 2 = bad command-line use.

export interface TokenArgs {
  config: string | null // absolute path (cli.ts already applied GATEHOUSE_CONFIG)
  sub: string
  scope?: string
  ttl?: string
}

export interface TokenIo {
  stdout: { write: (s: string) => unknown }
  stderr: { write: (s: string) => unknown }
  env: NodeJS.ProcessEnv
  now: () => number // ms, for tests
}

export const DEFAULT_TOKEN_TTL = '1h'

// The claims SPEC lists: sub, scope, iat, exp, and iss/aud when the config sets them.
export function mintToken (jwt: JwtConfig & { secret: string }, claims: { sub: string, scope: string, ttlMs: number, nowMs: number }): string {
  // The config only accepts HS algorithms next to a secret; the first one signs.
  const algorithm = (jwt.algorithms.find((a) => a.startsWith('HS')) ?? 'HS256') as Algorithm
  const iat = Math.floor(claims.nowMs / 1000)
  const sign = createSigner({ key: jwt.secret, algorithm })
  return sign({
    sub: claims.sub,
    scope: claims.scope,
    iat,
    exp: iat + Math.max(1, Math.round(claims.ttlMs / 1000)),
    ...(jwt.issuer !== undefined ? { iss: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { aud: jwt.audience } : {}),
  })
}

export async function runToken (args: TokenArgs,
  io: TokenIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, now: Date.now }): Promise<number> {
  if (args.config === null || args.config === '') {
    io.stderr.write('gatehouse token: no config file: pass --config FILE or set GATEHOUSE_CONFIG\n')
    return 2
  }
  let ttlMs: number
  try {
    ttlMs = parseDuration(args.ttl ?? DEFAULT_TOKEN_TTL)
  } catch (err) {
    io.stderr.write(`gatehouse token: --ttl ${(err as Error).message}\n`)
    return 2
  }
  if (ttlMs < 1000) {
    io.stderr.write('gatehouse token: --ttl must be at least 1s\n')
    return 2
  }
  const { config, problems } = await loadConfig(args.config, io.env)
  if (config === null) {
    io.stderr.write('gatehouse token: the config is invalid, no token minted:\n')
    for (const p of problems) io.stderr.write(formatProblem(p) + '\n')
    return 1
  }
  const jwt = config.auth.jwt
  if (jwt === null || jwt.secret === undefined) {
    const source = jwt === null ? 'auth.jwt is not configured' : `auth.jwt uses ${jwt.publicKey !== undefined ? 'publicKey' : 'jwksUrl'}, which can only verify tokens`
    io.stderr.write(`gatehouse token: ${source}; minting needs auth.jwt.secret (tokens for public keys come from their issuer)\n`)
    return 1
  }
  const token = mintToken({ ...jwt, secret: jwt.secret }, { sub: args.sub, scope: (args.scope ?? '').split(/\s+/).filter(Boolean).join(' '), ttlMs, nowMs: io.now() })
  io.stdout.write(token + '\n')
  return 0
}
