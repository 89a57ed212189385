// The headers an absolute-form request takes to its destination, and those of the answer
// it brings back. Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection: they and
// every name that Connection or Proxy-Connection lists stay here. Every Proxy-* header is
// ours (Proxy-Authorization is the caller's credential). And the destination never learns
// who called (SPEC "Anonymity"): nothing that names the caller, its address or its trace
// leaves, whether a client sent it or not.

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  // The egress listener answers `Expect: 100-continue` itself (Node's server does), so the
  // body is already coming; the destination is not asked again.
  'expect',
])

const IDENTIFYING = new Set([
  'via', 'forwarded', 'x-real-ip', 'x-request-id', 'traceparent', 'tracestate',
])
const IDENTIFYING_PREFIXES = ['x-forwarded-', 'x-consumer-', 'proxy-']

function listed (value: string | string[] | undefined, into: Set<string>) {
  if (value === undefined) return
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const name of v.split(',')) {
      const n = name.trim().toLowerCase()
      if (n !== '') into.add(n)
    }
  }
}

function dropped (name: string, named: ReadonlySet<string>, extra: ReadonlySet<string>): boolean {
  if (HOP_BY_HOP.has(name) || IDENTIFYING.has(name) || named.has(name) || extra.has(name)) return true
  for (const p of IDENTIFYING_PREFIXES) if (name.startsWith(p)) return true
  return false
}

// From Node's rawHeaders (names as sent, repeats kept): the flat list to send upstream,
// the destination's Host header first.
export function upstreamRequestHeaders (raw: string[], hostHeader: string, removeHeaders: ReadonlySet<string>): string[] {
  const named = new Set<string>()
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase()
    if (n === 'connection' || n === 'proxy-connection') listed(raw[i + 1], named)
  }
  const out = ['Host', hostHeader]
  for (let i = 0; i < raw.length; i += 2) {
    if (!dropped(raw[i]!.toLowerCase(), named, removeHeaders)) out.push(raw[i]!, raw[i + 1]!)
  }
  return out
}

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

// The destination's answer as it came, minus its own connection's hop-by-hop headers
// (Node frames the body toward the client itself).
export function clientResponseHeaders (raw: string[]): string[] {
  const named = new Set<string>()
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') listed(raw[i + 1], named)
  }
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase()
    if (!RESPONSE_HOP_BY_HOP.has(n) && !named.has(n)) out.push(raw[i]!, raw[i + 1]!)
  }
  return out
}
