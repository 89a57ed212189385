import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bearerToken } from '../../plugins/auth/bearer.ts'

test('the Bearer scheme is read in any letter case, and nothing that only looks like it', () => {
  for (const header of ['Bearer abc', 'bearer abc', 'BEARER abc', 'bEaReR\tabc', 'Bearer  abc  ']) {
    assert.equal(bearerToken(header), 'abc', header)
  }
  assert.equal(bearerToken('Bearer'), '')
  // Other schemes, look-alikes that differ by one bit outside letters, and a missing separator.
  for (const header of [undefined, '', 'Bear', 'Basic abc', 'Bearerx abc', 'Bearer:abc', 'Bearez abc', 'Bearer\u0000abc', 'Be\u0001rer abc', '"earer abc']) {
    assert.equal(bearerToken(header), null, JSON.stringify(header))
  }
})
