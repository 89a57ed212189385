import { buildOrdersService } from './app.ts'
import { serve } from '../shared/serve.ts'

await serve(buildOrdersService({ logger: true }), 3002)
