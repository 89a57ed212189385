import { BlockList, isIPv4 } from 'node:net'

// The networks `privateNetworks: deny` refuses (SPEC): loopback, RFC 1918, link-local,
// CGNAT, ULA, unspecified, multicast, and the IPv6 forms that carry an IPv4 address
// (mapped ::ffff:0:0/96, the old compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16),
// whose embedded IPv4 address is checked as itself. Also the other special-purpose
// blocks a public service never sits in (0/8, "this network"; 192.0.0/24; 240/4;
// broadcast), so nothing about the host's own networks is reachable by spelling.
const IPV4_REFUSED: Array<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
]
const IPV6_REFUSED: Array<[string, number]> = [
  ['::', 128],
  ['::1', 128],
  ['fe80::', 10],
  ['fc00::', 7],
  ['ff00::', 8],
]

function blockList (v4: Array<[string, number]>, v6: Array<[string, number]>): BlockList {
  const list = new BlockList()
  for (const [net, prefix] of v4) list.addSubnet(net, prefix, 'ipv4')
  for (const [net, prefix] of v6) list.addSubnet(net, prefix, 'ipv6')
  return list
}

const REFUSED = blockList(IPV4_REFUSED, IPV6_REFUSED)

// The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or null.
export function embeddedIpv4 (v6: string): string | null {
  const words = expand(v6)
  if (words === null) return null
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  const zero = (from: number, to: number) => words.slice(from, to).every((w) => w === 0)
  if (zero(0, 5) && (words[5] === 0xffff || words[5] === 0)) return v4(words[6]!, words[7]!)
  if (words[0] === 0x64 && words[1] === 0xff9b && zero(2, 6)) return v4(words[6]!, words[7]!)
  if (words[0] === 0x2002) return v4(words[1]!, words[2]!)
  return null
}

// Eight 16-bit words of an IPv6 address (with a trailing dotted IPv4 allowed), or null.
function expand (v6: string): number[] | null {
  let s = v6.toLowerCase()
  const zone = s.indexOf('%')
  if (zone !== -1) s = s.slice(0, zone)
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s)
  if (dotted !== null) {
    const b = dotted.slice(1).map(Number)
    s = s.slice(0, dotted.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return null
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length === 1 || halves[1] === '' ? [] : halves[1]!.split(':')
  const missing = 8 - head.length - tail.length
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null
  const words = [...head, ...Array<string>(missing).fill('0'), ...tail].map((w) => parseInt(w, 16))
  return words.some((w) => Number.isNaN(w) || w < 0 || w > 0xffff) ? null : words
}

export interface AddressPolicy {
  // Whether a resolved or literal address may be connected to.
  permits: (address: string) => boolean
}

export function compileAddressPolicy (privateNetworks: 'deny' | 'allow', allowNetworks: string[]): AddressPolicy {
  if (privateNetworks === 'allow') return { permits: () => true }
  const exempt = new BlockList()
  for (const cidr of allowNetworks) {
    const slash = cidr.lastIndexOf('/')
    const net = cidr.slice(0, slash)
    exempt.addSubnet(net, Number(cidr.slice(slash + 1)), isIPv4(net) ? 'ipv4' : 'ipv6')
  }
  function refused (address: string, family: 'ipv4' | 'ipv6'): boolean {
    if (exempt.check(address, family)) return false
    return REFUSED.check(address, family)
  }
  return {
    permits (address) {
      if (isIPv4(address)) return !refused(address, 'ipv4')
      const carried = embeddedIpv4(address)
      if (carried !== null && refused(carried, 'ipv4')) return false
      return !refused(address, 'ipv6')
    },
  }
}
