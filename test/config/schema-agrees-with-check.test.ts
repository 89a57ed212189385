// A standard validator (ajv, draft 2020-12) with the committed schemas and `gatehouse
// check` give the same verdict on a corpus of good and bad files; where a JSON Schema
// cannot see the problem (cross-field rules, files, parsed URLs and CIDRs, values
// from the environment) check is the stricter one, and that list is explicit here
// (and in docs/configuration.md).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { runCheck } from '../../apps/gateway/commands/check.ts'
import { parseYaml } from '../../apps/gateway/config/index.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const ajv = new Ajv2020({ strict: true, allErrors: true })
const schemaOf = async (name: string): Promise<ValidateFunction> =>
  ajv.compile(JSON.parse(await readFile(join(root, 'schema', `${name}.schema.json`), 'utf8')))
const gatewaySchema = await schemaOf('gateway')
const serviceSchema = await schemaOf('service')

const SVC = 'name: users\nprefix: /api/users\nupstreams: [http://127.0.0.1:3001]\nauth: none\n'
const item = (service: string) => service.trimEnd().replace(/^/gm, '    ').replace(/^ {4}/, '  - ') + '\n'
const mainWith = (...services: string[]) => 'services:\n' + services.map(item).join('')
// The main file a servicesDir case is checked under: auth on, so `auth: required` holds.
const SERVICE_HOST = 'auth: { jwt: { secret: test-secret } }\nservicesDir: ./services.d\n'

interface Case { name: string, text: string, env?: Record<string, string> }

// Main-file cases both must accept.
const goodMain: Case[] = [
  { name: 'an empty file (all defaults)', text: '' },
  { name: 'a comment only', text: '# nothing set\n' },
  { name: 'one service', text: mainWith(SVC) },
  { name: 'empty keys mean unset', text: 'server:\nlogging: { level: }\nrateLimit:\n' + mainWith(SVC + 'rateLimit:\n') },
  { name: 'numbers and booleans from the environment', text: 'server: { port: "${PORT:-8080}", http2: "${H2:-false}" }\nadmin: { port: "${ADMIN_PORT}" }\n', env: { ADMIN_PORT: '9091' } },
  { name: 'an enum from the environment', text: 'rateLimit: { store: "${STORE:-memory}" }\n' },
  { name: 'a literal ${ written $${', text: 'admin: { token: "$${not-a-reference}" }\n' },
  { name: 'units and milliseconds', text: 'server: { bodyLimit: 512kb, timeouts: { connect: 1500, upstream: 2.5s, drain: 1m } }\n' },
  { name: 'breaker off, rate limit off', text: mainWith(SVC + 'circuitBreaker: false\nrateLimit: false\n') },
  { name: 'the edge options', text: 'ipAccess: { allow: [10.0.0.0/8] }\ncompression: { threshold: 1kb, encodings: [br, gzip] }\n' + mainWith(SVC + 'cors: { origins: [https://app.example.com], maxAge: 10m }\ncache: { ttl: 30s }\nwebsocket: true\n') },
  { name: 'trustProxy as a CIDR list', text: 'server: { trustProxy: [127.0.0.1/32] }\n' },
  { name: 'routes', text: mainWith(SVC + 'routes:\n  - { methods: [POST], path: /api/users/*, auth: none, rateLimit: { max: 5, window: 1s } }\n') },
]

// Main-file cases both must refuse.
const badMain: Case[] = [
  { name: 'a typo in a key', text: 'rateLimt: { store: memory }\n' },
  { name: 'an unknown nested key', text: 'server: { timeouts: { idle: 5s } }\n' },
  { name: 'not a mapping', text: '- server\n' },
  { name: 'a quoted number written by hand', text: 'server: { port: "8080" }\n' },
  { name: 'a port out of range', text: 'server: { port: 70000 }\n' },
  { name: 'a size with a bad unit', text: 'server: { bodyLimit: 1xb }\n' },
  { name: 'a duration that is no duration', text: 'server: { timeouts: { drain: soon } }\n' },
  { name: 'a negative duration', text: 'server: { timeouts: { drain: -5 } }\n' },
  { name: 'trustProxy: true', text: 'server: { trustProxy: true }\n' },
  { name: 'trustProxy as a hop count', text: 'server: { trustProxy: 1 }\n' },
  { name: 'an unknown log level', text: 'logging: { level: loud }\n' },
  { name: 'a malformed reference', text: 'auth: { jwt: { secret: "${1BAD}" } }\n' },
  { name: 'an unclosed reference', text: 'server: { host: "${HOST" }\n' },
  { name: 'services as a mapping', text: 'services: { users: {} }\n' },
  { name: 'a service without upstreams', text: mainWith('name: users\nprefix: /api/users\nauth: none\n') },
  { name: 'a service name with capitals', text: mainWith(SVC.replace('name: users', 'name: Users')) },
  { name: 'a rate limit of 0', text: 'rateLimit: { default: { max: 0, window: 1m } }\n' },
  { name: 'an unknown store', text: 'rateLimit: { store: memcached }\n' },
  { name: 'yes is not a boolean (YAML 1.2)', text: 'logging: { access: yes }\n' },
  { name: 'a required key left empty', text: mainWith('name:\nprefix: /api/users\nupstreams: [http://127.0.0.1:3001]\nauth: none\n') },
]

// servicesDir files both must accept / refuse.
const goodService: Case[] = [
  { name: 'the minimum', text: 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\n' },
  { name: 'every policy key', text: 'name: orders\nprefix: /api/orders\nupstreams: ["${ORDERS_URL:-http://127.0.0.1:3002}", http://127.0.0.1:3012]\nrewritePrefix: /orders\nauth: optional\nscopes: [orders:read]\nrateLimit: { max: 50, window: 1m, by: ip }\ncircuitBreaker: { timeout: 3s, errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeout: 10s }\nloadBalancing: least-connections\nhealthCheck: { path: /health, interval: 5s }\nretries: 0\n' },
  { name: 'a retry count from the environment', text: 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\nretries: "${RETRIES:-2}"\n' },
]
const badService: Case[] = [
  { name: 'no upstreams', text: 'name: orders\nprefix: /api/orders\nupstreams: []\n' },
  { name: 'an upstream without scheme', text: 'name: orders\nprefix: /api/orders\nupstreams: [localhost:3002]\n' },
  { name: 'a breaker threshold of 0', text: 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\ncircuitBreaker: { errorThresholdPercentage: 0 }\n' },
  { name: 'an unknown auth mode', text: 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\nauth: maybe\n' },
  { name: 'an unknown key', text: 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\nretry: 1\n' },
  { name: 'a health check path without /', text: 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\nhealthCheck: { path: health }\n' },
  { name: 'not a mapping', text: '- orders\n' },
  { name: 'websocket: on (a string in YAML 1.2)', text: 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\nwebsocket: on\n' },
]

// What only check sees: the schema accepts these, check refuses them. Each is a rule a
// JSON Schema cannot express (docs/configuration.md, "Editor support").
const checkStricterMain: Case[] = [
  { name: 'two services with one prefix (cross-field)', text: mainWith(SVC, SVC.replace('name: users', 'name: people')) },
  { name: 'auth: required without auth.jwt (cross-field)', text: mainWith(SVC.replace('auth: none', 'auth: required')) },
  { name: 'admin.port equal to server.port (cross-field)', text: 'server: { port: 9000 }\nadmin: { port: 9000 }\n' },
  { name: 'a servicesDir that does not exist (file system)', text: 'servicesDir: ./no-such-dir\n' },
  { name: 'TLS files that do not exist (file system)', text: 'server: { tls: { cert: ./missing.pem, key: ./missing.key } }\n' },
  { name: 'trustProxy trusting everyone (parsed CIDR)', text: 'server: { trustProxy: [0.0.0.0/0] }\n' },
  { name: 'an IP rule that is no address (parsed CIDR)', text: 'ipAccess: { deny: [10.0.0.300/8] }\n' },
  { name: 'a zero breaker timeout (0 is a duration, not a usable one)', text: mainWith(SVC + 'circuitBreaker: { timeout: 0s }\n') },
  { name: 'a port from the environment that is no number (known at run time)', text: 'server: { port: "${PORT}" }\n', env: { PORT: 'http' } },
  { name: 'a reference to an unset variable where a value is needed', text: mainWith(SVC.replace('/api/users', '"${PREFIX}"')) },
]

async function dirFor (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-schema-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function checkVerdict (file: string, env: Record<string, string> = {}): Promise<{ ok: boolean, stderr: string }> {
  let stderr = ''
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => { stderr += s } }, env }
  const code = await runCheck({ config: file }, io)
  assert.ok(code === 0 || code === 1, `check exit ${code}`)
  return { ok: code === 0, stderr }
}

function schemaVerdict (validate: ValidateFunction, text: string): { ok: boolean, errors: string } {
  const parsed = parseYaml(text)
  assert.deepEqual(parsed.problems, [], 'the corpus is YAML')
  const ok = validate(parsed.value) as boolean
  return { ok, errors: JSON.stringify(validate.errors) }
}

async function mainCase (t: TestContext, c: Case) {
  const dir = await dirFor(t)
  await writeFile(join(dir, 'gateway.yaml'), c.text)
  return { check: await checkVerdict(join(dir, 'gateway.yaml'), c.env), schema: schemaVerdict(gatewaySchema, c.text) }
}

async function serviceCase (t: TestContext, c: Case) {
  const dir = await dirFor(t)
  await writeFile(join(dir, 'gateway.yaml'), SERVICE_HOST)
  assert.equal(schemaVerdict(gatewaySchema, SERVICE_HOST).ok, true)
  await mkdir(join(dir, 'services.d'))
  await writeFile(join(dir, 'services.d', 'orders.yaml'), c.text)
  return { check: await checkVerdict(join(dir, 'gateway.yaml'), c.env), schema: schemaVerdict(serviceSchema, c.text) }
}

function agree (c: Case, r: Awaited<ReturnType<typeof mainCase>>, expected: boolean) {
  assert.equal(r.check.ok, expected, `check on "${c.name}": ${r.check.stderr}`)
  assert.equal(r.schema.ok, expected, `schema on "${c.name}": ${r.schema.errors}`)
}

test('the examples pass both the schema and check', async (t) => {
  const dir = await dirFor(t)
  await cp(join(root, 'examples'), dir, { recursive: true })
  assert.equal((await checkVerdict(join(dir, 'gateway.yaml'))).ok, true)
  assert.equal(schemaVerdict(gatewaySchema, await readFile(join(dir, 'gateway.yaml'), 'utf8')).ok, true)
  for (const f of await readdir(join(dir, 'services.d'))) {
    const r = schemaVerdict(serviceSchema, await readFile(join(dir, 'services.d', f), 'utf8'))
    assert.equal(r.ok, true, `${f}: ${r.errors}`)
  }
})

test('main file: the schema and check accept the same good files and refuse the same bad ones', async (t) => {
  for (const c of goodMain) agree(c, await mainCase(t, c), true)
  for (const c of badMain) agree(c, await mainCase(t, c), false)
})

test('servicesDir file: the service schema and check accept the same good files and refuse the same bad ones', async (t) => {
  for (const c of goodService) agree(c, await serviceCase(t, c), true)
  for (const c of badService) agree(c, await serviceCase(t, c), false)
})

test('check is stricter only where a JSON Schema cannot see: cross-field rules, files, parsed addresses, run-time values', async (t) => {
  for (const c of checkStricterMain) {
    const r = await mainCase(t, c)
    assert.equal(r.schema.ok, true, `schema on "${c.name}" (expected to accept): ${r.schema.errors}`)
    assert.equal(r.check.ok, false, `check on "${c.name}" (expected to refuse)`)
  }
})
