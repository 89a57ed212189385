import { Transform, type TransformCallback } from 'node:stream'
import { PayloadTooLarge } from '../errors/errors.ts'

// A chunked body has no length to check up front: count it while it streams and fail
// the stream (which aborts the upstream request mid-body) once it passes the limit.
export function limitStreamingBody (limit: number): Transform {
  let seen = 0
  return new Transform({
    transform (chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length
      if (seen > limit) {
        done(new PayloadTooLarge(`Request body is larger than ${limit} bytes`))
        return
      }
      done(null, chunk)
    },
  })
}
