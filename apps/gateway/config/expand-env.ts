import { joinPath, type PathProblem } from '../../../lib/config/kit.ts'

// Expansion runs on the parsed YAML tree, string scalar by string scalar, so a
// variable's value can never add keys or change the document's structure.

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s

export type Env = Record<string, string | undefined>

export interface Expansion {
  value: unknown
  // Key paths whose string came (partly) from a variable: only these get coerced
  // to number/boolean, so a quoted "8080" written by hand stays a string.
  expanded: Set<string>
  problems: PathProblem[]
}

export function expandString (s: string, env: Env): { value: string, expanded: boolean } | { error: string } {
  if (!s.includes('${')) return { value: s, expanded: false }
  let out = ''
  let expanded = false
  let i = 0
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      out += '${'
      i += 3
      continue
    }
    if (s.startsWith('${', i)) {
      const end = s.indexOf('}', i + 2)
      if (end === -1) return { error: `unterminated \${ in "${s}" (write $\${ for a literal \${)` }
      const m = REFERENCE.exec(s.slice(i + 2, end))
      if (m === null) {
        return { error: `invalid reference "${s.slice(i, end + 1)}": use \${VAR} or \${VAR:-default}` }
      }
      const current = env[m[1]]
      // As in the shell, `:-` also replaces a variable that is set but empty.
      out += m[2] !== undefined && (current === undefined || current === '') ? m[2] : (current ?? '')
      expanded = true
      i = end + 1
      continue
    }
    out += s[i]
    i++
  }
  return { value: out, expanded }
}

export function expandEnv (tree: unknown, env: Env): Expansion {
  const expanded = new Set<string>()
  const problems: PathProblem[] = []
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      const r = expandString(v, env)
      if ('error' in r) {
        problems.push({ path, message: r.error })
        return v
      }
      if (r.expanded) expanded.add(path)
      return r.value
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, joinPath(path, i)))
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, item] of Object.entries(v)) out[k] = walk(item, joinPath(path, k))
      return out
    }
    return v
  }
  return { value: walk(tree, ''), expanded, problems }
}

// For an expanded string where the schema wants a number or a boolean (e.g.
// `port: ${PORT:-8080}`). Returns the string unchanged when it does not convert,
// so the schema reports it with the usual message.
export function coerceExpanded (s: string, wants: { number: boolean, boolean: boolean }): unknown {
  const t = s.trim()
  if (wants.number && /^-?\d+(\.\d+)?$/.test(t)) return Number(t)
  if (wants.boolean && /^(true|false)$/i.test(t)) return t.toLowerCase() === 'true'
  return s
}
