import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Counter, Histogram, Registry } from 'prom-client'
import { FastCounter, FastHistogram } from '../../plugins/metrics/fast-metrics.ts'

test('FastHistogram exposes exactly what prom-client\'s Histogram exposes for the same observations', async () => {
  const ours = new Registry()
  const theirs = new Registry()
  const opts = { name: 'h_seconds', help: 'x', labelNames: ['service', 'method'] as const, buckets: [0.01, 0.1, 1] }
  const fast = new FastHistogram({ ...opts, registers: [ours] })
  const reference = new Histogram({ ...opts, registers: [theirs] })
  const samples: Array<[string, string, number]> = [['a', 'GET', 0.005], ['a', 'GET', 0.01], ['a', 'GET', 0.5], ['a', 'POST', 2], ['b', 'GET', 0.1]]
  for (const [service, method, v] of samples) {
    fast.labels({ service, method }).observe(v)
    reference.labels({ service, method }).observe(v)
  }
  assert.equal(await ours.metrics(), await theirs.metrics())
  assert.throws(() => fast.labels({ service: 'a' } as never), /label "method" is required/)
})

test('FastCounter exposes exactly what prom-client\'s Counter exposes for the same increments', async () => {
  const ours = new Registry()
  const theirs = new Registry()
  const opts = { name: 'c_total', help: 'x', labelNames: ['service', 'code'] as const }
  const fast = new FastCounter({ ...opts, registers: [ours] })
  const reference = new Counter({ ...opts, registers: [theirs] })
  for (const [service, code, n] of [['a', '200', 3], ['a', '404', 1], ['b', '200', 2]] as const) {
    for (let i = 0; i < n; i++) {
      fast.labels({ service, code }).inc()
      reference.labels({ service, code }).inc()
    }
  }
  fast.labels({ service: 'b', code: '200' }).inc(0.5)
  reference.labels({ service: 'b', code: '200' }).inc(0.5)
  assert.equal(await ours.metrics(), await theirs.metrics())
  assert.throws(() => fast.labels({ service: 'a', code: '200' }).inc(-1), /only increase/)
})
