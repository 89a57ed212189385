import { LineCounter, parseDocument } from 'yaml'
import type { PathProblem } from '../../../lib/config/kit.ts'

// YAML 1.2 core schema (so `no`/`on` stay strings), duplicate keys rejected: a
// second `rateLimit:` must not silently replace the first.
export function parseYaml (text: string): { value: unknown, problems: PathProblem[] } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      problems: doc.errors.map(e => {
        const { line, col } = lineCounter.linePos(e.pos[0])
        return { path: '', message: `YAML syntax error at line ${line}, column ${col}: ${e.message.split('\n')[0]}` }
      })
    }
  }
  return { value: doc.toJS({ maxAliasCount: 100 }), problems: [] }
}
