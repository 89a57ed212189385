// Content types worth compressing: text and structured text. Everything else (images,
// audio, video, archives, fonts in woff/woff2, octet-stream) is either compressed already
// or unknown, and is passed through untouched. text/event-stream is left alone too: a
// compressor holds bytes back until it has enough, which would stall a live stream.
const COMPRESSIBLE = /^(?:text\/(?!event-stream)|application\/(?:json|javascript|ecmascript|x-javascript|xml|x-www-form-urlencoded|graphql|wasm|[a-z0-9.+-]*\+(?:json|xml))(?:[;\s]|$)|image\/svg\+xml|image\/x-icon|image\/vnd\.microsoft\.icon|font\/(?:ttf|otf)|application\/vnd\.ms-fontobject)/i

export function isCompressibleType (contentType: unknown): boolean {
  return typeof contentType === 'string' && COMPRESSIBLE.test(contentType)
}

// No body to encode (1xx, 204, 304) or a body described by byte ranges of the identity
// encoding (206): never compressed.
export function statusAllowsBody (status: number): boolean {
  return status >= 200 && status !== 204 && status !== 206 && status !== 304
}

// `Cache-Control: no-transform` forbids intermediaries from changing the body's encoding.
export function forbidsTransform (cacheControl: unknown): boolean {
  if (cacheControl === undefined) return false
  const value = Array.isArray(cacheControl) ? cacheControl.join(',') : String(cacheControl)
  return /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(value)
}
