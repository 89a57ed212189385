import { buildUsersService } from './app.ts'
import { serve } from '../shared/serve.ts'

await serve(buildUsersService({ logger: true }), 3001)
