import { readdir, readFile, stat, access } from 'node:fs/promises'
import { constants } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { expandEnv, type Env } from './expand-env.ts'
import { parseYaml } from './parse-yaml.ts'
import { formatProblem, withFile } from './problems.ts'
import type { PathProblem } from '../../../lib/config/kit.ts'
import { resolveGateway, type GatewayParts } from './resolve-gateway.ts'
import { resolveService } from './resolve-service.ts'
import { GatewaySchema, ServiceSchema, type RawService } from './schema.ts'
import { checkServiceSet, impliedRateLimit, servicesDirLabel } from './service-set.ts'
import { firstPerPath, hasShape, normalize, schemaProblems } from './validate.ts'
import type { ConfigProblem } from '../../../lib/config-types.ts'
import type { GatewayConfig, ServiceConfig } from './types.ts'

// Raw tree -> resolved config, and the file-reading around it. Every problem is
// collected (never only the first), each with its file and key path.

function isMapping (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function errorCode (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' ? 'no such file or directory' : code ?? String(err)
}

// Expand, normalise and schema-check a tree: the steps shared by the main file and
// single services.
function prepare (raw: unknown, schema: typeof GatewaySchema | typeof ServiceSchema, env: Env): { value: unknown, problems: PathProblem[] } {
  const expansion = expandEnv(raw, env)
  const normalized = normalize(schema, expansion.value, expansion.expanded)
  return {
    value: normalized.value,
    problems: [...expansion.problems, ...normalized.problems, ...schemaProblems(schema, normalized.value)]
  }
}

interface MainResult {
  parts: GatewayParts | null
  problems: ConfigProblem[]
}

function resolveMain (raw: unknown, file: string | null, baseDir: string, env: Env): MainResult {
  const label = file === null ? '<inline>' : basename(file)
  // An empty YAML document is null: all defaults, no services.
  const tree = raw === null || raw === undefined ? {} : raw
  if (!isMapping(tree)) {
    return { parts: null, problems: [{ file: label, path: '', message: 'must be a YAML mapping of settings (server, services, ...)' }] }
  }
  const prepared = prepare(tree, GatewaySchema, env)
  const semantic: PathProblem[] = []
  const parts = resolveGateway(prepared.value as Record<string, unknown>, {
    report: (path, message) => semantic.push({ path, message }),
    baseDir,
    file
  })
  return { parts, problems: withFile(label, firstPerPath([...prepared.problems, ...semantic])) }
}

function finish (parts: GatewayParts | null, services: ServiceConfig[], problems: ConfigProblem[]): { config: GatewayConfig | null, problems: ConfigProblem[] } {
  // The same line can come from two checks (e.g. a duplicate inside servicesDir).
  const seen = new Set<string>()
  const unique = problems.filter(p => {
    const line = formatProblem(p)
    if (seen.has(line)) return false
    seen.add(line)
    return true
  })
  if (unique.length > 0 || parts === null || parts.config === null) return { config: null, problems: unique }
  return {
    config: { ...parts.config, services, rateLimit: impliedRateLimit(parts.config.rateLimit, services) },
    problems: []
  }
}

export function resolveConfig (raw: unknown, opts: { file?: string | null, baseDir?: string, env?: Env } = {}): { config: GatewayConfig | null, problems: ConfigProblem[] } {
  const file = opts.file === undefined || opts.file === null ? null : resolve(opts.file)
  const baseDir = opts.baseDir ?? (file === null ? process.cwd() : dirname(file))
  const { parts, problems } = resolveMain(raw, file, baseDir, opts.env ?? process.env)
  const services = parts?.services ?? []
  return finish(parts, services, [...problems, ...checkServiceSet(services, { jwt: parts?.jwt ?? undefined })])
}

export interface ServiceDefinitionOptions {
  file: string // stored as ServiceConfig.file (only for source 'servicesDir'); the problem file unless `label`
  source: 'servicesDir' | 'admin' | 'registry'
  baseDir: string // relative paths (upstreamTls.ca) resolve against it
  env?: Env
  label?: string // problem file name, e.g. services.d/orders.yaml
}

// One service, as in a servicesDir file or an admin API body. Key paths are relative
// to the service (`upstreams[0]`). Whether its name/prefix clash with others is
// checkServiceSet's job.
export function parseServiceDefinition (raw: unknown, opts: ServiceDefinitionOptions): { service: ServiceConfig | null, problems: ConfigProblem[] } {
  const label = opts.label ?? opts.file
  if (!isMapping(raw)) {
    return { service: null, problems: [{ file: label, path: '', message: 'must be a YAML mapping describing one service' }] }
  }
  const prepared = prepare(raw, ServiceSchema, opts.env ?? process.env)
  const semantic: PathProblem[] = []
  let service: ServiceConfig | null = null
  if (hasShape(ServiceSchema, prepared.value)) {
    service = resolveService(prepared.value as RawService, '', {
      report: (path, message) => semantic.push({ path, message }),
      baseDir: opts.baseDir
    }, opts.source === 'servicesDir' ? { source: opts.source, file: opts.file } : { source: opts.source })
  }
  const problems = withFile(label, firstPerPath([...prepared.problems, ...semantic]))
  return { service: problems.length === 0 ? service : null, problems }
}

async function isYamlFile (dir: string, name: string): Promise<boolean> {
  // Dotfiles are editor swap/lock files or, in a Kubernetes ConfigMap mount, the
  // `..data` links; the real entries are the symlinks next to them.
  if (name.startsWith('.') || !/\.ya?ml$/i.test(name)) return false
  try {
    return (await stat(join(dir, name))).isFile()
  } catch {
    return false
  }
}

// Every *.yaml / *.yml file in `dir` (sorted) is one service.
export async function loadServicesDir (dir: string, env: Env = process.env): Promise<{ services: ServiceConfig[], problems: ConfigProblem[] }> {
  const abs = resolve(dir)
  let names: string[]
  try {
    names = (await readdir(abs)).sort()
  } catch (err) {
    return { services: [], problems: [{ file: basename(abs), path: '', message: `cannot read servicesDir ${abs}: ${errorCode(err)}` }] }
  }
  const services: ServiceConfig[] = []
  const problems: ConfigProblem[] = []
  for (const name of names) {
    if (!(await isYamlFile(abs, name))) continue
    const file = join(abs, name)
    const label = servicesDirLabel(file)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      problems.push({ file: label, path: '', message: `cannot read: ${errorCode(err)}` })
      continue
    }
    const parsed = parseYaml(text)
    if (parsed.problems.length > 0) {
      problems.push(...withFile(label, parsed.problems))
      continue
    }
    const r = parseServiceDefinition(parsed.value, { file, source: 'servicesDir', baseDir: abs, env, label })
    problems.push(...r.problems)
    if (r.service !== null) services.push(r.service)
  }
  return { services, problems: [...problems, ...checkServiceSet(services)] }
}

async function readable (file: string): Promise<string | null> {
  try {
    await access(file, constants.R_OK)
    return null
  } catch (err) {
    return `cannot read ${file}: ${errorCode(err)}`
  }
}

// The main file plus its servicesDir, merged: what `gatehouse` runs and `gatehouse check` checks.
export async function loadConfig (file: string, env: Env = process.env): Promise<{ config: GatewayConfig | null, problems: ConfigProblem[] }> {
  const abs = resolve(file)
  const label = basename(abs)
  let text: string
  try {
    text = await readFile(abs, 'utf8')
  } catch (err) {
    return { config: null, problems: [{ file: label, path: '', message: `cannot read ${abs}: ${errorCode(err)}` }] }
  }
  const parsed = parseYaml(text)
  if (parsed.problems.length > 0) return { config: null, problems: withFile(label, parsed.problems) }

  const { parts, problems } = resolveMain(parsed.value, abs, dirname(abs), env)
  const tls = parts?.config?.server.tls
  if (tls != null) {
    for (const key of ['cert', 'key'] as const) {
      const problem = await readable(tls[key])
      if (problem !== null) problems.push({ file: label, path: `server.tls.${key}`, message: problem })
    }
  }
  let services = parts?.services ?? []
  if (parts?.servicesDir != null) {
    const isDir = await stat(parts.servicesDir).then(s => s.isDirectory(), () => false)
    if (!isDir) {
      problems.push({ file: label, path: 'servicesDir', message: `${parts.servicesDir} is not a directory` })
    } else {
      const dir = await loadServicesDir(parts.servicesDir, env)
      problems.push(...dir.problems)
      services = [...services, ...dir.services]
    }
  }
  return finish(parts, services, [...problems, ...checkServiceSet(services, { jwt: parts?.jwt ?? undefined })])
}
