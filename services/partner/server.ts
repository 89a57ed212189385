import { buildPartnerService } from './app.ts'
import { serve } from '../shared/serve.ts'

await serve(buildPartnerService({ logger: true }), 3004)
