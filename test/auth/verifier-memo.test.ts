import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createVerify } from '../../plugins/auth/verifier.ts'
import { SECRET, signHs } from './fixtures.ts'

const JWT = { algorithms: ['HS256'], clockToleranceMs: 0, forwardAuthorization: true, secret: SECRET }

test('a memoised token stops verifying once it expires (the memo never outlives exp)', (t) => {
  let now = Date.now()
  t.mock.method(Date, 'now', () => now)
  const verify = createVerify(SECRET, ['HS256'], JWT)
  const token = signHs({ sub: 'alice', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 2 })
  assert.equal(verify(token).sub, 'alice')
  assert.equal(verify(token).sub, 'alice', 'served again while valid')
  now += 3000
  assert.throws(() => verify(token), /expired/i)
})

test('a rejected token is never memoised as valid', () => {
  const verify = createVerify(SECRET, ['HS256'], JWT)
  const bad = signHs({ sub: 'mallory' }, 'another-secret-0123456789abcdef')
  assert.throws(() => verify(bad))
  assert.throws(() => verify(bad))
})
