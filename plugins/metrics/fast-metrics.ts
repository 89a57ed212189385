import type { Registry } from 'prom-client'

// A Prometheus histogram for the per-request hot path. prom-client's Histogram validates
// and hashes the label set on every observe(), even through a labels() child; here a
// child is resolved once per label set and an observation is a bucket scan and three
// additions. It plugs into the same Registry (registerMetric + get()), so the exposition
// is the standard histogram: <name>_bucket{...,le}, <name>_sum, <name>_count.

interface Series {
  labels: Record<string, string>
  buckets: Float64Array // non-cumulative counts per upper bound, +Inf last
  sum: number
  count: number
}

export interface FastHistogramChild {
  observe: (value: number) => void
}

// The series of one label set, created on first use: label sets are resolved once per
// child (the hot path holds the child), never per observation.
function seriesFor<L extends string, S> (map: Map<string, S>, metric: string, names: readonly L[],
  labels: Record<L, string>, create: (own: Record<string, string>) => S): S {
  const key = names.map((n) => labels[n]).join('\u0000')
  let series = map.get(key)
  if (series === undefined) {
    const own: Record<string, string> = {}
    for (const n of names) {
      if (typeof labels[n] !== 'string') throw new Error(`${metric}: label "${n}" is required`)
      own[n] = labels[n]
    }
    series = create(own)
    map.set(key, series)
  }
  return series
}

function retainSeries (map: Map<string, { labels: Record<string, string> }>, keep: (labels: Record<string, string>) => boolean) {
  for (const [key, series] of map) if (!keep(series.labels)) map.delete(key)
}

export class FastHistogram<L extends string> {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #labelNames: readonly L[]
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, Series>()

  constructor (opts: { name: string, help: string, labelNames: readonly L[], buckets: readonly number[], registers: Registry[] }) {
    this.name = opts.name
    this.help = opts.help
    this.#labelNames = opts.labelNames
    this.#bounds = [...opts.buckets].sort((a, b) => a - b)
    for (const r of opts.registers) r.registerMetric(this as never)
  }

  labels (labels: Record<L, string>): FastHistogramChild {
    const s = seriesFor(this.#series, this.name, this.#labelNames, labels,
      (own) => ({ labels: own, buckets: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 }))
    const bounds = this.#bounds
    return {
      observe (value: number) {
        let i = 0
        while (i < bounds.length && value > bounds[i]!) i++
        s.buckets[i]!++
        s.sum += value
        s.count++
      },
    }
  }

  // Drops the series whose labels fail `keep` (a removed service's): a child still held
  // somewhere counts into nothing from then on, it never brings the series back.
  retain (keep: (labels: Record<string, string>) => boolean) {
    retainSeries(this.#series, keep)
  }

  reset () {
    for (const s of this.#series.values()) {
      s.buckets.fill(0)
      s.sum = 0
      s.count = 0
    }
  }

  async get () {
    const values: Array<{ labels: Record<string, string | number>, value: number, metricName: string }> = []
    for (const s of this.#series.values()) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.buckets[i]!
        values.push({ labels: { le: this.#bounds[i]!, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` })
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` })
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}

// The counter twin: a labels() child increments a plain number; the exposition is the
// standard counter. Used for the one counter every request touches.
export class FastCounter<L extends string> {
  readonly name: string
  readonly help: string
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly #labelNames: readonly L[]
  readonly #series = new Map<string, { labels: Record<string, string>, value: number }>()

  constructor (opts: { name: string, help: string, labelNames: readonly L[], registers: Registry[] }) {
    this.name = opts.name
    this.help = opts.help
    this.#labelNames = opts.labelNames
    for (const r of opts.registers) r.registerMetric(this as never)
  }

  labels (labels: Record<L, string>): { inc: (value?: number) => void } {
    const s = seriesFor(this.#series, this.name, this.#labelNames, labels, (own) => ({ labels: own, value: 0 }))
    return {
      inc (value = 1) {
        if (!(value >= 0)) throw new Error('a counter can only increase')
        s.value += value
      },
    }
  }

  retain (keep: (labels: Record<string, string>) => boolean) {
    retainSeries(this.#series, keep)
  }

  async get () {
    const values = [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.value }))
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}
