import zlib from 'node:zlib'
import type { Transform } from 'node:stream'

// Brotli's default quality (11) costs tens of milliseconds per 100 kB; 4 compresses about
// as well as gzip -6 at a fraction of the CPU (the level CDNs use for dynamic content).
export const DEFAULT_BROTLI_QUALITY = 4
// Bodies up to this size are compressed inline: cheaper than a zlib stream and a
// threadpool round trip. Larger buffered bodies go to the threadpool.
export const SYNC_LIMIT_BYTES = 32 * 1024

export interface Encoder {
  stream: (sizeHint: number | null) => Transform
  sync: (input: Buffer) => Buffer
  async: (input: Buffer, cb: (err: Error | null, out: Buffer) => void) => void
}

function brotliOptions (sizeHint: number | null): zlib.BrotliOptions {
  const params: Record<number, number> = { [zlib.constants.BROTLI_PARAM_QUALITY]: DEFAULT_BROTLI_QUALITY }
  if (sizeHint !== null) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint
  return { params }
}

const ENCODERS: Record<string, Encoder> = {
  br: {
    stream: (hint) => zlib.createBrotliCompress(brotliOptions(hint)),
    sync: (input) => zlib.brotliCompressSync(input, brotliOptions(input.length)),
    async: (input, cb) => zlib.brotliCompress(input, brotliOptions(input.length), cb),
  },
  gzip: {
    stream: () => zlib.createGzip(),
    sync: (input) => zlib.gzipSync(input),
    async: (input, cb) => zlib.gzip(input, cb),
  },
  deflate: {
    stream: () => zlib.createDeflate(),
    sync: (input) => zlib.deflateSync(input),
    async: (input, cb) => zlib.deflate(input, cb),
  },
}

// zstd where this Node has it (node:zlib since 22.15/23.8); the config schema decides
// whether it can be offered.
const z = zlib as unknown as {
  createZstdCompress?: () => Transform
  zstdCompressSync?: (b: Buffer) => Buffer
  zstdCompress?: (b: Buffer, cb: (err: Error | null, out: Buffer) => void) => void
}
if (z.createZstdCompress && z.zstdCompressSync && z.zstdCompress) {
  const { createZstdCompress, zstdCompressSync, zstdCompress } = z
  ENCODERS.zstd = {
    stream: () => createZstdCompress(),
    sync: (input) => zstdCompressSync(input),
    async: (input, cb) => zstdCompress(input, cb),
  }
}

export function encoderFor (encoding: string): Encoder | undefined {
  return ENCODERS[encoding]
}
