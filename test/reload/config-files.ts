import type { TestContext } from 'node:test'
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { formatProblem, loadConfig } from '../../apps/gateway/config/index.ts'
import { buildGateway, type Gateway } from '../../apps/gateway/app.ts'
import { listenGateway } from '../../apps/gateway/server.ts'
import { REDACT } from '../../apps/gateway/logger.ts'
import type { ReloadEvent, Reloader } from '../../apps/gateway/reload/index.ts'

// A gateway started the way the CLI starts it: from a gateway.yaml on disk plus its
// servicesDir, so reload tests exercise the real loader.

export interface FileGateway {
  gateway: Gateway
  reloader: Reloader
  dir: string
  configFile: string
  servicesDir: string
  logs: Array<Record<string, unknown>>
  inject: Gateway['inject']
  url?: string
  adminUrl?: string
  writeService: (file: string, yaml: string) => Promise<void>
  // As editors and deploy tools do: write a temp file, rename it over the target.
  replaceService: (file: string, yaml: string) => Promise<void>
  removeService: (file: string) => Promise<void>
}

export async function tempDir (t: TestContext, prefix = 'gatehouse-reload-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export function serviceYaml (name: string, prefix: string, upstream: string, extra = ''): string {
  return `name: ${name}\nprefix: ${prefix}\nupstreams: [${upstream}]\nauth: none\n${extra}`
}

export async function gatewayFromFiles (t: TestContext, main: string, services: Record<string, string> = {},
  opts: { listen?: boolean, watch?: boolean, servicesDir?: boolean } = {}): Promise<FileGateway> {
  const dir = await tempDir(t)
  const servicesDir = join(dir, 'services.d')
  await mkdir(servicesDir)
  for (const [file, text] of Object.entries(services)) await writeFile(join(servicesDir, file), text)
  const configFile = join(dir, 'gateway.yaml')
  const withDir = opts.servicesDir === false ? main : `servicesDir: ./services.d\n${main}`
  await writeFile(configFile, withDir)
  const { config, problems } = await loadConfig(configFile)
  if (config === null) throw new Error('invalid test config:\n' + problems.map(formatProblem).join('\n'))

  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line))
      done()
    },
  })
  const logger = pino({ level: config.logging.level, redact: { paths: REDACT, censor: '[redacted]' } }, sink) as unknown as FastifyBaseLogger
  const gateway = await buildGateway(config, { logger })
  const result: FileGateway = {
    gateway,
    reloader: gateway.reloader,
    dir,
    configFile,
    servicesDir,
    logs,
    inject: gateway.inject,
    writeService: (file, yaml) => writeFile(join(servicesDir, file), yaml),
    async replaceService (file, yaml) {
      const temp = join(servicesDir, `.${file}.swp`)
      await writeFile(temp, yaml)
      await rename(temp, join(servicesDir, file))
    },
    removeService: (file) => rm(join(servicesDir, file)),
  }
  if (opts.listen) {
    const listening = await listenGateway(gateway, { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 })
    result.url = listening.publicUrl
    result.adminUrl = listening.adminUrl
    t.after(() => listening.shutdown())
  } else {
    t.after(() => gateway.close())
  }
  if (opts.watch) gateway.reloader.watch()
  return result
}

// The next reload event that matches, or a rejection after `timeoutMs`.
export function nextReload (reloader: Reloader, match: (e: ReloadEvent) => boolean = () => true, timeoutMs = 5000): Promise<ReloadEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reloader.off('reload', onReload)
      reject(new Error(`no matching reload event within ${timeoutMs} ms`))
    }, timeoutMs)
    function onReload (e: ReloadEvent) {
      if (!match(e)) return
      clearTimeout(timer)
      reloader.off('reload', onReload)
      resolve(e)
    }
    reloader.on('reload', onReload)
  })
}
