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
const readYaml = (file: string) => parse(read(file))

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

// As the container reads them: examples/gateway.yaml expanded with the gateway's compose environment.
function gatewayPorts (): { publicPort: number, adminPort: number } {
  const { server, admin } = expandEnv(gatewayConfig, env('gateway')).value as Record<'server' | 'admin', { port: string }>
  return { publicPort: Number(server.port), adminPort: Number(admin.port) }
}

const refs = (s: string) => [...s.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g)]
  .map((m) => ({ name: m[1], fallback: m[2] }))

test('the gateway publishes the public and admin ports of examples/gateway.yaml', () => {
  const { publicPort, adminPort } = gatewayPorts()
  assert.equal(publicPort, 8080, 'SPEC public port')
  assert.equal(adminPort, 8081, 'SPEC admin port')
  const ports = published('gateway')
  for (const port of [publicPort, adminPort]) {
    assert.ok(ports.some((p) => p.container === port && p.host === port), `gateway publishes ${port}:${port}`)
  }
})

test('every upstream variable points at a compose service on the port it listens on', () => {
  const gatewayEnv = env('gateway')
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
  const gatewayEnv = env('gateway')
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
  const gw = mounts('gateway')
  assert.ok(gw.some((m) => m.source === 'examples/gateway.yaml' && m.target === configPath))
  const servicesDir = posix.join(posix.dirname(configPath), gatewayConfig.servicesDir)
  assert.ok(gw.some((m) => m.source === 'examples/services.d' && m.target === servicesDir))
  assert.match(dockerfile, /^EXPOSE 8080 8081$/m)
  assert.match(dockerfile, /^USER node$/m)
})

test('sample services run from the same image with their built server', () => {
  const image = compose.services.gateway.image
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
  assert.deepEqual(job.static_configs[0].targets, [`gateway:${gatewayPorts().adminPort}`])
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
