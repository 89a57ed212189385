import { randomBytes } from 'node:crypto'

// The tunnel relays WebSocket bytes untouched (extensions, subprotocol framing and close
// codes pass end to end). It reads only frame headers, to know where one frame ends, so
// that when the gateway itself must close a tunnel (idle timeout, shutdown) it can put a
// Close frame between two frames, which RFC 6455 allows even inside a fragmented message
// (5.4: control frames may be interleaved), instead of cutting the TCP connection.

export const OPCODE_CLOSE = 0x8

export class FrameTracker {
  // Bytes of the frame header seen so far (at most 14: 2 + 8 length + 4 mask).
  readonly #header = Buffer.alloc(14)
  #have = 0
  #need = 2
  #payloadLeft = 0
  // A Close frame has gone through in this direction.
  closeSeen = false

  get atBoundary (): boolean {
    return this.#have === 0 && this.#payloadLeft === 0
  }

  // Follows `chunk`; with `stopAtBoundary`, stops at the first frame end (or at 0 when
  // already at one) and returns how many bytes it consumed.
  push (chunk: Buffer, stopAtBoundary = false): number {
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (stopAtBoundary && this.atBoundary) return i
      if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, n - i)
        this.#payloadLeft -= take
        i += take
        continue
      }
      this.#header[this.#have++] = chunk[i++]!
      if (this.#have === 2) {
        const len7 = this.#header[1]! & 0x7f
        this.#need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((this.#header[1]! & 0x80) !== 0 ? 4 : 0)
      }
      if (this.#have >= 2 && this.#have === this.#need) this.#endHeader()
    }
    return i
  }

  #endHeader () {
    const h = this.#header
    const len7 = h[1]! & 0x7f
    this.#payloadLeft = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7
    if ((h[0]! & 0x0f) === OPCODE_CLOSE) this.closeSeen = true
    this.#have = 0
    this.#need = 2
  }
}

// A Close frame with a status code and a short reason. Frames a client sends must be
// masked (RFC 6455 5.3): `masked` for the frame the gateway sends to the upstream.
export function closeFrame (code: number, reason: string, masked: boolean): Buffer {
  // A control frame's payload is at most 125 bytes: 2 for the code, 123 for the reason.
  const text = Buffer.from(reason, 'utf8').subarray(0, 123)
  const payload = Buffer.alloc(2 + text.length)
  payload.writeUInt16BE(code, 0)
  text.copy(payload, 2)
  const frame = Buffer.alloc(2 + (masked ? 4 : 0) + payload.length)
  frame[0] = 0x80 | OPCODE_CLOSE
  frame[1] = (masked ? 0x80 : 0) | payload.length
  if (!masked) {
    payload.copy(frame, 2)
    return frame
  }
  const mask = randomBytes(4)
  mask.copy(frame, 2)
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i & 3]!
  return frame
}
