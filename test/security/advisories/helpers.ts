// One regression test per published advisory against our proxy stack that applies to a
// gateway, named after its GHSA id where the installed package names it (its own test,
// source comment or changelog), after the CVE or the vulnerability otherwise (see
// docs/security.md, "Dependency advisories"). Each drives the real gateway (createGateway,
// real upstream) with the exploit and asserts it fails, then that a normal request
// through the same gateway still answers 200.
import assert from 'node:assert/strict'
import { request } from 'undici'
import type { Upstream } from '../../helpers/upstream.ts'
import type { TestGateway } from '../../helpers/gateway.ts'
import { rawRequest } from '../../helpers/raw-http.ts'

export function get (url: string, payload: string) {
  return rawRequest(url, `GET ${payload} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
}

export async function expectHealthy (gw: TestGateway, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${gw.url}${path}`, { headers })
  await res.body.dump()
  assert.equal(res.statusCode, 200, 'a normal request through the same gateway still answers 200')
}

// The path an upstream would serve for this target: its dot segments resolved as an
// HTTP server resolves them (WHATWG: `%2e` is a dot). `%2F` and `%5C` are data inside a
// segment (SPEC: forwarded as they came), so they are not decoded into separators here.
// Used to prove no request escaped the prefix it was sent under.
export function servedPath (url: string): string {
  return new URL(url.split('?')[0]!, 'http://upstream.invalid').pathname
}

export function assertUnder (up: Upstream | { requests: Array<{ url: string }> }, base: string, what = 'upstream served') {
  for (const r of up.requests) {
    const served = servedPath(r.url)
    assert.ok(served === base || served.startsWith(base + '/'), `${what} ${r.url} (= ${served}) outside ${base}`)
  }
}
