import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { pipeline, type Readable } from 'node:stream'
import type { CompressionConfig } from './schema.ts'
import { appendVary } from '../cors/vary.ts'
import { encoderFor, SYNC_LIMIT_BYTES, type Encoder } from './encoders.ts'
import { forbidsTransform, isCompressibleType, statusAllowsBody } from './eligibility.ts'
import { createNegotiator } from './negotiate.ts'
import { readLeadingBytes } from './leading-bytes.ts'

export { choose as chooseEncoding } from './negotiate.ts'

export interface CompressionPluginOptions {
  config: CompressionConfig
}

function noop () {}

// Response compression (SPEC "Edge options": `compression: { threshold, encodings }`).
// Not @fastify/compress: it compresses every stream whatever its Content-Length (the
// threshold only applies to buffered bodies), and compresses HEAD, 204/304 and
// `Cache-Control: no-transform` responses; proxied bodies are streams, so most of its
// rules would be ours anyway.
//
// One onSend hook, registered last so it sees the final body (proxied stream, cache hit
// buffer, gateway error string). A response is compressed when the client accepts one of
// the configured encodings (q-values honoured, the config's order breaks ties), the
// upstream did not encode it, its type is text-like, it has a body (not HEAD, 1xx, 204,
// 206, 304), `no-transform` is absent, and its length is at least `threshold`: by its
// Content-Length, or for a body without one, by reading its first `threshold` bytes (a
// body that ends before is sent whole, as it came).
async function compressionPlugin (app: FastifyInstance, opts: CompressionPluginOptions) {
  const config = opts.config
  if (config === false) return
  const encodings = config.encodings.filter((e) => encoderFor(e) !== undefined)
  if (encodings.length === 0) return
  const threshold = config.threshold
  const negotiate = createNegotiator(encodings)

  app.addHook('onSend', function compressResponse (request, reply, payload, done) {
    if (payload === null || payload === undefined || request.method === 'HEAD' || !statusAllowsBody(reply.statusCode)) {
      return done(null, payload)
    }
    const encoded = reply.getHeader('content-encoding')
    if ((encoded !== undefined && encoded !== 'identity') || reply.getHeader('content-range') !== undefined ||
      !isCompressibleType(reply.getHeader('content-type')) || forbidsTransform(reply.getHeader('cache-control'))) {
      return done(null, payload)
    }
    const buffered = typeof payload === 'string' || Buffer.isBuffer(payload)
    const size = buffered ? Buffer.byteLength(payload as string | Buffer) : declaredLength(reply)
    if (size !== null && size < threshold) return done(null, payload)
    // This response's encoding depends on Accept-Encoding, whatever this client accepts.
    const encoding = negotiate(request.headers['accept-encoding'])
    if (encoding === null) {
      appendVary(reply, 'Accept-Encoding')
      return done(null, payload)
    }
    const encoder = encoderFor(encoding)!
    if (buffered) {
      appendVary(reply, 'Accept-Encoding')
      markEncoded(reply, encoding)
      const input = typeof payload === 'string' ? Buffer.from(payload) : payload as Buffer
      if (input.length <= SYNC_LIMIT_BYTES) return done(null, encoder.sync(input))
      encoder.async(input, (err, out) => {
        if (err !== null) done(err)
        else done(null, out)
      })
      return
    }
    const stream = payload as Readable
    if (size !== null || threshold <= 0) return done(null, encodeStream(reply, stream, encoding, encoder, size))
    // No length: the body's first `threshold` bytes tell whether it is under the threshold.
    readLeadingBytes(stream, threshold, (whole) => {
      if (whole !== null) done(null, whole)
      else if (stream.destroyed) done(null, stream)
      else done(null, encodeStream(reply, stream, encoding, encoder, null))
    })
  })
}

function encodeStream (reply: FastifyReply, payload: Readable, encoding: string, encoder: Encoder, size: number | null): Readable {
  appendVary(reply, 'Accept-Encoding')
  markEncoded(reply, encoding)
  const stream = encoder.stream(size)
  // Either side failing destroys both: a client that leaves stops the upstream read.
  pipeline(payload, stream, noop)
  return stream
}

function declaredLength (reply: FastifyReply): number | null {
  const value = reply.getHeader('content-length')
  if (value === undefined) return null
  const n = Number(value)
  return Number.isFinite(n) && n >= 0 ? n : null
}

function markEncoded (reply: FastifyReply, encoding: string) {
  reply.header('content-encoding', encoding)
  reply.removeHeader('content-length')
  // A strong validator names the identity bytes; the encoded ones are only equivalent.
  const etag = reply.getHeader('etag')
  if (typeof etag === 'string' && etag.startsWith('"')) reply.header('etag', `W/${etag}`)
}

export default fp(compressionPlugin, { name: 'gatehouse-compression', fastify: '5.x' })
