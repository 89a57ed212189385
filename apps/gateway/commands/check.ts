import { resolve } from 'node:path'
import { formatProblem, loadConfig } from '../config/index.ts'

// `gatehouse check`: validate the config file and its servicesDir, as a service
// team's CI runs it. Exit 0 = valid, 1 = problems (one per line), 2 = usage.

export interface CheckIo {
  stdout: { write: (s: string) => unknown }
  stderr: { write: (s: string) => unknown }
  env: NodeJS.ProcessEnv
}

export async function runCheck (args: { config?: string },
  io: CheckIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const file = args.config ?? io.env.GATEHOUSE_CONFIG
  if (file === undefined || file === '') {
    io.stderr.write('gatehouse check: no config file: pass --config FILE or set GATEHOUSE_CONFIG\n')
    return 2
  }
  const { config, problems } = await loadConfig(resolve(file), io.env)
  if (config === null || problems.length > 0) {
    for (const p of problems) io.stderr.write(formatProblem(p) + '\n')
    return 1
  }
  io.stdout.write(`ok: ${config.services.length} services\n`)
  return 0
}
