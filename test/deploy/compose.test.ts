// Over ~250 lines: one file per artefact (docker-compose.yml against the code it runs);
// each test reads one promise the stack makes.
// Keeps docker-compose.yml, the Dockerfile, examples/ and deploy/ telling the same
// story: ports, service names, upstream URLs, mount paths.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { expandEnv } from '../../apps/gateway/config/expand-env.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const read = (file: string) => readFileSync(root + file, 'utf8')
// merge: docker-compose.yml's replicas share an `x-gateway` block (`<<: *gateway`).
const readYaml = (file: string) => parse(read(file), { merge: true })

interface ComposeService {
  build?: unknown
  image?: string
  command?: string[] | string
  environment?: Record<string, string | number> | string[]
  ports?: (string | { target: number; published: number | string })[]
  volumes?: (string | { source: string; target: string })[]
}

const compose = readYaml('docker-compose.yml') as { services: Record<string, ComposeService> }
const gatewayConfig = readYaml('examples/gateway.yaml')
const serviceFiles = readdirSync(root + 'examples/services.d').filter((f) => f.endsWith('.yaml'))
const allServices = [
  ...gatewayConfig.services,
  ...serviceFiles.map((f) => readYaml(`examples/services.d/${f}`)),
] as { name: string; upstreams: string[] }[]

function env (service: string): Record<string, string> {
  const raw = compose.services[service]?.environment ?? {}
  const pairs = Array.isArray(raw)
    ? raw.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])
    : Object.entries(raw).map(([k, v]) => [k, String(v)])
  return Object.fromEntries(pairs)
}

// "8080:8080", "127.0.0.1:8081:8081", "3000:3000/tcp" or the long syntax.
function published (service: string): { host: number; container: number }[] {
  return (compose.services[service]?.ports ?? []).map((p) => {
    if (typeof p === 'object') return { host: Number(p.published), container: Number(p.target) }
    const parts = p.replace(/\/(tcp|udp)$/, '').split(':')
    return { host: Number(parts.at(-2)), container: Number(parts.at(-1)) }
  })
}

function mounts (service: string): { source: string; target: string }[] {
  return (compose.services[service]?.volumes ?? []).map((v) => {
    if (typeof v === 'object') return v
    const [source, target] = v.split(':')
    return { source: posix.normalize(source), target }
  })
}

const REPLICAS = ['gateway-1', 'gateway-2']

// As the container reads them: examples/gateway.yaml expanded with the gateway's compose environment.
function gatewayPorts (): { publicPort: number, adminPort: number } {
  const { server, admin } = expandEnv(gatewayConfig, env('gateway-1')).value as Record<'server' | 'admin', { port: string }>
  return { publicPort: Number(server.port), adminPort: Number(admin.port) }
}

const refs = (s: string) => [...s.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g)]
  .map((m) => ({ name: m[1], fallback: m[2] }))

test('HAProxy publishes the public port; each replica publishes its admin port on 127.0.0.1', () => {
  const { publicPort, adminPort } = gatewayPorts()
  assert.equal(publicPort, 8080, 'SPEC public port')
  assert.equal(adminPort, 8081, 'SPEC admin port')
  assert.ok(published('haproxy').some((p) => p.container === publicPort && p.host === publicPort), 'haproxy publishes 8080:8080')
  REPLICAS.forEach((name, i) => {
    assert.deepEqual(published(name), [{ host: adminPort + i, container: adminPort }], `${name} publishes its admin port only`)
    assert.ok((compose.services[name]!.ports as string[]).every((p) => p.startsWith('127.0.0.1:')), `${name}: admin on 127.0.0.1 only`)
  })
})

test('the two replicas are one gateway: same image, config, environment and mounts', () => {
  const [a, b] = REPLICAS.map((name) => compose.services[name]!)
  assert.ok(a && b)
  assert.equal(a.image, b.image)
  assert.deepEqual(env('gateway-1'), env('gateway-2'))
  assert.deepEqual(mounts('gateway-1'), mounts('gateway-2'))
  assert.equal(compose.services.gateway, undefined, 'no single gateway service left next to the replicas')
})

test('both replicas share Redis for rate limits and the cluster registry', () => {
  const text = read('examples/gateway.yaml')
  assert.match(text, /store: "\$\{RATE_LIMIT_STORE:-memory\}"/)
  assert.match(text, /registry:\n {2}store: "\$\{REGISTRY_STORE:-none\}"/)
  const expanded = expandEnv(gatewayConfig, env('gateway-1')).value as { registry: { store: string, redis: { url: string } } }
  assert.equal(expanded.registry.store, 'redis')
  assert.equal(new URL(expanded.registry.redis.url).hostname, 'redis')
  // Admin PUTs go to the registry, so no replica writes the shared services.d.
  assert.ok(compose.services['gateway-1']!.volumes!.some((v) => typeof v === 'string' && /services\.d:ro$/.test(v)))
})

test('both replicas send every request\'s spans to the compose Jaeger over OTLP/HTTP, which accepts OTLP', () => {
  const jaeger = compose.services.jaeger
  assert.ok(jaeger, 'a jaeger service')
  assert.match(String(jaeger.image), /^jaegertracing\/all-in-one:/)
  assert.equal(env('jaeger').COLLECTOR_OTLP_ENABLED, 'true')
  for (const replica of REPLICAS) {
    const vars = env(replica)
    // What examples/gateway.yaml's tracing section reads, as the container expands it.
    const { tracing } = expandEnv(gatewayConfig, vars).value as { tracing: { otlp: { url: string }, sampleRatio: string } }
    const url = new URL(tracing.otlp.url)
    assert.equal(url.hostname, 'jaeger', `${replica}: spans go to the jaeger service`)
    assert.equal(url.port, '4318', `${replica}: Jaeger's OTLP/HTTP port`)
    assert.equal(url.pathname, '/v1/traces')
    assert.equal(Number(tracing.sampleRatio), 1, `${replica}: every new trace is sampled`)
  }
  assert.ok(published('jaeger').some((p) => p.container === 16686), 'the Jaeger UI is published')
})

test('HAProxy balances over both replicas, health-checking /readyz on their admin port (deploy/haproxy/haproxy.cfg)', async (t) => {
  const mount = mounts('haproxy').find((m) => m.source === 'deploy/haproxy/haproxy.cfg')
  assert.ok(mount, 'deploy/haproxy/haproxy.cfg is mounted')
  assert.equal(mount.target, '/usr/local/etc/haproxy/haproxy.cfg')
  const cfg = read('deploy/haproxy/haproxy.cfg')
  const { publicPort, adminPort } = gatewayPorts()
  assert.match(cfg, new RegExp(`^\\s+bind :${publicPort}$`, 'm'))
  assert.match(cfg, /^\s+option httpchk GET \/readyz$/m)
  assert.match(cfg, /^\s+option redispatch/m)
  const servers = [...cfg.matchAll(/^\s+server (\S+) (\S+):(\d+) check port (\d+)/gm)]
  assert.deepEqual(servers.map((m) => [m[1], m[2], Number(m[3]), Number(m[4])]), REPLICAS.map((r) => [r, r, publicPort, adminPort]))
  if (spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status !== 0) {
    t.skip('haproxy is not installed: the file is not checked by haproxy -c (apt-get install haproxy)')
    return
  }
  const check = spawnSync('haproxy', ['-c', '-f', `${root}deploy/haproxy/haproxy.cfg`], { encoding: 'utf8' })
  assert.equal(check.status, 0, check.stdout + check.stderr)
})

test('every upstream variable points at a compose service on the port it listens on', () => {
  const gatewayEnv = env('gateway-1')
  const seen = new Set<string>()
  for (const svc of allServices) {
    for (const upstream of svc.upstreams) {
      const [ref] = refs(upstream)
      assert.ok(ref, `${svc.name}: upstream ${upstream} comes from a variable, so compose can redirect it`)
      seen.add(ref.name)
      const value = gatewayEnv[ref.name]
      assert.ok(value, `compose sets ${ref.name} for the gateway`)
      const url = new URL(value)
      assert.equal(url.protocol, 'http:')
      const target = url.hostname
      assert.ok(compose.services[target], `${ref.name}=${value}: "${target}" is a compose service`)
      const listens = env(target).PORT
      assert.equal(url.port, listens, `${ref.name}: ${target} listens on PORT ${listens}`)
      // The one-machine default (npm start) uses the same port as the container.
      assert.ok(ref.fallback, `${ref.name} has a default for npm start`)
      assert.equal(new URL(ref.fallback).port, listens, `${ref.name} default port`)
    }
  }
  assert.ok(['USERS_URL', 'ORDERS_URL', 'IDENTITY_URL'].every((n) => seen.has(n)), [...seen].join(', '))
})

test('the gateway container listens on all interfaces and uses the compose Redis', () => {
  const gatewayEnv = env('gateway-1')
  const text = read('examples/gateway.yaml')
  assert.match(text, /host: "\$\{GATEWAY_HOST:-127\.0\.0\.1\}"/)
  assert.match(text, /host: "\$\{ADMIN_HOST:-127\.0\.0\.1\}"/)
  assert.equal(gatewayEnv.GATEWAY_HOST, '0.0.0.0')
  assert.equal(gatewayEnv.ADMIN_HOST, '0.0.0.0')
  assert.equal(gatewayEnv.RATE_LIMIT_STORE, 'redis')
  const redis = new URL(gatewayEnv.REDIS_URL)
  assert.equal(redis.protocol, 'redis:')
  assert.ok(compose.services[redis.hostname], 'REDIS_URL names a compose service')
  assert.match(compose.services[redis.hostname].image ?? '', /^redis:7-alpine$/)
})

test('the gateway reads the mounted example config at the path the image runs with', () => {
  const dockerfile = read('Dockerfile')
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)
  assert.ok(cmd, 'Dockerfile has an exec-form CMD')
  const argv = JSON.parse(cmd[1]) as string[]
  const configPath = argv[argv.indexOf('--config') + 1]
  assert.equal(configPath, '/etc/gatehouse/gateway.yaml')
  const gw = mounts('gateway-1')
  assert.ok(gw.some((m) => m.source === 'examples/gateway.yaml' && m.target === configPath))
  const servicesDir = posix.join(posix.dirname(configPath), gatewayConfig.servicesDir)
  assert.ok(gw.some((m) => m.source === 'examples/services.d' && m.target === servicesDir))
  assert.match(dockerfile, /^EXPOSE 8080 8081$/m)
  assert.match(dockerfile, /^USER node$/m)
})

test('sample services run from the same image with their built server', () => {
  const image = compose.services['gateway-1']!.image
  for (const name of ['users', 'orders', 'identity']) {
    const svc = compose.services[name]
    assert.ok(svc, `compose has ${name}`)
    assert.equal(svc.image, image)
    assert.deepEqual(svc.command, ['node', `dist/services/${name}/server.js`])
    assert.ok(existsSync(`${root}services/${name}/server.ts`))
    assert.equal(env(name).HOST, '0.0.0.0')
  }
})

test('Prometheus scrapes the gateway admin port', () => {
  const prom = compose.services.prometheus
  assert.ok(prom)
  const mount = mounts('prometheus').find((m) => m.source === 'deploy/prometheus')
  assert.ok(mount, 'deploy/prometheus is mounted')
  const flag = (prom.command as string[]).find((c) => c.startsWith('--config.file='))
  assert.equal(flag, `--config.file=${mount.target}/prometheus.yml`)
  assert.ok(published('prometheus').some((p) => p.container === 9090))

  const config = readYaml('deploy/prometheus/prometheus.yml')
  const job = config.scrape_configs.find((j: { job_name: string }) => j.job_name === 'gatehouse')
  assert.ok(job)
  assert.equal(job.metrics_path ?? '/metrics', '/metrics')
  assert.deepEqual(job.static_configs[0].targets, REPLICAS.map((r) => `${r}:${gatewayPorts().adminPort}`))
  for (const rules of config.rule_files ?? []) {
    assert.ok(!posix.isAbsolute(rules), 'rule files resolve inside the mounted folder')
  }
})

test('Grafana provisions the Prometheus datasource and the dashboards folder', () => {
  const grafana = compose.services.grafana
  assert.ok(grafana)
  assert.equal(env('grafana').GF_AUTH_ANONYMOUS_ENABLED, 'true')
  assert.equal(env('grafana').GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer')
  assert.ok(published('grafana').some((p) => p.container === 3000))
  const gm = mounts('grafana')
  assert.ok(gm.some((m) => m.source === 'deploy/grafana/provisioning' && m.target === '/etc/grafana/provisioning'))
  const dashboards = gm.find((m) => m.source === 'deploy/grafana/dashboards')
  assert.ok(dashboards)

  const ds = readYaml('deploy/grafana/provisioning/datasources/prometheus.yml')
  assert.equal(ds.apiVersion, 1)
  const prom = ds.datasources.find((d: { type: string }) => d.type === 'prometheus')
  assert.ok(prom)
  const url = new URL(prom.url)
  assert.ok(compose.services[url.hostname], 'datasource host is a compose service')
  assert.equal(url.port, '9090')

  const provider = readYaml('deploy/grafana/provisioning/dashboards/gatehouse.yml')
  assert.equal(provider.apiVersion, 1)
  assert.equal(provider.providers[0].type, 'file')
  assert.equal(provider.providers[0].options.path, dashboards.target)

  for (const file of readdirSync(`${root}deploy/grafana/dashboards`).filter((f) => f.endsWith('.json'))) {
    assert.doesNotThrow(() => JSON.parse(read(`deploy/grafana/dashboards/${file}`)), file)
  }
})

function composeCli (): string[] | null {
  for (const argv of [['docker-compose'], ['docker', 'compose']]) {
    const probe = spawnSync(argv[0], [...argv.slice(1), 'version'], { stdio: 'ignore' })
    if (probe.status === 0) return argv
  }
  return null
}

test('docker compose accepts the file', async (t) => {
  const cli = composeCli()
  if (!cli) {
    t.skip('neither docker-compose nor the docker compose plugin is installed')
    return
  }
  const { stderr } = await promisify(execFile)(cli[0], [...cli.slice(1), '-f', 'docker-compose.yml', 'config', '-q'], { cwd: root })
  assert.equal(stderr.trim(), '')
})
