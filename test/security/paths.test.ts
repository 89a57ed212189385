// Path attacks: every family of tricks that makes a proxy and the service behind it
// disagree on which path (and so which service) a request names. Sent as raw bytes, so
// no client library normalises them first. Two services on distinct upstreams:
// - users: `/api/users`, no auth, rewritePrefix `/users`;
// - admin: `/api/admin`, auth required; the attacker has no token.
// Each attack either is refused (400), matches no service (404), is answered by the admin
// service's own policy because its *normalised* path names admin (401: the attacker got
// the admin policy, not a way around it), or reaches the users upstream at one exact
// path under /users. Whatever happens: never a 5xx, the admin upstream receives nothing,
// the users upstream never receives a dot segment, and the gateway keeps serving.
// (test/proxy/traversal.test.ts holds the routing rules; this file is the attack catalogue.)
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway, type TestGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { hsAuth } from '../auth/fixtures.ts'

type Outcome =
  | { status: 400 | 401 | 404 }
  | { status: 200, users: string }

const REFUSED: Outcome = { status: 400 }
// The normalised path names the admin service: its auth policy answers.
const ADMIN_POLICY: Outcome = { status: 401 }
const NO_SERVICE: Outcome = { status: 404 }
const users = (url: string): Outcome => ({ status: 200, users: url })

const CODES: Record<number, string> = { 400: 'GW_BAD_REQUEST', 401: 'GW_UNAUTHORIZED', 404: 'GW_NOT_FOUND' }

interface Setup { usersUp: Upstream, adminUp: Upstream, gw: TestGateway }

async function setup (t: TestContext): Promise<Setup> {
  const usersUp = await createUpstream(t)
  const adminUp = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [usersUp.origin], rewritePrefix: '/users' },
    { name: 'admin', prefix: '/api/admin', upstreams: [adminUp.origin], auth: 'required' },
  ], hsAuth()), { listen: true })
  return { usersUp, adminUp, gw }
}

function send (gw: TestGateway, target: string) {
  // latin1 keeps every byte as written (a raw NUL, UTF-8 sequences pre-encoded below).
  return rawRequest(gw.url!, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'))
}

// True when a path segment is `.` or `..`, written plainly or percent-encoded (once).
function hasDotSegment (url: string): boolean {
  const path = url.split('?')[0]!
  return path.split('/').some((seg) => {
    const bare = seg.replace(/%2e/gi, '.').split(';')[0]
    return bare === '.' || bare === '..'
  })
}

function check (name: string, attacks: Array<[string, Outcome]>) {
  test(`path attack is contained: ${name}`, async (t) => {
    const { usersUp, adminUp, gw } = await setup(t)
    for (const [target, expected] of attacks) {
      const before = usersUp.requests.length
      const res = await send(gw, target)
      const label = JSON.stringify(target)
      assert.ok(res.status < 500, `${label} -> ${res.status}: never a 5xx`)
      assert.equal(res.status, expected.status, label)
      if (expected.status === 200) {
        assert.deepEqual(usersUp.requests.slice(before).map((r) => r.url), [expected.users], label)
      } else {
        assert.equal(JSON.parse(res.body).code, CODES[expected.status], label)
        assert.equal(usersUp.requests.length, before, `${label}: nothing forwarded`)
      }
      // The gateway is unharmed: a normal request through it still answers 200.
      const ok = await send(gw, '/api/users/ok')
      assert.equal(ok.status, 200, `after ${label}`)
    }
    assert.equal(adminUp.requests.length, 0, 'the admin upstream received nothing')
    for (const r of usersUp.requests) {
      assert.ok(r.url === '/users' || r.url.startsWith('/users/'), `users upstream got ${r.url}, outside /users`)
      assert.ok(!hasDotSegment(r.url), `users upstream got a dot segment: ${r.url}`)
    }
  })
}

// The checker itself must see what it is looking for.
test('the dot-segment detector flags plain, encoded and parameterised dot segments', () => {
  for (const url of ['/users/../x', '/users/%2e%2E/x', '/users/.', '/users/..;a/x', '/users/%2e']) assert.ok(hasDotSegment(url), url)
  for (const url of ['/users/...', '/users/a.b', '/users/%252e%252e', '/users/7?x=/../']) assert.ok(!hasDotSegment(url), url)
})

check('dot-dot segments (`..`)', [
  ['/api/users/../admin/x', ADMIN_POLICY],
  ['/api/users/../../api/admin', ADMIN_POLICY],
  ['/api/users/x/../../admin', ADMIN_POLICY],
  ['/api/users/..', NO_SERVICE],
  ['/api/users/../../../etc/passwd', REFUSED],
  ['/..', REFUSED],
  ['/api/users/x/..', users('/users/')],
  ['/api/users/./7', users('/users/7')],
  ['/api/users/.', users('/users/')],
])

check('percent-encoded dots (`%2e%2e`, mixed case `%2E`, half-encoded `.%2e`)', [
  ['/api/users/%2e%2e/admin', ADMIN_POLICY],
  ['/api/users/%2E%2E/admin', ADMIN_POLICY],
  ['/api/users/%2e%2E/admin', ADMIN_POLICY],
  ['/api/users/.%2E/admin', ADMIN_POLICY],
  ['/api/users/%2E./admin', ADMIN_POLICY],
  ['/api/users/%2e%2e/%2e%2e/%2e%2e', REFUSED],
  ['/%2e%2e/api/users', REFUSED],
  ['/api/users/%2e/7', users('/users/7')],
  ['/api/users/%2E', users('/users/')],
])

// `%2F` and `%5C` are data inside one segment, forwarded as they came, unless the path
// then decodes to a `..` segment: @fastify/http-proxy's and @fastify/reply-from's traversal
// guards (GHSA-2q7r) refuse those, since an upstream that decodes %2F before it resolves
// dot segments would climb out of /users. A raw backslash is refused too.
check('encoded slash `%2f` and backslash `%5c` (never decoded into separators)', [
  ['/api/users/..%2fadmin', REFUSED],
  ['/api/users/..%2Fapi%2Fadmin', REFUSED],
  ['/api/users/%2e%2e%2fadmin', REFUSED],
  ['/api/users/a%2f%2e%2e%2fb', REFUSED],
  ['/api/users/..%5cadmin', REFUSED],
  ['/api/users/%5c..%5c..%5capi%5cadmin', REFUSED],
  ['/api/users/..%2f..%2f..%2fetc%2fpasswd', REFUSED],
  ['/api/users/..\\admin', REFUSED],
  ['/api/users/x\\..\\..\\admin', REFUSED],
  ['/api/users%2f..%2fadmin', NO_SERVICE],
  ['/api/users%2Fadmin', NO_SERVICE],
  ['/api/users/a%2Fb', users('/users/a%2Fb')],
  ['/api/users/a%5Cb', users('/users/a%5Cb')],
  ['/api/users/projects/group%2Frepo', users('/users/projects/group%2Frepo')],
])

check('double encoding (`%252e`, `%25` + hex digits): forwarded as sent, never decoded twice', [
  ['/api/users/%252e%252e/admin', users('/users/%252e%252e/admin')],
  ['/api/users/%252e%252e%252fadmin', users('/users/%252e%252e%252fadmin')],
  ['/api/users/%25%32%65%25%32%65/admin', users('/users/%25%32%65%25%32%65/admin')],
  ['/api/users/%252f..%252fadmin', users('/users/%252f..%252fadmin')],
  // `%25` is a literal `%`, yet once decoded the segment starts with `..`: reply-from's guard.
  ['/api/users/..%2500/admin', REFUSED],
])

check('empty segments (`//`)', [
  ['//api/admin/x', NO_SERVICE],
  ['/api//admin', NO_SERVICE],
  ['//api/users/7', NO_SERVICE],
  ['/api/users//../admin', users('/users/admin')],
  ['/api/users//api/admin', users('/users//api/admin')],
  ['/api/users/x//..//..//admin', users('/users/x//admin')],
])

check('`;` path parameters (servlet-style `..;/`)', [
  ['/api/users/..;/admin', REFUSED],
  ['/api/users/.;/7', REFUSED],
  ['/api/users/%2e%2e;/admin', REFUSED],
  ['/api/users/..;jsessionid=1/admin', REFUSED],
  ['/api/users;x=1/../admin', ADMIN_POLICY],
  ['/api/users/x;/../../admin', ADMIN_POLICY],
  ['/api/users;/7', NO_SERVICE],
  ['/api;/admin/x', NO_SERVICE],
  ['/api/users/7;jsessionid=1', users('/users/7;jsessionid=1')],
])

check('null bytes (`%00`, raw NUL, `..%00`)', [
  ['/api/users/%00', REFUSED],
  ['/api/users/a%00b', REFUSED],
  ['/api/users/..%00/admin', REFUSED],
  ['/api/users/%2e%2e%00/admin', REFUSED],
  ['/api/users/%00/../../admin', REFUSED],
  ['/api/users/\x00', REFUSED],
  ['/api/users/..\x00/admin', REFUSED],
])

check('overlong UTF-8 (`%c0%ae`, `%e0%80%ae`, `%c0%af`, `%c1%9c`)', [
  ['/api/users/%c0%ae%c0%ae/admin', REFUSED],
  ['/api/users/%C0%AE%C0%AE/admin', REFUSED],
  ['/api/users/%c0%2e%c0%2e/admin', REFUSED],
  ['/api/users/%e0%80%ae%e0%80%ae/admin', REFUSED],
  ['/api/users/..%c0%afadmin', REFUSED],
  ['/api/users/%c0%ae%c0%ae%c0%afadmin', REFUSED],
  ['/api/users/..%c1%9cadmin', REFUSED],
])

check('Unicode look-alike dots (full-width `．`, one-dot leader, `%u002e`)', [
  // U+FF0E as raw UTF-8 bytes on the wire.
  ['/api/users/\xef\xbc\x8e\xef\xbc\x8e/admin', REFUSED],
  ['/api/users/%u002e%u002e/admin', REFUSED],
  // Percent-encoded, they are data: forwarded as sent, never turned into `..`.
  ['/api/users/%ef%bc%8e%ef%bc%8e/admin', users('/users/%ef%bc%8e%ef%bc%8e/admin')],
  ['/api/users/%ef%bc%8e%ef%bc%8e%ef%bc%8f/admin', users('/users/%ef%bc%8e%ef%bc%8e%ef%bc%8f/admin')],
  ['/api/users/%e2%80%a4%e2%80%a4/admin', users('/users/%e2%80%a4%e2%80%a4/admin')],
])

check('other request-target forms and look-alike prefixes', [
  ['http://x/api/users/../admin', REFUSED],
  ['*', REFUSED],
  ['api/users/7', REFUSED],
  ['/api/usersX/../admin', ADMIN_POLICY],
  ['/api/USERS/7', NO_SERVICE],
  ['/API/admin', NO_SERVICE],
  ['/api/admin%2e%2e', NO_SERVICE],
  ['/api/users/7?x=/../admin', users('/users/7?x=/../admin')],
  ['/api/users/7?%2e%2e/admin', users('/users/7?%2e%2e/admin')],
])
