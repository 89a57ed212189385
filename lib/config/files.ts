import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

// Paths in a config file are relative to that file, not to the process's cwd, so a
// config behaves the same wherever the gateway is started from.
export function resolvePath (baseDir: string, p: string): string {
  return resolve(baseDir, p)
}

// `publicKey` / `ca` hold either the PEM itself or a path to it.
export function readPem (value: string, baseDir: string): { pem: string } | { error: string } {
  if (value.trimStart().startsWith('-----BEGIN')) return { pem: value }
  const file = resolvePath(baseDir, value)
  try {
    return { pem: readFileSync(file, 'utf8') }
  } catch (err) {
    return { error: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }
  }
}

export function httpUrlProblem (u: string): string | null {
  try {
    const url = new URL(u)
    return url.protocol === 'http:' || url.protocol === 'https:' ? null : 'must be an http(s) URL'
  } catch {
    return 'must be an http(s) URL'
  }
}
