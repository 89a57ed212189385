import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const DASHBOARD = path.join(ROOT, 'deploy/grafana/dashboards/gatehouse.json')
const ALERTS = path.join(ROOT, 'deploy/prometheus/alerts.yml')
const DATASOURCES = path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml')
const PROMETHEUS = path.join(ROOT, 'deploy/prometheus/prometheus.yml')
const COMPOSE = path.join(ROOT, 'docker-compose.yml')
const RULE_TESTS = path.join(import.meta.dirname, 'alerts.promtool.yml')

const run = promisify(execFile)

// Series Prometheus makes itself, not the gateway.
const PROMETHEUS_SERIES = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE'])
const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or',
  'unless', 'offset', 'inf', 'nan'])

// Metric names a PromQL expression reads. Strings, label matchers, ranges, grouping
// label lists, Grafana variables and numbers are removed first; what is left and is not
// a function call or an operator keyword names a metric.
function metricNamesIn (expr: string): string[] {
  let e = expr
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
  e = e.replace(/\{[^}]*\}/g, ' ')
  e = e.replace(/\[[^\]]*\]/g, ' ')
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  e = e.replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?/g, ' ')
  e = e.replace(/(?<![A-Za-z0-9_:])[0-9][0-9.]*(?:e[+-]?[0-9]+)?(?:ms|[smhdwy])?/gi, ' ')
  const names = new Set<string>()
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = e.slice(m.index + m[0].length)
    if (/^\s*\(/.test(rest)) continue // a function
    if (NOT_METRICS.has(m[0].toLowerCase())) continue
    names.add(m[0])
  }
  return [...names]
}

// Grafana variable queries: label_values(<selector>, label) reads <selector>'s metric.
function templatingExprs (query: string): string[] {
  const m = /^\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.exec(query)
  if (m) return [m[1]!]
  if (/^\s*label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.test(query)) return []
  return [query]
}

interface DashboardExprs {
  exprs: string[]
  datasourceUids: string[]
}

function collectDashboard (node: unknown, out: DashboardExprs = { exprs: [], datasourceUids: [] }): DashboardExprs {
  if (Array.isArray(node)) {
    for (const item of node) collectDashboard(item, out)
  } else if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>
    if (typeof o.expr === 'string') out.exprs.push(o.expr)
    if (o.type === 'query' && o.query !== undefined) {
      const q = typeof o.query === 'string' ? o.query : (o.query as { query?: string }).query
      if (typeof q === 'string') out.exprs.push(...templatingExprs(q))
    }
    const ds = o.datasource as { type?: string, uid?: string } | undefined
    if (ds && typeof ds === 'object' && ds.type === 'prometheus') out.datasourceUids.push(String(ds.uid))
    for (const v of Object.values(o)) collectDashboard(v, out)
  }
  return out
}

async function alertRules (): Promise<Array<Record<string, any>>> {
  const doc = parseYaml(await readFile(ALERTS, 'utf8')) as { groups: Array<{ rules: Array<Record<string, any>> }> }
  return doc.groups.flatMap((g) => g.rules)
}

// name -> type, from a gateway registry (the same function the gateway uses).
async function exportedMetrics (): Promise<Map<string, string>> {
  const metrics = createGatewayMetrics()
  const json = await metrics.registry.getMetricsAsJSON()
  return new Map(json.map((m) => [m.name, String(m.type)]))
}

function isExported (name: string, exported: Map<string, string>): boolean {
  if (exported.has(name)) return true
  const m = /^(.*)_(bucket|sum|count)$/.exec(name)
  if (m === null) return false
  const type = exported.get(m[1]!)
  return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket')
}

test('the PromQL metric extractor finds names and nothing else', () => {
  assert.deepEqual(metricNamesIn(
    'histogram_quantile(0.99, sum by (le, service) (rate(gatehouse_http_request_duration_seconds_bucket{service=~"$service",code!="a b"}[$__rate_interval]))) > 1'),
  ['gatehouse_http_request_duration_seconds_bucket'])
  assert.deepEqual(metricNamesIn(
    'sum by (service, class) (label_replace(rate(x_total[5m] offset 1h), "class", "${1}xx", "code", "([0-9])..")) / on (service) group_left (team) y and z'),
  ['x_total', 'y', 'z'])
  assert.deepEqual(metricNamesIn('max by (service, upstream) (gatehouse_circuit_state) == 2'), ['gatehouse_circuit_state'])
  assert.deepEqual(templatingExprs('label_values(gatehouse_http_requests_total, service)'), ['gatehouse_http_requests_total'])
  assert.equal(isExported('gatehouse_http_requests_total_bucket', new Map([['gatehouse_http_requests_total', 'counter']])), false)
})

test('every metric the dashboard and the alert rules query is exported by the gateway', async () => {
  const exported = await exportedMetrics()
  const dashboard = collectDashboard(JSON.parse(await readFile(DASHBOARD, 'utf8')))
  const rules = await alertRules()
  assert.ok(dashboard.exprs.length >= 20, `dashboard queries found: ${dashboard.exprs.length}`)
  assert.ok(rules.length >= 5)

  const used = new Map<string, string>()
  for (const expr of dashboard.exprs) for (const n of metricNamesIn(expr)) used.set(n, `dashboard: ${expr}`)
  for (const rule of rules) for (const n of metricNamesIn(String(rule.expr))) used.set(n, `alert ${rule.alert}: ${rule.expr}`)

  const missing = [...used].filter(([n]) => !PROMETHEUS_SERIES.has(n) && !isExported(n, exported))
  assert.deepEqual(missing, [], 'queried but not exported')

  // The dashboard covers every gatehouse metric and the process basics.
  const dashboardNames = new Set(dashboard.exprs.flatMap(metricNamesIn).map((n) => n.replace(/_(bucket|sum|count)$/, '')))
  for (const name of exported.keys()) {
    if (name.startsWith('gatehouse_')) assert.ok(dashboardNames.has(name), `dashboard shows ${name}`)
  }
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    assert.ok(dashboardNames.has(name), `dashboard shows ${name}`)
  }
})

test('the alert rules cover breaker open, 5xx ratio, p99, rate-limit store and upstream down', async () => {
  const rules = await alertRules()
  const byMetric = (name: string) => rules.filter((r) => metricNamesIn(String(r.expr)).some((n) => n.startsWith(name)))
  const circuit = byMetric('gatehouse_circuit_state')
  assert.equal(circuit.length, 1)
  assert.match(String(circuit[0]!.expr), /== 2/)
  assert.equal(circuit[0]!.for, '1m')
  assert.match(byMetric('gatehouse_http_requests_total').map((r) => r.expr).join(), /code=~"5\.\."[\s\S]*> 0\.05/)
  assert.match(byMetric('gatehouse_http_request_duration_seconds').map((r) => r.expr).join(), /histogram_quantile\(0\.99/)
  assert.equal(byMetric('gatehouse_ratelimit_store_degraded').length, 1)
  assert.equal(byMetric('gatehouse_upstream_up').length, 1)
  for (const r of rules) {
    assert.ok(r.labels?.severity, `${r.alert} has a severity`)
    assert.ok(r.annotations?.summary, `${r.alert} has a summary`)
  }
})

interface Panel { title?: string, targets?: Array<{ expr?: string }>, panels?: Panel[] }

function panelsOf (panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])])
}

// The status codes a query's `code` matchers let through (=, =~; != and !~ remove).
function codesSelected (expr: string): number[] {
  let codes = Array.from({ length: 500 }, (_, i) => 100 + i)
  for (const m of expr.matchAll(/\bcode\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
    const [, op, value] = m as unknown as [string, string, string]
    // PromQL unescapes the string, then anchors the regex.
    const re = new RegExp(`^(?:${value.replace(/\\\\/g, '\\')})$`)
    const matches = (c: number) => op.endsWith('~') ? re.test(String(c)) : String(c) === value
    codes = codes.filter((c) => op.startsWith('!') ? !matches(c) : matches(c))
  }
  return codes
}

test('the code matcher reader sees what a selector lets through', () => {
  assert.deepEqual(codesSelected('x{code=~"5.."}').slice(0, 2), [500, 501])
  assert.equal(codesSelected('x{code=~"4..|5.."}').length, 200)
  assert.deepEqual(codesSelected('x{code="429"}'), [429])
  assert.equal(codesSelected('x{code!~"5.."}').some((c) => c >= 500), false)
  assert.equal(codesSelected('x').length, 500)
})

test('a panel whose title names status classes (5xx) plots only those classes', async () => {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Panel[] }
  let checked = 0
  for (const panel of panelsOf(dashboard.panels)) {
    const classes = [...(panel.title ?? '').matchAll(/\b([1-5])xx\b/g)].map((m) => Number(m[1]))
    if (classes.length === 0) continue
    checked++
    for (const { expr } of panel.targets ?? []) {
      if (expr === undefined) continue
      // A ratio's denominator selects every code: only the selectors that pick codes count.
      const selectors = [...expr.matchAll(/\{[^}]*\bcode\s*[=!]~?[^}]*\}/g)].map((m) => m[0])
      assert.ok(selectors.length > 0, `"${panel.title}" selects its classes by code: ${expr}`)
      for (const selector of selectors) {
        const stray = codesSelected(selector).filter((c) => !classes.includes(Math.floor(c / 100)))
        assert.deepEqual(stray.map((c) => `${Math.floor(c / 100)}xx`).filter((c, i, all) => all.indexOf(c) === i), [],
          `"${panel.title}" plots other classes: ${expr}`)
      }
    }
  }
  assert.ok(checked >= 2, `panels titled with a status class: ${checked}`)
})

test('the dashboard uses the provisioned Prometheus datasource uid', async () => {
  const provisioned = parseYaml(await readFile(DATASOURCES, 'utf8')) as { datasources: Array<{ type: string, uid: string }> }
  const prom = provisioned.datasources.filter((d) => d.type === 'prometheus')
  assert.equal(prom.length, 1)
  const { datasourceUids } = collectDashboard(JSON.parse(await readFile(DASHBOARD, 'utf8')))
  assert.ok(datasourceUids.length > 0)
  assert.deepEqual([...new Set(datasourceUids)], [prom[0]!.uid])
})

test('Prometheus loads alerts.yml: rule_files matches it and compose mounts its folder', async () => {
  const prom = parseYaml(await readFile(PROMETHEUS, 'utf8')) as { rule_files: string[] }
  const globToRegExp = (g: string) => new RegExp('^' + g.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.') + '$')
  assert.ok(prom.rule_files.some((g) => globToRegExp(g).test('alerts.yml')), `rule_files ${prom.rule_files}`)
  const compose = parseYaml(await readFile(COMPOSE, 'utf8')) as { services: Record<string, { volumes?: string[], command?: string[] }> }
  const p = compose.services.prometheus!
  const mount = p.volumes!.find((v) => v.startsWith('./deploy/prometheus:'))
  assert.ok(mount, 'deploy/prometheus is mounted')
  const target = mount.split(':')[1]!
  assert.ok(p.command!.includes(`--config.file=${target}/prometheus.yml`), 'prometheus.yml is read from the mounted folder')
})

async function promtool (): Promise<string | null> {
  try {
    await run('promtool', ['--version'])
    return 'promtool'
  } catch {
    return null
  }
}

test('promtool check rules accepts deploy/prometheus/alerts.yml', async (t) => {
  const bin = await promtool()
  if (bin === null) {
    t.skip('promtool not installed (apt-get install -y prometheus)')
    return
  }
  const { stdout } = await run(bin, ['check', 'rules', ALERTS])
  assert.match(stdout, /SUCCESS: \d+ rules found/)
})

test('promtool test rules: each alert fires on the series it is meant for, and only then', async (t) => {
  const bin = await promtool()
  if (bin === null) {
    t.skip('promtool not installed (apt-get install -y prometheus)')
    return
  }
  const { stdout } = await run(bin, ['test', 'rules', RULE_TESTS])
  assert.match(stdout, /SUCCESS/)
})
