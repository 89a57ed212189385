// Gateways sharing one cluster registry (SPEC "Cluster"): the config pieces and the
// admin calls the cluster tests make.
import { REDIS_URL } from './redis.ts'

export const ADMIN_TOKEN = 'cluster-admin-token-for-tests'
export const ADMIN_AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` }

// A registry section under a key prefix of the test's own (testRedis() deletes its keys).
export function registryConfig (prefix: string, url: string = REDIS_URL) {
  return { store: 'redis', redis: { url, keyPrefix: `${prefix}registry:` } }
}

export function putService (name: string, body: Record<string, unknown>) {
  return {
    method: 'PUT' as const,
    url: `/admin/services/${name}`,
    headers: { 'content-type': 'application/json', ...ADMIN_AUTH },
    payload: JSON.stringify(body),
  }
}

export function deleteService (name: string) {
  return { method: 'DELETE' as const, url: `/admin/services/${name}`, headers: ADMIN_AUTH }
}
