import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createUpstream, type Upstream } from '../../helpers/upstream.ts'
import { baseConfig, createGateway, type TestGateway } from '../../helpers/gateway.ts'
import { resolveConfig } from '../../../apps/gateway/config/index.ts'
import { expectHealthy } from './helpers.ts'

// Advisories of fastify / proxy-addr (client address) (how they are tested: ./helpers.ts).

// Two services: `open` (anyone) and `partners` (only 203.0.113.0/24). A direct client
// from 127.0.0.1 tries to pass for a partner by writing X-Forwarded-* itself.
async function trustGateway (t: TestContext, trustProxy: false | string[]) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'open', prefix: '/api/open', upstreams: [up.origin] },
    { name: 'partners', prefix: '/api/partners', upstreams: [up.origin], ipAccess: { allow: ['203.0.113.0/24'] } },
  ], { server: { trustProxy } }), { listen: true })
  return { up, gw }
}

const SPOOFED = {
  'x-forwarded-for': '203.0.113.5, 203.0.113.6, 203.0.113.7, 203.0.113.8, 203.0.113.9',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-prefix': '/evil',
}

async function expectSpoofIgnored (gw: TestGateway, up: Upstream) {
  const partners = await request(`${gw.url}/api/partners/1`, { headers: SPOOFED })
  assert.equal(partners.statusCode, 403, 'a spoofed X-Forwarded-For does not pass the partner allow-list')
  assert.equal((await partners.body.json() as { code: string }).code, 'GW_FORBIDDEN')
  const open = await request(`${gw.url}/api/open/1`, { headers: SPOOFED })
  await open.body.dump()
  const h = up.requests.at(-1)!.headers
  assert.equal(h['x-forwarded-proto'], 'http')
  assert.equal(h['x-forwarded-host'], new URL(gw.url!).host)
  assert.equal(h['x-forwarded-prefix'], '/api/open')
  assert.equal(h['x-forwarded-for'], `${SPOOFED['x-forwarded-for']}, 127.0.0.1`, 'the peer is appended, never replaced')
  assert.equal(up.requests.filter((r) => r.headers['x-forwarded-prefix'] === '/api/partners').length, 0)
}

test('GHSA-3m5p-2c4r-xxw2 (fastify, id from SPEC.md): a numeric or `true` trustProxy is refused by config', () => {
  for (const trustProxy of [1, 2, 10, true, '1', '127.0.0.1', ['0.0.0.0/0'], ['::/0']]) {
    const { config, problems } = resolveConfig({ server: { trustProxy } })
    assert.equal(config, null, `trustProxy ${JSON.stringify(trustProxy)} must be refused`)
    assert.ok(problems.some((p) => p.path.startsWith('server.trustProxy')), JSON.stringify(problems))
  }
  assert.notEqual(resolveConfig({ server: { trustProxy: ['127.0.0.1/32'] } }).config, null)
})

test('GHSA-3m5p-2c4r-xxw2 (fastify, id from SPEC.md): spoofed X-Forwarded-* with many hops from an untrusted peer are not trusted', async (t) => {
  for (const trustProxy of [false, ['10.0.0.0/8']] as const) {
    const { up, gw } = await trustGateway(t, trustProxy === false ? false : [...trustProxy])
    await expectSpoofIgnored(gw, up)
    await expectHealthy(gw, '/api/open/ok')
  }
})

test('GHSA-jqcg-44mw-7w3h (proxy-addr, @fastify/proxy-addr): an IPv6 trustProxy range never trusts an IPv4 peer through its mapped form', async (t) => {
  // ::/64 covers ::ffff:127.0.0.1 when IPv4 peers are compared in IPv4-mapped form.
  for (const range of ['::/64', '::/80']) {
    const { up, gw } = await trustGateway(t, [range])
    await expectSpoofIgnored(gw, up)
    await expectHealthy(gw, '/api/open/ok')
  }
})
