// The config module's public surface: everything else in this folder is internal.
export { resolveConfig, parseServiceDefinition, loadServicesDir, loadConfig, type ServiceDefinitionOptions } from './load.ts'
export { checkServiceSet, impliedRateLimit } from './service-set.ts'
export { formatProblem } from './problems.ts'
export { parseYaml } from './parse-yaml.ts'
export { parseDuration, parseSize } from '../../../lib/config/units.ts'
export { expandString, type Env } from './expand-env.ts'
export * from './schema.ts'
export type * from './types.ts'
