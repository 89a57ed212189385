// Reading the token: only `Authorization: Bearer <token>` (RFC 6750 2.1). Query strings
// and bodies are never looked at: URLs end up in logs, proxies and browser history.

// Past this size a header cannot be a token we would accept; it is refused before any
// decoding work (the HTTP server's own limit is the whole 16 KiB header block).
export const DEFAULT_MAX_TOKEN_BYTES = 8192

const BEARER = 'bearer'

// The token, or null when the request carries no bearer credentials at all (no header,
// or another scheme such as Basic meant for the upstream). '' = "Bearer" with no token.
export function bearerToken (header: string | undefined): string | null {
  if (header === undefined || header.length < 6) return null
  // Auth schemes are case-insensitive (RFC 9110 11.1). Letter by letter: `| 0x20` maps
  // only the ASCII upper-case letter onto its lower case, and no copy is made.
  for (let i = 0; i < 6; i++) {
    if ((header.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return null
  }
  if (header.length === 6) return ''
  const sep = header.charCodeAt(6)
  if (sep !== 32 && sep !== 9) return null // "Bearerx ..." is another scheme
  return header.slice(7).trim()
}

export interface TokenHeader {
  alg: string | undefined
  kid: string | undefined
}

// The JOSE header only (alg, kid): what a JWKS lookup needs before verification.
// Null when it is not a JSON object; the verifier reports the details.
export type HeaderReader = (token: string) => TokenHeader | null

// JWTs signed by one key share their header segment, so a handful of memo entries serve
// every request; the memo is emptied when forged headers fill it.
const MAX_HEADER_MEMO = 64

export function createHeaderReader (): HeaderReader {
  const memo = new Map<string, TokenHeader | null>()
  return function tokenHeader (token) {
    const dot = token.indexOf('.')
    if (dot <= 0) return null
    const segment = token.slice(0, dot)
    const known = memo.get(segment)
    if (known !== undefined) return known
    let parsed: TokenHeader | null = null
    try {
      const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const { alg, kid } = value as Record<string, unknown>
        parsed = { alg: typeof alg === 'string' ? alg : undefined, kid: typeof kid === 'string' ? kid : undefined }
      }
    } catch {
      parsed = null
    }
    if (memo.size >= MAX_HEADER_MEMO) memo.clear()
    memo.set(segment, parsed)
    return parsed
  }
}
