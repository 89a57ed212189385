// The header names a Connection header lists (RFC 9110 7.6.1), lowercased: hop-by-hop for
// this message, never forwarded.
export function connectionListed (value: string): Set<string> {
  const names = new Set<string>()
  for (const name of value.split(',')) {
    const n = name.trim().toLowerCase()
    if (n !== '') names.add(n)
  }
  return names
}
