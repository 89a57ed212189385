import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import path from 'node:path'

// Advisories of installed versions (how they are tested: ./helpers.ts).

const ROOT = new URL('../../../', import.meta.url).pathname

// SPEC.md "Dependencies" floors, plus proxy-addr 2.0.8 (GHSA-jqcg-44mw-7w3h, its HISTORY.md).
const FLOORS: Record<string, string> = {
  fastify: '5.12.1',
  '@fastify/http-proxy': '11.4.4',
  '@fastify/reply-from': '12.6.4',
  '@fastify/jwt': '10.2.0',
  'fast-jwt': '6.3.1',
  '@fastify/rate-limit': '11.2.0',
  undici: '7.29.0',
  'proxy-addr': '2.0.8',
}

function compareSemver (a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?/.exec(v)
    if (m === null) throw new Error(`not a version: ${v}`)
    return { nums: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ?? null }
  }
  const x = parse(a)
  const y = parse(b)
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return x.nums[i]! < y.nums[i]! ? -1 : 1
  // 1.2.3-rc.1 < 1.2.3; prerelease tags compared as strings (enough for a floor check).
  if (x.pre === y.pre) return 0
  if (x.pre === null) return 1
  if (y.pre === null) return -1
  return x.pre < y.pre ? -1 : 1
}

// Every installed copy of a package: the top level and any nested node_modules.
function installedCopies (name: string, dir = path.join(ROOT, 'node_modules'), found: Array<{ where: string, version: string }> = []) {
  const own = path.join(dir, name, 'package.json')
  if (existsSync(own)) found.push({ where: path.relative(ROOT, own), version: JSON.parse(readFileSync(own, 'utf8')).version })
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === '.bin' || entry.name === '.cache') continue
    const scoped = entry.name.startsWith('@')
    const parents = scoped ? readdirSync(path.join(dir, entry.name)).map((n) => path.join(dir, entry.name, n)) : [path.join(dir, entry.name)]
    for (const p of parents) {
      const nested = path.join(p, 'node_modules')
      if (existsSync(nested)) installedCopies(name, nested, found)
    }
  }
  return found
}

test('the semver comparator orders versions the way npm does', () => {
  assert.equal(compareSemver('7.29.0', '7.29.0'), 0)
  assert.equal(compareSemver('7.30.2', '7.29.0'), 1)
  assert.equal(compareSemver('7.9.0', '7.29.0'), -1)
  assert.equal(compareSemver('10.0.0', '9.99.99'), 1)
  assert.equal(compareSemver('6.3.1-rc.1', '6.3.1'), -1)
})

test('installed versions (every copy) and declared ranges are at or above the advisory floors', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  for (const [name, floor] of Object.entries(FLOORS)) {
    const copies = installedCopies(name)
    assert.ok(copies.length > 0, `${name} is installed`)
    for (const { where, version } of copies) {
      assert.ok(compareSemver(version, floor) >= 0, `${where}: ${name}@${version} is below the advisory floor ${floor}`)
    }
    // A fresh install must not be able to resolve below the floor either.
    const declared = pkg.dependencies[name]
    if (declared !== undefined) {
      const lowest = /(\d+\.\d+\.\d+)/.exec(declared)?.[1]
      assert.ok(lowest !== undefined && compareSemver(lowest, floor) >= 0, `package.json declares ${name}@${declared}, below ${floor}`)
    }
  }
})
