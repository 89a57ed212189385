// Accept-Encoding negotiation (RFC 9110 §12.5.3) among the encodings the gateway offers,
// in its order of preference. Returns the encoding to use, or null for none.

// A handful of distinct Accept-Encoding values make up nearly all traffic (one per
// browser family): their answers are remembered, within a bound.
const MEMO_LIMIT = 256

export function createNegotiator (offered: readonly string[]): (header: string | undefined) => string | null {
  const memo = new Map<string, string | null>()
  return function negotiate (header) {
    if (header === undefined || header === '') return null
    const known = memo.get(header)
    if (known !== undefined) return known
    const choice = choose(header, offered)
    if (memo.size >= MEMO_LIMIT) memo.clear()
    memo.set(header, choice)
    return choice
  }
}

// The offered encoding with the highest q-value; ties go to the gateway's preference.
// `*` stands for every encoding the header does not name; q=0 refuses.
export function choose (header: string, offered: readonly string[]): string | null {
  const q = new Map<string, number>()
  let wildcard = 0
  for (const part of header.split(',')) {
    const semi = part.indexOf(';')
    let token = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase()
    if (token === '') continue
    if (token === 'x-gzip') token = 'gzip'
    let weight = 1
    if (semi !== -1) {
      const m = /(?:^|;)\s*q\s*=\s*([0-9.]+)/i.exec(part.slice(semi))
      if (m !== null) {
        weight = Number(m[1])
        if (!Number.isFinite(weight) || weight < 0) weight = 0
        if (weight > 1) weight = 1
      }
    }
    if (token === '*') wildcard = weight
    else q.set(token, Math.max(q.get(token) ?? 0, weight))
  }
  let best: string | null = null
  let bestQ = 0
  for (const encoding of offered) {
    const weight = q.get(encoding) ?? wildcard
    if (weight > bestQ) {
      best = encoding
      bestQ = weight
    }
  }
  return best
}
