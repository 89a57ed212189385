// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function, self time per
// module (package or project file), and inclusive time per project function and module.

export interface CpuProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number, columnNumber?: number }
  hitCount?: number
  children?: number[]
}

export interface CpuProfile {
  nodes: CpuProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface ProfileEntry {
  name: string // function, or module
  location: string // file:line ('' for V8 entries)
  ms: number
  pct: number // of the busy (non-idle) time
}

export interface ProfileSummary {
  totalMs: number
  idleMs: number
  busyMs: number
  selfByFunction: ProfileEntry[]
  selfByModule: ProfileEntry[]
  inclusiveByModule: ProfileEntry[]
  inclusiveProjectFunctions: ProfileEntry[]
  // Each sample charged to the nearest project function on its stack (the library and
  // Node code it called included): "what does this line of ours cost".
  ownedByProjectFunction: ProfileEntry[]
  ownedByProjectFile: ProfileEntry[]
}

// Only samples inside this window count (µs on the monotonic clock V8 and
// process.hrtime share on Linux), e.g. the measured load without start-up.
export interface ProfileWindow {
  startUs: number
  endUs: number
}

// V8 pseudo-frames that are not JavaScript the gateway runs.
const IDLE = '(idle)'

// 'file:///work/main/plugins/auth/index.ts' -> 'plugins/auth/index.ts'; node_modules paths
// keep the package-relative part; node: urls stay.
export function shortUrl (url: string, root: string): string {
  let u = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url
  const nm = u.lastIndexOf('/node_modules/')
  if (nm !== -1) return u.slice(nm + 1)
  const base = root.endsWith('/') ? root : root + '/'
  if (u.startsWith(base)) u = u.slice(base.length)
  return u
}

// The unit a cost belongs to: an npm package, a project file, a Node internal module, or V8.
export function moduleOf (url: string, root: string): string {
  if (url === '') return '(V8 / native)'
  const short = shortUrl(url, root)
  if (short.startsWith('node_modules/')) {
    const parts = short.split('/')
    return parts[1].startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1]
  }
  if (short.startsWith('node:')) return short
  return short
}

export function isProjectUrl (url: string, root: string): boolean {
  if (!url.startsWith('file://') || url.includes('/node_modules/')) return false
  const base = root.endsWith('/') ? root : root + '/'
  return decodeURIComponent(url.slice('file://'.length)).startsWith(base)
}

// Fastify runs the next hook (and the route handler) from inside the previous hook's
// done(), so stacks nest: without a boundary, a hook would "own" everything after it.
const HOOK_RUNNER = /\/node_modules\/fastify\/lib\/(hooks|route|handle-request|wrap-thenable)\.js$/

export function isHookRunner (url: string): boolean {
  return HOOK_RUNNER.test(url)
}

function frameKey (node: CpuProfileNode, root: string): { key: string, name: string, location: string } {
  const { functionName, url, lineNumber } = node.callFrame
  const name = functionName === '' ? '(anonymous)' : functionName
  const location = url === '' ? '' : `${shortUrl(url, root)}:${lineNumber + 1}`
  return { key: `${name}\u0000${location}`, name, location }
}

function top (map: Map<string, { name: string, location: string, ms: number }>, busyMs: number, n: number): ProfileEntry[] {
  return [...map.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n)
    .map((e) => ({ ...e, ms: round(e.ms), pct: busyMs === 0 ? 0 : round((e.ms / busyMs) * 100) }))
}

function round (x: number): number {
  return Math.round(x * 100) / 100
}

function add (map: Map<string, { name: string, location: string, ms: number }>, key: string, name: string, location: string, ms: number) {
  const e = map.get(key)
  if (e === undefined) map.set(key, { name, location, ms })
  else e.ms += ms
}

export function summariseProfile (profile: CpuProfile, opts: { root: string, top?: number, window?: ProfileWindow }): ProfileSummary {
  const n = opts.top ?? 25
  const byId = new Map<number, CpuProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const c of node.children ?? []) parent.set(c, node.id)
  }

  // Time per node. Sample i lasts until sample i+1 (timeDeltas[i + 1], µs); without
  // samples, fall back to hit counts spread over the profile's duration.
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  if (samples.length > 0) {
    let t = profile.startTime
    for (let i = 0; i < samples.length; i++) {
      t += deltas[i] ?? 0
      const d = i + 1 < deltas.length ? deltas[i + 1] : 0
      if (opts.window !== undefined && (t < opts.window.startUs || t >= opts.window.endUs)) continue
      if (d > 0) selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + d)
    }
  } else {
    const hits = profile.nodes.reduce((s, x) => s + (x.hitCount ?? 0), 0)
    const per = hits === 0 ? 0 : (profile.endTime - profile.startTime) / hits
    for (const node of profile.nodes) if (node.hitCount) selfUs.set(node.id, node.hitCount * per)
  }

  let totalUs = 0
  let idleUs = 0
  const selfFn = new Map<string, { name: string, location: string, ms: number }>()
  const selfMod = new Map<string, { name: string, location: string, ms: number }>()
  const inclMod = new Map<string, { name: string, location: string, ms: number }>()
  const inclProject = new Map<string, { name: string, location: string, ms: number }>()
  const ownedFn = new Map<string, { name: string, location: string, ms: number }>()
  const ownedFile = new Map<string, { name: string, location: string, ms: number }>()

  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined) continue
    totalUs += us
    if (node.callFrame.functionName === IDLE) {
      idleUs += us
      continue
    }
    const ms = us / 1000
    const f = frameKey(node, opts.root)
    add(selfFn, f.key, f.name, f.location, ms)
    const mod = node.callFrame.url === '' ? specialModule(node.callFrame.functionName) : moduleOf(node.callFrame.url, opts.root)
    add(selfMod, mod, mod, '', ms)

    // Inclusive: each module / project function counted once per sample, however deep.
    const seenMods = new Set<string>()
    const seenFns = new Set<string>()
    let owned = false
    let firstLib: string | null = null
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!
      const { url } = frame.callFrame
      if (url === '') continue
      const m = moduleOf(url, opts.root)
      if (!seenMods.has(m)) {
        seenMods.add(m)
        add(inclMod, m, m, '', ms)
      }
      if (!owned && firstLib === null && url.includes('/node_modules/')) firstLib = m
      if (!owned && isHookRunner(url)) {
        // Dispatched by Fastify, not called by the hook below it on the stack.
        owned = true
        const label = `[${firstLib ?? 'fastify'}]`
        add(ownedFn, label, label, '', ms)
        add(ownedFile, label, label, '', ms)
      }
      if (isProjectUrl(url, opts.root)) {
        const k = frameKey(frame, opts.root)
        if (!owned) {
          owned = true
          add(ownedFn, k.key, k.name, k.location, ms)
          add(ownedFile, m, m, '', ms)
        }
        if (!seenFns.has(k.key)) {
          seenFns.add(k.key)
          add(inclProject, k.key, k.name, k.location, ms)
        }
      }
    }
    if (!owned) {
      const label = node.callFrame.url === '' && node.callFrame.functionName.startsWith('(')
        ? specialModule(node.callFrame.functionName)
        : firstLib !== null ? `[${firstLib}]` : '(Node core / V8, no project frame)'
      add(ownedFn, label, label, '', ms)
      add(ownedFile, label, label, '', ms)
    }
  }

  const busyMs = (totalUs - idleUs) / 1000
  return {
    totalMs: round(totalUs / 1000),
    idleMs: round(idleUs / 1000),
    busyMs: round(busyMs),
    selfByFunction: top(selfFn, busyMs, n),
    selfByModule: top(selfMod, busyMs, 15),
    inclusiveByModule: top(inclMod, busyMs, 15),
    inclusiveProjectFunctions: top(inclProject, busyMs, 20),
    ownedByProjectFunction: top(ownedFn, busyMs, 25),
    ownedByProjectFile: top(ownedFile, busyMs, 15),
  }
}

// V8 entries without a url: keep GC and the program/native buckets apart.
function specialModule (functionName: string): string {
  if (functionName === '(garbage collector)') return '(garbage collector)'
  if (functionName === '(program)') return '(program)'
  return '(V8 / native)'
}

function table (title: string, entries: ProfileEntry[], withLocation: boolean): string {
  const lines = [title]
  for (const e of entries) {
    const where = withLocation && e.location !== '' ? `  ${e.location}` : ''
    lines.push(`${e.pct.toFixed(1).padStart(6)} %  ${e.ms.toFixed(0).padStart(7)} ms  ${e.name}${where}`)
  }
  return lines.join('\n')
}

export function formatProfileSummary (s: ProfileSummary): string {
  return [
    `profiled ${s.totalMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (idle ${s.idleMs.toFixed(0)} ms); percentages are of busy time`,
    '',
    table(`top ${s.selfByFunction.length} functions by self time`, s.selfByFunction, true),
    '',
    table('self time by module (package / project file / node internal)', s.selfByModule, false),
    '',
    table('inclusive time by module (counted once per sample)', s.inclusiveByModule, false),
    '',
    table('inclusive time of project functions (apps/, plugins/; hooks nest, so a hook includes the ones after it)', s.inclusiveProjectFunctions, true),
    '',
    table('time owned by project files (each sample charged to the nearest project frame, callees included; [pkg] = reached from no project frame, or dispatched by Fastify\'s hook runner)', s.ownedByProjectFile, false),
    '',
    table('time owned by project functions (same, per function)', s.ownedByProjectFunction, true),
  ].join('\n')
}
