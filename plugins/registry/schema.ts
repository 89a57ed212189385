import { Type, type Static } from '@sinclair/typebox'
import { OneOf, Strict, joinPath, withDefaults, type Defaulted, type Report } from '../../lib/config/kit.ts'

// The cluster registry's configuration (SPEC "Cluster: many instances, one gateway"):
// where the services written through the admin API are kept so that every instance
// serves them. `none` is the same as no section; it lets one file serve a single
// process and a cluster (`store: "${REGISTRY_STORE:-none}"`), as rateLimit.store does.

export const RegistrySchema = Strict({
  store: Type.Optional(OneOf(['redis', 'none'], { default: 'redis' })),
  redis: Type.Optional(Strict({
    url: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a non-empty string', default: 'redis://127.0.0.1:6379' })),
    keyPrefix: Type.Optional(Type.String({ default: 'gatehouse:registry:' })),
  }, { default: {} })),
})

export type RawRegistry = Static<typeof RegistrySchema>

export interface RegistryConfig {
  store: 'redis'
  redis: { url: string, keyPrefix: string }
}

type RawRedis = NonNullable<RawRegistry['redis']>

// null: no registry (`store: none`).
export function resolveRegistry (input: RawRegistry, path: string, report: Report): RegistryConfig | null {
  const raw = withDefaults(RegistrySchema, input) as Defaulted<RawRegistry, 'store' | 'redis'>
  const redis = raw.redis as Defaulted<RawRedis, 'url' | 'keyPrefix'>
  if (!/^rediss?:\/\//.test(redis.url)) report(joinPath(joinPath(path, 'redis'), 'url'), 'must be a redis:// or rediss:// URL')
  if (redis.keyPrefix === '') report(joinPath(joinPath(path, 'redis'), 'keyPrefix'), 'must not be empty (the registry keys would mix with others)')
  if (raw.store === 'none') return null
  return { store: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix } }
}
