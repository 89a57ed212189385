// `npm run bench -- --egress`: the egress port against the reference forward proxies.
// Absolute-form GETs through Gatehouse's egress, tinyproxy and squid in front of the same
// backend (wrk, interleaved rounds, median req/s); then a CONNECT tunnel moving 1 GiB
// against a direct TCP copy to the same sink and against the same bytes through the
// reference proxies' own CONNECT tunnels, with the gateway's RSS sampled meanwhile.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { stringify } from 'yaml'
import { gatehouseConfig } from './contenders.ts'
import { parseWrk, type LoadResult } from './load.ts'
import { freePorts, logTail, waitForHttp, type Child } from './processes.ts'
import { NODE_FLAGS, ROOT, type Session } from './session.ts'
import { referenceMissing, startReference, type ReferenceKind } from './forward-proxies.ts'
import type { BenchOptions } from './options.ts'

const TUNNEL_BYTES = 1024 * 1024 * 1024
// Issue 20: 200 tunnels at once, 50 MiB each, with the gateway's RSS flat (back-pressure).
const MANY_TUNNELS = 200
const MANY_BYTES = 50 * 1024 * 1024
const CHUNK = Buffer.alloc(1024 * 1024, 0x61)

interface Proxy { name: string, url: string, headers: Record<string, string>, pid: number }

async function wrkThrough (s: Session, p: Proxy, target: string, connections: number, durationS: number): Promise<LoadResult> {
  const script = path.join(s.tmpDir, 'absolute-form.lua')
  writeFileSync(script, `wrk.path = "${target}"\n`)
  const logFile = path.join(s.tmpDir, `wrk-${p.name}-${Date.now()}.log`)
  const headers = Object.entries(p.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`])
  const child = s.processes.start('wrk', ['wrk', '-t1', `-c${connections}`, `-d${durationS}s`, '--latency', '--timeout', '10s', '-s', script, ...headers, `${p.url}/`],
    { core: s.pinning.loadCore, logFile })
  if (await child.exited !== 0) throw new Error(`wrk through ${p.name} failed:\n${logTail(logFile)}`)
  return parseWrk(readFileSync(logFile, 'utf8'))
}

// A TCP sink: counts what a connection sends and answers the count once, when it reaches
// `answerAt` bytes or when the sender ends, whichever comes first (null: at the end only,
// a half-close). squid and tinyproxy close a tunnel both ways when the client ends it, so
// their tunnels need the count before that.
async function startSink (answerAt: number | null): Promise<{ port: number, close: () => void }> {
  const server = net.createServer((socket) => {
    let n = 0
    let answered = false
    const answer = () => {
      if (answered) return
      answered = true
      socket.write(`${n}\n`)
    }
    socket.on('data', (c: Buffer) => {
      n += c.length
      if (n === answerAt) answer()
    })
    socket.on('end', () => {
      answer()
      socket.end()
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() }
}

// A TCP source: pours `bytes` into each connection (back-pressure respected), then ends.
async function startSource (bytes: number): Promise<{ port: number, close: () => void }> {
  const server = net.createServer(async (socket) => {
    socket.on('error', () => {})
    for (let sent = 0; sent < bytes; sent += CHUNK.length) {
      if (!socket.write(CHUNK)) await new Promise((resolve) => socket.once('drain', resolve))
    }
    socket.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() }
}

// Reads what the source pours into `socket` until its end.
async function drink (socket: net.Socket, bytes = TUNNEL_BYTES): Promise<number> {
  const started = performance.now()
  let n = 0
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (c: Buffer) => { n += c.length })
    socket.once('end', resolve)
    socket.once('error', reject)
    socket.resume()
  })
  socket.destroy()
  if (n !== bytes) throw new Error(`read ${n} bytes of ${bytes} from the source`)
  return n / ((performance.now() - started) / 1000)
}

function rssKb (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1])
}

// Writes `bytes` into `socket` (back-pressure respected) and waits for the sink's count:
// with `halfClose`, after ending its side (the tunnel stays open the other way).
async function pour (socket: net.Socket, bytes: number, halfClose: boolean): Promise<number> {
  const started = performance.now()
  const answer = new Promise<string>((resolve, reject) => {
    let text = ''
    socket.on('data', (c: Buffer) => {
      text += c
      if (text.endsWith('\n')) resolve(text)
    })
    socket.resume()
    socket.once('end', () => resolve(text))
    socket.once('error', reject)
  })
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    if (!socket.write(CHUNK)) await new Promise((resolve) => socket.once('drain', resolve))
  }
  if (halfClose) socket.end()
  const text = await answer
  socket.destroy()
  const count = Number(text.trim())
  if (count !== bytes) throw new Error(`the sink counted ${count} bytes of ${bytes}`)
  return bytes / ((performance.now() - started) / 1000)
}

function opened (port: number, connect?: { target: string, auth: string }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      if (connect === undefined) return resolve(socket)
      socket.write(`CONNECT ${connect.target} HTTP/1.1\r\nHost: ${connect.target}\r\nProxy-Authorization: ${connect.auth}\r\n\r\n`)
      let head = ''
      const onData = (c: Buffer) => {
        head += c.toString('latin1')
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        socket.off('data', onData)
        // Paused with what followed the head put back: a source pours at once, and a
        // flowing socket with no listener would drop it.
        socket.pause()
        if (head.length > end + 4) socket.unshift(Buffer.from(head.slice(end + 4), 'latin1'))
        if (/^HTTP\/1\.[01] 200 /.test(head)) resolve(socket)
        else reject(new Error(`CONNECT answered ${head.split('\r\n')[0]}`))
      }
      socket.on('data', onData)
    })
    socket.once('error', reject)
  })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function egressBench (s: Session, opts: BenchOptions, log: (line: string) => void): Promise<number> {
  if (spawnSync('wrk', ['-v'], { timeout: 2000 }).error !== undefined) return skipAll(log, 'the egress bench needs wrk (apt-get install wrk)')
  const direct = await s.start({ name: 'direct', kind: 'direct', root: ROOT })
  const backend = new URL(direct.url)
  const sink = await startSink(TUNNEL_BYTES)
  const manySink = await startSink(null)
  const source = await startSource(TUNNEL_BYTES)
  const manySource = await startSource(MANY_BYTES)
  const [port, adminPort, egressPort] = await freePorts(3)
  const base = gatehouseConfig('gatehouse-full', { port: port!, adminPort: adminPort!, backendUrl: backend.origin, redisUrl: '', redisKeyPrefix: '' })
  const config = path.join(s.tmpDir, 'gatehouse-egress.yaml')
  writeFileSync(config, stringify({
    ...base,
    egress: { host: '127.0.0.1', port: egressPort, allow: [{ host: '127.0.0.1', ports: [Number(backend.port), sink.port, manySink.port, source.port, manySource.port] }], allowNetworks: ['127.0.0.1/32'] },
  }))
  const gateway: Child = s.processes.start('gatehouse-egress', [process.execPath, ...NODE_FLAGS, path.join(ROOT, 'apps/gateway/cli.ts'), '--config', config],
    { core: s.pinning.proxyCore, logFile: path.join(s.tmpDir, 'gatehouse-egress.log'), cwd: ROOT })
  await waitForHttp(gateway, `http://127.0.0.1:${adminPort}/readyz`, 200)
  const auth = s.headers.authorization!
  const proxies: Proxy[] = [{ name: 'gatehouse-egress', url: `http://127.0.0.1:${egressPort}`, headers: { 'Proxy-Authorization': auth }, pid: gateway.pid }]
  const stops: Array<() => Promise<void>> = []
  for (const kind of ['tinyproxy', 'squid'] as ReferenceKind[]) {
    const missing = referenceMissing(kind)
    if (missing !== null) { log(`not measured: ${kind}: ${missing}`); continue }
    const ref = await startReference(kind, s.pinning.proxyCore === null ? {} : { cpu: s.pinning.proxyCore })
    stops.push(ref.stop)
    proxies.push({ name: kind, url: ref.url, headers: {}, pid: ref.pid })
  }
  try {
    const rps = new Map<string, number[]>(proxies.map((p) => [p.name, []]))
    const closes = new Map<string, number>()
    for (let round = 0; round < opts.rounds; round++) {
      const order = proxies.map((_, i) => proxies[(i + round) % proxies.length]!)
      for (const p of order) {
        await wrkThrough(s, p, direct.url, opts.connections, opts.warmupS || 1)
        const r = await wrkThrough(s, p, direct.url, opts.connections, opts.durationS)
        // tinyproxy closes every client connection after its answer (no keep-alive toward
        // the client): wrk counts those closes as read errors and reconnects. Everything
        // else (non-2xx, connect, write, timeout) is a failed request.
        const { read, ...rest } = r.errors
        const failed = Object.values(rest).reduce((a, b) => a + b, 0)
        if (failed > 0) throw new Error(`${p.name}: ${failed} failed requests ${JSON.stringify(r.errors)}`)
        if ((read ?? 0) > 0) closes.set(p.name, (closes.get(p.name) ?? 0) + read!)
        rps.get(p.name)!.push(r.rps)
      }
    }
    log('')
    log(`absolute-form GET through each proxy (wrk, ${opts.connections} connections, ${opts.rounds} rounds of ${opts.durationS} s, median req/s):`)
    const ours = median(rps.get('gatehouse-egress')!)
    for (const [name, xs] of rps) {
      log(`  ${name.padEnd(17)} ${Math.round(median(xs)).toString().padStart(7)} req/s` +
        (name === 'gatehouse-egress' ? '' : `   gatehouse-egress / ${name} = ${(ours / median(xs)).toFixed(2)}x`) +
        (closes.has(name) ? `   (closed the client connection ${closes.get(name)} times)` : ''))
    }

    // 1 GiB each way: a direct TCP copy vs the same bytes through a CONNECT tunnel, up
    // (client to destination) and down (destination to client); RSS sampled meanwhile.
    // The reference proxies' own CONNECT tunnels run in the same rounds: a relay in C on
    // the proxy's core shows what a relay can reach here, since the client and the sink
    // share the load core with each other, and a tunnel adds a hop on the other core.
    const through = (port: number) => opened(egressPort!, { target: `127.0.0.1:${port}`, auth })
    // squid and tinyproxy as configured here ask for no credentials on CONNECT.
    const refs = proxies.filter((p) => p.name !== 'gatehouse-egress')
    const paths: Array<{ name: string, open: (port: number) => Promise<net.Socket> }> = [
      { name: 'direct', open: (port) => opened(port) },
      { name: 'gatehouse-egress', open: through },
      ...refs.map((p) => ({ name: p.name, open: (port: number) => opened(Number(new URL(p.url).port), { target: `127.0.0.1:${port}`, auth }) })),
    ]
    const up = new Map(paths.map((p) => [p.name, [] as number[]]))
    const down = new Map(paths.map((p) => [p.name, [] as number[]]))
    const rss: number[] = []
    const before = rssKb(gateway.pid)
    const sampler = setInterval(() => rss.push(rssKb(gateway.pid)), 100)
    try {
      for (let i = 0; i < 3; i++) {
        for (const p of paths) up.get(p.name)!.push(await pour(await p.open(sink.port), TUNNEL_BYTES, false))
        for (const p of paths) down.get(p.name)!.push(await drink(await p.open(source.port)))
      }
    } finally {
      clearInterval(sampler)
    }
    const mib = (bps: number) => `${Math.round(bps / 1024 / 1024)} MiB/s`
    log('')
    log('CONNECT tunnel, 1 GiB x 3 each way (median; ratios to the direct copy):')
    for (const [what, rates] of [['up (client to destination)', up], ['down (destination to client)', down]] as const) {
      const direct = median(rates.get('direct')!)
      const rate = (name: string) => `${mib(median(rates.get(name)!))} = ${(median(rates.get(name)!) / direct).toFixed(2)}x`
      log(`  ${what}: direct TCP ${mib(direct)}, through egress ${rate('gatehouse-egress')}` + refs.map((p) => `; ${p.name} ${rate(p.name)}`).join(''))
    }
    log(`  gateway RSS ${Math.round(before / 1024)} MiB before, ${Math.round(Math.min(...rss) / 1024)}-${Math.round(Math.max(...rss) / 1024)} MiB while moving 6 GiB`)

    // Issue 20: 200 tunnels at once, 50 MiB each, each way; RSS sampled. The tunnels' own
    // buffers (sockets, queued chunks, malloc's pages for them) fill within the first
    // seconds; a relay that buffers would keep growing after that. So the peak over the
    // first quarter of the run is set against the peak over the other three.
    for (const way of ['up', 'down'] as const) {
      const manyRss: Array<{ at: number, kb: number }> = []
      const manyBefore = rssKb(gateway.pid)
      const started = performance.now()
      const manySampler = setInterval(() => manyRss.push({ at: performance.now(), kb: rssKb(gateway.pid) }), 100)
      try {
        const target = way === 'up' ? manySink.port : manySource.port
        const sockets = await Promise.all(Array.from({ length: MANY_TUNNELS }, () => through(target)))
        // Up, each client half-closes its tunnel and waits for the count the other way.
        await Promise.all(sockets.map((socket) => way === 'up' ? pour(socket, MANY_BYTES, true) : drink(socket, MANY_BYTES)))
      } finally {
        clearInterval(manySampler)
      }
      const ended = performance.now()
      const seconds = (ended - started) / 1000
      const quarter = started + (ended - started) / 4
      const peak = (xs: typeof manyRss) => Math.round(Math.max(manyBefore, ...xs.map((x) => x.kb)) / 1024)
      const early = peak(manyRss.filter((x) => x.at <= quarter))
      const late = peak(manyRss.filter((x) => x.at > quarter))
      log(`${MANY_TUNNELS} tunnels at once, ${MANY_BYTES / 1024 / 1024} MiB each, ${way}: ${mib(MANY_TUNNELS * MANY_BYTES / seconds)} in all; ` +
        `gateway RSS ${Math.round(manyBefore / 1024)} MiB before, peak ${early} MiB in the first quarter of the run, ${late} MiB in the rest (${late - early >= 0 ? '+' : ''}${late - early} MiB)`)
    }
    return 0
  } finally {
    sink.close()
    manySink.close()
    source.close()
    manySource.close()
    for (const stop of stops) await stop()
  }
}

function skipAll (log: (line: string) => void, why: string): number {
  log(`egress bench not run: ${why}`)
  return 0
}
