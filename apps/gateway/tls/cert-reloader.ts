import { EventEmitter } from 'node:events'
import { dirname } from 'node:path'
import type { SecureContextOptions } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import { watchDir, type DirWatch } from '../reload/watch-dir.ts'
import { readCertificatePair, type CertificatePair } from './certificates.ts'
import { protocolOptions, type TlsConfig } from './protocol-policy.ts'

// Re-reads the public certificate when its files change (a debounced watch on their
// directories: cert-manager and certbot replace files or swap symlinks, which a watch
// on the file itself would lose) and on SIGHUP. A pair that reads and checks clean goes
// live through server.setSecureContext(): new handshakes get it, connections already
// open keep theirs and are never dropped. A pair that fails is logged at error and the
// running certificate keeps serving; the next change is tried again. The protocol policy
// (minVersion, ciphers) goes with every swap, and a reloaded config that changes it
// swaps it in for new handshakes too.

export interface SecureServer {
  setSecureContext: (options: SecureContextOptions) => void
}

export type CertReloadTrigger = 'watch' | 'sighup' | 'manual'

export type CertReloadEvent =
  | { trigger: CertReloadTrigger, ok: true, changed: boolean, fingerprint256: string }
  | { trigger: CertReloadTrigger, ok: false, error: string }

export interface CertReloaderOptions {
  server: SecureServer
  tls: TlsConfig
  // The pair the server was created with.
  current: CertificatePair
  logger: FastifyBaseLogger
  debounceMs?: number
}

export class CertificateReloader extends EventEmitter {
  readonly #server: SecureServer
  readonly #logger: FastifyBaseLogger
  readonly #debounceMs: number | undefined
  #tls: TlsConfig
  #current: CertificatePair
  #watches: DirWatch[] = []
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor (opts: CertReloaderOptions) {
    super()
    this.#server = opts.server
    this.#tls = opts.tls
    this.#current = opts.current
    this.#logger = opts.logger
    this.#debounceMs = opts.debounceMs
  }

  get fingerprint256 (): string {
    return this.#current.fingerprint256
  }

  watch (): void {
    for (const w of this.#watches) w.close()
    this.#watches = []
    if (this.#closed) return
    for (const dir of new Set([dirname(this.#tls.cert), dirname(this.#tls.key)])) {
      this.#watches.push(watchDir(dir, () => { void this.reload(undefined, 'watch') }, {
        debounceMs: this.#debounceMs,
        onError: (err) => this.#logger.warn({ err, dir }, 'tls certificate watch failed; watching it again in 1 s'),
      }))
    }
  }

  // Reads the files (new paths when a reloaded config moved them) and swaps the pair in
  // when it or the protocol policy changed and the pair is valid. One reload at a time.
  reload (tls: TlsConfig | undefined = undefined, trigger: CertReloadTrigger = 'manual'): Promise<CertReloadEvent> {
    const run = this.#queue.then(() => this.#reload(tls, trigger))
    this.#queue = run.catch(() => {})
    return run
  }

  close (): void {
    this.#closed = true
    for (const w of this.#watches) w.close()
    this.#watches = []
  }

  async #reload (tls: TlsConfig | undefined, trigger: CertReloadTrigger): Promise<CertReloadEvent> {
    const previous = this.#tls
    if (tls !== undefined) {
      this.#tls = tls
      if ((tls.cert !== previous.cert || tls.key !== previous.key) && this.#watches.length > 0) this.watch()
    }
    const files = { cert: this.#tls.cert, key: this.#tls.key }
    let pair: CertificatePair
    try {
      pair = await readCertificatePair(files)
    } catch (err) {
      const error = (err as Error).message
      this.#logger.error({ trigger, cert: files.cert, key: files.key },
        `tls certificate reload rejected, the running certificate keeps serving: ${error}`)
      return this.#emit({ trigger, ok: false, error })
    }
    const changed = !pair.cert.equals(this.#current.cert) || !pair.key.equals(this.#current.key)
    const policyChanged = this.#tls.minVersion !== previous.minVersion || this.#tls.ciphers !== previous.ciphers
    if ((changed || policyChanged) && !this.#closed) {
      try {
        this.#server.setSecureContext({ cert: pair.cert, key: pair.key, ...protocolOptions(this.#tls) })
      } catch (err) {
        const error = (err as Error).message
        // The policy the server still runs stays the one to compare the next reload with.
        this.#tls = { ...this.#tls, minVersion: previous.minVersion, ciphers: previous.ciphers }
        this.#logger.error({ trigger }, `tls certificate reload rejected, the running certificate keeps serving: ${error}`)
        return this.#emit({ trigger, ok: false, error })
      }
      this.#current = pair
      if (changed) {
        this.#logger.info({ trigger, fingerprint256: pair.fingerprint256, subject: pair.subject, validTo: pair.validTo },
          'tls certificate reloaded')
      }
      if (policyChanged) this.#logger.info({ trigger, minVersion: this.#tls.minVersion }, 'tls protocol settings reloaded')
    }
    return this.#emit({ trigger, ok: true, changed, fingerprint256: this.#current.fingerprint256 })
  }

  #emit (event: CertReloadEvent): CertReloadEvent {
    this.emit('reload', event)
    return event
  }
}
