// `gatehouse schema [--service]` prints valid draft 2020-12, and the committed schema
// files and the examples' yaml-language-server lines never drift from it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { spawnNode, CLI } from '../helpers/process.ts'

const root = new URL('../../', import.meta.url)
const read = (file: string) => readFileSync(new URL(file, root), 'utf8')

async function cli (t: Parameters<typeof spawnNode>[0], args: string[]) {
  const run = spawnNode(t, [CLI, ...args])
  return { code: await run.exited, stdout: run.stdout(), stderr: run.stderr() }
}

test('gatehouse schema prints the main file\'s JSON Schema; --service one servicesDir file\'s; both equal the committed schema/*.json', async (t) => {
  const main = await cli(t, ['schema'])
  const service = await cli(t, ['schema', '--service'])
  assert.equal(main.code, 0)
  assert.equal(service.code, 0)
  assert.equal(main.stdout, read('schema/gateway.schema.json'), 'schema/gateway.schema.json is stale: node apps/gateway/cli.ts schema > schema/gateway.schema.json')
  assert.equal(service.stdout, read('schema/service.schema.json'), 'schema/service.schema.json is stale: node apps/gateway/cli.ts schema --service > schema/service.schema.json')
})

test('the schemas are draft 2020-12 that ajv compiles in strict mode, with no TypeBox-only keywords', () => {
  for (const file of ['schema/gateway.schema.json', 'schema/service.schema.json']) {
    const schema = JSON.parse(read(file))
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
    assert.doesNotMatch(read(file), /"(errorMessage|\[Kind\]|Kind)"/)
    // strict: unknown keywords, ignored keywords and missing types are compile errors.
    const ajv = new Ajv2020({ strict: true })
    assert.doesNotThrow(() => ajv.compile(schema), file)
  }
})

test('gatehouse schema exits 2 on bad command-line use (unknown option, a positional)', async (t) => {
  for (const args of [['schema', '--services'], ['schema', 'gateway.yaml'], ['schema', '--service=yes']]) {
    const r = await cli(t, args)
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.stderr, /usage:/)
    assert.equal(r.stdout, '')
  }
})

test('examples/gateway.yaml and every examples/services.d file start with their yaml-language-server $schema line', () => {
  assert.equal(read('examples/gateway.yaml').split('\n')[0], '# yaml-language-server: $schema=../schema/gateway.schema.json')
  const files = readdirSync(new URL('examples/services.d/', root)).filter((f) => /\.ya?ml$/.test(f))
  assert.ok(files.length > 0)
  for (const f of files) {
    assert.equal(read(`examples/services.d/${f}`).split('\n')[0], '# yaml-language-server: $schema=../../schema/service.schema.json', f)
  }
})
