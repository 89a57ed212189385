import { requestHeaderValue } from './entry.ts'

// A conditional GET or HEAD answered from a stored response (RFC 9111 4.3.2, RFC 9110
// 13.1): when the client's copy is still the stored one, 304 without the body.
// If-None-Match decides when present (If-Modified-Since is then ignored); entity tags
// compare weakly, as GET and HEAD allow; an unparsable date is no precondition at all.

type Headers = Record<string, string | string[] | undefined>

// Entity tags are quoted strings that may hold commas: taken whole, never split on ','.
const ENTITY_TAG = /(?:W\/)?"[^"]*"/g

function opaque (tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

export function notModified (request: Headers, stored: Record<string, string | string[]>): boolean {
  const ifNoneMatch = request['if-none-match']
  if (ifNoneMatch !== undefined) {
    const etag = stored.etag
    if (typeof etag !== 'string') return false
    const list = requestHeaderValue(ifNoneMatch).trim()
    if (list === '*') return true
    const own = opaque(etag)
    for (const tag of list.match(ENTITY_TAG) ?? []) {
      if (opaque(tag) === own) return true
    }
    return false
  }
  const since = request['if-modified-since']
  const lastModified = stored['last-modified']
  if (typeof since !== 'string' || typeof lastModified !== 'string') return false
  const sinceMs = Date.parse(since)
  const modifiedMs = Date.parse(lastModified)
  return !Number.isNaN(sinceMs) && !Number.isNaN(modifiedMs) && modifiedMs <= sinceMs
}

// What a 304 carries of the stored response (RFC 9110 15.4.5): what a 200 would have
// said about caching and identity, no content headers.
export const NOT_MODIFIED_HEADERS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'last-modified', 'vary']
