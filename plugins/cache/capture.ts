import { Transform, type TransformCallback } from 'node:stream'

// Passes the upstream body to the client untouched while keeping a copy, up to `limit`
// bytes. `onDone` gets the whole body when the upstream finished within the limit, or null
// (once) when it grew past it; the stream keeps flowing to the client either way.
export class CaptureStream extends Transform {
  private chunks: Buffer[] | null = []
  private size = 0
  private readonly limit: number
  private readonly onDone: (body: Buffer | null) => void

  constructor (limit: number, onDone: (body: Buffer | null) => void) {
    super()
    this.limit = limit
    this.onDone = onDone
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.chunks !== null) {
      this.size += chunk.length
      if (this.size > this.limit) {
        this.chunks = null
        this.onDone(null)
      } else {
        this.chunks.push(chunk)
      }
    }
    cb(null, chunk)
  }

  override _flush (cb: TransformCallback): void {
    if (this.chunks !== null) {
      const body = Buffer.concat(this.chunks, this.size)
      this.chunks = null
      this.onDone(body)
    }
    cb()
  }
}
