import http2 from 'node:http2'
import tls from 'node:tls'
import type { TestContext } from 'node:test'
import { Agent } from 'undici'
import type { CertFiles } from './certs.ts'

export interface H2Response {
  status: number
  headers: http2.IncomingHttpHeaders
  body: string
}

// One request over a real HTTP/2 session (node:http2), trusting `ca`.
export async function h2Request (url: string, ca: string, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Response & { alpn: string | false | undefined }> {
  const session = http2.connect(url, { ca })
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve())
      session.once('error', reject)
    })
    const stream = session.request(headers, { endStream: body === undefined })
    if (body !== undefined) stream.end(body)
    const [responseHeaders] = await Promise.all([
      new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.once('response', resolve)
        stream.once('error', reject)
      }),
    ])
    let text = ''
    stream.setEncoding('utf8')
    for await (const chunk of stream) text += chunk as string
    return { status: Number(responseHeaders[':status']), headers: responseHeaders, body: text, alpn: session.alpnProtocol }
  } finally {
    session.close()
  }
}

// An undici Agent that trusts the test CA (HTTP/1.1 only: undici offers no h2 by default).
export function trustingAgent (t: TestContext, ca: string | string[]): Agent {
  const agent = new Agent({ connect: { ca } })
  t.after(() => agent.close())
  return agent
}

// The leaf certificate a fresh TLS handshake with the gateway gets.
export async function servedFingerprint (url: string, ca: string[], alpn: string[] = ['http/1.1']): Promise<string> {
  const { hostname, port } = new URL(url)
  const socket = tls.connect({ host: hostname, port: Number(port), ca, servername: 'localhost', ALPNProtocols: alpn })
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve())
      socket.once('error', reject)
    })
    return socket.getPeerCertificate().fingerprint256
  } finally {
    socket.destroy()
  }
}

export function tlsServerConfig (cert: CertFiles, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { tls: { cert: cert.cert, key: cert.key }, ...extra }
}
