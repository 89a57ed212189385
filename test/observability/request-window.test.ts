// The status page's per-service last minute (plugins/metrics/request-window.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RequestWindow } from '../../plugins/metrics/request-window.ts'

test('requests and 5xx answers of the last 60 s per service; older seconds drop out as the clock moves', () => {
  let now = 1_000_000_000_000
  const w = new RequestWindow(() => now)
  w.record('users', 200)
  w.record('users', 503)
  w.record('orders', 500)
  now += 30_000
  w.record('users', 404)
  assert.deepEqual(w.lastMinute('users'), { requests: 3, errors5xx: 1 })
  assert.deepEqual(w.lastMinute('orders'), { requests: 1, errors5xx: 1 })
  assert.deepEqual(w.lastMinute('nobody'), { requests: 0, errors5xx: 0 })
  now += 30_000 // the first second is now 60 s old
  assert.deepEqual(w.lastMinute('users'), { requests: 1, errors5xx: 0 })
  // A bucket reused a minute later starts from zero.
  w.record('users', 200)
  assert.deepEqual(w.lastMinute('users'), { requests: 2, errors5xx: 0 })
  now += 10 * 60_000
  assert.deepEqual(w.lastMinute('users'), { requests: 0, errors5xx: 0 })
})

test('retain() forgets services that are gone', () => {
  const w = new RequestWindow()
  w.record('a', 200)
  w.record('b', 200)
  w.retain(['b'])
  assert.deepEqual(w.lastMinute('a'), { requests: 0, errors5xx: 0 })
  assert.deepEqual(w.lastMinute('b'), { requests: 1, errors5xx: 0 })
})
