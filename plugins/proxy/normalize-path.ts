// Normalises the request target before routing, so the service a request is routed to
// is the one its path really names. Rules (SPEC.md, "Routing"):
// - `%2e` counts as a dot (WHATWG), so `%2e%2e` is a dot-dot segment;
// - dot segments are resolved; climbing above `/` is an error;
// - `%2F` / `%5C` stay encoded and travel upstream as they came (never separators);
// - a malformed escape, `%00`, a raw backslash or a non-origin-form target is an error.
// The query string is returned untouched.

export type NormalizedTarget = { url: string } | { error: string }

const HEX = /^[0-9a-fA-F]{2}$/

export function normalizeTarget (rawUrl: string): NormalizedTarget {
  const q = rawUrl.indexOf('?')
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  if (path.charCodeAt(0) !== 47 /* / */) return { error: 'Request target must be an absolute path' }
  // Fast path: nothing that can change meaning after normalisation.
  if (path.indexOf('%') === -1 && path.indexOf('/.') === -1 && path.indexOf('\\') === -1 &&
    path.indexOf(';') === -1) {
    return { url: rawUrl }
  }
  if (path.indexOf('\\') !== -1) return { error: 'Backslash is not allowed in the path' }

  const segments = path.slice(1).split('/')
  const out: string[] = []
  for (let i = 0; i < segments.length; i++) {
    let seg = segments[i]!
    if (seg.indexOf('%') !== -1) {
      const checked = checkEscapes(seg)
      if (checked !== null) return { error: checked }
      seg = seg.replace(/%2e/gi, '.')
    }
    // `..;x` is a dot-dot segment to servlet containers: never let it through as data.
    const semi = seg.indexOf(';')
    const bare = semi === -1 ? seg : seg.slice(0, semi)
    if (bare === '.' || bare === '..') {
      if (semi !== -1) return { error: 'Dot segments cannot carry parameters' }
      if (bare === '..') {
        if (out.length === 0) return { error: 'Path climbs above the root' }
        out.pop()
      }
      // A trailing dot segment keeps the directory form: `/a/b/..` -> `/a/`.
      if (i === segments.length - 1) out.push('')
      continue
    }
    out.push(seg)
  }
  const normalized = '/' + out.join('/')
  return { url: q === -1 ? normalized : normalized + rawUrl.slice(q) }
}

function checkEscapes (seg: string): string | null {
  for (let i = seg.indexOf('%'); i !== -1; i = seg.indexOf('%', i + 1)) {
    const hex = seg.slice(i + 1, i + 3)
    if (!HEX.test(hex)) return 'Malformed percent-encoding in the path'
    if (hex === '00') return 'Encoded NUL is not allowed in the path'
  }
  return null
}
