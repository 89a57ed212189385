import type { FastifyReply } from 'fastify'

// @fastify/rate-limit writes X-RateLimit-Limit, -Remaining and -Reset on every counted
// response and Retry-After on a 429 (its default header names are SPEC's). SPEC also asks
// for the IETF structured pair, which the plugin does not write (its enableDraftSpec is
// the older RateLimit-Limit/-Remaining/-Reset draft): it is added here, from the numbers
// the plugin has just written.

// Header values that only depend on the policy, built once per generation.
export interface PolicyHeaders {
  policy: string // RateLimit-Policy: "<service>";q=<max>;w=<window s>
  ratePrefix: string // RateLimit: "<service>";r=  (remaining and reset follow per request)
}

// Service names are [a-z0-9-]+, so they are valid structured-field strings as they are.
export function policyHeaders (service: string, max: number, windowMs: number): PolicyHeaders {
  return {
    policy: `"${service}";q=${max};w=${windowSeconds(windowMs)}`,
    ratePrefix: `"${service}";r=`,
  }
}

// Structured-field integers: a sub-second window still advertises 1 s.
export function windowSeconds (windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / 1000))
}

// Seconds until the window resets, as the plugin computes X-RateLimit-Reset and Retry-After.
export function resetSeconds (ttlMs: number): number {
  return ttlMs > 0 ? Math.ceil(ttlMs / 1000) : 0
}

// After the plugin counted the request (allowed or 429): `r=` and `t=` repeat its
// X-RateLimit-Remaining and X-RateLimit-Reset.
export function setPolicyHeaders (reply: FastifyReply, h: PolicyHeaders) {
  reply.header('ratelimit-policy', h.policy)
  reply.header('ratelimit', `${h.ratePrefix}${reply.getHeader('x-ratelimit-remaining')};t=${reply.getHeader('x-ratelimit-reset')}`)
}
