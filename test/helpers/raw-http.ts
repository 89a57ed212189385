import net from 'node:net'

export interface RawResponse {
  raw: string
  status: number
  headers: Record<string, string>
  body: string
}

// Sends bytes exactly as given (no client-side URL or header normalisation) and reads
// until the server closes or a full response with Content-Length has arrived.
export function rawRequest (baseUrl: string, payload: string | Buffer, opts: { timeoutMs?: number } = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('raw request: no complete response within ' + (opts.timeoutMs ?? 5000) + ' ms'))
    }, opts.timeoutMs ?? 5000)
    function finish () {
      clearTimeout(timer)
      const parsed = parseResponse(Buffer.concat(chunks).toString('latin1'))
      if (parsed === null) reject(new Error('raw request: connection closed without a response'))
      else resolve(parsed)
    }
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      const parsed = parseResponse(Buffer.concat(chunks).toString('latin1'))
      if (parsed !== null && parsed.complete) {
        clearTimeout(timer)
        socket.destroy()
        resolve(parsed)
      }
    })
    socket.on('error', () => {})
    socket.on('close', finish)
    socket.write(payload)
  })
}

function parseResponse (text: string): (RawResponse & { complete: boolean }) | null {
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) return null
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const status = Number(statusLine!.split(' ')[1])
  const headers: Record<string, string> = {}
  for (const l of lines) {
    const i = l.indexOf(':')
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
  }
  const body = text.slice(end + 4)
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : null
  return { raw: text, status, headers, body, complete: length !== null && Buffer.byteLength(body, 'latin1') >= length }
}
