import type { ConfigProblem } from '../../../lib/config-types.ts'

// A problem before it is attributed to a file: loaders stamp the file on at the end.
export interface PathProblem {
  path: string
  message: string
}

export type Report = (path: string, message: string) => void

// Key paths as users read them: `services[2].upstreams[0]`, `server.timeouts.upstream`.
export function joinPath (base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`
  return base === '' ? key : `${base}.${key}`
}

export function withFile (file: string, problems: PathProblem[]): ConfigProblem[] {
  return problems.map(p => ({ file, path: p.path, message: p.message }))
}

// `<file>: <path>: <message>`; file-level problems (unreadable, YAML syntax) have no path.
export function formatProblem (p: ConfigProblem): string {
  return p.path === '' ? `${p.file}: ${p.message}` : `${p.file}: ${p.path}: ${p.message}`
}
