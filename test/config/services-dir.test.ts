import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  checkServiceSet, formatProblem, loadConfig, loadServicesDir, parseServiceDefinition
} from '../../apps/gateway/config/index.ts'

const MAIN = [
  'auth:',
  '  jwt: { secret: s3cret }',
  'servicesDir: ./services.d',
  'services:',
  '  - name: users',
  '    prefix: /api/users',
  '    upstreams: [http://127.0.0.1:3001]',
  ''
].join('\n')

const service = (name: string, prefix: string, extra = '') =>
  `name: ${name}\nprefix: ${prefix}\nupstreams: [http://127.0.0.1:3002]\n${extra}`

// A config dir: gateway.yaml plus services.d/ with the given files.
async function setup (t: TestContext, files: Record<string, string>, main = MAIN): Promise<{ dir: string, file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-services-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'services.d'))
  await writeFile(join(dir, 'gateway.yaml'), main)
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'services.d', name), text)
  return { dir, file: join(dir, 'gateway.yaml') }
}

test('servicesDir: every *.yaml/*.yml file is one service, sorted, merged after the main file', async (t) => {
  const { dir, file } = await setup(t, {
    'orders.yaml': service('orders', '/api/orders', 'rateLimit: { max: 5, window: 1s }\n'),
    'billing.yml': [
      'name: billing',
      'prefix: /api/billing',
      'upstreams: ["${BILLING_URL:-http://127.0.0.1:3009}"]',
      'rewritePrefix: /b',
      'scopes: ["${SCOPE}"]',
      'retries: ${RETRIES:-0}',
      'auth: optional',
      ''
    ].join('\n'),
    '.orders.yaml.swp': 'not yaml: [',
    'README.md': '# not a service',
    'notes.txt': 'ignored'
  })
  const { config, problems } = await loadConfig(file, { SCOPE: 'billing:read' })
  assert.deepEqual(problems.map(formatProblem), [])
  assert.ok(config)
  assert.equal(config.servicesDir, join(dir, 'services.d'))
  assert.deepEqual(config.services.map(s => [s.name, s.source, s.file]), [
    ['users', 'config', file],
    ['billing', 'servicesDir', join(dir, 'services.d', 'billing.yml')],
    ['orders', 'servicesDir', join(dir, 'services.d', 'orders.yaml')]
  ])
  const billing = config.services[1]
  assert.deepEqual(billing.scopes, ['billing:read'])
  assert.equal(billing.retries, 0)
  assert.equal(billing.rewritePrefix, '/b')
  // A limit set only in a servicesDir file still turns on (memory) rate limiting.
  assert.equal(config.rateLimit?.store, 'memory')
  assert.equal(config.rateLimit?.default, null)
})

test('names and prefixes are unique across the main file and servicesDir; the dir file is named', async (t) => {
  const { file } = await setup(t, {
    'a-users.yaml': service('users', '/api/people'),
    'b-orders.yaml': service('orders', '/api/users'),
    'c-orders.yaml': service('orders', '/api/orders2')
  })
  const { config, problems } = await loadConfig(file, {})
  assert.equal(config, null)
  assert.deepEqual(problems.map(formatProblem), [
    'services.d/c-orders.yaml: name: duplicate service name "orders" (also services.d/b-orders.yaml: name)',
    'services.d/a-users.yaml: name: duplicate service name "users" (also gateway.yaml: services[0].name)',
    'services.d/b-orders.yaml: prefix: duplicate prefix "/api/users" (also service "users", gateway.yaml: services[0].prefix)'
  ])
})

test('servicesDir problems: broken YAML names the file and line, key paths are relative to the service', async (t) => {
  const { file } = await setup(t, {
    'broken.yaml': 'name: broken\nprefix: /api/broken\nupstreams: [http://127.0.0.1:3001\n',
    'orders.yaml': service('orders', '/api/orders').replace('http://127.0.0.1:3002', 'tcp://127.0.0.1:3002') + 'rateLimt: { max: 1, window: 1s }\n',
    'list.yaml': '- name: a\n- name: b\n',
    'empty.yaml': ''
  })
  const { config, problems } = await loadConfig(file, {})
  assert.equal(config, null)
  const out = problems.map(formatProblem)
  assert.match(out[0], /^services\.d\/broken\.yaml: YAML syntax error at line \d+, column \d+: /)
  assert.deepEqual(out.slice(1), [
    'services.d/empty.yaml: must be a YAML mapping describing one service',
    'services.d/list.yaml: must be a YAML mapping describing one service',
    'services.d/orders.yaml: rateLimt: unknown key (did you mean "rateLimit"?)',
    'services.d/orders.yaml: upstreams[0]: must be an http(s) URL'
  ])
})

test('broken YAML: the line number is the line of the mistake', async (t) => {
  const { file } = await setup(t, { 'dup.yaml': 'name: dup\nprefix: /api/dup\nname: again\nupstreams: [http://127.0.0.1:1]\n' })
  const { problems } = await loadConfig(file, {})
  assert.match(formatProblem(problems[0]), /^services\.d\/dup\.yaml: YAML syntax error at line 3, column 1: /)
})

test('a missing servicesDir is a problem on the main file; loadServicesDir alone reports it too', async (t) => {
  const { dir, file } = await setup(t, {}, MAIN.replace('./services.d', './nope.d'))
  const { config, problems } = await loadConfig(file, {})
  assert.equal(config, null)
  assert.deepEqual(problems.map(formatProblem), [`gateway.yaml: servicesDir: ${join(dir, 'nope.d')} is not a directory`])
  const alone = await loadServicesDir(join(dir, 'nope.d'), {})
  assert.deepEqual(alone.services, [])
  assert.equal(alone.problems.length, 1)
  assert.match(formatProblem(alone.problems[0]), /^nope\.d: cannot read servicesDir .*nope\.d: no such file or directory$/)
})

test('a servicesDir service that needs a token while the main file has no auth.jwt is an error', async (t) => {
  const { file } = await setup(t, { 'orders.yaml': service('orders', '/api/orders') },
    'servicesDir: services.d\n')
  const { problems } = await loadConfig(file, {})
  assert.deepEqual(problems.map(formatProblem), [
    'services.d/orders.yaml: auth: "required" needs auth.jwt, which is not configured (auth defaults to "required"; set auth: none for a public service)'
  ])
})

test('parseServiceDefinition: one service for the admin API, key paths relative to it', () => {
  const good = parseServiceDefinition({ name: 'orders', prefix: '/api/orders', upstreams: ['http://${HOST}:3002'] },
    { file: '<admin>', source: 'admin', baseDir: '/tmp', env: { HOST: 'orders.internal' } })
  assert.deepEqual(good.problems, [])
  assert.equal(good.service?.source, 'admin')
  assert.equal(good.service?.file, undefined)
  assert.deepEqual(good.service?.upstreams, ['http://orders.internal:3002'])

  const bad = parseServiceDefinition({ name: 'orders', prefix: 'api/orders', upstreams: ['http://x/y'], extra: 1 },
    { file: '/srv/services.d/orders.yaml', label: 'services.d/orders.yaml', source: 'servicesDir', baseDir: '/srv/services.d' })
  assert.equal(bad.service, null)
  assert.deepEqual(bad.problems.map(p => `${p.path}: ${p.message}`), [
    'extra: unknown key (allowed: name, prefix, upstreams, rewritePrefix, auth, scopes, rateLimit, circuitBreaker, loadBalancing, healthCheck, retries, websocket, routes, upstreamTls, ipAccess, cors, cache)',
    'prefix: must start with /',
    'upstreams[0]: must be an origin without a path (got /y; use rewritePrefix)'
  ])
  assert.equal(bad.problems[0].file, 'services.d/orders.yaml')
})

test('checkServiceSet finds clashes between config, servicesDir and admin services', () => {
  const parse = (name: string, prefix: string, source: 'admin' | 'servicesDir') => {
    const r = parseServiceDefinition({ name, prefix, upstreams: ['http://127.0.0.1:1'], auth: 'none' },
      { file: `/srv/services.d/${name}.yaml`, source, baseDir: '/srv' })
    assert.ok(r.service)
    return r.service
  }
  const services = [parse('users', '/api/users', 'servicesDir'), parse('users', '/api/other', 'admin'), parse('orders', '/api/users', 'admin')]
  assert.deepEqual(checkServiceSet(services).map(formatProblem), [
    '<admin>: name: duplicate service name "users" (also services.d/users.yaml: name)',
    '<admin>: prefix: duplicate prefix "/api/users" (also service "users", services.d/users.yaml: prefix)'
  ])
  assert.deepEqual(checkServiceSet([services[0]], { jwt: false }), [])
})
