import { promises as dns } from 'node:dns'
import net from 'node:net'
import { BadGateway, EgressPrivateAddress, UpstreamTimeout, type GatewayError } from '../errors/errors.ts'
import { canonicalHost, type Destination } from './destination.ts'
import type { AddressPolicy } from './addresses.ts'
import type { DestinationReads } from './destination-reads.ts'

// The name is resolved once and every address it gave is checked; the connection then
// goes to one of those checked addresses, never to the name again, so a resolver that
// answers differently the second time (DNS rebinding) is never asked a second time.

export interface LookupAddress {
  address: string
  family: number
}

// dns.lookup(name, { all: true }) shape; tests inject their own resolver.
export type EgressLookup = (hostname: string) => Promise<LookupAddress[]>

export const systemLookup: EgressLookup = (hostname) => dns.lookup(hostname, { all: true, verbatim: true })

export async function checkedAddresses (dest: Destination, policy: AddressPolicy, lookup: EgressLookup): Promise<string[] | GatewayError> {
  let addresses: string[]
  if (dest.ip !== 0) {
    addresses = [dest.host]
  } else {
    try {
      // Mapped IPv6 answers are checked (and dialled) as the IPv4 address they carry.
      addresses = (await lookup(dest.host)).map((a) => (a.family === 6 ? canonicalHost(`[${a.address}]`) : null) ?? a.address)
    } catch {
      return new BadGateway('The destination name does not resolve')
    }
    if (addresses.length === 0) return new BadGateway('The destination name does not resolve')
  }
  // One refused address refuses the name: a name with a public and a private record
  // could otherwise be dialled at the private one by a later attempt.
  for (const a of addresses) {
    if (!policy.permits(a)) return new EgressPrivateAddress('The destination is in a network egress does not reach')
  }
  return addresses
}

function connectOnce (address: string, port: number, deadline: number, reads: DestinationReads): Promise<net.Socket | GatewayError> {
  return new Promise((resolve) => {
    // Half-open: a destination that has said all it will still hears the rest of the client.
    const socket = net.connect({ host: address, port, noDelay: true, allowHalfOpen: true, onread: reads.onread })
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(new UpstreamTimeout('The destination did not accept the connection in time'))
    }, Math.max(0, deadline - Date.now()))
    socket.once('connect', () => {
      // Nothing is read until the tunnel attaches a client (DestinationReads.attach).
      socket.pause()
      clearTimeout(timer)
      socket.removeAllListeners('error')
      resolve(socket)
    })
    socket.once('error', () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(new BadGateway('The destination refused or reset the connection'))
    })
  })
}

// A socket to the first checked address that accepts within `connectMs` (the next one is
// tried when one refuses), or the answer to give.
export async function connectChecked (addresses: string[], port: number, connectMs: number,
  aborted: () => boolean, reads: DestinationReads): Promise<net.Socket | GatewayError> {
  const deadline = Date.now() + connectMs
  let last: GatewayError = new BadGateway('The destination refused or reset the connection')
  for (const address of addresses) {
    const result = await connectOnce(address, port, deadline, reads)
    if (result instanceof net.Socket) {
      if (aborted()) {
        result.destroy()
        return last
      }
      return result
    }
    last = result
    if (result.statusCode === 504 || aborted()) break
  }
  return last
}
