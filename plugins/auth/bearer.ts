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
