import { gatewayJsonSchema, serviceJsonSchema } from './json-schema.ts'

// `gatehouse schema [--service]`: the JSON Schema (draft 2020-12) of the main config
// file, or of one servicesDir file. schema/*.schema.json are this output, committed
// (test/config/schema-files.test.ts keeps them equal).

export function schemaText (service: boolean): string {
  return JSON.stringify(service ? serviceJsonSchema() : gatewayJsonSchema(), null, 2) + '\n'
}

export function runSchema (args: { service: boolean }, io: { stdout: { write: (s: string) => unknown } } = { stdout: process.stdout }): number {
  io.stdout.write(schemaText(args.service))
  return 0
}
