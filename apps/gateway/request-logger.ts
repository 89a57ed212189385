import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString, LogFn } from 'pino'
import { levelEnabled } from './logger.ts'

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

export function lazyChildLogger (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  // A per-route level (logLevel) needs a real child at once; the gateway sets none.
  if (options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options)
  return new LazyRequestLogger(logger, bindings) as unknown as FastifyBaseLogger
}
