import { buildIdentityService } from './app.ts'
import { serve } from '../shared/serve.ts'

const env = process.env
const ttl = env.IDENTITY_TTL_SECONDS ? Number(env.IDENTITY_TTL_SECONDS) : undefined
if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) {
  console.error(`invalid IDENTITY_TTL_SECONDS ${JSON.stringify(env.IDENTITY_TTL_SECONDS)}`)
  process.exit(2)
}

await serve(buildIdentityService({
  logger: true,
  privateKey: env.IDENTITY_PRIVATE_KEY || undefined,
  issuer: env.IDENTITY_ISSUER || undefined,
  audience: env.IDENTITY_AUDIENCE || undefined,
  ttlSeconds: ttl,
}), 3003)
