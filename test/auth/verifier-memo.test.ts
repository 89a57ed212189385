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

test('a forged token sharing the tail of a memoised valid token is verified, not served from the memo', () => {
  const verify = createVerify(SECRET, ['HS256'], JWT)
  const valid = signHs({ sub: 'alice' })
  assert.equal(verify(valid).sub, 'alice')
  // Same signature tail (the memo's key), another payload: must fail its own check.
  const [, , signature] = valid.split('.')
  const forged = [valid.split('.')[0], Buffer.from(JSON.stringify({ sub: 'mallory' })).toString('base64url'), signature].join('.')
  assert.equal(forged.slice(-16), valid.slice(-16))
  assert.throws(() => verify(forged), /signature/i)
  // And the valid one is still served.
  assert.equal(verify(valid).sub, 'alice')
})
