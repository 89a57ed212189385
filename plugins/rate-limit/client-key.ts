import { normalizeIP } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'

// One IPv6 client usually holds a whole /64: counting per address would let it mint
// 2^64 budgets by rotating (the IPv6 rotation advisory behind @fastify/rate-limit 11.2).
export const IPV6_SUBNET = 64

// The budget identity of an address: IPv4 as is, IPv6 as the start of its /64, an
// IPv4-mapped IPv6 address as the IPv4 address it carries.
export function ipBudgetKey (ip: string): string {
  if (ip.indexOf(':') === -1) return ip
  try {
    return normalizeIP(ip, IPV6_SUBNET)
  } catch {
    // Not parseable as IPv6 (only possible for a trusted proxy's odd X-Forwarded-For
    // entry): still a stable identity for this client.
    return ip
  }
}

// `by: consumer` counts an authenticated caller by JWT `sub` (set by auth on
// request.gw.consumer) and an anonymous one by client IP; `by: ip` always by IP.
// request.ip is Fastify's trustProxy answer: the socket address, or the right-most
// X-Forwarded-For entry not in trustProxy when the peer is (SPEC "Rate limits").
export function clientId (request: FastifyRequest, byIp: boolean): string {
  if (!byIp) {
    const consumer = request.gw.consumer
    if (consumer !== null) return consumer
  }
  return ipBudgetKey(request.ip)
}
