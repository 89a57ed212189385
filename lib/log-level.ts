// Whether a line at `level` would be written: pino loggers say; any other logger (a test's,
// an embedder's) is assumed to write it.
export function levelEnabled (log: object, level: string): boolean {
  const check = (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled
  return typeof check !== 'function' || check.call(log, level)
}
