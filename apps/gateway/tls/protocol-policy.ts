import { createSecureContext, type SecureContextOptions } from 'node:tls'
import type { TlsFiles } from './certificates.ts'

// What the public TLS port negotiates. Node's own default list still takes CBC suites
// (ECDHE-RSA-AES128-SHA256 and the like) and, through `HIGH`, static-RSA key exchange
// without forward secrecy (AES128-SHA). The default here is Mozilla's "intermediate"
// profile (ssl-config.mozilla.org, guidelines 5.7): TLS 1.2 and 1.3, AEAD suites with
// forward secrecy only. Its DHE-RSA suites are left out: they need DH parameters, which
// the gateway does not configure. `server.tls.minVersion` / `ciphers` change it.

export const TLS_MIN_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const
export type TlsMinVersion = typeof TLS_MIN_VERSIONS[number]

// OpenSSL's default TLS 1.3 suites (TLS 1.3 has no weak ones).
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const

export const INTERMEDIATE_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
] as const

export const DEFAULT_TLS_PROTOCOL: TlsProtocol = {
  minVersion: 'TLSv1.2',
  ciphers: [...TLS13_SUITES, ...INTERMEDIATE_TLS12_CIPHERS].join(':'),
}

export interface TlsProtocol {
  minVersion: TlsMinVersion
  // OpenSSL cipher string, TLS 1.3 suites (TLS_*) included.
  ciphers: string
}

export interface TlsConfig extends TlsFiles, TlsProtocol {}

// A configured cipher string as Node must get it. Node reads TLS 1.3 suites from the
// same string and turns TLS 1.3 off when it names none; OpenSSL keeps the two lists
// apart, so a string written for TLS 1.2 (`-cipher`) gets the default TLS 1.3 suites.
export function effectiveCiphers (configured: string): string {
  const entries = configured.split(':').filter((c) => c !== '')
  return entries.some((c) => c.startsWith('TLS_')) ? entries.join(':') : [...TLS13_SUITES, ...entries].join(':')
}

// Null, or why OpenSSL refuses the string (it matches no suite, say).
export function cipherProblem (ciphers: string): string | null {
  try {
    createSecureContext({ ciphers })
    return null
  } catch (err) {
    return `is refused by OpenSSL (${(err as Error).message})`
  }
}

// The secure-context options of the policy. Every setSecureContext() takes them again:
// Node resets whatever a call leaves out (a certificate reload would bring back the
// default ciphers).
export function protocolOptions (p: TlsProtocol): Pick<SecureContextOptions, 'minVersion' | 'ciphers'> {
  return { minVersion: p.minVersion, ciphers: p.ciphers }
}
