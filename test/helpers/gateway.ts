import type { TestContext } from 'node:test'
import { Writable } from 'node:stream'
import { resolveConfig, formatProblem } from '../../apps/gateway/config/index.ts'
import type { GatewayConfig } from '../../apps/gateway/config/types.ts'
import { buildGateway, type BuildOptions, type Gateway } from '../../apps/gateway/app.ts'
import { listenGateway, type ListeningGateway } from '../../apps/gateway/server.ts'
import { createLogger } from '../../apps/gateway/logger.ts'

export interface TestGateway {
  gateway: Gateway
  config: GatewayConfig
  inject: Gateway['inject']
  // Every JSON log line the gateway wrote, parsed.
  logs: Array<Record<string, unknown>>
  rawLogs: string[]
  // The first log line, already written or to come, that matches.
  waitForLog: (match: (line: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>
  listening?: ListeningGateway
  url?: string
  adminUrl?: string
}

export function resolveOrThrow (raw: unknown): GatewayConfig {
  const { config, problems } = resolveConfig(raw, { file: null, env: process.env })
  if (config === null) throw new Error('invalid test config:\n' + problems.map(formatProblem).join('\n'))
  return config
}

// Builds a gateway from a raw (YAML-shaped) config object; listens on 127.0.0.1:0 (public
// and admin) when `listen` is set. `build` passes internal tuning (e.g. JWKS cool-downs).
// Closed when the test ends.
export async function createGateway (t: TestContext, raw: Record<string, unknown>,
  opts: { listen?: boolean, build?: Omit<BuildOptions, 'logger'> } = {}): Promise<TestGateway> {
  const config = resolveOrThrow(raw)
  const logs: Array<Record<string, unknown>> = []
  const rawLogs: string[] = []
  const waiters = new Set<{ match: (line: Record<string, unknown>) => boolean, resolve: (line: Record<string, unknown>) => void }>()
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue
        rawLogs.push(line)
        const parsed = JSON.parse(line) as Record<string, unknown>
        logs.push(parsed)
        for (const w of waiters) {
          if (w.match(parsed)) {
            waiters.delete(w)
            w.resolve(parsed)
          }
        }
      }
      done()
    },
  })
  const waitForLog: TestGateway['waitForLog'] = (match) => {
    const seen = logs.find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve) => waiters.add({ match, resolve }))
  }
  // The gateway's own logger (redaction, hooks), writing into the test's sink.
  const logger = createLogger(config.logging.level, sink)
  const gateway = await buildGateway(config, { ...opts.build, logger })
  const result: TestGateway = { gateway, config, inject: gateway.inject, logs, rawLogs, waitForLog }
  if (opts.listen) {
    const listening = await listenGateway(gateway, { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 })
    result.listening = listening
    result.url = listening.publicUrl
    result.adminUrl = listening.adminUrl
    t.after(() => listening.shutdown())
  } else {
    t.after(() => gateway.close())
  }
  return result
}

// A minimal valid config with the given services; auth off unless a test turns it on.
export function baseConfig (services: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return {
    logging: { level: 'warn', access: false },
    ...extra,
    services: services.map((s) => ({ auth: 'none', ...s })),
  }
}
