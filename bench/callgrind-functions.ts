import { existsSync, readFileSync } from 'node:fs'

// `--instructions --functions`: where the instructions of a window go, by function. callgrind
// names native code by its symbols (node's C++, V8's builtins and bytecode handlers); code
// V8 compiled at run time has none, so callgrind names it by address, and node's
// --perf-basic-prof map (/tmp/perf-<pid>.map: start, size, name per compiled function)
// names those addresses. Unlike a sampling profile, the counts are exact and repeatable, so
// two contenders can be compared function by function.

// Self Ir per callgrind function name, from one dump. A cost line right after `calls=` is
// the inclusive cost of that call and belongs to the callee, not to the caller's self cost.
export function selfCostByFunction (text: string): Map<string, number> {
  const names = new Map<string, string>()
  const self = new Map<string, number>()
  const events = /^events:\s*(.+)$/m.exec(text)?.[1].trim().split(/\s+/) ?? ['Ir']
  const column = events.indexOf('Ir')
  if (column === -1) throw new Error(`callgrind dump has no Ir event (events: ${events.join(' ')})`)
  let fn: string | null = null
  let skipNext = false
  for (const line of text.split('\n')) {
    if (line === '') continue
    const c = line.charCodeAt(0)
    // Cost lines start with a position: a number, or +n / -n / * (relative, compressed).
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      if (skipNext) {
        skipNext = false
        continue
      }
      if (fn === null) continue
      const value = Number(line.trim().split(/\s+/)[1 + column] ?? 0)
      if (value > 0) self.set(fn, (self.get(fn) ?? 0) + value)
      continue
    }
    if (line.startsWith('fn=')) {
      fn = compressedName(names, line.slice(3))
    } else if (line.startsWith('calls=')) {
      skipNext = true
    } else if (line.startsWith('cfn=') || line.startsWith('cfi=') || line.startsWith('cfl=')) {
      // Define the compressed name now: a later `fn=(n)` may refer to it.
      if (line.startsWith('cfn=')) compressedName(names, line.slice(4))
    }
  }
  return self
}

// "(12) name" defines id 12, "(12)" refers to it, a bare name is itself.
function compressedName (names: Map<string, string>, spec: string): string {
  const m = /^\((\d+)\)(?:\s(.*))?$/.exec(spec)
  if (m === null) return spec
  if (m[2] !== undefined) {
    names.set(m[1]!, m[2])
    return m[2]
  }
  return names.get(m[1]!) ?? spec
}

export interface PerfMap {
  starts: number[]
  ends: number[]
  names: string[]
}

// /tmp/perf-<pid>.map, sorted by start. Later entries for the same start (code recompiled
// at a reused address) replace earlier ones.
export function readPerfMap (file: string): PerfMap | null {
  if (!existsSync(file)) return null
  const byStart = new Map<number, { end: number, name: string }>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line)
    if (m === null) continue
    const start = Number.parseInt(m[1]!, 16)
    byStart.set(start, { end: start + Number.parseInt(m[2]!, 16), name: m[3]! })
  }
  const starts = [...byStart.keys()].sort((a, b) => a - b)
  return { starts, ends: starts.map((s) => byStart.get(s)!.end), names: starts.map((s) => byStart.get(s)!.name) }
}

export function lookup (map: PerfMap, address: number): string | null {
  let lo = 0
  let hi = map.starts.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (map.starts[mid]! <= address) lo = mid + 1
    else hi = mid - 1
  }
  return hi >= 0 && address < map.ends[hi]! ? map.names[hi]! : null
}

// One name per JS function whatever tier ran it: "JS:*foo file:///w/x.ts:3:1" and
// "JS:~foo file:///w/x.ts:3:1" are the same function; paths shortened like the profiler's.
export function displayName (name: string, root: string): string {
  let n = name.replace(/^(?:JS|LazyCompile|Function|Script):/, '').replace(/^[*~^+-]/, '')
  n = n.replace(/file:\/\/\S*?\/node_modules\//g, '').replace(new RegExp(`file://${escapeRe(root.endsWith('/') ? root : root + '/')}`, 'g'), '')
  return n
}

function escapeRe (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

// Ir per request by function, largest first. Addresses without a perf map entry (code
// freed and its map line lost, trampolines) are "(unnamed JIT code)".
export function functionCosts (dumpText: string, map: PerfMap | null, requests: number, root: string): Array<{ name: string, ir: number }> {
  const totals = new Map<string, number>()
  for (const [fn, ir] of selfCostByFunction(dumpText)) {
    let name = fn
    if (/^0x[0-9a-f]+$/i.test(fn)) {
      const resolved = map === null ? null : lookup(map, Number.parseInt(fn.slice(2), 16))
      name = resolved === null ? '(unnamed JIT code)' : displayName(resolved, root)
    }
    totals.set(name, (totals.get(name) ?? 0) + ir / requests)
  }
  return [...totals].map(([name, ir]) => ({ name, ir })).sort((a, b) => b.ir - a.ir)
}

export interface FunctionDiffRow {
  name: string
  base: number
  other: number
  diff: number
}

// other - base per function, the largest increases first.
export function diffFunctions (base: Array<{ name: string, ir: number }>, other: Array<{ name: string, ir: number }>): FunctionDiffRow[] {
  const b = new Map(base.map((f) => [f.name, f.ir]))
  const o = new Map(other.map((f) => [f.name, f.ir]))
  const names = new Set([...b.keys(), ...o.keys()])
  return [...names].map((name) => ({ name, base: b.get(name) ?? 0, other: o.get(name) ?? 0, diff: (o.get(name) ?? 0) - (b.get(name) ?? 0) }))
    .sort((x, y) => y.diff - x.diff)
}
