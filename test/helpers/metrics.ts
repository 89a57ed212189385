// Reading the gateway's metrics, two ways: metricValue asks the registry for one series
// (what a behaviour test counts); scrape reads /metrics through a strict reader of the
// Prometheus text format (0.0.4): families with their HELP and TYPE, every sample with
// its labels (what the exposition tests check).
import assert from 'node:assert/strict'
import type { Gateway } from '../../apps/gateway/app.ts'

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  help: string | null
  type: string | null
  samples: Sample[]
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y

function parseLabels (text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {}
  LABEL.lastIndex = 0
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex
    const m = LABEL.exec(text)
    if (m === null) throw new Error(`bad label set at ${start} in: ${line}`)
    if (m[1]! in labels) throw new Error(`duplicate label ${m[1]} in: ${line}`)
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c))
  }
  return labels
}

function parseValue (text: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  // prom-client writes `Nan` (util.js); Prometheus parses NaN case-insensitively too.
  if (text.toLowerCase() === 'nan') return NaN
  const v = Number(text)
  if (Number.isNaN(v)) throw new Error(`bad sample value ${text}`)
  return v
}

// The family a sample belongs to: histogram/summary samples carry a suffix.
function familyOf (families: Map<string, Family>, sampleName: string): Family | undefined {
  const exact = families.get(sampleName)
  if (exact !== undefined) return exact
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const f = families.get(sampleName.slice(0, -suffix.length))
      if (f !== undefined && (f.type === 'histogram' || f.type === 'summary')) return f
    }
  }
  return undefined
}

export function parseExposition (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const family = (name: string) => {
    let f = families.get(name)
    if (f === undefined) {
      f = { name, help: null, type: null, samples: [] }
      families.set(name, f)
    }
    return f
  }
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7)
      const sp = rest.indexOf(' ')
      family(rest.slice(0, sp)).help = rest.slice(sp + 1)
      continue
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ')
      const f = family(name!)
      if (f.type !== null) throw new Error(`second TYPE line for ${name}`)
      f.type = type!
      continue
    }
    if (line.startsWith('#')) continue
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`unparseable line: ${line}`)
    const f = familyOf(families, m[1]!)
    if (f === undefined) throw new Error(`sample without a TYPE: ${line}`)
    f.samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value: parseValue(m[3]!) })
  }
  return families
}

// Samples of a family named exactly `name` (e.g. a histogram's `_count`) matching `where`.
export function samples (families: Map<string, Family>, name: string, where: Record<string, string> = {}): Sample[] {
  const out: Sample[] = []
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue
      if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) out.push(s)
    }
  }
  return out
}

export function value (families: Map<string, Family>, name: string, where: Record<string, string> = {}): number {
  const found = samples(families, name, where)
  if (found.length !== 1) throw new Error(`expected one sample of ${name} ${JSON.stringify(where)}, found ${found.length}`)
  return found[0]!.value
}

// A gateway, or anything holding one (TestGateway, FileGateway).
type HasGateway = Gateway | { gateway: Gateway }

const gatewayOf = (target: HasGateway): Gateway => ('gateway' in target ? target.gateway : target)

// One series of a registered metric by its exported name (e.g. gatehouse_upstream_up),
// the first whose labels include `labels`; undefined when no such series exists.
export async function metricValue (target: HasGateway, name: string,
  labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = gatewayOf(target).ctx.metrics.registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const data = await metric.get()
  const hit = data.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
  return hit?.value
}

export interface Scrape {
  text: string
  families: Map<string, Family>
}

// GET /metrics: over the network when given the admin URL of a listening gateway, else
// injected into the admin server. Asserts the 200 and the text format's content type.
export async function scrape (target: HasGateway | string): Promise<Scrape> {
  let text: string
  let contentType: string
  if (typeof target === 'string') {
    const res = await fetch(`${target}/metrics`)
    assert.equal(res.status, 200)
    text = await res.text()
    contentType = res.headers.get('content-type') ?? ''
  } else {
    const res = await gatewayOf(target).admin.inject('/metrics')
    assert.equal(res.statusCode, 200)
    text = res.body
    contentType = String(res.headers['content-type'])
  }
  assert.match(contentType, /^text\/plain; version=0\.0\.4/)
  return { text, families: parseExposition(text) }
}
