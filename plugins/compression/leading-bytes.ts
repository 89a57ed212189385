import type { Readable } from 'node:stream'

// Reads a body of unknown length until `limit` bytes or its end, whichever comes first.
// `cb(whole)`: the body ended under the limit, here it is whole. `cb(null)`: the body
// reached the limit (the bytes read are put back, so the stream reads from its start
// again) or failed (its error stays on the stream for whoever consumes it next).
export function readLeadingBytes (stream: Readable, limit: number, cb: (whole: Buffer | null) => void): void {
  const chunks: Buffer[] = []
  let size = 0
  function onData (chunk: Buffer) {
    chunks.push(chunk)
    size += chunk.length
    if (size < limit) return
    stop()
    stream.pause()
    stream.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    cb(null)
  }
  function onEnd () {
    stop()
    cb(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
  }
  function onError () {
    stop()
    cb(null)
  }
  function stop () {
    stream.off('data', onData)
    stream.off('end', onEnd)
    stream.off('error', onError)
    stream.off('close', onError)
  }
  stream.on('data', onData)
  stream.on('end', onEnd)
  stream.on('error', onError)
  // A stream destroyed without an error (the client left and the upstream call was
  // aborted) ends with 'close' only.
  stream.on('close', onError)
}
