import type { FastifyReply } from 'fastify'

// Header values that only depend on the policy, built once per generation.
export interface PolicyHeaders {
  limit: string // X-RateLimit-Limit
  policy: string // RateLimit-Policy: "<service>";q=<max>;w=<window s>
  ratePrefix: string // RateLimit: "<service>";r=  (remaining and reset follow per request)
}

// Service names are [a-z0-9-]+, so they are valid structured-field strings as they are.
export function policyHeaders (service: string, max: number, windowMs: number): PolicyHeaders {
  return {
    limit: String(max),
    policy: `"${service}";q=${max};w=${windowSeconds(windowMs)}`,
    ratePrefix: `"${service}";r=`,
  }
}

// Structured-field integers: a sub-second window still advertises 1 s.
export function windowSeconds (windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / 1000))
}

// Seconds until the window resets, as X-RateLimit-Reset, `t=` and Retry-After all say.
export function resetSeconds (ttlMs: number): number {
  return ttlMs > 0 ? Math.ceil(ttlMs / 1000) : 0
}

export function setRateLimitHeaders (reply: FastifyReply, h: PolicyHeaders, remaining: number, reset: number) {
  const r = String(remaining)
  const t = String(reset)
  reply.header('x-ratelimit-limit', h.limit)
  reply.header('x-ratelimit-remaining', r)
  reply.header('x-ratelimit-reset', t)
  reply.header('ratelimit-policy', h.policy)
  reply.header('ratelimit', h.ratePrefix + r + ';t=' + t)
}
