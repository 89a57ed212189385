import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { createUpstream, echo } from '../helpers/upstream.ts'
import { claims, createAuthGateway, ISSUER, AUDIENCE, jwkOf, rsaKeyPair, signWith } from '../auth/fixtures.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { metricValue } from '../helpers/metrics.ts'
import { quickBreaker, switchableUpstream, upstreamState, breakerOf } from './support.ts'

function connections (server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => err ? reject(err) : resolve(n)))
}

test('a client abort before the upstream answers aborts the upstream call: no open upstream socket, no inflight left', async (t) => {
  const up = await switchableUpstream(t, 'hang')
  const gw = await createGateway(t, baseConfig([{ name: 'slow', prefix: '/api/slow', upstreams: [up.origin], loadBalancing: 'least-connections' }]), { listen: true })
  const controller = new AbortController()
  const pending = request(`${gw.url}/api/slow/1`, { signal: controller.signal })
  const upstreamReq = await up.nextRequest()
  assert.equal(await connections(up.server), 1)
  assert.equal(upstreamState(gw, 'slow', up.origin).inflight, 1)

  const closed = once(upstreamReq.socket, 'close')
  controller.abort()
  await assert.rejects(pending)
  await closed
  assert.equal(await connections(up.server), 0, 'the gateway closed its upstream socket')
  assert.equal(upstreamState(gw, 'slow', up.origin).inflight, 0)
  assert.equal(up.calls, 1, 'an abort is not retried')
  // opossum has no neutral outcome: its errorFilter makes the abort a success.
  const stats = breakerOf(upstreamState(gw, 'slow', up.origin)).opossum.stats
  assert.equal(stats.failures, 0, 'an abort is never a breaker failure')
  assert.equal(stats.successes, 1)
})

test('a client abort mid-body releases the upstream socket and the inflight count', async (t) => {
  let release!: () => void
  const upstreamSocketClosed = new Promise<void>((resolve) => { release = resolve })
  const up = await createUpstream(t, (req, res) => {
    req.socket.once('close', () => release())
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('x'.repeat(1024)) // ...and never ends
  })
  // Only least-connections balancing counts calls in flight.
  const gw = await createGateway(t, baseConfig([{
    name: 'stream',
    prefix: '/api/stream',
    upstreams: [up.origin],
    loadBalancing: 'least-connections'
  }]), { listen: true })
  const controller = new AbortController()
  const res = await request(`${gw.url}/api/stream/1`, { signal: controller.signal })
  assert.equal(res.statusCode, 200)
  assert.equal(upstreamState(gw, 'stream', up.origin).inflight, 1, 'counted until the body closes')
  controller.abort()
  await assert.rejects(res.body.text())
  await upstreamSocketClosed
  assert.equal(await connections(up.server), 0)
  // The body stream closes on the same abort; its close event runs the decrement.
  const state = upstreamState(gw, 'stream', up.origin)
  for (let i = 0; i < 100 && state.inflight !== 0; i++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(state.inflight, 0)
})

test('a half-open probe the client aborts is not held against the upstream: opossum counts it a success, the breaker closes and the next request reaches the upstream', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const gw = await createGateway(t, baseConfig([{
    name: 'users',
    prefix: '/api/users',
    upstreams: [up.origin],
    retries: 0,
    circuitBreaker: quickBreaker({ volumeThreshold: 2, resetTimeout: '200ms' })
  }]), { listen: true })
  const state = upstreamState(gw, 'users', up.origin)
  const breaker = breakerOf(state).opossum
  const halfOpen = once(breaker, 'halfOpen')
  for (let i = 0; i < 2; i++) await (await request(`${gw.url}/api/users/1`)).body.dump()
  assert.equal(state.circuit, 'open')
  await halfOpen

  up.behaviour = 'hang'
  const controller = new AbortController()
  const probe = request(`${gw.url}/api/users/probe`, { signal: controller.signal })
  const upstreamReq = await up.nextRequest()
  assert.equal(breaker.pendingClose, false, 'the probe is out: opossum lets no second call through')
  const second = await request(`${gw.url}/api/users/2`)
  assert.equal(second.statusCode, 503, 'one probe at a time')
  await second.body.dump()

  const closedBreaker = once(breaker, 'close')
  const closed = once(upstreamReq.socket, 'close')
  controller.abort()
  await assert.rejects(probe)
  await Promise.all([closed, closedBreaker])
  assert.equal(state.circuit, 'closed')
  assert.equal(await metricValue(gw, 'gatehouse_upstream_errors_total', { service: 'users', upstream: up.origin, kind: 'reset' }), 0,
    'the abort is no upstream error')

  up.behaviour = 'ok'
  const next = await request(`${gw.url}/api/users/3`)
  assert.equal(next.statusCode, 200)
  await next.body.dump()
  assert.equal(up.calls, 4, 'two failures, the aborted probe and the request after it')
})

test('a client that leaves while a policy still holds its request (a JWKS refresh) is never forwarded upstream', async (t) => {
  const keyA = rsaKeyPair()
  const keyB = rsaKeyPair()
  // The JWKS answers the start-up fetch at once and holds the refresh until released.
  let refreshRequested!: () => void
  const refreshing = new Promise<void>((resolve) => { refreshRequested = resolve })
  let releaseRefresh!: () => void
  const released = new Promise<void>((resolve) => { releaseRefresh = resolve })
  let hits = 0
  const jwks = http.createServer((_req, res) => {
    const keys = ++hits === 1 ? [jwkOf(keyA, 'a')] : [jwkOf(keyA, 'a'), jwkOf(keyB, 'b')]
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }))
    if (hits === 1) return answer()
    refreshRequested()
    released.then(answer, () => {})
  })
  jwks.listen(0, '127.0.0.1')
  await once(jwks, 'listening')
  t.after(() => new Promise<void>((resolve) => { releaseRefresh(); jwks.closeAllConnections(); jwks.close(() => resolve()) }))
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`

  let forwarded!: () => void
  const reachedUpstream = new Promise<string>((resolve) => { forwarded = () => resolve('forwarded') })
  const up = await createUpstream(t, (req, res, body) => {
    if (req.url === '/gone') forwarded()
    echo(req, res, body)
  })
  const gw = await createAuthGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' }], {
    logging: { level: 'debug', access: false },
    auth: { jwt: { jwksUrl, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] } },
  }), { listen: true, build: { auth: { jwks: { unknownKidCooldownMs: 0, unknownKidWaitMs: 10_000 } } } })

  // Kid b is unknown until the refresh: the request waits on it, and the client leaves.
  const accepted = once(gw.listening!.publicServer, 'connection') as Promise<[net.Socket]>
  const client = net.connect(Number(new URL(gw.url!).port), '127.0.0.1')
  const token = signWith(keyB, claims(), { kid: 'b' })
  client.write(`GET /api/users/gone HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\n\r\n`)
  const [serverSide] = await accepted
  await refreshing
  client.destroy()
  await once(serverSide, 'close')

  // The refresh lands and auth passes, for a client that is gone: the call is given up
  // before anything is sent (the debug line), never made.
  const abandoned = gw.waitForLog((l) => l.msg === 'upstream call not made or abandoned').then(() => 'abandoned')
  releaseRefresh()
  assert.equal(await Promise.race([abandoned, reachedUpstream]), 'abandoned')
  assert.equal(up.requests.length, 0)
})
