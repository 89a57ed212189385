// The `registry` section (SPEC "Cluster"): defaults, `none`, and the problems it reports.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatProblem, resolveConfig } from '../../apps/gateway/config/index.ts'

const resolve = (registry: unknown) => resolveConfig({ registry }, { file: null, env: {} })

test('registry: { store: redis } gets the SPEC defaults; none (or no section) is no registry', () => {
  assert.deepEqual(resolve({ store: 'redis' }).config?.registry, { store: 'redis', redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'gatehouse:registry:' } })
  assert.deepEqual(resolve({}).config?.registry?.store, 'redis')
  assert.equal(resolve({ store: 'none' }).config?.registry, null)
  assert.equal(resolveConfig({}, { file: null, env: {} }).config?.registry, null)
})

test('registry problems name the key path: bad URL, empty prefix, unknown key, unknown store', () => {
  const lines = (r: unknown) => resolve(r).problems.map(formatProblem)
  assert.deepEqual(lines({ redis: { url: 'http://x' } }), ['<inline>: registry.redis.url: must be a redis:// or rediss:// URL'])
  assert.equal(lines({ redis: { keyPrefix: '' } }).length, 1)
  assert.match(lines({ redis: { url: 'redis://x:1', timeout: '1s' } })[0]!, /registry\.redis.*timeout/)
  assert.match(lines({ store: 'memory' })[0]!, /registry\.store/)
})
