import type { ConfigProblem } from '../../../lib/config-types.ts'
import type { PathProblem } from '../../../lib/config/kit.ts'

export function withFile (file: string, problems: PathProblem[]): ConfigProblem[] {
  return problems.map(p => ({ file, path: p.path, message: p.message }))
}

// `<file>: <path>: <message>`; file-level problems (unreadable, YAML syntax) have no path.
export function formatProblem (p: ConfigProblem): string {
  return p.path === '' ? `${p.file}: ${p.message}` : `${p.file}: ${p.path}: ${p.message}`
}
