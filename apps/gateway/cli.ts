#!/usr/bin/env node
import { parseArgs } from 'node:util'
import path from 'node:path'

// `gatehouse [start] --config FILE` | `gatehouse check --config FILE` | `gatehouse token ...` | `gatehouse schema`
// Exit codes: 0 ok, 1 the command failed (bad config, ...), 2 bad command-line use.

const USAGE = `usage:
  gatehouse [start] [--config FILE]        run the gateway (or GATEHOUSE_CONFIG)
  gatehouse check [--config FILE]          validate the config and servicesDir
  gatehouse token --sub S [--scope "a b"] [--ttl 1h] [--config FILE]
                                           mint a dev token with the configured HS secret
  gatehouse schema [--service]             print the JSON Schema of the config file (or of one servicesDir file)`

interface Command {
  options: Record<string, { type: 'string' | 'boolean' }>
  run: (values: Record<string, string | boolean | undefined>) => Promise<number>
}

const configOption = { config: { type: 'string' as const } }

const COMMANDS: Record<string, Command> = {
  start: {
    options: configOption,
    async run (values) {
      const file = configFile(values)
      if (file === null) return usageError('no config: pass --config FILE or set GATEHOUSE_CONFIG')
      const { loadConfig, formatProblem } = await import('./config/index.ts')
      const { config, problems } = await loadConfig(file)
      if (config === null) {
        for (const p of problems) process.stderr.write(formatProblem(p) + '\n')
        return 1
      }
      const { runServer } = await import('./server.ts')
      await runServer(config)
      return -1 // keep running; close-with-grace exits
    },
  },
  check: {
    options: configOption,
    async run (values) {
      const { runCheck } = await import('./commands/check.ts')
      return runCheck({ config: values.config as string | undefined })
    },
  },
  schema: {
    options: { service: { type: 'boolean' } },
    async run (values) {
      const { runSchema } = await import('./commands/schema.ts')
      return runSchema({ service: values.service === true })
    },
  },
  token: {
    options: { ...configOption, sub: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string' } },
    async run (values) {
      if (typeof values.sub !== 'string' || values.sub === '') return usageError('token needs --sub')
      const { runToken } = await import('./commands/token.ts')
      return runToken({ config: configFile(values), sub: values.sub, scope: values.scope as string | undefined, ttl: values.ttl as string | undefined })
    },
  },
}

function configFile (values: Record<string, string | boolean | undefined>): string | null {
  const given = typeof values.config === 'string' ? values.config : process.env.GATEHOUSE_CONFIG
  return given ? path.resolve(given) : null
}

function usageError (message: string): number {
  process.stderr.write(`gatehouse: ${message}\n${USAGE}\n`)
  return 2
}

export async function main (argv: string[]): Promise<number> {
  const first = argv[0]
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  const name = first !== undefined && !first.startsWith('-') ? first : 'start'
  const command = COMMANDS[name]
  if (command === undefined) return usageError(`unknown command "${name}"`)
  const rest = name === first ? argv.slice(1) : argv
  let values: Record<string, string | boolean | undefined>
  try {
    ({ values } = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: false }))
  } catch (err) {
    return usageError((err as Error).message)
  }
  return command.run(values)
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code
  }, (err) => {
    process.stderr.write(`gatehouse: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  })
}
