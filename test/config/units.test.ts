import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseDuration, parseSize } from '../../apps/gateway/config/index.ts'

test('durations: ms, s, m, h and plain numbers of milliseconds', () => {
  assert.equal(parseDuration('250ms'), 250)
  assert.equal(parseDuration('5s'), 5_000)
  assert.equal(parseDuration('1m'), 60_000)
  assert.equal(parseDuration('1h'), 3_600_000)
  assert.equal(parseDuration('1.5s'), 1_500)
  assert.equal(parseDuration(1500), 1500)
  assert.equal(parseDuration('1500'), 1500)
  assert.equal(parseDuration('0'), 0)
})

test('durations: negatives, unknown units and garbage are rejected with a hint', () => {
  for (const bad of ['-5s', '5 sec', '1d', 'soon', '', 's', '5S', '1m30s', -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => parseDuration(bad), /must be a duration/, `accepted ${String(bad)}`)
  }
})

test('sizes: kb = 1024 bytes, mb = 1024 kb, case-insensitive, plain numbers are bytes', () => {
  assert.equal(parseSize('512kb'), 512 * 1024)
  assert.equal(parseSize('1mb'), 1024 * 1024)
  assert.equal(parseSize('1MB'), 1024 * 1024)
  assert.equal(parseSize('1Gb'), 1024 ** 3)
  assert.equal(parseSize('1.5kb'), 1536)
  assert.equal(parseSize('100b'), 100)
  assert.equal(parseSize(2048), 2048)
  assert.equal(parseSize('2048'), 2048)
})

test('sizes: negatives, fractions of a byte and garbage are rejected', () => {
  for (const bad of ['-1kb', '1tb', 'big', '1.5', '', 1.5, -1]) {
    assert.throws(() => parseSize(bad), /must be a size/, `accepted ${String(bad)}`)
  }
})
