import { test } from 'node:test'
import assert from 'node:assert/strict'
import { storableTtlMs } from '../../plugins/cache/freshness.ts'
import { chooseEncoding } from '../../plugins/compression/index.ts'

const NOW = Date.parse('2025-01-01T00:00:00Z')
const ttl = (headers: Record<string, unknown>, limit = 60_000) => storableTtlMs(headers, limit, NOW)

test('cache TTL: s-maxage, then max-age, then Expires bound it; never above cache.ttl; the upstream Age counts', () => {
  assert.equal(ttl({}), 60_000, 'no freshness information: cache.ttl')
  assert.equal(ttl({ 'cache-control': 'public' }), 60_000)
  assert.equal(ttl({ 'cache-control': 'max-age=10' }), 10_000)
  assert.equal(ttl({ 'cache-control': 'max-age=3600' }), 60_000, 'never above cache.ttl')
  assert.equal(ttl({ 'cache-control': 's-maxage=5, max-age=30' }), 5_000, 's-maxage wins for a shared cache')
  assert.equal(ttl({ 'cache-control': 'max-age=10', age: '4' }), 6_000)
  assert.equal(ttl({ 'cache-control': 'max-age=10', age: '10' }), 0, 'already stale upstream')
  assert.equal(ttl({ expires: 'Wed, 01 Jan 2025 00:00:20 GMT', date: 'Wed, 01 Jan 2025 00:00:00 GMT' }), 20_000)
  assert.equal(ttl({ expires: '0' }), 0, 'an invalid Expires is already expired')
  assert.equal(ttl({ 'cache-control': 'max-age=10', expires: '0' }), 10_000, 'max-age overrides Expires')
})

test('cache TTL: no-store, private, no-cache (also qualified) and Pragma: no-cache are never stored', () => {
  for (const cc of ['no-store', 'private', 'no-cache', 'private="set-cookie", max-age=60', 'NO-STORE', 'max-age=60, no-cache="x"']) {
    assert.equal(ttl({ 'cache-control': cc }), 0, cc)
  }
  assert.equal(ttl({ pragma: 'no-cache' }), 0)
  assert.equal(ttl({ 'cache-control': 'max-age=junk' }), 0, 'a malformed max-age cannot make a response fresh')
})

test('Accept-Encoding: highest q wins, ties go to the configured order, q=0 and unknown codings refuse', () => {
  const offered = ['br', 'gzip']
  assert.equal(chooseEncoding('gzip, br', offered), 'br')
  assert.equal(chooseEncoding('gzip;q=1, br;q=0.9', offered), 'gzip')
  assert.equal(chooseEncoding('GZIP', offered), 'gzip')
  assert.equal(chooseEncoding('x-gzip', offered), 'gzip')
  assert.equal(chooseEncoding('*;q=0.1, br;q=0', offered), 'gzip')
  assert.equal(chooseEncoding('identity', offered), null)
  assert.equal(chooseEncoding('gzip;q=0', offered), null)
  assert.equal(chooseEncoding('deflate, compress', offered), null)
  assert.equal(chooseEncoding('br;q=0.5, gzip;q=0.5', ['gzip', 'br']), 'gzip')
})
