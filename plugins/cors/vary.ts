import type { FastifyReply } from 'fastify'

// Adds one field name to the response's Vary header unless it is there already (or the
// response varies on everything, `*`). Used by CORS (Origin) and compression
// (Accept-Encoding), which both run after the upstream's own Vary has been copied.
export function appendVary (reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary')
  if (current === undefined) {
    reply.header('vary', field)
    return
  }
  const value = Array.isArray(current) ? current.join(', ') : String(current)
  if (varyIncludes(value, field)) return
  reply.header('vary', value === '' ? field : `${value}, ${field}`)
}

// True when `value` (a Vary header) names `field` or is `*`; case-insensitive.
export function varyIncludes (value: string, field: string): boolean {
  const lower = field.toLowerCase()
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase()
    if (name === '*' || name === lower) return true
  }
  return false
}
