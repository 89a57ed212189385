// What the config tests share: a valid service to vary, the problems of a config as
// the CLI prints them, a config that must resolve, and a temp dir for key files.
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatProblem, resolveConfig, type GatewayConfig } from '../../apps/gateway/config/index.ts'

export const svc = (extra: Record<string, unknown> = {}) =>
  ({ name: 'users', prefix: '/api/users', upstreams: ['http://127.0.0.1:3001'], auth: 'none', ...extra })

export function lines (raw: unknown, env: Record<string, string> = {}): string[] {
  return resolveConfig(raw, { file: '/etc/gatehouse/gateway.yaml', env }).problems.map(formatProblem)
}

export function ok (raw: unknown, opts: { baseDir?: string, env?: Record<string, string> } = {}): GatewayConfig {
  const { config, problems } = resolveConfig(raw, { env: {}, ...opts })
  assert.deepEqual(problems.map(formatProblem), [])
  assert.ok(config)
  return config
}

export async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}
