// The request target an upstream gets for a public one the router matched to a service
// (SPEC "Routing"): the prefix replaced by rewritePrefix (or stripped; the bare prefix
// becomes rewritePrefix or "/"), everything after it as it came: escapes such as %2F
// and %5C untouched, the query byte for byte. `url` is already normalised
// (normalize-path.ts), so it holds no dot segment, malformed escape or %00.
// http-proxy's own mapping is not used: it decodes the path and refuses any `..` in the
// result (so `/..%2f` inside one segment was a 400), and it sent the bare prefix with a
// query (`/api/users?x=1`) upstream as the client's whole path.
export function upstreamTarget (url: string, prefix: string, rewritePrefix: string): string {
  const rest = url.slice(rawPrefixLength(url, prefix)) // "", "/..." or "?..."
  if (rewritePrefix !== '') return rewritePrefix + rest
  return rest === '' || rest.charCodeAt(0) !== 47 /* / */ ? '/' + rest : rest
}

// How many characters of `url` the prefix covers. The router matched it on the path
// decoded by decodeURI, so a prefix character may have come as an escape
// (`/api/%75sers` is `/api/users`): each one is then three characters long. The catch-all
// prefix "/" covers nothing: what follows it keeps its leading slash.
function rawPrefixLength (url: string, prefix: string): number {
  if (prefix === '/') return 0
  if (url.startsWith(prefix)) return prefix.length
  let i = 0
  for (let j = 0; j < prefix.length; j++) i += url.charCodeAt(i) === 37 /* % */ ? 3 : 1
  return i
}

// What @fastify/http-proxy's and reply-from's traversal guards refuse (GHSA-2q7r): a path
// that, decoded once with `\` as `/`, holds a segment starting with `..` (`..%2f`,
// `%5c..%5c`). Plain requests meet those guards in http-proxy's handler; a WebSocket
// upgrade is answered before it, so it checks here, by the same rule.
export function decodesToDotSegment (target: string): boolean {
  const q = target.indexOf('?')
  let decoded: string
  try {
    decoded = decodeURIComponent(q === -1 ? target : target.slice(0, q))
  } catch {
    return true
  }
  decoded = decoded.replaceAll('\\', '/')
  return decoded === '..' || decoded.includes('/..') || decoded.includes('../')
}
