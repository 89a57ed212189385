import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString, LogFn } from 'pino'
import { levelEnabled } from '../../lib/log-level.ts'

// Fastify gives every request a child logger, and pino's child() serialises its bindings
// each time (about 1 µs per request on the hot path, the profile shows), while nearly
// every request never logs. This stand-in makes the real child on the first line that
// would be written; below the logger's level nothing is made at all.
class LazyRequestLogger {
  parent: FastifyBaseLogger
  bindings: Bindings
  real: FastifyBaseLogger | null

  constructor (parent: FastifyBaseLogger, bindings: Bindings) {
    this.parent = parent
    this.bindings = bindings
    this.real = null
  }

  get level (): LevelWithSilentOrString {
    return (this.real ?? this.parent).level
  }

  set level (level: LevelWithSilentOrString) {
    this.logger().level = level
  }

  logger (): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings))
  }

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger().child(bindings, options)
  }

  enabled (level: string): boolean {
    return levelEnabled(this.real ?? this.parent, level)
  }

  fatal (...args: Parameters<LogFn>) { if (this.enabled('fatal')) this.logger().fatal(...args) }
  error (...args: Parameters<LogFn>) { if (this.enabled('error')) this.logger().error(...args) }
  warn (...args: Parameters<LogFn>) { if (this.enabled('warn')) this.logger().warn(...args) }
  info (...args: Parameters<LogFn>) { if (this.enabled('info')) this.logger().info(...args) }
  debug (...args: Parameters<LogFn>) { if (this.enabled('debug')) this.logger().debug(...args) }
  trace (...args: Parameters<LogFn>) { if (this.enabled('trace')) this.logger().trace(...args) }
  silent () {}
}

// The logger handed to the gateway's Fastify instances (loggerInstance). It writes through
// the gateway's pino logger, and its child() is where Fastify gets each request's logger:
// a lazy one, unless the options change what it writes now (a per-route level,
// serializers). Fastify's own child, made once at start-up with its serializers, is real
// and wrapped again. (A custom childLoggerFactory could hand out the lazy ones too, but
// Fastify then validates the logger it returns on every request.)
export class GatewayLogger {
  readonly base: FastifyBaseLogger

  constructor (base: FastifyBaseLogger) {
    this.base = base
  }

  get level (): LevelWithSilentOrString {
    return this.base.level
  }

  set level (level: LevelWithSilentOrString) {
    this.base.level = level
  }

  isLevelEnabled (level: string): boolean {
    return levelEnabled(this.base, level)
  }

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    if (options?.level !== undefined || options?.serializers !== undefined) {
      return new GatewayLogger(this.base.child(bindings, options)) as unknown as FastifyBaseLogger
    }
    return new LazyRequestLogger(this.base, bindings) as unknown as FastifyBaseLogger
  }

  fatal (...args: Parameters<LogFn>) { this.base.fatal(...args) }
  error (...args: Parameters<LogFn>) { this.base.error(...args) }
  warn (...args: Parameters<LogFn>) { this.base.warn(...args) }
  info (...args: Parameters<LogFn>) { this.base.info(...args) }
  debug (...args: Parameters<LogFn>) { this.base.debug(...args) }
  trace (...args: Parameters<LogFn>) { this.base.trace(...args) }
  silent () {}
}
